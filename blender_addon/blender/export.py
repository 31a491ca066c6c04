"""Export one avatar (armature + skinned meshes, textures embedded) to FBX for game engines
(Unity/Unreal: Y up, -Z forward, no leaf bones) or to binary glTF."""

from __future__ import annotations

from pathlib import Path

import bpy

from .avatar_lookup import avatar_meshes

FORMATS = {"FBX": ".fbx", "GLB": ".glb"}


def export_avatar(context, armature, path, fmt: str = "FBX") -> Path:
    """Write ``armature`` and its meshes to ``path`` (fmt FBX or GLB); returns the path.
    Selection and the active object are restored afterwards."""
    if fmt not in FORMATS:
        raise ValueError(f"format must be one of {', '.join(FORMATS)}, got {fmt!r}")
    path = Path(bpy.path.abspath(str(path))).resolve()
    if path.suffix.lower() != FORMATS[fmt]:
        path = path.with_suffix(FORMATS[fmt])
    path.parent.mkdir(parents=True, exist_ok=True)
    view_layer = context.view_layer
    before = [o for o in view_layer.objects if o.select_get()]
    active = view_layer.objects.active
    try:
        for obj in before:
            obj.select_set(False)
        for obj in (armature, *avatar_meshes(armature)):
            obj.select_set(True)
        view_layer.objects.active = armature
        if fmt == "FBX":
            bpy.ops.export_scene.fbx(
                filepath=str(path), use_selection=True, object_types={"ARMATURE", "MESH"},
                axis_forward="-Z", axis_up="Y", add_leaf_bones=False,
                primary_bone_axis="Y", secondary_bone_axis="X",
                apply_scale_options="FBX_SCALE_ALL", mesh_smooth_type="FACE",
                path_mode="COPY", embed_textures=True, bake_anim=False)
        else:
            bpy.ops.export_scene.gltf(
                filepath=str(path), export_format="GLB", use_selection=True,
                export_skins=True, export_animations=False, export_image_format="AUTO",
                export_yup=True)
    finally:
        for obj in view_layer.objects:
            obj.select_set(obj in before)
        view_layer.objects.active = active
    return path
