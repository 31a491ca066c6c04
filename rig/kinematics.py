"""Forward kinematics, once, as Blender's pose evaluates it (numpy only).

For a bone b with parent p, rest bone->armature frames R and local pose rotations L
(``pose_bone.rotation_quaternion``):
    G_b = G_p @ inv(R_p) @ R_b @ L_b            (child: its rest offset stays fixed in p's frame)
    G_b = T(location) @ R_b @ L_b               (root; location is an armature-space translation)
Every function broadcasts over leading axes (time, batch); bones are ordered parents first.
"""

from __future__ import annotations

import numpy as np

from .rotations import to_matrix


def chain(rest: np.ndarray, parents: np.ndarray, local: np.ndarray) -> np.ndarray:
    """(B, k, k) rest frames, (B,) parents, (..., B, k, k) local transforms -> (..., B, k, k)
    posed frames; k = 4 for rigid transforms, k = 3 for rotations alone."""
    rest = np.asarray(rest, dtype=np.float64)
    local = np.asarray(local, dtype=np.float64)
    parents = np.asarray(parents)
    inv_rest = np.linalg.inv(rest)
    posed = np.empty(np.broadcast_shapes(local.shape, rest.shape))
    for b, p in enumerate(parents):
        offset = rest[b] if p < 0 else inv_rest[p] @ rest[b]
        posed[..., b, :, :] = offset @ local[..., b, :, :] if p < 0 else \
            posed[..., p, :, :] @ offset @ local[..., b, :, :]
    return posed


def posed_bone_matrices(rest: np.ndarray, parents: np.ndarray, rotations: np.ndarray,
                        root_location: np.ndarray | None = None) -> np.ndarray:
    """(B, 4, 4) rest frames, (B,) parents, (..., B, 4) local quaternions (w, x, y, z),
    (..., 3) root translation in armature space -> (..., B, 4, 4) posed bone->armature frames."""
    rotations = np.asarray(rotations, dtype=np.float64)
    local = np.zeros(rotations.shape[:-1] + (4, 4))
    local[..., :3, :3] = to_matrix(rotations)
    local[..., 3, 3] = 1.0
    posed = chain(rest, parents, local)
    if root_location is not None:
        # Every bone hangs from a root, so the whole tree moves by the root's translation.
        posed[..., :3, 3] += np.asarray(root_location, dtype=np.float64)[..., None, :]
    return posed


def world_rotations(rest: np.ndarray, parents: np.ndarray, local: np.ndarray) -> np.ndarray:
    """(B, 3, 3) rest rotations, (B,) parents, (..., B, 3, 3) local rotations ->
    (..., B, 3, 3) posed bone->armature rotations."""
    return chain(np.asarray(rest, dtype=np.float64)[:, :3, :3], parents, local)


def rest_from_heads(positions: np.ndarray) -> np.ndarray:
    """(J, 3) rest joint positions -> (J, 4, 4) frames with identity rotation: the rest of a
    skeleton whose joints have no orientation of their own (BVH, SMPL)."""
    rest = np.tile(np.eye(4), (len(positions), 1, 1))
    rest[:, :3, 3] = positions
    return rest
