"""The soles of an avatar's body mesh, read from Blender, for grounding retargeted clips.

Retargeting puts the lowest point of the feet on the floor; that point is on the skinned
mesh (a few centimetres below the foot bones), so the add-on hands the mesh's foot vertices
and their vertex-group weights to the rig core (rig.motion.feet.sole_points_from_mesh).
"""

from __future__ import annotations

import numpy as np

from ..deps import rig
from .avatar_lookup import avatar_meshes


def armature_feet(obj, skeleton):
    """FootPoints of the largest mesh skinned to armature ``obj`` (vertices in armature
    space), for ``skeleton`` (motion_writer.armature_skeleton's); None without a mesh."""
    meshes = [m for m in avatar_meshes(obj) if len(m.data.vertices)]
    if not meshes:
        return None
    mesh = max(meshes, key=lambda m: len(m.data.vertices))
    bone_index = {n: i for i, n in enumerate(skeleton.names)}
    group_bone = {g.index: bone_index.get(g.name, -1) for g in mesh.vertex_groups}
    verts = mesh.data.vertices
    co = np.empty(len(verts) * 3, np.float64)
    verts.foreach_get("co", co)
    co = co.reshape(-1, 3)
    to_arm = np.array(obj.matrix_world.inverted() @ mesh.matrix_world)
    co = co @ to_arm[:3, :3].T + to_arm[:3, 3]
    # Only feet matter: skip reading weights of vertices well above the ankles.
    low = np.flatnonzero(co[:, 2] < co[:, 2].min() + 0.25 * np.ptp(co[:, 2]))
    k = 4
    idx = np.zeros((len(low), k), np.int64)
    w = np.zeros((len(low), k))
    for row, v in enumerate(low):
        pairs = sorted(((g.weight, group_bone.get(g.group, -1)) for g in verts[int(v)].groups),
                       reverse=True)
        pairs = [(wt, b) for wt, b in pairs if b >= 0][:k]
        for col, (wt, b) in enumerate(pairs):
            idx[row, col], w[row, col] = b, wt
    return rig.motion.sole_points_from_mesh(skeleton.names, skeleton.parents, co[low], idx, w)
