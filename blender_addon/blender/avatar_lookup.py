"""Find the avatar an operator should act on: the active object's Doppel armature (the
active object itself, its parent, or its armature modifier's target) and its meshes."""

from __future__ import annotations

from ..deps import rig
from .builder import AVATAR_PROP


def avatar_armature(obj):
    """The Doppel armature ``obj`` belongs to, or None."""
    for cand in (obj, getattr(obj, "parent", None)):
        if cand is not None and cand.type == "ARMATURE" and AVATAR_PROP in cand:
            return cand
    return None


def avatar_meshes(armature) -> list:
    return [c for c in armature.children if c.type == "MESH"]


def active_avatar(context):
    """(armature, meshes) of the active avatar, or (None, [])."""
    arm = avatar_armature(context.active_object)
    if arm is None:
        arm = next((avatar_armature(o) for o in context.selected_objects
                    if avatar_armature(o) is not None), None)
    return (arm, avatar_meshes(arm)) if arm is not None else (None, [])


def check_avatar(obj) -> None:
    """Raise MotionError unless ``obj`` is an armature that Doppel built."""
    if obj is None:
        raise rig.motion.MotionError("Select a Doppel avatar (its armature) first.")
    if obj.type != "ARMATURE" or AVATAR_PROP not in obj.keys():
        raise rig.motion.MotionError(
            f"'{obj.name}' is not a Doppel avatar; select the armature of an "
            "avatar imported or made by Doppel.")


def scene_fps(scene) -> float:
    """The scene's true frame rate (29.97 is fps=30, fps_base=1.001)."""
    return scene.render.fps / scene.render.fps_base
