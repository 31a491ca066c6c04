"""Two-bone inverse kinematics (hip-knee-ankle, shoulder-elbow-wrist), numpy only.

Used to plant feet: the ankle is moved to a target by bending the knee (about the leg's own
bend axis, so the knee keeps pointing where it pointed) and then swinging the whole leg about
the hip. Corrections are small (centimetres), so the minimal swing keeps the leg's twist.
"""

from __future__ import annotations

import numpy as np

from . import rotations as Q


NEAR_STRAIGHT = 0.05      # sin of the bend below which the hinge axis is the fallback


def _unit(v: np.ndarray) -> np.ndarray:
    return v / np.maximum(np.linalg.norm(v, axis=-1, keepdims=True), 1e-12)


def two_bone_ik(a: np.ndarray, b: np.ndarray, c: np.ndarray, target: np.ndarray,
                fallback_axis: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Joint positions (..., 3): root a (hip), middle b (knee), end c (ankle), wanted end
    ``target`` -> (upper, lower) world rotations (..., 4): the upper segment turns by
    ``upper`` about a; the lower by ``upper * lower`` (lower about b first). The end lands on
    the target, or as near as the segment lengths allow (fully stretched towards it).
    ``fallback_axis`` (3,) or (..., 3): bend axis for a (nearly) straight limb (default
    +X: the lateral axis of a body facing -Y, so a straight knee bends forward)."""
    u, w = a - b, c - b
    l1, l2 = np.linalg.norm(u, axis=-1), np.linalg.norm(w, axis=-1)
    d = np.linalg.norm(target - a, axis=-1)
    d = np.clip(d, np.abs(l1 - l2) + 1e-6, l1 + l2 - 1e-6)
    cos_now = np.sum(u * w, -1) / np.maximum(l1 * l2, 1e-12)
    cos_new = (l1 ** 2 + l2 ** 2 - d ** 2) / np.maximum(2 * l1 * l2, 1e-12)
    fold = np.arccos(np.clip(cos_now, -1, 1)) - np.arccos(np.clip(cos_new, -1, 1))
    axis = np.cross(w, u)
    # A nearly straight limb's own bend plane is noise (a tenth of a millimetre tips it over):
    # below ~3 degrees of bend, use the caller's hinge axis so the knee bends the same way.
    straight = np.linalg.norm(axis, axis=-1) < NEAR_STRAIGHT * np.maximum(l1 * l2, 1e-12)
    if np.any(straight):
        fb = np.array([1.0, 0.0, 0.0]) if fallback_axis is None else np.asarray(fallback_axis)
        fb = np.broadcast_to(fb, w.shape)
        wn = _unit(w)
        fb = fb - np.sum(fb * wn, -1, keepdims=True) * wn      # perpendicular to the limb
        axis = np.where(straight[..., None], fb, axis)
    # Turning w about w x u moves it towards u: a positive fold closes the knee.
    lower = Q.from_axis_angle(_unit(axis) * fold[..., None])
    c_new = b + Q.rotate(lower, w)
    upper = Q.between(c_new - a, target - a)
    return upper, lower
