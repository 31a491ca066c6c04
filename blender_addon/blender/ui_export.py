"""Export section: the active avatar to FBX or glTF binary, textures embedded, with Doppel's
own bone names or an engine's (Unreal, Unity Humanoid, Mixamo); and a Rigify control rig
to animate it by hand."""

from __future__ import annotations

import bpy
from bpy_extras.io_utils import ExportHelper

from .avatar_lookup import active_avatar
from .export import FORMATS, export_avatar
from .panels import DoppelPanel

RIG_ITEMS = [("DOPPEL", "Doppel", "The avatar's own bone names"),
             ("unreal", "Unreal", "UE5 mannequin names (pelvis, spine_01, thigh_l...) under a "
                                  "root bone at the origin"),
             ("unity", "Unity Humanoid", "Names Unity's avatar mapper recognises (Hips, "
                                         "LeftUpperLeg...)"),
             ("mixamo", "Mixamo", "mixamorig:Hips... (Mixamo animations apply as is)")]


class DOPPEL_OT_export(bpy.types.Operator, ExportHelper):
    """Export the active avatar (armature, skinned meshes, embedded textures)"""
    bl_idname = "doppel.export"
    bl_label = "Export Avatar"
    filename_ext = ".fbx"
    format: bpy.props.EnumProperty(
        name="Format", default="FBX",
        items=[("FBX", "FBX", "Unity / Unreal (Y up, -Z forward)"),
               ("GLB", "glTF Binary", "Single .glb file")])
    rig: bpy.props.EnumProperty(
        name="Bone Names", default="DOPPEL", items=RIG_ITEMS,
        description="Skeleton to export: Doppel's, or renamed and simplified for an engine "
                    "(twist bones merged into their parent; the scene is not changed)")
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
            if self.rig == "DOPPEL":
                path = export_avatar(context, arm, self.filepath, self.format)
            else:
                from .engine_export import export_engine   # keeps add-on start-up light
                path = export_engine(context, arm, self.filepath, self.format, self.rig)
        except (OSError, RuntimeError, ValueError) as exc:
            self.report({"ERROR"}, f"export failed: {exc}")
            return {"CANCELLED"}
        self.report({"INFO"}, f"exported {arm.name} to {path}")
        return {"FINISHED"}


class DOPPEL_OT_rigify(bpy.types.Operator):
    """Build a Rigify control rig (IK/FK limbs, torso, fingers) for the active Anny avatar
    and bind copies of its meshes to it; the avatar itself is hidden, not changed"""
    bl_idname = "doppel.rigify"
    bl_label = "Rigify Control Rig"
    bl_options = {"REGISTER", "UNDO"}

    @classmethod
    def poll(cls, context):
        return context.mode == "OBJECT" and active_avatar(context)[0] is not None

    def execute(self, context):
        # One Rigify call (well under a second for Anny's body), so no modal loop is needed.
        from .rigify_rig import RigifyError, build_rigify
        arm, _ = active_avatar(context)
        try:
            rig = build_rigify(context, arm)
        except RigifyError as exc:
            self.report({"ERROR"}, str(exc))
            return {"CANCELLED"}
        self.report({"INFO"}, f"'{rig.name}': Rigify rig for {arm.name} (IK on by default; "
                              "the avatar is hidden)")
        return {"FINISHED"}


class DOPPEL_PT_export(DoppelPanel, bpy.types.Panel):
    bl_label = "Export"
    bl_order = 70
    bl_options = {"DEFAULT_CLOSED"}

    def draw(self, context):
        layout = self.layout
        row = layout.row(align=True)
        row.operator(DOPPEL_OT_export.bl_idname, text="FBX").format = "FBX"
        row.operator(DOPPEL_OT_export.bl_idname, text="glTF").format = "GLB"
        layout.label(text="For a game engine (FBX):")
        row = layout.row(align=True)
        for key, label, _ in RIG_ITEMS[1:]:
            op = row.operator(DOPPEL_OT_export.bl_idname, text=label.split()[0])
            op.format, op.rig = "FBX", key
        layout.operator(DOPPEL_OT_rigify.bl_idname, icon="ARMATURE_DATA")


CLASSES = (DOPPEL_OT_export, DOPPEL_OT_rigify, DOPPEL_PT_export)
