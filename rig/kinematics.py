"""Forward kinematics, once, as Blender's pose evaluates it (numpy only).

For a bone b with parent p, rest bone->armature frames R and local pose rotations L
(``pose_bone.rotation_quaternion``):
    G_b = G_p @ inv(R_p) @ R_b @ L_b            (child: its rest offset stays fixed in p's frame)
    G_b = T(location) @ R_b @ L_b               (root; location is an armature-space translation)
Worked in quaternions + positions (a motion clip has thousands of frames: two small products
per bone instead of 4x4 matrix products). Every function broadcasts over leading axes (time,
batch); bones are ordered parents first.
"""

from __future__ import annotations

import numpy as np

from . import rotations as Q


def forward_kinematics(rest_rot: np.ndarray, rest_pos: np.ndarray, parents: np.ndarray,
                       local: np.ndarray, root_location: np.ndarray | None = None
                       ) -> tuple[np.ndarray, np.ndarray]:
    """(B, 4) rest bone->armature rotations (w, x, y, z), (B, 3) rest heads, (B,) parents,
    (..., B, 4) local rotations, (..., 3) root translation in armature space ->
    ((..., B, 4) posed bone->armature rotations, (..., B, 3) posed heads)."""
    rest_rot = np.asarray(rest_rot, dtype=np.float64)
    rest_pos = np.asarray(rest_pos, dtype=np.float64)
    parents = np.asarray(parents)
    local = np.asarray(local, dtype=np.float64)
    # Blender normalises pose quaternions and treats a zero one as no rotation.
    norm = np.linalg.norm(local, axis=-1, keepdims=True)
    local = np.where(norm > 1e-12, local / np.maximum(norm, 1e-12), [1.0, 0.0, 0.0, 0.0])
    # Each child's rest offset from its parent, in the parent's rest frame (constant).
    up = np.where(parents < 0, np.arange(len(parents)), parents)
    inv_parent = Q.conjugate(rest_rot[up])
    rel_rot = np.where((parents < 0)[:, None], rest_rot, Q.multiply(inv_parent, rest_rot))
    rel_pos = Q.rotate(inv_parent, rest_pos - rest_pos[up])
    step = Q.multiply(rel_rot, local)                        # (..., B, 4), all bones at once
    rot = np.empty(step.shape)
    pos = np.empty(step.shape[:-1] + (3,))
    for b, p in enumerate(parents):
        if p < 0:
            rot[..., b, :] = step[..., b, :]
            pos[..., b, :] = rest_pos[b]
        else:
            rot[..., b, :] = Q.multiply(rot[..., p, :], step[..., b, :])
            pos[..., b, :] = pos[..., p, :] + Q.rotate(rot[..., p, :], rel_pos[b])
    if root_location is not None:
        # Every bone hangs from a root, so the whole tree moves by the root's translation.
        pos += np.asarray(root_location, dtype=np.float64)[..., None, :]
    return rot, pos


def posed_bone_matrices(rest: np.ndarray, parents: np.ndarray, rotations: np.ndarray,
                        root_location: np.ndarray | None = None) -> np.ndarray:
    """(B, 4, 4) rest frames, (B,) parents, (..., B, 4) local quaternions (w, x, y, z),
    (..., 3) root translation in armature space -> (..., B, 4, 4) posed bone->armature frames."""
    rest = np.asarray(rest, dtype=np.float64)
    rot, pos = forward_kinematics(Q.from_matrix(rest[:, :3, :3]), rest[:, :3, 3], parents,
                                  rotations, root_location)
    out = np.zeros(rot.shape[:-1] + (4, 4))
    out[..., :3, :3] = Q.to_matrix(rot)
    out[..., :3, 3] = pos
    out[..., 3, 3] = 1.0
    return out


def world_rotations(rest: np.ndarray, parents: np.ndarray, local: np.ndarray) -> np.ndarray:
    """(B, 3, 3) rest rotations, (B,) parents, (..., B, 3, 3) local rotations ->
    (..., B, 3, 3) posed bone->armature rotations."""
    rest = np.asarray(rest, dtype=np.float64)[:, :3, :3]
    rot, _ = forward_kinematics(Q.from_matrix(rest), np.zeros((len(rest), 3)), parents,
                                Q.from_matrix(local))
    return Q.to_matrix(rot)
