"""Sidebar tab "Doppel" (VIEW_3D > Sidebar): Server and Add Body sections.

Each section is its own Panel class in the same category, ordered by ``bl_order``; other
modules add theirs the same way without touching this file (Server 0, Add Body 10,
Reconstruct 20, Batch 30, Generate 40, Motion 50, Turntable 60, Export 70).
"""

from __future__ import annotations

import bpy

from .prefs import preferences
from .properties import PHENOTYPES

CATEGORY = "Doppel"

STATE_ICONS = {"UNKNOWN": "RADIOBUT_OFF", "CONNECTING": "SORTTIME",
               "CONNECTED": "CHECKMARK", "FAILED": "ERROR"}


class DoppelPanel:
    bl_space_type = "VIEW_3D"
    bl_region_type = "UI"
    bl_category = CATEGORY


def draw_props(layout, data, names) -> None:
    """One row per property of ``data``, in order: most sections are just their settings."""
    for name in names:
        layout.prop(data, name)


class DOPPEL_PT_server(DoppelPanel, bpy.types.Panel):
    bl_label = "Server"
    bl_order = 0

    def draw(self, context):
        layout = self.layout
        conn = context.window_manager.doppel_connection
        prefs = preferences(context)
        if prefs is not None:
            layout.prop(prefs, "server_address", text="")
        else:
            layout.prop(conn, "address", text="")
        row = layout.row()
        row.label(text=conn.message or "not connected", icon=STATE_ICONS[conn.state])
        row.operator("doppel.connect", text="", icon="FILE_REFRESH")
        row = layout.row(align=True)
        row.operator("doppel.start_server", icon="PLAY")
        row.operator("doppel.stop_server", text="Stop", icon="PAUSE")
        if conn.job_stage:
            layout.progress(factor=conn.job_fraction, text=conn.job_stage)


class DOPPEL_PT_body(DoppelPanel, bpy.types.Panel):
    bl_label = "Add Body"
    bl_order = 10

    def draw(self, context):
        layout = self.layout
        settings = context.scene.doppel_body
        col = layout.column(align=True)
        for name in PHENOTYPES:
            col.prop(settings, name, slider=True)
        layout.prop(settings, "name")
        layout.operator("doppel.add_body", icon="OUTLINER_OB_ARMATURE")
        layout.operator("doppel.import_avatar", text="Import .doppel File", icon="IMPORT")


CLASSES = (DOPPEL_PT_server, DOPPEL_PT_body)
