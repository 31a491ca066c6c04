"""Every person of a photo -> one avatar each, all seen by one camera, standing on one floor.

Perception finds the people and splits the person mask between them (perception.find_people);
each person is then fitted like a single-person photo on its own landmarks and instance mask
(pipeline.reconstruct_photo with ``person=``), in the whole photo's camera with one focal
length for all. The fits leave each person at its own distance; placing the group then
(``place_group``) gives everyone the same camera pose and floor: the camera's pitch/roll is
the mean lean of the standing people, the floor is at the median foot height, and each person
whose feet are within 20 % of it is scaled about the camera centre until they touch it. The
fit's depth comes from the body's size, which the shape prior keeps near an average adult's
for everyone; foot contact on a shared floor gives the relative depth, and scaling about the
camera keeps each avatar exactly over its person in the photo (so a taller person comes out
taller). A person far off the floor (a dunk) keeps its fitted distance and size.

A photo in which perception finds at most one person (besides tiny ones far behind) takes the
single-person path unchanged.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np

from protocol import RiggedAvatar
from rig import rotations as Q

from ..bodies import DEFAULT_BODY_MODEL
from ..errors import JobInputError
from ..imageio import Photo, read_photo
from ..perception import PersonObservation, face_on_head, find_people
from ..perception.instances import torso_px
from .focal import FILM_LONG_SIDE_MM, FocalChoice, choose_focal, estimate_focal
from .pipeline import Progress, Reconstruction, check_person, reconstruct_photo
from .posing import CV_FROM_BLENDER_CAM, camera_from_world, posed_joints, posed_vertices

MAX_PEOPLE = 8
MAX_PEOPLE_LIMIT = 32           # ~66 arrays an avatar: a group stays within a message's 4096
MIN_HEIGHT_FRACTION = 0.15      # people smaller than this share of the tallest are skipped
FLOOR_SNAP = (0.8, 1.25)        # distance changes accepted to put a person's feet on the floor
MAX_TILT = np.radians(20.0)     # leaner bodies say nothing about the camera's pitch
LEVEL = np.array([[1.0, 0, 0], [0, 0, 1.0], [0, -1.0, 0]])    # OpenCV camera -> world, level


@dataclass
class GroupReconstruction:
    people: list[Reconstruction]            # left to right in the photo
    found: int                              # people perception found (before skipping)
    notes: list[str] = field(default_factory=list)   # who was skipped and why

    @property
    def avatars(self) -> list[RiggedAvatar]:
        return [r.avatar for r in self.people]


def reconstruct_people(data: bytes, name: str = "photo", quality: str = "default",
                       progress: Progress = lambda s, f: None,
                       body_model: str = DEFAULT_BODY_MODEL,
                       max_people: int = MAX_PEOPLE) -> GroupReconstruction:
    if type(max_people) is not int or not 1 <= max_people <= MAX_PEOPLE_LIMIT:
        raise JobInputError(f"'max_people' must be an integer from 1 to {MAX_PEOPLE_LIMIT}, got "
                            f"{max_people!r}", code="bad_params")
    progress("find people", 0.01)
    photo = read_photo(data, name)
    found = find_people(photo.rgb)
    if not is_group(found, photo.rgb):
        # Nobody, or one person (with maybe a few tiny ones behind), or figures without a
        # face among them: the single-person path, unchanged (its clear error for nobody; a
        # statue stays "no person" there too).
        return GroupReconstruction([reconstruct_photo(data, name, quality, progress,
                                                      body_model)], found=len(found))
    chosen, notes = choose_people(found, max_people, photo, name)
    h, w = photo.rgb.shape[:2]
    focal = group_focal(photo.focal_35mm, chosen, w, h)
    many = len(chosen) > 1
    people = []
    for k, obs in enumerate(chosen):
        lo, hi = 0.05 + 0.95 * k / len(chosen), 0.05 + 0.95 * (k + 1) / len(chosen)
        label = f"{name}.person{k + 1}" if many else name
        # people_count 1: this observation is one person, not a photo with several.
        rec = reconstruct_photo(
            data, label, quality, body_model=body_model, person=replace(obs, people_count=1),
            focal=focal, world_rotation=LEVEL if many else None,
            progress=lambda s, f, lo=lo, hi=hi, k=k: progress(
                f"person {k + 1}/{len(chosen)}: {s}", lo + (hi - lo) * f))
        people.append(rec)
    if many:
        notes += place_group([r.avatar for r in people])
    for i, rec in enumerate(people):
        rec.avatar.metadata["people"] = {"index": i + 1, "count": len(people),
                                         "found": len(found)}
    people[0].warnings.extend(notes)
    people[0].avatar.metadata["warnings"] = list(people[0].avatar.metadata.get(
        "warnings", [])) + notes
    return GroupReconstruction(people, found=len(found), notes=notes)


def choose_people(found: list[PersonObservation], max_people: int, photo: Photo,
                  name: str) -> tuple[list[PersonObservation], list[str]]:
    """The people to fit, left to right: not tiny next to the tallest (background people),
    at most ``max_people`` of the largest, each one check_person accepts."""
    notes = []
    keep = sizable(found)
    if len(keep) < len(found):
        n = len(found) - len(keep)
        notes.append(f"{n} small background {'person' if n == 1 else 'people'} in {name} "
                     f"(under {MIN_HEIGHT_FRACTION:.0%} of the tallest person's height) "
                     f"skipped")
    if len(keep) > max_people:
        notes.append(f"{len(keep)} people in {name}; reconstructed the {max_people} largest "
                     f"(--max-people)")
        keep = keep[:max_people]
    chosen = sorted((found[i] for i in keep), key=lambda p: float(p.keypoints[[11, 12, 23, 24],
                                                                              0].mean()))
    usable = []
    for p in chosen:
        try:
            check_person(replace(p, people_count=1), photo, name)
            usable.append(p)
        except JobInputError as exc:
            notes.append(f"one person skipped: {exc}")
    if not usable:                # every candidate refused: the first one's clear error
        check_person(replace(chosen[0], people_count=1), photo, name)
    return usable, notes


def is_group(found: list[PersonObservation], rgb: np.ndarray) -> bool:
    """Two or more people not tiny next to the tallest, and a face seen on at least one of
    them. The face tells people from person-shaped things: the heavy landmark model reads a
    bronze statue as a person as readily as the tiny passer-by in front of it (29 % of its
    height, so no longer "tiny"), and no face is seen on either. A group turned away from the
    camera takes the single-person path too (the most prominent one, with a warning)."""
    big = sizable(found)
    return len(big) > 1 and any(face_on_head(rgb, found[i]) for i in big)


def sizable(found: list[PersonObservation]) -> list[int]:
    """Indices of the people not tiny next to the tallest, tallest first."""
    if not found:
        return []
    sizes = np.array([height_px(p) for p in found])
    return [int(i) for i in np.argsort(-sizes) if sizes[i] >= MIN_HEIGHT_FRACTION * sizes.max()]


def height_px(p: PersonObservation) -> float:
    """The person's standing height in the image, from the torso (a standing adult is about
    3.3 shoulder-to-hip lengths tall): unlike the visible extent it does not shrink for people
    cut off by the frame or half hidden, and a hand or foot the landmark model took for a
    whole person stays small."""
    return 3.3 * torso_px(p)


def group_focal(exif_35mm: float | None, people: list[PersonObservation], w: int,
                h: int) -> FocalChoice:
    """One focal for everyone: EXIF, else the median of the per-person estimates (each puts
    its person at a typical distance; the group's spread averages out)."""
    if exif_35mm:
        return choose_focal(exif_35mm, None, w, h)
    estimates = [f for f in (estimate_focal(p, w, h) for p in people) if f is not None]
    if not estimates:
        return choose_focal(None, None, w, h)
    f = float(np.median(estimates))
    return FocalChoice(f, f / max(w, h) * FILM_LONG_SIDE_MM, "estimated")


def place_group(avatars: list[RiggedAvatar]) -> list[str]:
    """Give fitted avatars (each placed in a level world of its own) one camera pose and one
    floor (module docstring). Changes the avatars in place (root pose, camera, and the size
    of those scaled onto the floor); returns notes for people left off the floor."""
    cams = [camera_from_world(a) for a in avatars]
    wfc = [np.linalg.inv(c) for c in cams]                      # world_i <- OpenCV camera
    # Everyone in camera space (metres, OpenCV axes).
    verts = [_to(c, posed_vertices(a)) for a, c in zip(avatars, cams)]
    joints = [{k: _to(c, v[None])[0] for k, v in posed_joints(a).items()}
              for a, c in zip(avatars, cams)]
    r_t = _group_tilt(joints)
    r = r_t @ LEVEL                                             # camera -> group world
    feet, heights = [], []
    for v in verts:
        z = v @ r[2]                                           # height above the camera
        feet.append(v[int(np.argmin(z))])
        heights.append(float(z.min()))
    cam_height = -float(np.median(heights))
    # Scaling a person about the camera centre keeps its image and moves its feet along
    # their ray: the scale that puts them on the floor is its relative depth (and size).
    notes, scales = [], []
    for k, g in enumerate(heights):
        s = -cam_height / g if g < -1e-3 else np.inf
        if not FLOOR_SNAP[0] <= s <= FLOOR_SNAP[1]:
            s = 1.0
            notes.append(f"person {k + 1} is not on the others' floor (jumping, sitting "
                         f"higher, or a poor fit); kept at its fitted distance")
        scales.append(float(s))
    centre = np.mean([r @ (s * f) for f, s in zip(feet, scales)], axis=0)
    t = np.array([-centre[0], -centre[1], cam_height])
    world_from_cv = np.eye(4)
    world_from_cv[:3, :3], world_from_cv[:3, 3] = r, t
    for a, w_i, s in zip(avatars, wfc, scales):
        # camera point c: world_i p = LEVEL c + t_i; group world = r s c + t
        #   = r_t (s p) - s r_t t_i + t: scale about world_i's origin, turn, shift.
        _scale_avatar(a, s)
        _move_avatar(a, r_t, -s * r_t @ w_i[:3, 3] + t)
        a.camera.world_from_camera = (world_from_cv @ CV_FROM_BLENDER_CAM).astype(np.float32)
        a.metadata["group_scale"] = round(s, 4)
        fit = a.metadata.get("fit")
        if isinstance(fit, dict) and "height_m" in fit:
            fit["height_m"] = round(fit["height_m"] * s, 4)
    return notes


def _to(cam_from_world: np.ndarray, pts: np.ndarray) -> np.ndarray:
    return pts @ cam_from_world[:3, :3].T + cam_from_world[:3, 3]


def _group_tilt(joints: list[dict]) -> np.ndarray:
    """Rotation (level world) turning the standing people's mean body axis upright."""
    ups = []
    for j in joints:
        axis = LEVEL @ (0.5 * (j["left_shoulder"] + j["right_shoulder"])
                        - 0.5 * (j["left_ankle"] + j["right_ankle"]))
        axis = axis / max(np.linalg.norm(axis), 1e-9)
        if np.arccos(np.clip(axis[2], -1, 1)) < MAX_TILT:
            ups.append(axis)
    if not ups:
        return np.eye(3)
    up = np.mean(ups, axis=0)
    up /= np.linalg.norm(up)
    return Q.to_matrix(Q.between(up, np.array([0.0, 0.0, 1.0])))


def _scale_avatar(avatar: RiggedAvatar, s: float) -> None:
    """Scale an avatar uniformly about its armature origin (rest skeleton and meshes, and the
    root's location, so the posed avatar scales too)."""
    if s == 1.0:
        return
    sk = avatar.skeleton
    sk.heads, sk.tails = sk.heads * s, sk.tails * s
    sk.matrices = sk.matrices.copy()
    sk.matrices[:, :3, 3] *= s
    for lay in avatar.layers:
        lay.vertices = lay.vertices * s
        if lay.binding is not None:
            lay.binding.offsets = lay.binding.offsets * s
        if lay.shape_keys is not None:
            lay.shape_keys.deltas = lay.shape_keys.deltas * s
    avatar.pose.location = avatar.pose.location * s


def _move_avatar(avatar: RiggedAvatar, rot: np.ndarray, shift: np.ndarray) -> None:
    """Rigidly move a posed avatar in its world: p -> rot @ p + shift. The root bone turns
    about its rest head h0 (p = R_A (x - h0) + h0 + loc), so its basis rotation gains
    r0^T rot r0 and its location becomes rot (h0 + loc) + shift - h0."""
    sk, pose = avatar.skeleton, avatar.pose
    root = int(np.flatnonzero(np.asarray(sk.parents) < 0)[0])
    r0 = sk.matrices[root][:3, :3].astype(np.float64)
    h0 = sk.matrices[root][:3, 3].astype(np.float64)
    turn = Q.from_matrix(r0.T @ rot @ r0)
    rots = pose.rotations.astype(np.float64).copy()
    rots[root] = Q.multiply(turn, rots[root])
    loc = rot @ (h0 + pose.location.astype(np.float64)) + shift - h0
    pose.rotations = rots.astype(np.float32)
    pose.location = loc.astype(np.float32)
