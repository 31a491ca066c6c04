"""Add body: a `body` job with the panel's phenotype sliders, imported when it arrives; and
importing a saved `.doppel` avatar file."""

from __future__ import annotations

import bpy
from bpy_extras.io_utils import ImportHelper

from ..deps import protocol
from .builder import build_avatar
from .job_operator import JobOperator


class DOPPEL_OT_add_body(JobOperator, bpy.types.Operator):
    """Make a body with these proportions on the Doppel server and import it"""
    bl_idname = "doppel.add_body"
    bl_label = "Add Body"
    bl_options = {"REGISTER", "UNDO"}
    job_kind = "body"

    def job_params(self, context) -> dict:
        settings = context.scene.doppel_body
        return {"body_model": "anny", "name": settings.name.strip() or "Body",
                "params": settings.params()}

    def on_result(self, context, avatar) -> set:
        built = build_avatar(avatar, context)
        self.report({"INFO"}, f"added {built.collection.name}")
        return {"FINISHED"}


class DOPPEL_OT_import_avatar(bpy.types.Operator, ImportHelper):
    """Import a Doppel avatar file (.doppel) as a rigged, skinned avatar"""
    bl_idname = "doppel.import_avatar"
    bl_label = "Import Doppel Avatar"
    bl_options = {"REGISTER", "UNDO"}
    filename_ext = protocol.FILE_SUFFIX
    filter_glob: bpy.props.StringProperty(default="*" + protocol.FILE_SUFFIX,
                                          options={"HIDDEN"})
    posed: bpy.props.BoolProperty(name="Posed", default=True,
                                  description="Apply the avatar's pose (off: rest pose)")

    def execute(self, context):
        try:
            avatar = protocol.load_avatar(self.filepath)
        except (OSError, protocol.ProtocolError) as exc:
            self.report({"ERROR"}, getattr(exc, "message", None) or str(exc))
            return {"CANCELLED"}
        built = build_avatar(avatar, context, posed=self.posed)
        self.report({"INFO"}, f"imported {built.collection.name}")
        return {"FINISHED"}


def _menu_import(self, context):
    self.layout.operator(DOPPEL_OT_import_avatar.bl_idname, text="Doppel Avatar (.doppel)")


CLASSES = (DOPPEL_OT_add_body, DOPPEL_OT_import_avatar)


def register_extra() -> None:
    bpy.types.TOPBAR_MT_file_import.append(_menu_import)


def unregister_extra() -> None:
    bpy.types.TOPBAR_MT_file_import.remove(_menu_import)
