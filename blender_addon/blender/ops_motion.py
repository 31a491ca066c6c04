"""Motion settings and the "Apply to selected avatar" operator (Doppel tab > Motion)."""

from __future__ import annotations

import bpy

from ..io.motion import MotionError


def avatar_of(obj):
    """The armature to animate: ``obj`` itself, or the armature a selected avatar mesh is
    parented to."""
    if obj is not None and obj.type != "ARMATURE" and obj.parent is not None \
            and obj.parent.type == "ARMATURE":
        return obj.parent
    return obj


class DoppelMotionSettings(bpy.types.PropertyGroup):
    filepath: bpy.props.StringProperty(
        name="Motion File", subtype="FILE_PATH",
        description="AMASS/SMPL .npz or BVH motion capture file")
    use_scene_fps: bpy.props.BoolProperty(
        name="Scene Frame Rate", default=True,
        description="Sample the clip at the scene's frame rate (fps / fps base)")
    fps: bpy.props.FloatProperty(
        name="Target fps", default=30.0, min=0.1, max=1000.0, precision=3,
        description="Frames per second to sample the clip at")
    source_fps: bpy.props.FloatProperty(
        name="Source fps", default=0.0, min=0.0, max=1000.0, precision=3,
        description="Frame rate of clips that do not store one (plain SMPL .npz); 0: unknown")
    in_place: bpy.props.BoolProperty(
        name="In Place", default=False, description="Keep the avatar over the origin")
    start_frame: bpy.props.IntProperty(
        name="Start Frame", default=1, description="Scene frame the clip's first frame lands on")


class DOPPEL_OT_apply_motion(bpy.types.Operator):
    """Retarget the motion file onto the selected Doppel avatar as a new action"""
    bl_idname = "doppel.apply_motion"
    bl_label = "Apply to Selected Avatar"
    bl_options = {"REGISTER", "UNDO"}

    def execute(self, context):
        from .motion_writer import apply_motion_file   # keeps add-on start-up light
        settings = context.scene.doppel_motion
        path = bpy.path.abspath(settings.filepath)
        if not settings.filepath:
            self.report({"ERROR"}, "Choose a motion file (.npz or .bvh) first.")
            return {"CANCELLED"}
        obj = avatar_of(context.active_object)
        try:
            action, clip = apply_motion_file(
                obj, path, context.scene,
                fps=None if settings.use_scene_fps else settings.fps,
                in_place=settings.in_place, start_frame=settings.start_frame,
                source_fps=settings.source_fps or None)
        except MotionError as exc:
            self.report({"ERROR"}, str(exc))
            return {"CANCELLED"}
        for text in clip.warnings:
            self.report({"WARNING"}, text)
        self.report({"INFO"}, f"'{action.name}': {clip.frame_count} frames at "
                              f"{clip.fps:g} fps on {obj.name}")
        return {"FINISHED"}


CLASSES = (DoppelMotionSettings, DOPPEL_OT_apply_motion)


def register_extra() -> None:
    bpy.types.Scene.doppel_motion = bpy.props.PointerProperty(type=DoppelMotionSettings)


def unregister_extra() -> None:
    del bpy.types.Scene.doppel_motion
