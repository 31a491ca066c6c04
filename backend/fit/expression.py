"""The photo's facial expression as ARKit weights: MediaPipe face landmarks -> a bounded
least-squares fit of the 52 weights in [0, 1].

The 0.10.21 wheel ships the legacy FaceMesh graph (468 landmarks) but not the FaceLandmarker
blendshape model (a separate download), so we fit the weights ourselves. Five measurements
are taken on the photo (divided by the distance between the eye centres, and with the eye line
levelled): the inner-lip gap, each eye's opening over its width, and each mouth corner's height
over the lip seam. The same measurements on the avatar's own face (face_points.py) change
linearly with each key's deltas, which gives the columns of J; the neutral face is taken as
lips closed, corners level with the seam and eyes open by NEUTRAL_EYE (MediaPipe's upper/lower
lid over corner-to-corner distance on an open, relaxed eye). Then
w = argmin |J w - (m - m0)|^2 + RIDGE |w|^2, 0 <= w <= 1 (scipy lsq_linear): keys the
landmarks cannot see stay at 0, and a face that matches the neutral one gives all zeros.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

import numpy as np
from scipy.optimize import lsq_linear

from rig.arkit import ARKIT_NAMES

from ..face_layers import share_key_values
from .face_points import corner_point, lid_points, lip_points

NEUTRAL_EYE = 0.30
RIDGE = 0.005      # small next to J^T J (0.03-0.27): keeps a fit from spreading over look-alikes
_LOCK = threading.Lock()
# MediaPipe FaceMesh indices (the person's own left/right).
LIP_UP, LIP_DOWN, CORNER_R, CORNER_L = 13, 14, 61, 291
EYE_R = (159, 145, 33, 133)       # upper lid, lower lid, outer and inner corner
EYE_L = (386, 374, 263, 362)


def photo_measurements(pts: np.ndarray) -> np.ndarray:
    """(468, 2) landmark pixels (x right, y down) -> (5,) [lip gap, eye L, eye R, corner L,
    corner R], lengths over the eye-centre distance, eye openings over eye widths."""
    eye_r = pts[[EYE_R[2], EYE_R[3]]].mean(0)
    eye_l = pts[[EYE_L[2], EYE_L[3]]].mean(0)
    across = eye_l - eye_r                       # image: person's left is on the right
    iod = float(np.linalg.norm(across))
    c, s = across / iod
    up = np.array([s, -c])                       # perpendicular to the eye line, pointing up
    seam = pts[[LIP_UP, LIP_DOWN]].mean(0)

    def opening(eye) -> float:
        return float((pts[eye[0]] - pts[eye[1]]) @ up) / float(np.linalg.norm(
            pts[eye[2]] - pts[eye[3]]))
    return np.array([float((pts[LIP_UP] - pts[LIP_DOWN]) @ up) / iod, opening(EYE_L),
                     opening(EYE_R), float((pts[CORNER_L] - seam) @ up) / iod,
                     float((pts[CORNER_R] - seam) @ up) / iod])


def model_jacobian(rest: np.ndarray, deltas: np.ndarray) -> np.ndarray:
    """(5, 52): how each key at weight 1 changes the measurements on the avatar's face
    (frontal view: x across, z up)."""
    up_lip, low_lip = lip_points(rest, deltas)
    lids = {s: lid_points(rest, deltas, s) for s in ("Left", "Right")}
    corners = {s: corner_point(deltas, s) for s in ("Left", "Right")}
    iod = float(np.linalg.norm(rest[lids["Left"][0]] - rest[lids["Right"][0]]))
    dz = deltas[:, :, 2]
    rows = [(dz[:, up_lip] - dz[:, low_lip]) / iod]
    for s in ("Left", "Right"):
        up, low = lids[s]
        aperture = float(rest[up, 2] - rest[low, 2])
        rows.append(NEUTRAL_EYE * (dz[:, up] - dz[:, low]) / aperture)
    for s in ("Left", "Right"):
        rows.append((dz[:, corners[s]] - 0.5 * (dz[:, up_lip] + dz[:, low_lip])) / iod)
    return np.stack(rows)


def fit_weights(measured: np.ndarray, jac: np.ndarray) -> np.ndarray:
    """(52,) weights in [0, 1] for measurements (5,) given J (5, 52)."""
    m0 = np.array([0.0, NEUTRAL_EYE, NEUTRAL_EYE, 0.0, 0.0])
    a = np.vstack([jac, np.sqrt(RIDGE) * np.eye(jac.shape[1])])
    b = np.concatenate([measured - m0, np.zeros(jac.shape[1])])
    return np.clip(lsq_linear(a, b, bounds=(0.0, 1.0)).x, 0.0, 1.0)


@dataclass
class FaceLandmarks:
    """One FaceMesh run on a photo, shared by the expression and the head orientation.
    ``points``: (468, 3) working-image pixels x, y and FaceMesh's relative depth z (same
    scale as x, smaller = nearer the camera), or None when no face was found."""

    points: np.ndarray | None


def find_face(rgb: np.ndarray, obs=None) -> FaceLandmarks:
    """FaceMesh on ``rgb``, cropped around the body's face keypoints when ``obs`` has them."""
    return FaceLandmarks(face_landmarks(rgb, None if obs is None else obs.keypoints,
                                        None if obs is None else obs.visibility))


def face_landmarks(rgb: np.ndarray, keypoints: np.ndarray | None = None,
                   visibility: np.ndarray | None = None) -> np.ndarray | None:
    """(468, 3) FaceMesh landmarks of the most prominent face (pixels x, y and depth z in
    x's scale), or None. With body keypoints (BlazePose order: 0 nose .. 10 mouth) the head
    is cropped and enlarged first, as FaceMesh wants a face that fills the frame."""
    import cv2
    import mediapipe as mp
    h, w = rgb.shape[:2]
    x0, y0, crop = 0, 0, rgb
    if keypoints is not None and visibility is not None and (visibility[:11] > 0.5).sum() >= 3:
        head = keypoints[:11][visibility[:11] > 0.5]
        centre = head.mean(0)
        half = max(2.0 * float(np.ptp(head, axis=0).max()), 24.0)
        x0, y0 = (np.maximum(centre - half, 0)).astype(int)
        x1, y1 = np.minimum(centre + half, [w, h]).astype(int)
        crop = rgb[y0:y1, x0:x1]
    scale = max(1.0, 384.0 / max(crop.shape[:2]))
    big = cv2.resize(crop, None, fx=scale, fy=scale, interpolation=cv2.INTER_CUBIC) \
        if scale > 1 else crop
    with _LOCK, mp.solutions.face_mesh.FaceMesh(static_image_mode=True, max_num_faces=1,
                                                min_detection_confidence=0.5) as mesh:
        res = mesh.process(np.ascontiguousarray(big[:, :, :3]))
    if not res.multi_face_landmarks:
        return None
    bh, bw = big.shape[:2]
    lm = res.multi_face_landmarks[0].landmark
    pts = np.array([[p.x * bw, p.y * bh, p.z * bw] for p in lm[:468]], dtype=np.float64)
    return pts / scale + np.array([x0, y0, 0.0])


def photo_expression(rgb: np.ndarray, rest: np.ndarray, deltas: np.ndarray,
                     keypoints=None, visibility=None, face: FaceLandmarks | None = None
                     ) -> tuple[np.ndarray, dict]:
    """(52,) ARKit weights in [0, 1] for the face in ``rgb`` (all 0 when none is found) and
    a JSON-able note {found, measured, neutral...} for the avatar's metadata. ``face``: an
    earlier FaceMesh run on ``rgb`` (find_face), else FaceMesh runs here."""
    pts = face.points if face is not None else face_landmarks(rgb, keypoints, visibility)
    if pts is None:
        return np.zeros(len(ARKIT_NAMES), np.float32), {"face_found": False}
    measured = photo_measurements(pts[:, :2])
    weights = fit_weights(measured, model_jacobian(rest, deltas))
    note = {"face_found": True,
            "measured": dict(zip(("lip_gap", "eye_open_left", "eye_open_right",
                                  "corner_left", "corner_right"),
                                 (round(float(v), 4) for v in measured)))}
    return weights.astype(np.float32), note


def set_photo_expression(avatar, rgb: np.ndarray, obs=None,
                         face: FaceLandmarks | None = None) -> None:
    """Put the photo's expression on ``avatar``'s body keys (ShapeKeys.values, which the
    Blender builder sets on the keys) and in ``metadata["arkit"]``; bodies without the ARKit
    keys (SMPL) are left as they are. ``face``: find_face's result, to share one run."""
    body = avatar.layer("body")
    keys = body.shape_keys if body is not None else None
    if keys is None or list(keys.names) != list(ARKIT_NAMES):
        return
    weights, note = photo_expression(
        rgb, body.vertices.astype(np.float64), keys.deltas.astype(np.float64),
        None if obs is None else obs.keypoints, None if obs is None else obs.visibility, face)
    keys.values = weights
    share_key_values(avatar)          # teeth, lashes, brows (face_layers) follow the body
    avatar.metadata["arkit"] = {"weights": {n: round(float(v), 4)
                                            for n, v in zip(ARKIT_NAMES, weights) if v > 0},
                                "source": "MediaPipe FaceMesh landmarks, bounded least squares",
                                **note}
