"""Mixamo-style FBX clips for the tests, written by Blender's own FBX exporter (no Mixamo file
can be shipped): a CMU BVH imported, its bones renamed to Mixamo's names with the
``mixamorig:`` prefix, scaled to centimetres and exported Y-up with baked animation."""

from __future__ import annotations

from pathlib import Path

import bpy

# CMU joint -> Mixamo joint where the names differ (CMU's LowerBack/Spine/Spine1 are
# Mixamo's Spine/Spine1/Spine2; legs, arms, neck and head already share Mixamo's names).
CMU_TO_MIXAMO = {"LowerBack": "Spine", "Spine": "Spine1", "Spine1": "Spine2"}
CMU_UNIT_CM = 0.0254 / 0.45 * 100          # CMU BVH unit in centimetres


def mixamo_fbx_from_bvh(bvh: Path, out: Path, prefix: str = "mixamorig:",
                        frames: int | None = None, fps: int | None = None) -> Path:
    """Write ``out`` (.fbx) from ``bvh``; ``frames`` repeats/cuts the clip to that many
    frames, ``fps`` is the file's frame rate (default the BVH's; another rate plays the
    keys faster or slower, as benchmarks need). Leaves an empty factory scene behind."""
    bpy.ops.wm.read_factory_settings(use_empty=True)
    bpy.ops.import_anim.bvh(filepath=str(bvh), rotate_mode="QUATERNION",
                            global_scale=CMU_UNIT_CM, update_scene_fps=True,
                            update_scene_duration=True)
    arm = bpy.context.active_object
    for bone in list(arm.data.bones):
        bone.name = prefix + CMU_TO_MIXAMO.get(bone.name, bone.name)
    _add_skin(arm)
    scene = bpy.context.scene
    scene.unit_settings.scale_length = 0.01            # the file says centimetres, as Mixamo's
    if fps is not None:
        scene.render.fps, scene.render.fps_base = fps, 1.0
    if frames is not None:
        scene.frame_end = scene.frame_start + frames - 1
        for fc in arm.animation_data.action.layers[0].strips[0].channelbags[0].fcurves:
            mod = fc.modifiers.new("CYCLES")            # loop the clip past its end
            mod.mode_before = mod.mode_after = "REPEAT"
    bpy.ops.export_scene.fbx(filepath=str(out), object_types={"ARMATURE", "MESH"},
                             bake_anim=True,
                             add_leaf_bones=True, bake_anim_use_all_actions=False,
                             bake_anim_use_nla_strips=False, bake_anim_simplify_factor=0.0,
                             axis_forward="-Z", axis_up="Y")
    bpy.ops.wm.read_factory_settings(use_empty=True)
    return out


def _add_skin(arm) -> None:
    """A small mesh skinned to every bone, as Mixamo's "With Skin" files have: the FBX then
    stores the bind pose, which the importer takes as the rest pose (without one it takes
    the pose at export time)."""
    import bmesh
    mesh = bpy.data.meshes.new("Skin")
    bm = bmesh.new()
    bones = list(arm.data.bones)
    for bone in bones:
        bm.verts.new(arm.matrix_world @ bone.head_local)
    bm.to_mesh(mesh)
    bm.free()
    obj = bpy.data.objects.new("Skin", mesh)
    bpy.context.scene.collection.objects.link(obj)
    for i, bone in enumerate(bones):
        obj.vertex_groups.new(name=bone.name).add([i], 1.0, "REPLACE")
    obj.parent = arm
    obj.modifiers.new("Armature", "ARMATURE").object = arm
