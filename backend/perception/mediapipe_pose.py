"""MediaPipe BlazePose as a PersonDetector: the heavy landmark model (complexity 2) when
scripts/setup installed it and its hash checks out, else the full model the wheel ships.
With the heavy model the person mask still comes from the full one: heavy places the joints
better (devset_pose MPJPE 104 -> 94 mm) but its mask runs looser round the person (IoU with
ryota's true mask 0.962 vs 0.977, devsets 0.962 vs 0.964), which the fit and the texture
bake follow (background leaking into the texture was why heavy was opt-in).

Several people: BlazePose tracks one person, the most prominent; we count the others with the
face detector and with the person-segmentation mask's separate blobs, and warn.
"""

from __future__ import annotations

import threading

import cv2
import numpy as np

from .base import PersonDetector, PersonObservation
from .heavy_model import model_complexity

_LOCK = threading.Lock()     # MediaPipe graphs are not safe to call from two threads at once


class MediaPipeDetector(PersonDetector):
    name = "mediapipe-pose-full"

    def __init__(self, complexity: int | None = None) -> None:
        import mediapipe as mp
        self.complexity = model_complexity() if complexity is None else complexity
        self.name = "mediapipe-pose-heavy" if self.complexity == 2 else "mediapipe-pose-full"
        self._pose = mp.solutions.pose.Pose(static_image_mode=True,
                                            model_complexity=self.complexity,
                                            enable_segmentation=True, min_detection_confidence=0.5)
        self._faces = mp.solutions.face_detection.FaceDetection(model_selection=1,
                                                                min_detection_confidence=0.6)
        self._mask_pose = None if self.complexity == 1 else mp.solutions.pose.Pose(
            static_image_mode=True, model_complexity=1, enable_segmentation=True,
            min_detection_confidence=0.5)

    def observe(self, rgb: np.ndarray) -> PersonObservation | None:
        h, w = rgb.shape[:2]
        with _LOCK:
            res = self._pose.process(np.ascontiguousarray(rgb))
            faces = self._faces.process(np.ascontiguousarray(rgb)).detections or []
            if res.pose_landmarks is None or res.segmentation_mask is None:
                return None
            mask = np.asarray(res.segmentation_mask, dtype=np.float32)
            if self._mask_pose is not None:
                mask = _same_person_mask(mask, self._mask_pose.process(
                    np.ascontiguousarray(rgb)).segmentation_mask)
        lm = res.pose_landmarks.landmark
        kp = np.array([[p.x * w, p.y * h] for p in lm], dtype=np.float32)
        vis = np.array([p.visibility for p in lm], dtype=np.float32)
        # Off-frame points are guesses whatever their visibility says.
        inside = (kp[:, 0] >= 0) & (kp[:, 0] < w) & (kp[:, 1] >= 0) & (kp[:, 1] < h)
        vis = np.where(inside, vis, np.minimum(vis, 0.1)).astype(np.float32)
        world = np.array([[p.x, p.y, p.z] for p in res.pose_world_landmarks.landmark],
                         dtype=np.float32)
        people = max(len(faces), _mask_blobs(mask), _mask_outside_person(mask, kp, vis),
                     1 + self._another_person(rgb, kp, vis))
        return PersonObservation(keypoints=kp, visibility=vis, world=world, mask=mask,
                                 image_size=(w, h), people_count=people,
                                 face_score=_face_on_head(faces, kp, w, h))


    def _another_person(self, rgb: np.ndarray, kp: np.ndarray, vis: np.ndarray) -> int:
        """1 when BlazePose still finds someone once the tracked person is painted out."""
        pts = kp[vis > 0.5] if (vis > 0.5).sum() >= 4 else kp
        lo, hi = pts.min(axis=0), pts.max(axis=0)
        pad = 0.15 * (hi - lo).max()
        h, w = rgb.shape[:2]
        x0, y0 = (lo - pad).clip(0).astype(int)
        x1, y1 = np.minimum(hi + pad, [w, h]).astype(int)
        rest = rgb.copy()
        rest[y0:y1, x0:x1] = rgb.reshape(-1, 3).mean(axis=0).astype(np.uint8)
        with _LOCK:
            again = self._pose.process(rest)
        return int(again.pose_landmarks is not None)


def _same_person_mask(own: np.ndarray, other) -> np.ndarray:
    """The full model's mask instead of the heavy model's own, when it is of the same person
    (the two graphs track people independently: in a group they may pick different ones)."""
    if other is None:
        return own
    other = np.asarray(other, dtype=np.float32)
    a, b = own > 0.5, other > 0.5
    union = (a | b).sum()
    return other if union and (a & b).sum() > 0.8 * union else own


def _face_on_head(faces, kp: np.ndarray, w: int, h: int) -> float:
    """Score of the detected face whose box holds this person's nose landmark (0 if none):
    the one cue that tells a person facing the camera from one seen from behind when the
    landmarks themselves are read the wrong way round (body_fit's readings)."""
    best = 0.0
    for det in faces:
        box = det.location_data.relative_bounding_box
        x0, y0 = box.xmin * w, box.ymin * h
        if x0 <= kp[0, 0] <= x0 + box.width * w and y0 <= kp[0, 1] <= y0 + box.height * h:
            best = max(best, float(det.score[0]))
    return best


def _mask_blobs(mask: np.ndarray) -> int:
    """Separate person-sized blobs in a segmentation mask (at least 15 % of the largest)."""
    _, _, stats, _ = cv2.connectedComponentsWithStats((mask > 0.5).astype(np.uint8), 8)
    areas = stats[1:, cv2.CC_STAT_AREA]
    if areas.size == 0:
        return 0
    return int((areas >= 0.15 * areas.max()).sum())


def _mask_outside_person(mask: np.ndarray, kp: np.ndarray, vis: np.ndarray) -> int:
    """2 when much of the person mask lies far from the tracked person's landmarks (people
    standing shoulder to shoulder merge into one blob), else 1."""
    pts = kp[vis > 0.5] if (vis > 0.5).sum() >= 4 else kp
    lo, hi = pts.min(axis=0), pts.max(axis=0)
    pad = 0.35 * (hi - lo).max()
    h, w = mask.shape
    x0, y0 = (lo - pad).clip(0).astype(int)
    x1, y1 = np.minimum(hi + pad, [w, h]).astype(int)
    on = mask > 0.5
    total = on.sum()
    if total == 0:
        return 0
    inside = on[y0:y1, x0:x1].sum()
    return 2 if (total - inside) > 0.25 * total else 1


_DETECTOR: MediaPipeDetector | None = None


def get_detector() -> MediaPipeDetector:
    """The process-wide detector (building the graphs takes a moment)."""
    global _DETECTOR
    with _LOCK:
        if _DETECTOR is None:
            _DETECTOR = MediaPipeDetector()
        return _DETECTOR
