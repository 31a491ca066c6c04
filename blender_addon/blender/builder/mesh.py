"""Pass: MeshLayer -> skinned mesh object (bulk foreach_set, UVs, one vertex group per bone,
Armature modifier, parented to the armature)."""

from __future__ import annotations

import bpy
import numpy as np

from ...io.mesh_arrays import mesh_arrays, skin_pairs


def build_mesh(layer, name: str, armature_obj, bone_names: list[str], collection):
    arrays = mesh_arrays(layer.vertices, layer.faces, layer.uvs)
    me = bpy.data.meshes.new(name)
    me.vertices.add(arrays.vertex_count)
    me.vertices.foreach_set("co", arrays.positions)
    me.loops.add(arrays.corner_count)
    me.loops.foreach_set("vertex_index", arrays.corner_verts)
    me.polygons.add(arrays.face_count)
    me.polygons.foreach_set("loop_start", arrays.face_starts)
    if arrays.corner_uvs is not None:
        me.uv_layers.new(name="UVMap").data.foreach_set("uv", arrays.corner_uvs)
    me.update(calc_edges=True)
    me.shade_smooth()

    obj = bpy.data.objects.new(name, me)
    collection.objects.link(obj)
    obj.parent = armature_obj
    _add_vertex_groups(obj, layer, bone_names)
    mod = obj.modifiers.new("Armature", "ARMATURE")
    mod.object = armature_obj
    mod.use_vertex_groups = True
    return obj


def _add_vertex_groups(obj, layer, bone_names: list[str]) -> None:
    pairs = skin_pairs(layer.skin_indices, layer.skin_weights)
    for bone_name, part in zip(bone_names, pairs.bone_slices(len(bone_names))):
        group = obj.vertex_groups.new(name=bone_name)
        if part.stop == part.start:
            continue
        # One add() per distinct weight value of this bone (many vertices share 1.0).
        values, inverse = np.unique(pairs.weights[part], return_inverse=True)
        verts = pairs.vertices[part]
        order = np.argsort(inverse, kind="stable")
        cuts = np.searchsorted(inverse[order], np.arange(1, len(values)))
        for value, chunk in zip(values.tolist(), np.split(verts[order], cuts)):
            group.add(chunk.tolist(), value, "REPLACE")
