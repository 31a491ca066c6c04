"""Linear blend skinning in numpy, in the avatar protocol's conventions (Blender's).

A bone's posed armature-space frame is its parent's posed frame times the bone's rest offset
from its parent, times its local pose rotation (``pose_bone.rotation_quaternion``):
    G_b = G_p @ inv(Rest_p) @ Rest_b @ Rot(q_b)            (child)
    G_b = Translate(location) @ Rest_b @ Rot(q_b)          (root; location in armature space)
and a point bound to bone b moves by the skinning matrix G_b @ inv(Rest_b).
"""

from __future__ import annotations

import numpy as np

from blender_addon.io import bone_math
from protocol import Pose, Skeleton


def posed_bone_matrices(skeleton: Skeleton, pose: Pose | None) -> np.ndarray:
    """(B, 4, 4) posed bone-to-armature frames (float64); the rest frames when pose is None."""
    rest = np.asarray(skeleton.matrices, np.float64)
    if pose is None:
        return rest.copy()
    return bone_math.posed_bone_matrices(rest, skeleton.parents, pose.rotations, pose.location)


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
