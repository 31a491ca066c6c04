"""Linear blend skinning in numpy, in the avatar protocol's conventions (Blender's).

A bone's posed armature-space frame is its parent's posed frame times the bone's rest offset
from its parent, times its local pose rotation (``pose_bone.rotation_quaternion``):
    G_b = G_p @ inv(Rest_p) @ Rest_b @ Rot(q_b)            (child)
    G_b = Translate(location) @ Rest_b @ Rot(q_b)          (root; location in armature space)
and a point bound to bone b moves by the skinning matrix G_b @ inv(Rest_b).
"""

from __future__ import annotations

import numpy as np

from protocol import Pose, Skeleton


def quat_to_matrix(q: np.ndarray) -> np.ndarray:
    """(..., 4) quaternions (w, x, y, z), any norm -> (..., 3, 3) rotation matrices."""
    q = np.asarray(q, np.float64)
    q = q / np.linalg.norm(q, axis=-1, keepdims=True)
    w, x, y, z = np.moveaxis(q, -1, 0)
    return np.stack([
        np.stack([1 - 2 * (y * y + z * z), 2 * (x * y - w * z), 2 * (x * z + w * y)], -1),
        np.stack([2 * (x * y + w * z), 1 - 2 * (x * x + z * z), 2 * (y * z - w * x)], -1),
        np.stack([2 * (x * z - w * y), 2 * (y * z + w * x), 1 - 2 * (x * x + y * y)], -1),
    ], -2)


def matrix_to_quat(m: np.ndarray) -> np.ndarray:
    """(N, 3, 3) rotation matrices -> (N, 4) unit quaternions (w, x, y, z), w >= 0."""
    m = np.asarray(m, np.float64)
    tr = np.stack([m[:, 0, 0] + m[:, 1, 1] + m[:, 2, 2], m[:, 0, 0], m[:, 1, 1], m[:, 2, 2]], 1)
    pick = np.argmax(tr, axis=1)
    q = np.empty((len(m), 4))
    # Shepperd: divide by the largest component to stay well conditioned.
    for k in range(4):
        s = pick == k
        if not s.any():
            continue
        a = m[s]
        if k == 0:
            r = np.sqrt(1.0 + tr[s, 0]) * 2
            q[s] = np.stack([0.25 * r, (a[:, 2, 1] - a[:, 1, 2]) / r,
                             (a[:, 0, 2] - a[:, 2, 0]) / r, (a[:, 1, 0] - a[:, 0, 1]) / r], 1)
        elif k == 1:
            r = np.sqrt(1.0 + a[:, 0, 0] - a[:, 1, 1] - a[:, 2, 2]) * 2
            q[s] = np.stack([(a[:, 2, 1] - a[:, 1, 2]) / r, 0.25 * r,
                             (a[:, 0, 1] + a[:, 1, 0]) / r, (a[:, 0, 2] + a[:, 2, 0]) / r], 1)
        elif k == 2:
            r = np.sqrt(1.0 + a[:, 1, 1] - a[:, 0, 0] - a[:, 2, 2]) * 2
            q[s] = np.stack([(a[:, 0, 2] - a[:, 2, 0]) / r, (a[:, 0, 1] + a[:, 1, 0]) / r,
                             0.25 * r, (a[:, 1, 2] + a[:, 2, 1]) / r], 1)
        else:
            r = np.sqrt(1.0 + a[:, 2, 2] - a[:, 0, 0] - a[:, 1, 1]) * 2
            q[s] = np.stack([(a[:, 1, 0] - a[:, 0, 1]) / r, (a[:, 0, 2] + a[:, 2, 0]) / r,
                             (a[:, 1, 2] + a[:, 2, 1]) / r, 0.25 * r], 1)
    q *= np.where(q[:, :1] < 0, -1.0, 1.0)
    return q / np.linalg.norm(q, axis=1, keepdims=True)


def posed_bone_matrices(skeleton: Skeleton, pose: Pose | None) -> np.ndarray:
    """(B, 4, 4) posed bone-to-armature frames (float64); the rest frames when pose is None."""
    rest = np.asarray(skeleton.matrices, np.float64)
    if pose is None:
        return rest.copy()
    local = np.tile(np.eye(4), (len(rest), 1, 1))
    local[:, :3, :3] = quat_to_matrix(pose.rotations)
    rest_inv = np.linalg.inv(rest)
    posed = np.empty_like(rest)
    for b, p in enumerate(np.asarray(skeleton.parents)):      # parents come first
        if p < 0:
            move = np.eye(4)
            move[:3, 3] = np.asarray(pose.location, np.float64)
            posed[b] = move @ rest[b] @ local[b]
        else:
            posed[b] = posed[p] @ rest_inv[p] @ rest[b] @ local[b]
    return posed


def skinning_matrices(skeleton: Skeleton, pose: Pose | None) -> np.ndarray:
    """(B, 4, 4) matrices taking rest armature-space points to posed ones, per bone."""
    rest = np.asarray(skeleton.matrices, np.float64)
    return posed_bone_matrices(skeleton, pose) @ np.linalg.inv(rest)


def blend_transforms(skin: np.ndarray, indices: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """(B, 4, 4) skinning matrices, (N, k) bone indices and weights -> (N, 4, 4) per point."""
    w = np.asarray(weights, np.float64)
    w = w / np.maximum(w.sum(axis=1, keepdims=True), 1e-12)
    return np.einsum("nk,nkij->nij", w, skin[np.asarray(indices)])


def skin_points(points: np.ndarray, transforms: np.ndarray) -> np.ndarray:
    """(N, 3) rest points, (N, 4, 4) blended transforms -> (N, 3) posed points."""
    p = np.asarray(points, np.float64)
    return np.einsum("nij,nj->ni", transforms[:, :3, :3], p) + transforms[:, :3, 3]
