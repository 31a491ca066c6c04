"""Find the avatar an operator should act on: the active object's Doppel armature (the
active object itself, its parent, or its armature modifier's target) and its meshes."""

from __future__ import annotations

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
