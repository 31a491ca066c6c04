"""Pose an avatar (a protocol ``RiggedAvatar``'s skeleton, pose and layers, duck-typed) with the
core's kinematics and skinning: exactly what Blender shows for it, without Blender."""

from __future__ import annotations

import numpy as np

from .kinematics import posed_bone_matrices as _fk
from .skinning import linear_blend_skinning
from .skinning import skinning_matrices as _skinning


def posed_bone_matrices(skeleton, pose=None) -> np.ndarray:
    """(B, 4, 4) posed bone->armature frames (float64); the rest frames when pose is None."""
    rest = np.asarray(skeleton.matrices, np.float64)
    if pose is None:
        return rest.copy()
    return _fk(rest, skeleton.parents, pose.rotations, pose.location)


def skinning_matrices(skeleton, pose=None) -> np.ndarray:
    """(B, 4, 4) matrices taking rest armature-space points to posed ones, per bone."""
    return _skinning(skeleton.matrices, posed_bone_matrices(skeleton, pose))


def posed_layer_vertices(skeleton, pose, layer) -> np.ndarray:
    """(V, 3) armature-space vertices of a mesh layer after linear blend skinning."""
    return linear_blend_skinning(layer.vertices, layer.skin_indices, layer.skin_weights,
                                 skinning_matrices(skeleton, pose))
