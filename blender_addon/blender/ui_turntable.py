"""Turntable section: settings (per scene), the render operator (modal: one frame per timer
tick, progress in the status bar, Esc cancels; blocking when run from a script) and its panel."""

from __future__ import annotations

import math

import bpy

from .avatar_lookup import active_avatar
from .panels import DoppelPanel
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


class DOPPEL_OT_turntable(bpy.types.Operator):
    """Render the active avatar from a camera orbiting it (PNG sequence)"""
    bl_idname = "doppel.turntable"
    bl_label = "Render Turntable"

    @classmethod
    def poll(cls, context):
        return active_avatar(context)[0] is not None

    def _setup(self, context) -> bool:
        s = context.scene.doppel_turntable
        _, meshes = active_avatar(context)
        try:
            self._tt = setup_turntable(context, meshes, s.output_dir, frames=s.frames,
                                       elevation=s.elevation, engine=s.engine,
                                       resolution=s.resolution)
        except (OSError, ValueError) as exc:
            self.report({"ERROR"}, f"cannot set up the turntable: {exc}")
            return False
        self._next, self._movie = 0, s.movie
        return True

    def _done(self) -> set:
        if self._movie:
            render_movie(self._tt, self._tt.output_dir / "turntable.mp4")
        self.report({"INFO"}, f"rendered {self._tt.frames} frames to {self._tt.output_dir}")
        return {"FINISHED"}

    def execute(self, context):
        if not self._setup(context):
            return {"CANCELLED"}
        for i in range(self._tt.frames):
            self._tt.render_frame(i)
        return self._done()

    def invoke(self, context, event):
        if context.window is None:
            return self.execute(context)
        if not self._setup(context):
            return {"CANCELLED"}
        wm = context.window_manager
        self._timer = wm.event_timer_add(0.01, window=context.window)
        wm.progress_begin(0, self._tt.frames)
        wm.modal_handler_add(self)
        return {"RUNNING_MODAL"}

    def modal(self, context, event):
        wm = context.window_manager
        if event.type == "ESC":
            self._stop(wm)
            self.report({"WARNING"}, f"turntable cancelled after {self._next} frames")
            return {"CANCELLED"}
        if event.type != "TIMER":
            return {"PASS_THROUGH"}
        self._tt.render_frame(self._next)
        self._next += 1
        wm.progress_update(self._next)
        if self._next < self._tt.frames:
            return {"RUNNING_MODAL"}
        self._stop(wm)
        return self._done()

    def _stop(self, wm) -> None:
        wm.event_timer_remove(self._timer)
        wm.progress_end()


class DOPPEL_PT_turntable(DoppelPanel, bpy.types.Panel):
    bl_label = "Turntable"
    bl_order = 60
    bl_options = {"DEFAULT_CLOSED"}

    def draw(self, context):
        s = context.scene.doppel_turntable
        col = self.layout.column()
        for name in ("frames", "elevation", "engine", "resolution", "output_dir", "movie"):
            col.prop(s, name)
        col.operator(DOPPEL_OT_turntable.bl_idname, icon="RENDER_ANIMATION")


CLASSES = (DoppelTurntableSettings, DOPPEL_OT_turntable, DOPPEL_PT_turntable)


def register_extra() -> None:
    bpy.types.Scene.doppel_turntable = bpy.props.PointerProperty(type=DoppelTurntableSettings)


def unregister_extra() -> None:
    del bpy.types.Scene.doppel_turntable
