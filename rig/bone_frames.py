"""Bone rest frames in Blender's conventions (head, tail, roll), numpy only.

A bone's rest frame (Skeleton.matrices) has +Y from head to tail; its Z axis fixes the roll.
Blender stores a bone as head, tail and roll, where roll is the angle about +Y between the
"zero roll" frame Blender derives from the Y direction alone and the wanted frame.
"""

from __future__ import annotations

import numpy as np

# Same thresholds as Blender's vec_roll_to_mat3_normalized (armature.cc).
_SAFE = 6.1e-3
_CRITICAL_SQ = 2.5e-4 ** 2


def zero_roll_frames(y_axes: np.ndarray) -> np.ndarray:
    """(B, 3) unit head->tail directions -> (B, 3, 3) the frames Blender gives them at roll 0
    (columns x, y, z), following vec_roll_to_mat3_normalized."""
    y_axes = np.asarray(y_axes, dtype=np.float64)
    x, y, z = y_axes[:, 0], y_axes[:, 1], y_axes[:, 2]
    theta = 1.0 + y
    theta_alt = x * x + z * z
    regular = (theta > _SAFE) | (theta_alt > _CRITICAL_SQ)
    theta = np.where(theta <= _SAFE, theta_alt * 0.5 + theta_alt * theta_alt * 0.125, theta)
    theta = np.where(regular, theta, 1.0)     # avoid dividing by ~0 where unused
    m = np.zeros((len(y_axes), 3, 3))
    m[:, :, 0] = np.stack([1 - x * x / theta, -x, -x * z / theta], axis=1)
    m[:, :, 1] = y_axes
    m[:, :, 2] = np.stack([-x * z / theta, -z, 1 - z * z / theta], axis=1)
    # Pointing almost exactly down -Y: Blender mirrors the identity about Z.
    m[~regular] = np.diag([-1.0, -1.0, 1.0])
    return m


def bone_rolls(matrices: np.ndarray) -> np.ndarray:
    """(B, 4, 4) or (B, 3, 3) rest bone->armature frames -> (B,) roll angles in radians."""
    rot = np.asarray(matrices, dtype=np.float64)[:, :3, :3]
    y = rot[:, :, 1] / np.linalg.norm(rot[:, :, 1], axis=1, keepdims=True)
    zero = zero_roll_frames(y)
    # zero^T @ rot is a rotation about +Y by the roll: [[c, 0, s], [0, 1, 0], [-s, 0, c]].
    about_y = np.einsum("bji,bjk->bik", zero, rot)
    return np.arctan2(about_y[:, 0, 2], about_y[:, 0, 0]).astype(np.float32)


def roll_frames(heads: np.ndarray, tails: np.ndarray, rolls: np.ndarray) -> np.ndarray:
    """Inverse of :func:`bone_rolls`: (B, 3) heads, tails, (B,) rolls -> (B, 4, 4) frames."""
    heads = np.asarray(heads, dtype=np.float64)
    d = np.asarray(tails, dtype=np.float64) - heads
    zero = zero_roll_frames(d / np.linalg.norm(d, axis=1, keepdims=True))
    c, s = np.cos(rolls), np.sin(rolls)
    about_y = np.zeros((len(heads), 3, 3))
    about_y[:, 0, 0], about_y[:, 0, 2], about_y[:, 1, 1] = c, s, 1.0
    about_y[:, 2, 0], about_y[:, 2, 2] = -s, c
    out = np.tile(np.eye(4), (len(heads), 1, 1))
    out[:, :3, :3] = zero @ about_y
    out[:, :3, 3] = heads
    return out
