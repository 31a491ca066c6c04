"""Reconstruct section: chosen photos -> one `reconstruct` job each on the server, each avatar
imported posed as in its photo (or in rest pose) with a camera that reproduces the photo's
viewpoint and shows the photo as its background. Runs like the batch import (modal, progress,
Esc cancels, failures reported while the rest go on): it is the same session over a file list."""

from __future__ import annotations

import bpy
from bpy_extras.io_utils import ImportHelper

from .panels import DoppelPanel, draw_props
from .ui_batch import BatchRunOperator, BatchSession, PhotoRunState, draw_photo_states


class DoppelReconstructSettings(PhotoRunState, bpy.types.PropertyGroup):
    quality: bpy.props.EnumProperty(
        name="Clothing detail", default="default",
        description="How long the server fits body and clothing (fast: body only)",
        items=[("fast", "Fast", "Body fit only"), ("default", "Default", "Body and clothing"),
               ("high", "High", "More iterations")])
    body_model: bpy.props.EnumProperty(
        name="Body model", default="anny",
        description="Anny ships with Doppel; SMPL-family models need the server to have the "
                    "licensed model files (see weights/README.md)",
        items=[("anny", "Anny", ""), ("smpl", "SMPL", ""), ("smplh", "SMPL-H", ""),
               ("smplx", "SMPL-X", "")])
    max_people: bpy.props.IntProperty(
        name="People", default=8, min=1, max=32,
        description="At most this many avatars from a photo of several people (the largest "
                    "ones), placed together under the photo's one camera")
    posed: bpy.props.BoolProperty(name="Posed as in photo", default=True,
                                  description="Off: import in rest pose")
    add_camera: bpy.props.BoolProperty(name="Add photo camera", default=True,
                                       description="A camera that sees the avatar as the photo "
                                                   "did, with the photo as background")


class DOPPEL_OT_reconstruct(BatchRunOperator, ImportHelper, bpy.types.Operator):
    """Reconstruct rigged, textured avatars from photos of people on the Doppel server"""
    bl_idname = "doppel.reconstruct"
    bl_label = "Reconstruct from Photos"
    loop_label = "reconstruct"
    filter_glob: bpy.props.StringProperty(default="*.png;*.jpg;*.jpeg;*.webp",
                                          options={"HIDDEN"})
    files: bpy.props.CollectionProperty(type=bpy.types.OperatorFileListElement,
                                        options={"HIDDEN", "SKIP_SAVE"})
    directory: bpy.props.StringProperty(subtype="DIR_PATH", options={"HIDDEN", "SKIP_SAVE"})

    def photo_paths(self) -> list[str]:
        names = [f.name for f in self.files if f.name]
        if names and self.directory:
            return [bpy.path.abspath(self.directory) + n for n in names]
        return [self.filepath] if self.filepath else []

    def make_session(self, context) -> BatchSession:
        s = context.scene.doppel_reconstruct
        paths = self.photo_paths()
        if not paths:
            raise FileNotFoundError("choose one or more photos to reconstruct")
        s.run_key = ""               # a new choice of photos is a new run
        return BatchSession(context, settings=s, paths=paths, posed=s.posed,
                            with_camera=s.add_camera, collection_name="Doppel Photos")

    def invoke(self, context, event):
        if bpy.app.background or context.window is None:
            return self.execute(context)
        context.window_manager.fileselect_add(self)   # pick photos, then execute() runs...
        return {"RUNNING_MODAL"}

    def execute(self, context):
        # ...modal when a window exists (the file browser returns here), blocking otherwise.
        if not bpy.app.background and context.window is not None \
                and not getattr(self, "_session", None):
            return self.run_modal(context)
        return self.run_blocking(context)


class DOPPEL_PT_reconstruct(DoppelPanel, bpy.types.Panel):
    bl_label = "Reconstruct"
    bl_order = 20

    def draw(self, context):
        s = context.scene.doppel_reconstruct
        layout = self.layout
        draw_props(layout, s, ("quality", "body_model", "max_people", "posed", "add_camera"))
        layout.operator(DOPPEL_OT_reconstruct.bl_idname, icon="IMAGE_DATA")
        draw_photo_states(layout, s)


CLASSES = (DoppelReconstructSettings, DOPPEL_OT_reconstruct, DOPPEL_PT_reconstruct)

POINTERS = (("Scene", "doppel_reconstruct", DoppelReconstructSettings),)
