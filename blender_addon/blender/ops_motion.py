"""Motion settings and the "Apply to selected avatar" operators (Doppel tab > Motion): the
clip as is, or (SMPL-family avatars) first rebuilt with the clip's body by a server job."""

from __future__ import annotations

import bpy

from ..deps import rig
from .avatar_lookup import avatar_meshes
from .job_operator import JobOperator


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
        description="AMASS/SMPL .npz, BVH or FBX (Mixamo) motion file, or an ARKit face CSV "
                    "(Live Link Face) for the face shape keys")
    use_scene_fps: bpy.props.BoolProperty(
        name="Scene Frame Rate", default=True,
        description="Sample the clip at the scene's frame rate (fps / fps base)")
    fps: bpy.props.FloatProperty(
        name="Target fps", default=30.0, min=0.1, max=1000.0, precision=3,
        description="Frames per second to sample the clip at")
    source_fps: bpy.props.FloatProperty(
        name="Source fps", default=0.0, min=0.0, max=1000.0, precision=3,
        description="Frame rate of clips that do not store one (plain SMPL .npz); 0: unknown")
    root_motion: bpy.props.EnumProperty(
        name="Root Motion", default="BONE",
        description="Where the clip's travel across the floor goes",
        items=(("BONE", "Root Bone", "On the root bone (what Unity and Unreal root motion "
                                     "read)"),
               ("OBJECT", "Armature Object", "On the armature object's location; the root "
                                             "bone stays over the origin"),
               ("IN_PLACE", "In Place", "Nowhere: the avatar stays over the origin")))
    # The old checkbox, kept for scripts: an alias of root_motion == "IN_PLACE".
    in_place: bpy.props.BoolProperty(
        name="In Place", description="Keep the avatar over the origin",
        get=lambda self: self.root_motion == "IN_PLACE",
        set=lambda self, on: setattr(self, "root_motion", "IN_PLACE" if on else (
            "BONE" if self.root_motion == "IN_PLACE" else self.root_motion)))
    plant_feet: bpy.props.BoolProperty(
        name="Plant Feet", default=True,
        description="Hold feet still while they touch the floor (light leg IK); off, soles "
                    "still meet the floor but feet slide as much as the clip's do")
    start_frame: bpy.props.IntProperty(
        name="Start Frame", default=1, description="Scene frame the clip's first frame lands on")
    use_clip_body: bpy.props.BoolProperty(
        name="Use Clip's Body", default=False,
        description="SMPL-family avatars and AMASS clips: rebuild the avatar with the clip's "
                    "shape and gender on the Doppel server, then apply the clip to it (the "
                    "selected avatar is hidden, not deleted)")

    def apply_options(self) -> dict:
        """Keyword arguments of motion_writer.apply_motion_file."""
        return {"fps": None if self.use_scene_fps else self.fps,
                "root_motion": self.root_motion.lower(), "plant_feet": self.plant_feet,
                "start_frame": self.start_frame, "source_fps": self.source_fps or None}


class DOPPEL_OT_apply_motion(bpy.types.Operator):
    """Put the motion file on the selected Doppel avatar as a new action (an AMASS clip on a
    SMPL-family avatar directly, anything else retargeted)"""
    bl_idname = "doppel.apply_motion"
    bl_label = "Apply to Selected Avatar"
    bl_options = {"REGISTER", "UNDO"}

    def execute(self, context):
        from .motion_writer import apply_motion_file   # keeps add-on start-up light
        settings = context.scene.doppel_motion
        path = bpy.path.abspath(settings.filepath)
        if not settings.filepath:
            self.report({"ERROR"}, "Choose a motion file (.npz, .bvh, .fbx or face .csv) first.")
            return {"CANCELLED"}
        obj = avatar_of(context.active_object)
        try:
            action, clip = apply_motion_file(obj, path, context.scene,
                                             **settings.apply_options())
        except rig.motion.MotionError as exc:
            self.report({"ERROR"}, str(exc))
            return {"CANCELLED"}
        report_applied(self, action, clip, obj)
        return {"FINISHED"}


def report_applied(op, action, clip, obj) -> None:
    for text in clip.warnings:
        op.report({"WARNING"}, text)
    op.report({"INFO"}, f"'{action.name}': {clip.frame_count} frames at {clip.fps:g} fps on "
                        f"{obj.name}; {clip.info}")


class DOPPEL_OT_apply_motion_clip_body(JobOperator, bpy.types.Operator):
    """Rebuild the selected SMPL-family avatar with the clip's shape and gender on the Doppel
    server, then apply the clip to the new avatar (the old one is hidden)"""
    bl_idname = "doppel.apply_motion_clip_body"
    bl_label = "Apply with Clip's Body"
    bl_options = {"REGISTER", "UNDO"}
    job_kind = "body"

    def _prepare(self, context) -> bool:
        """Check the inputs before any server call; keeps what on_result needs."""
        from .avatar_lookup import check_avatar
        from .motion_writer import avatar_smpl_body
        settings = context.scene.doppel_motion
        if not settings.filepath:
            self.report({"ERROR"}, "Choose a motion file (.npz) first.")
            return False
        obj = avatar_of(context.active_object)
        self._path = bpy.path.abspath(settings.filepath)
        try:
            check_avatar(obj)
            self._params, warnings = rig.motion.clip_body_job(self._path, avatar_smpl_body(obj),
                                                   obj.name)
        except rig.motion.MotionError as exc:
            self.report({"ERROR"}, str(exc))
            return False
        for text in warnings:
            self.report({"WARNING"}, text)
        self._old = obj.name
        return True

    def job_params(self, context) -> dict:
        return self._params

    def loop_start(self, context) -> bool:
        return self._prepare(context) and JobOperator.loop_start(self, context)

    def on_result(self, context, avatar) -> set:
        from .builder import build_avatar, remove_avatar
        from .motion_writer import apply_motion_file
        old = bpy.data.objects.get(self._old)
        built = build_avatar(avatar, context, posed=False)
        arm = built.armature
        if old is not None:
            arm.matrix_world = old.matrix_world.copy()     # where the user put the old one
        try:
            action, clip = apply_motion_file(arm, self._path, context.scene,
                                             **context.scene.doppel_motion.apply_options())
        except rig.motion.MotionError as exc:
            remove_avatar(built)
            self.report({"ERROR"}, str(exc))
            return {"CANCELLED"}
        if old is not None:
            for o in (old, *avatar_meshes(old)):
                o.hide_set(True)
        report_applied(self, action, clip, arm)
        return {"FINISHED"}


CLASSES = (DoppelMotionSettings, DOPPEL_OT_apply_motion, DOPPEL_OT_apply_motion_clip_body)

POINTERS = (("Scene", "doppel_motion", DoppelMotionSettings),)
