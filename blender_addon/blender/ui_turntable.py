"""Turntable section: settings (per scene), the render operator (on the shared modal loop: one
frame per timer tick, progress in the status bar, Esc cancels; blocking when run from a
script) and its panel."""

from __future__ import annotations

import math

import bpy

from .avatar_lookup import active_avatar
from .modal_loop import ModalLoop
from .panels import DoppelPanel, draw_props
from .scene_guard import removed_on_error
from .turntable import render_movie, setup_turntable


class DoppelTurntableSettings(bpy.types.PropertyGroup):
    frames: bpy.props.IntProperty(name="Frames", default=72, min=1, max=3600,
                                  description="Frames for one full turn")
    elevation: bpy.props.FloatProperty(name="Elevation", default=math.radians(10.0),
                                       min=math.radians(-60), max=math.radians(80),
                                       subtype="ANGLE", description="Camera height angle")
    engine: bpy.props.EnumProperty(
        name="Engine", default="WORKBENCH",
        items=[("WORKBENCH", "Workbench", "Fast preview"), ("EEVEE", "EEVEE", "Real-time"),
               ("CYCLES", "Cycles", "Path traced, shadow-catcher floor")])
    resolution: bpy.props.IntProperty(name="Resolution", default=512, min=16, max=8192,
                                      subtype="PIXEL")
    output_dir: bpy.props.StringProperty(name="Output", default="//turntable/",
                                         subtype="DIR_PATH")
    movie: bpy.props.BoolProperty(name="Also MP4", default=False,
                                  description="Render an H.264 movie after the PNG frames")


class DOPPEL_OT_turntable(ModalLoop, bpy.types.Operator):
    """Render the active avatar from a camera orbiting it (PNG sequence)"""
    bl_idname = "doppel.turntable"
    bl_label = "Render Turntable"
    loop_label = "turntable"
    loop_interval = 0.01          # one frame per timer event: as fast as they render
    script_timeout = math.inf     # a long Cycles turntable is work, not a hung server
    script_pause = 0.0

    @classmethod
    def poll(cls, context):
        return active_avatar(context)[0] is not None

    def loop_start(self, context) -> bool:
        s = context.scene.doppel_turntable
        _, meshes = active_avatar(context)
        try:
            with removed_on_error():          # no half-made rig when the folder is refused
                self._tt = setup_turntable(context, meshes, s.output_dir, frames=s.frames,
                                           elevation=s.elevation, engine=s.engine,
                                           resolution=s.resolution)
        except (OSError, ValueError) as exc:
            self.report({"ERROR"}, f"cannot set up the turntable: {exc}")
            return False
        self._next, self._movie, self._cancelled = 0, s.movie, False
        return True

    def loop_step(self, context) -> bool:
        self._tt.render_frame(self._next)
        self._next += 1
        return self._next < self._tt.frames

    def loop_cancel(self, context) -> None:
        self._cancelled = True

    def loop_progress(self, context) -> tuple[str, float]:
        return f"frame {self._next}/{self._tt.frames}", self._next / self._tt.frames

    def loop_finish(self, context) -> set:
        if self._cancelled:
            self.report({"WARNING"}, f"turntable cancelled after {self._next} frames")
            return {"CANCELLED"}
        if self._movie:
            render_movie(self._tt, self._tt.output_dir / "turntable.mp4")
        self.report({"INFO"}, f"rendered {self._tt.frames} frames to {self._tt.output_dir}")
        return {"FINISHED"}


class DOPPEL_PT_turntable(DoppelPanel, bpy.types.Panel):
    bl_label = "Turntable"
    bl_order = 60
    bl_options = {"DEFAULT_CLOSED"}

    def draw(self, context):
        s = context.scene.doppel_turntable
        col = self.layout.column()
        draw_props(col, s, ("frames", "elevation", "engine", "resolution", "output_dir", "movie"))
        col.operator(DOPPEL_OT_turntable.bl_idname, icon="RENDER_ANIMATION")


CLASSES = (DoppelTurntableSettings, DOPPEL_OT_turntable, DOPPEL_PT_turntable)

POINTERS = (("Scene", "doppel_turntable", DoppelTurntableSettings),)
