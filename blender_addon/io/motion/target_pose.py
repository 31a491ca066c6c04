"""The target skeleton's rest, and its forward kinematics done Blender's way: what the
armature shows for given ``pose_bone.rotation_quaternion`` values and a root ``location``.
Used to check a retargeted clip without Blender."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from . import quaternions as Q


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
    """(T, B, 4) local quaternions + (T, 3) location of bone 0 -> world heads and tails,
    each (T, B, 3), armature space, metres. Non-root bones are not translated."""
    t, b = rotations.shape[:2]
    heads = np.empty((t, b, 3))
    world = np.empty((t, b, 4))
    r = target.rest_rot
    for i in range(b):
        p = target.parents[i]
        if p < 0:
            loc = root_location if i == 0 else np.zeros((t, 3))
            heads[:, i] = target.heads[i] + Q.rotate(r[i], loc)
            world[:, i] = Q.multiply(r[i], rotations[:, i])
        else:
            rel = Q.multiply(Q.conjugate(r[p]), r[i])                 # rest of i in p's frame
            offset = Q.rotate(Q.conjugate(r[p]), target.heads[i] - target.heads[p])
            heads[:, i] = heads[:, p] + Q.rotate(world[:, p], np.broadcast_to(offset, (t, 3)))
            world[:, i] = Q.multiply(world[:, p], Q.multiply(rel, rotations[:, i]))
    length = np.linalg.norm(target.tails - target.heads, axis=1)
    y = np.zeros((t, b, 3))
    y[..., 1] = length
    return heads, heads + Q.rotate(world, y)
