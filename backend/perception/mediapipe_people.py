"""Every person in a photo with the MediaPipe 0.10.21 wheel, offline.

The legacy Pose solution tracks one person, and the Tasks API's PoseLandmarker (num_poses)
needs a .task bundle whose models carry TFLite metadata; the wheel's .tflite files lack it
("requires specifying NormalizationOptions metadata") and no registry package ships one. So
we run the wheel's own subgraphs directly: ``PoseDetectionCpu`` (BlazePose's detector, which
returns every person it finds) and ``PoseLandmarkByRoiCpu`` (the landmark model on one
person's region), exactly the two halves of the Pose solution, wired per person.

The detector sees a 224 px letterboxed copy, so in a group photo people's faces are ~10 px
and most are missed: it also runs on overlapping square tiles at a few scales (6 ms a tile),
and the candidates are merged before the landmark model runs once per person.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

import numpy as np

from .base import PersonObservation
from .heavy_model import model_complexity

_DETECT_GRAPH = """
input_stream: "image"
output_stream: "detections"
node { calculator: "PoseDetectionCpu" input_stream: "IMAGE:image"
       output_stream: "DETECTIONS:detections" }
"""
_LANDMARK_GRAPH = """
input_stream: "image"
input_stream: "detection"
output_stream: "landmarks"
output_stream: "aux"
output_stream: "world_landmarks"
output_stream: "segmentation_mask"
node { calculator: "ImagePropertiesCalculator" input_stream: "IMAGE_CPU:image"
       output_stream: "SIZE:image_size" }
node { calculator: "PoseDetectionToRoi" input_stream: "DETECTION:detection"
       input_stream: "IMAGE_SIZE:image_size" output_stream: "ROI:roi" }
node { calculator: "PoseLandmarkByRoiCpu" input_stream: "IMAGE:image" input_stream: "ROI:roi"
       output_stream: "LANDMARKS:landmarks" output_stream: "AUXILIARY_LANDMARKS:aux"
       output_stream: "WORLD_LANDMARKS:world_landmarks"
       output_stream: "SEGMENTATION_MASK:mask_image"
       input_side_packet: "MODEL_COMPLEXITY:model_complexity"
       input_side_packet: "ENABLE_SEGMENTATION:enable_segmentation" }
node { calculator: "FromImageCalculator" input_stream: "IMAGE:mask_image"
       output_stream: "IMAGE_CPU:segmentation_mask" }
"""

TILE_SCALES = (0.75, 0.5, 0.35)   # tile side / short image side, besides the whole image
MIN_TILE_PX = 96                  # smaller tiles only find people too small to fit anyway
PRESENCE = 0.3                   # landmark model's person presence (the Pose solution: 0.5)
PRESENCE_PARAM = ("poselandmarkbyroicpu__tensorstoposelandmarksandsegmentation__"
                  "ThresholdingCalculator.threshold")
REFINE_STEPS = 2                  # landmark runs per person, each on the ROI of the last
CORE = (0, 11, 12, 23, 24)        # nose, shoulders, hips: a person must show four of them
ON_ANOTHER = 0.7                  # skeleton share on someone else's body: a misread body part
_LOCK = threading.Lock()          # MediaPipe graphs are not safe to call from two threads


@dataclass
class Candidate:
    """One detector hit in image pixels: the hip centre, the body-circle radius, its score."""
    hip: np.ndarray
    radius: float
    score: float
    detection: object            # mediapipe Detection proto, relative to the whole image
    image_size: tuple[int, int]  # (w, h) of the whole image


class PeopleFinder:
    def __init__(self, complexity: int | None = None) -> None:
        from google.protobuf import text_format
        from mediapipe.framework import calculator_pb2
        from mediapipe.python.solution_base import SolutionBase

        def graph(text: str):
            return text_format.Parse(text, calculator_pb2.CalculatorGraphConfig())

        self.complexity = model_complexity() if complexity is None else complexity
        self._detect = SolutionBase(graph_config=graph(_DETECT_GRAPH))
        self._landmarks = SolutionBase(
            graph_config=graph(_LANDMARK_GRAPH),
            side_inputs={"model_complexity": self.complexity, "enable_segmentation": True},
            calculator_params={PRESENCE_PARAM: PRESENCE})
        self._face_detector = None

    def find(self, rgb: np.ndarray) -> list[PersonObservation]:
        """Every person found, each with its own landmarks and its ROI's segmentation mask
        (which may still include a neighbour: perception.instances splits them)."""
        rgb = np.ascontiguousarray(rgb)
        with _LOCK:
            candidates = merge_candidates(self._candidates(rgb))
            people = [p for p in (self._observe(rgb, c) for c in candidates) if p is not None]
            people = dedupe_people(people)
            doubtful = part_of_another(people, rgb.shape[:2])
            people = [p for i, p in enumerate(people)
                      if i not in doubtful or self._face_on_head(rgb, p)]
        return people

    def face_on_head(self, rgb: np.ndarray, p: PersonObservation) -> bool:
        with _LOCK:
            return self._face_on_head(np.ascontiguousarray(rgb), p)

    def _face_on_head(self, rgb: np.ndarray, p: PersonObservation) -> bool:
        """A face on ``p``'s nose: MediaPipe's short-range face detector on the head's square
        (head_crop). On the whole photo the full-range detector misses group photos' ~10 px
        faces (none of seven on the shared group photo); scaled up they are found."""
        if self._face_detector is None:
            import mediapipe as mp
            self._face_detector = mp.solutions.face_detection.FaceDetection(
                model_selection=0, min_detection_confidence=0.5)
        crop = head_crop(rgb, p)
        if crop is None:
            return False
        for det in self._face_detector.process(crop).detections or []:
            box = det.location_data.relative_bounding_box    # the nose is the crop's centre
            if box.xmin < 0.5 < box.xmin + box.width and box.ymin < 0.5 < box.ymin + box.height:
                return True
        return False

    def _candidates(self, rgb: np.ndarray) -> list[Candidate]:
        h, w = rgb.shape[:2]
        found = []
        for x0, y0, side in tiles(w, h):
            tile = np.ascontiguousarray(rgb[y0:y0 + side, x0:x0 + side])
            for det in self._detect.process(tile).detections or []:
                found.append(_to_image(det, x0, y0, tile.shape[1], tile.shape[0], w, h))
        return found

    def _observe(self, rgb: np.ndarray, cand: Candidate) -> PersonObservation | None:
        """Landmarks on the candidate's region, then again on the region its own landmarks
        give (what the Pose solution does from its second video frame on). A detection
        turned upside down (a dunk: the raised arm drags the body axis) is retried upright."""
        obs = self._landmarks_from(rgb, cand.detection)
        if obs is None or _upside_down(obs):
            upright = self._landmarks_from(rgb, _upright(cand))
            obs = upright if upright is not None and not _upside_down(upright) else None
        return obs

    def _landmarks_from(self, rgb: np.ndarray, detection) -> PersonObservation | None:
        for _ in range(REFINE_STEPS):
            res = self._landmarks.process({"image": rgb, "detection": detection})
            if res.landmarks is None or res.world_landmarks is None or res.aux is None:
                return None               # the landmark model saw no person there
            detection = _detection_from_aux(res.aux)
        h, w = rgb.shape[:2]
        lm = res.landmarks.landmark
        kp = np.array([[p.x * w, p.y * h] for p in lm], dtype=np.float32)
        vis = np.array([p.visibility for p in lm], dtype=np.float32)
        inside = (kp[:, 0] >= 0) & (kp[:, 0] < w) & (kp[:, 1] >= 0) & (kp[:, 1] < h)
        vis = np.where(inside, vis, np.minimum(vis, 0.1)).astype(np.float32)
        if (vis[list(CORE)] > 0.5).sum() < 4:
            return None
        world = np.array([[p.x, p.y, p.z] for p in res.world_landmarks.landmark],
                         dtype=np.float32)
        mask = np.zeros((h, w), np.float32) if res.segmentation_mask is None else \
            np.asarray(res.segmentation_mask, dtype=np.float32)
        return PersonObservation(keypoints=kp, visibility=vis, world=world, mask=mask,
                                 image_size=(w, h))


def _upside_down(obs: PersonObservation) -> bool:
    """Head below the hips in the image: the landmark model read the region upside down."""
    kp = obs.keypoints
    return bool(kp[0, 1] > kp[[23, 24], 1].mean())


def _upright(cand: Candidate):
    """The candidate's region turned upright: the body-circle point straight above the hip."""
    from mediapipe.framework.formats import detection_pb2
    det = detection_pb2.Detection()
    det.CopyFrom(cand.detection)
    w, h = cand.image_size
    kps = det.location_data.relative_keypoints
    kps[1].x, kps[1].y = cand.hip[0] / w, (cand.hip[1] - cand.radius) / h
    return det


def tiles(w: int, h: int) -> list[tuple[int, int, int]]:
    """(x0, y0, side) squares: the whole image (letterboxed by the detector), then
    half-overlapping tiles at TILE_SCALES of the short side, edge tiles flush with the edge."""
    out = [(0, 0, max(w, h))]
    for frac in TILE_SCALES:
        side = int(frac * min(w, h))
        if side < MIN_TILE_PX:
            continue
        xs = _starts(w, side)
        for y0 in _starts(h, side):
            out += [(x0, y0, side) for x0 in xs]
    return out


def _starts(length: int, side: int) -> list[int]:
    if side >= length:
        return [0]
    n = int(np.ceil((length - side) / (side / 2))) + 1
    return [round(float(v)) for v in np.linspace(0, length - side, n)]


def _to_image(det, x0: int, y0: int, tw: int, th: int, w: int, h: int) -> Candidate:
    """A detection relative to a tile -> relative to the whole image (a new proto)."""
    from mediapipe.framework.formats import detection_pb2
    out = detection_pb2.Detection()
    out.CopyFrom(det)
    loc = out.location_data
    box = loc.relative_bounding_box
    box.xmin, box.ymin = (x0 + box.xmin * tw) / w, (y0 + box.ymin * th) / h
    box.width, box.height = box.width * tw / w, box.height * th / h
    for k in loc.relative_keypoints:
        k.x, k.y = (x0 + k.x * tw) / w, (y0 + k.y * th) / h
    kps = np.array([[k.x * w, k.y * h] for k in loc.relative_keypoints])
    # BlazePose's detector: keypoint 0 is the hip centre, 1 a point on the body circle.
    return Candidate(hip=kps[0], radius=float(np.linalg.norm(kps[1] - kps[0])),
                     score=float(out.score[0]) if out.score else 0.0, detection=out,
                     image_size=(w, h))


def _detection_from_aux(aux):
    """The landmark model's two alignment points (hip centre, body-circle point) as a
    Detection, which PoseDetectionToRoi turns into the next region like a detector hit."""
    from mediapipe.framework.formats import detection_pb2
    det = detection_pb2.Detection()
    det.score.append(1.0)
    loc = det.location_data
    loc.format = loc.RELATIVE_BOUNDING_BOX
    for p in list(aux.landmark)[:2]:
        k = loc.relative_keypoints.add()
        k.x, k.y = p.x, p.y
    return det


def merge_candidates(cands: list[Candidate]) -> list[Candidate]:
    """One candidate per person: hits whose hip centres lie within a third of the body
    radius and whose radii agree within 1.6x are the same person; the best-scored one stays
    (the whole-image detection, when it exists, is first among equals)."""
    kept: list[Candidate] = []
    for c in sorted(cands, key=lambda c: -c.score):
        if c.radius < 4:
            continue
        same = any(np.linalg.norm(c.hip - k.hip) < 0.35 * max(c.radius, k.radius)
                   and max(c.radius, k.radius) < 1.6 * min(c.radius, k.radius) for k in kept)
        if not same:
            kept.append(c)
    return kept


def person_size(obs: PersonObservation) -> float:
    """Torso-based size (pixels): the larger of shoulder-to-hip span and shoulder width."""
    kp = obs.keypoints
    mid_sh, mid_hip = kp[[11, 12]].mean(axis=0), kp[[23, 24]].mean(axis=0)
    return float(max(np.linalg.norm(mid_sh - mid_hip), np.linalg.norm(kp[11] - kp[12]), 1.0))


def same_person(a: PersonObservation, b: PersonObservation) -> bool:
    """Two landmark sets of one person: the same head and shoulders (two people's faces are
    never a third of a torso apart), or the same body."""
    size = max(person_size(a), person_size(b))
    head = np.linalg.norm(a.keypoints[0] - b.keypoints[0])
    shoulders = np.linalg.norm(a.keypoints[[11, 12]].mean(0) - b.keypoints[[11, 12]].mean(0))
    if head < 0.3 * size and shoulders < 0.4 * size:
        return True
    both = (a.visibility > 0.5) & (b.visibility > 0.5)
    both[:11] = False
    if both.sum() < 3:
        return False
    d = np.linalg.norm(a.keypoints[both] - b.keypoints[both], axis=1)
    return bool(np.median(d) < 0.2 * size)


def dedupe_people(people: list[PersonObservation]) -> list[PersonObservation]:
    """One observation per person. Of two for the same person the larger stays: a region too
    small for the person makes the landmark model shrink the body into it (legs end at the
    knees), a larger one only adds background."""
    kept: list[PersonObservation] = []
    for p in sorted(people, key=lambda p: -person_size(p)):
        if not any(same_person(p, k) for k in kept):
            kept.append(p)
    return kept


def part_of_another(people: list[PersonObservation], shape: tuple[int, int]) -> set[int]:
    """Indices of people that may be a landmark model's reading of part of someone else's
    body (a hand, an arm, a leg; the heavy model finds these on small tiles): most of their
    skeleton lies on another person's body, more than that person's lies on theirs, or their
    face lies on a larger person's torso, where no face can be seen past them. A child held
    in front of someone looks the same: a face at the nose keeps it (PeopleFinder.find)."""
    from .instances import skeleton_overlap
    on = skeleton_overlap(people, shape)
    return {i for i, p in enumerate(people) for j, q in enumerate(people)
            if i != j and ((on[i, j] >= ON_ANOTHER and on[i, j] > on[j, i])
                           or face_on_torso(p, q))}


def face_on_torso(p: PersonObservation, q: PersonObservation) -> bool:
    """``p``'s nose lies on the torso of ``q``, a larger person."""
    import cv2
    if person_size(q) < 1.2 * person_size(p):
        return False
    nose = (float(p.keypoints[0, 0]), float(p.keypoints[0, 1]))
    quad = q.keypoints[[11, 12, 24, 23]].astype(np.float32)
    return cv2.pointPolygonTest(quad, nose, False) > 0


def head_crop(rgb: np.ndarray, p: PersonObservation, size: int = 256) -> np.ndarray | None:
    """The square around ``p``'s nose (4.4 head widths a side, black beyond the photo),
    scaled to ``size`` pixels; None when it lies outside the photo."""
    import cv2
    kp = p.keypoints
    centre = kp[0]
    half = 2.2 * max(float(np.linalg.norm(kp[7] - kp[8])),
                     0.35 * float(np.linalg.norm(kp[11] - kp[12])), 8.0)
    h, w = rgb.shape[:2]
    x0, y0 = int(centre[0] - half), int(centre[1] - half)
    x1, y1 = int(centre[0] + half), int(centre[1] + half)
    sx0, sy0, sx1, sy1 = max(x0, 0), max(y0, 0), min(x1, w), min(y1, h)
    if sx1 <= sx0 or sy1 <= sy0:
        return None
    square = np.zeros((y1 - y0, x1 - x0, 3), np.uint8)
    square[sy0 - y0:sy1 - y0, sx0 - x0:sx1 - x0] = rgb[sy0:sy1, sx0:sx1]
    return np.ascontiguousarray(cv2.resize(square, (size, size), interpolation=cv2.INTER_CUBIC))


_FINDER: PeopleFinder | None = None
_FINDER_LOCK = threading.Lock()


def get_people_finder() -> PeopleFinder:
    """The process-wide finder (its graphs take a moment to build)."""
    global _FINDER
    with _FINDER_LOCK:
        if _FINDER is None:
            _FINDER = PeopleFinder()
        return _FINDER
