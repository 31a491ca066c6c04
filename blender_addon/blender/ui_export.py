"""Export section: the active avatar to FBX or glTF binary, textures embedded."""

from __future__ import annotations

import bpy
from bpy_extras.io_utils import ExportHelper

from .avatar_lookup import active_avatar
from .export import FORMATS, export_avatar
from .panels import DoppelPanel


class DOPPEL_OT_export(bpy.types.Operator, ExportHelper):
    """Export the active avatar (armature, skinned meshes, embedded textures)"""
    bl_idname = "doppel.export"
    bl_label = "Export Avatar"
    filename_ext = ".fbx"
    format: bpy.props.EnumProperty(
        name="Format", default="FBX",
        items=[("FBX", "FBX", "Unity / Unreal (Y up, -Z forward)"),
               ("GLB", "glTF Binary", "Single .glb file")])
    filter_glob: bpy.props.StringProperty(default="*.fbx;*.glb", options={"HIDDEN"})

    @classmethod
    def poll(cls, context):
        return active_avatar(context)[0] is not None

    def check(self, context):
        self.filename_ext = FORMATS[self.format]
        return ExportHelper.check(self, context)

    def execute(self, context):
        arm, _ = active_avatar(context)
        try:
            path = export_avatar(context, arm, self.filepath, self.format)
        except (OSError, RuntimeError, ValueError) as exc:
            self.report({"ERROR"}, f"export failed: {exc}")
            return {"CANCELLED"}
        self.report({"INFO"}, f"exported {arm.name} to {path}")
        return {"FINISHED"}


class DOPPEL_PT_export(DoppelPanel, bpy.types.Panel):
    bl_label = "Export"
    bl_order = 70
    bl_options = {"DEFAULT_CLOSED"}

    def draw(self, context):
        row = self.layout.row(align=True)
        row.operator(DOPPEL_OT_export.bl_idname, text="FBX").format = "FBX"
        row.operator(DOPPEL_OT_export.bl_idname, text="glTF").format = "GLB"


CLASSES = (DOPPEL_OT_export, DOPPEL_PT_export)
