"""The head turned to where the photo's face looks, from the FaceMesh landmarks the
expression fit already found (expression.find_face: one FaceMesh run for both).

The body fit orients the head from five face keypoints (nose, eyes, ears); FaceMesh sees
the whole face. Eleven landmarks with a clear counterpart on Anny's face (lids, lips, mouth
corners, nose tip, nose bridge, chin's front: face_points.py finds them from the ARKit
targets) are matched to FaceMesh's 3D points (pixels x, y and its relative depth z) by a similarity
Procrustes fit: that gives the head bone's orientation under weak perspective, i.e. relative
to the viewing ray through the face, which ray_rotation turns into the camera frame. The
difference from the fitted head is capped (MAX_TURN_DEG) and split between neck and head.
Anny has no jaw bone: the open mouth is the jawOpen key the expression fit sets.
"""

from __future__ import annotations

import numpy as np

from rig import rotations as Q

from .bone_edit import (
    angle_deg,
    bounded,
    camera_rotations,
    ray_rotation,
    similarity_rotation,
    turn_bone,
)
from .expression import (
    CORNER_L,
    CORNER_R,
    EYE_L,
    EYE_R,
    LIP_DOWN,
    LIP_UP,
    FaceLandmarks,
)
from .face_points import (
    bridge_point,
    chin_point,
    corner_point,
    lid_points,
    lip_points,
    nose_tip,
)

# MediaPipe FaceMesh indices: nose tip, the chin's front (not 152, the outline's lowest point,
# which sits under the chin where no Anny vertex matches it), nose bridge between the eyes.
NOSE_TIP, CHIN, BRIDGE = 1, 199, 168
MAX_TURN_DEG = 45.0       # larger disagreements are a FaceMesh failure, not a head turn
MAX_RESIDUAL = 0.25       # Procrustes residual over spread above which the fit is not trusted
NECK_SHARE = (("neck01", 0.25), ("neck02", 0.15))    # the rest of the turn goes to "head"


def face_template(rest: np.ndarray, deltas: np.ndarray) -> tuple[list[int], list[int]]:
    """(FaceMesh indices, matching Anny body vertex indices)."""
    up, low = lip_points(rest, deltas)
    mp_idx = [LIP_UP, LIP_DOWN, CORNER_L, CORNER_R, NOSE_TIP, CHIN, BRIDGE]
    verts = [up, low, corner_point(deltas, "Left"), corner_point(deltas, "Right"),
             nose_tip(rest, deltas), chin_point(rest, deltas), bridge_point(rest, deltas)]
    for side, eye in (("Left", EYE_L), ("Right", EYE_R)):
        lid_up, lid_low = lid_points(rest, deltas, side)
        mp_idx += [eye[0], eye[1]]
        verts += [lid_up, lid_low]
    return mp_idx, verts


def head_orientation(avatar, points: np.ndarray, work_scale: float
                     ) -> tuple[np.ndarray, float] | None:
    """(camera-frame orientation (3, 3) the face gives the avatar's head bone, relative
    residual), or None for bodies without Anny's face keys or head bone."""
    body = avatar.layer("body")
    keys = body.shape_keys if body is not None else None
    names = avatar.skeleton.names
    if keys is None or "head" not in names or keys.deltas.shape[0] < 52:
        return None
    rest = body.vertices.astype(np.float64)
    mp_idx, verts = face_template(rest, keys.deltas.astype(np.float64))
    i = names.index("head")
    frame = np.asarray(avatar.skeleton.matrices[i], np.float64)
    local = (rest[verts] - frame[:3, 3]) @ frame[:3, :3]      # head-bone coordinates
    seen = points[mp_idx]
    rot, _, residual = similarity_rotation(local, seen)
    u, v = seen[:, :2].mean(0)
    return ray_rotation(u, v, avatar.camera, work_scale) @ rot, residual


def set_photo_head(avatar, face: FaceLandmarks, work_scale: float) -> None:
    """Turn the neck and head so the avatar's face looks where the photo's face looks
    (``work_scale``: working-image px per original px, the FaceMesh points' scale). Notes
    what it did in ``metadata["head_from_face"]``; no face, or an untrusted fit, leaves the
    body fit's head."""
    note: dict = {"face_found": face.points is not None}
    found = None if face.points is None else head_orientation(avatar, face.points, work_scale)
    if found is not None:
        target, residual = found
        note["residual"] = round(residual, 4)
        if residual <= MAX_RESIDUAL:
            current = camera_rotations(avatar)[avatar.skeleton.names.index("head")]
            turn = target @ current.T
            note["disagreement_deg"] = round(angle_deg(turn), 2)
            turn = bounded(turn, MAX_TURN_DEG)
            aa = Q.matrix_to_axis_angle(turn)
            done = np.eye(3)
            for bone, share in NECK_SHARE:
                part = Q.axis_angle_to_matrix(aa * share)
                turn_bone(avatar, bone, part)
                done = part @ done
            turn_bone(avatar, "head", turn @ done.T)
            note["turn_deg"] = round(angle_deg(turn), 2)
    avatar.metadata["head_from_face"] = note
