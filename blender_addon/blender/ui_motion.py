"""Doppel tab > Motion panel: pick a clip, set rate/placement, apply to the selected avatar."""

from __future__ import annotations

import bpy

from .ops_motion import avatar_of
from .panels import DoppelPanel


class DOPPEL_PT_motion(DoppelPanel, bpy.types.Panel):
    bl_label = "Motion"
    bl_order = 50

    def draw(self, context):
        layout = self.layout
        settings = context.scene.doppel_motion
        layout.prop(settings, "filepath", text="")
        col = layout.column(align=True)
        col.prop(settings, "use_scene_fps")
        sub = col.row()
        sub.enabled = not settings.use_scene_fps
        sub.prop(settings, "fps")
        layout.prop(settings, "source_fps")
        layout.prop(settings, "in_place")
        layout.prop(settings, "start_frame")
        obj = avatar_of(context.active_object)
        row = layout.row()
        row.enabled = obj is not None and obj.type == "ARMATURE"
        row.operator("doppel.apply_motion", icon="ARMATURE_DATA")


CLASSES = (DOPPEL_PT_motion,)
