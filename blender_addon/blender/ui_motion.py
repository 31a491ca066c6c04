"""Doppel tab > Motion panel: pick a clip, set rate/placement, apply to the selected avatar."""

from __future__ import annotations

import bpy

from .ops_motion import avatar_of
from .panels import DoppelPanel, draw_props


class DOPPEL_PT_motion(DoppelPanel, bpy.types.Panel):
    bl_label = "Motion"
    bl_order = 50

    def draw(self, context):
        from .motion_writer import avatar_smpl_body     # keeps add-on start-up light
        layout = self.layout
        settings = context.scene.doppel_motion
        layout.prop(settings, "filepath", text="")
        col = layout.column(align=True)
        col.prop(settings, "use_scene_fps")
        sub = col.row()
        sub.enabled = not settings.use_scene_fps
        sub.prop(settings, "fps")
        draw_props(layout, settings, ("source_fps", "root_motion", "plant_feet", "start_frame"))
        obj = avatar_of(context.active_object)
        smpl_family = obj is not None and avatar_smpl_body(obj) is not None
        if smpl_family:           # only SMPL-family avatars can take an AMASS clip's body
            layout.prop(settings, "use_clip_body")
        row = layout.row()
        row.enabled = obj is not None and obj.type == "ARMATURE"
        if smpl_family and settings.use_clip_body:
            row.operator("doppel.apply_motion_clip_body", icon="ARMATURE_DATA")
        else:
            row.operator("doppel.apply_motion", icon="ARMATURE_DATA")


CLASSES = (DOPPEL_PT_motion,)
