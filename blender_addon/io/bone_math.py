"""Bone and rotation maths in numpy (Blender ships no scipy), in Blender's conventions.

A bone's rest frame (Skeleton.matrices) has +Y from head to tail; its Z axis fixes the roll.
Blender stores a bone as head, tail and roll, where roll is the angle about +Y between the
"zero roll" frame Blender derives from the Y direction alone and the wanted frame.
Quaternions are (w, x, y, z) like ``pose_bone.rotation_quaternion``.
"""

from __future__ import annotations

import numpy as np

# Same thresholds as Blender's vec_roll_to_mat3_normalized (armature.cc).
_SAFE = 6.1e-3
_CRITICAL_SQ = 2.5e-4 ** 2
_QUAT_EPS = 1e-12          # below this norm a quaternion counts as zero


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


def quat_to_matrix(q: np.ndarray) -> np.ndarray:
    """(..., 4) quaternions (w, x, y, z), normalised here -> (..., 3, 3) rotation matrices.
    A zero quaternion gives the identity, as Blender's pose evaluation treats it."""
    q = np.asarray(q, dtype=np.float64)
    q = q / np.maximum(np.linalg.norm(q, axis=-1, keepdims=True), _QUAT_EPS)
    w, x, y, z = np.moveaxis(q, -1, 0)
    return np.stack([
        np.stack([1 - 2 * (y * y + z * z), 2 * (x * y - w * z), 2 * (x * z + w * y)], -1),
        np.stack([2 * (x * y + w * z), 1 - 2 * (x * x + z * z), 2 * (y * z - w * x)], -1),
        np.stack([2 * (x * z - w * y), 2 * (y * z + w * x), 1 - 2 * (x * x + y * y)], -1),
    ], -2)


def matrix_to_quat(m: np.ndarray) -> np.ndarray:
    """(..., 3, 3) rotation matrices -> (..., 4) unit quaternions (w, x, y, z) with w >= 0.
    Shepperd's method: stable for every rotation, including half turns."""
    m = np.asarray(m, dtype=np.float64)
    m00, m11, m22 = m[..., 0, 0], m[..., 1, 1], m[..., 2, 2]
    # Row k is 4 q_k q; use the row with the largest |q_k| (best conditioned).
    cand = np.stack([
        np.stack([1 + m00 + m11 + m22, m[..., 2, 1] - m[..., 1, 2],
                  m[..., 0, 2] - m[..., 2, 0], m[..., 1, 0] - m[..., 0, 1]], -1),
        np.stack([m[..., 2, 1] - m[..., 1, 2], 1 + m00 - m11 - m22,
                  m[..., 0, 1] + m[..., 1, 0], m[..., 0, 2] + m[..., 2, 0]], -1),
        np.stack([m[..., 0, 2] - m[..., 2, 0], m[..., 0, 1] + m[..., 1, 0],
                  1 - m00 + m11 - m22, m[..., 1, 2] + m[..., 2, 1]], -1),
        np.stack([m[..., 1, 0] - m[..., 0, 1], m[..., 0, 2] + m[..., 2, 0],
                  m[..., 1, 2] + m[..., 2, 1], 1 - m00 - m11 + m22], -1),
    ], -2)                                                       # (..., 4 candidates, 4)
    best = np.argmax(np.stack([m00 + m11 + m22, m00, m11, m22], -1), axis=-1)
    q = np.take_along_axis(cand, best[..., None, None], axis=-2)[..., 0, :]
    q = q / np.maximum(np.linalg.norm(q, axis=-1, keepdims=True), _QUAT_EPS)
    return np.where(q[..., :1] < 0, -q, q)


def posed_bone_matrices(rest: np.ndarray, parents: np.ndarray, rotations: np.ndarray,
                        root_location: np.ndarray | None = None) -> np.ndarray:
    """Forward kinematics as Blender's pose does it (no bone scale, connected or not):
    (B, 4, 4) rest frames, (B,) parents (parents first), (B, 4) local rotations (w, x, y, z),
    root translation (3,) in armature space -> (B, 4, 4) posed bone->armature frames."""
    rest = np.asarray(rest, dtype=np.float64)
    local = np.tile(np.eye(4), (len(rest), 1, 1))
    local[:, :3, :3] = quat_to_matrix(rotations)
    posed = np.empty_like(rest)
    for b, p in enumerate(np.asarray(parents)):
        if p < 0:
            posed[b] = rest[b] @ local[b]
            if root_location is not None:
                posed[b, :3, 3] += np.asarray(root_location, dtype=np.float64)
        else:
            # The child's rest offset from its parent stays fixed in the parent's frame.
            posed[b] = posed[p] @ np.linalg.inv(rest[p]) @ rest[b] @ local[b]
    return posed
