"""The target skeleton's rest, and its forward kinematics done Blender's way: what the
armature shows for given ``pose_bone.rotation_quaternion`` values and a root ``location``.
Used to check a retargeted clip without Blender."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .. import rotations as Q
from ..kinematics import forward_kinematics


@dataclass
class TargetRest:
    """What retargeting needs of a protocol Skeleton (float64 copies)."""
    names: list[str]
    parents: np.ndarray        # (B,)
    heads: np.ndarray          # (B, 3)
    tails: np.ndarray          # (B, 3)
    rest_rot: np.ndarray       # (B, 4) bone -> armature rotation

    @classmethod
    def from_skeleton(cls, sk) -> "TargetRest":
        m = np.asarray(sk.matrices, dtype=np.float64)[:, :3, :3]
        m = m / np.linalg.norm(m, axis=1, keepdims=True)      # drop any scale in the columns
        return cls(names=list(sk.names), parents=np.asarray(sk.parents, dtype=np.int64),
                   heads=np.asarray(sk.heads, np.float64), tails=np.asarray(sk.tails, np.float64),
                   rest_rot=Q.from_matrix(m))


def posed_bones(target: TargetRest, rotations: np.ndarray, root_location: np.ndarray
                ) -> tuple[np.ndarray, np.ndarray]:
    """(T, B, 4) local quaternions + (T, 3) location of bone 0 (``pose_bone.location``, in its
    rest frame) -> world heads and tails, each (T, B, 3), armature space, metres."""
    location = Q.rotate(target.rest_rot[0], np.asarray(root_location, dtype=np.float64))
    rot, heads = forward_kinematics(target.rest_rot, target.heads, target.parents, rotations,
                                    location)
    y = np.zeros(target.heads.shape)
    y[:, 1] = np.linalg.norm(target.tails - target.heads, axis=1)      # +Y runs head -> tail
    return heads, heads + Q.rotate(rot, y)
