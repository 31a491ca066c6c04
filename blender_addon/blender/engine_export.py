"""Export an avatar with the bone names and hierarchy a game engine expects (Unreal, Unity
Humanoid, Mixamo; rig/engine_rigs.py has the tables and the policy).

The user's objects are never renamed: a temporary copy is made (a new armature built bone
by bone with the engine names, the meshes with copied mesh data whose vertex groups are
renamed and whose twist/in-between bones' weights are merged into the kept parent), exported
with export.export_avatar, and removed again, whatever happens. The copy sits at the world
origin and in its rest pose, as engines import a character.
"""

from __future__ import annotations

import importlib
from pathlib import Path

import bpy
import numpy as np
from mathutils import Matrix, Vector

from ..deps import rig
from .avatar_lookup import avatar_meshes
from .builder.armature import _edit_mode
from .export import export_avatar

# By name, so the vendored copy (blender_addon.rig) is used inside the extension.
engine_rigs = importlib.import_module(f"{rig.__name__}.engine_rigs")

PRESETS = engine_rigs.PRESETS


def export_engine(context, armature, path, fmt: str = "FBX", preset: str = "unreal") -> Path:
    """Write ``armature``'s avatar to ``path`` (FBX or GLB) with ``preset``'s skeleton
    ("unreal", "unity", "mixamo"); returns the written path. Raises ValueError for a
    skeleton the presets do not know."""
    if preset not in PRESETS:
        raise ValueError(f"preset must be one of {', '.join(PRESETS)}, got {preset!r}")
    bones = armature.data.bones
    names = [b.name for b in bones]
    index = {n: i for i, n in enumerate(names)}
    parents = [index[b.parent.name] if b.parent else -1 for b in bones]
    plan = engine_rigs.plan(names, parents, preset)
    stores = ("objects", "collections", "armatures", "meshes")
    before = {s: set(getattr(bpy.data, s)) for s in stores}
    collection = bpy.data.collections.new(f"doppel_{preset}_export")
    context.scene.collection.children.link(collection)
    try:
        arm = _engine_armature(context, armature, plan, collection, preset)
        for mesh in avatar_meshes(armature):
            _engine_mesh(mesh, arm, plan, collection)
        return export_avatar(context, arm, path, fmt)
    finally:                                  # the copy never outlives the export
        bpy.data.batch_remove([i for s in stores for i in getattr(bpy.data, s)
                               if i not in before[s]])


def _engine_armature(context, source, plan, collection, preset: str):
    """A new armature at the origin with ``plan``'s bones (rest frames as the source's)."""
    data = bpy.data.armatures.new(f"{source.data.name}_{preset}")
    # Unreal's FBX importer skips an armature node named "Armature" (no extra root bone).
    obj = bpy.data.objects.new("Armature" if preset == "unreal" else source.name, data)
    collection.objects.link(obj)
    src = {b.name: b for b in source.data.bones}
    with _edit_mode(context, obj):
        eb = data.edit_bones
        if plan.root is not None:
            root = eb.new(plan.root)
            root.head = (0.0, 0.0, 0.0)
            root.tail = (0.0, 0.0, 0.2)
            root.use_deform = False
        for name, new in plan.rename.items():
            bone = src[name]
            e = eb.new(new)
            e.head = bone.head_local
            e.tail = _tail(bone, plan)
            e.align_roll(bone.matrix_local.to_3x3().col[2])
        for new, parent in plan.parents.items():
            if parent is not None:
                eb[new].parent = eb[parent]
                eb[new].use_connect = False
    return obj


def _tail(bone, plan) -> Vector:
    """A kept bone ends where its merged single child ends (upperarm01 + upperarm02 -> one
    upper-arm bone), so the engine bone spans the whole limb segment."""
    while len(bone.children) == 1 and bone.children[0].name in plan.merge:
        bone = bone.children[0]
    return bone.tail_local


def _engine_mesh(mesh, arm, plan, collection):
    """A copy of ``mesh`` (its own mesh data) skinned to ``arm`` with the engine names."""
    obj = mesh.copy()
    obj.data = mesh.data.copy()          # vertex group names live on the mesh data
    obj.animation_data_clear()
    collection.objects.link(obj)
    obj.parent = arm
    obj.matrix_parent_inverse = Matrix.Identity(4)
    obj.matrix_basis = mesh.matrix_parent_inverse @ mesh.matrix_basis
    for mod in obj.modifiers:
        if mod.type == "ARMATURE":
            mod.object = arm
    merge_weights(obj, plan.merge)
    pairs = [(g, plan.rename[g.name]) for g in obj.vertex_groups if g.name in plan.rename]
    for i, (g, _) in enumerate(pairs):        # two passes: engine names may be source names
        g.name = f"__doppel_{i}"
    for g, new in pairs:
        g.name = new
    return obj


def merge_weights(obj, merge: dict[str, str]) -> None:
    """Add each merged group's weights to its kept bone's group, then drop the group."""
    vgroups = obj.vertex_groups
    by_index = {g.index: g.name for g in vgroups}
    moved: dict[str, dict[int, float]] = {}
    for v in obj.data.vertices:
        for g in v.groups:
            target = merge.get(by_index.get(g.group, ""))
            if target is not None and g.weight > 0.0:
                acc = moved.setdefault(target, {})
                acc[v.index] = acc.get(v.index, 0.0) + g.weight
    for target, weights in moved.items():
        group = vgroups.get(target) or vgroups.new(name=target)
        # Vertices sharing a weight are added in one call.
        values = np.array(list(weights.values()))
        verts = np.array(list(weights.keys()))
        for w in np.unique(values):
            group.add(verts[values == w].tolist(), float(w), "ADD")
    for name in merge:
        g = vgroups.get(name)
        if g is not None:
            vgroups.remove(g)
