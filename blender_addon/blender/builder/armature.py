"""Pass: skeleton -> armature object with rest bones (head, tail, roll) and parenting."""

from __future__ import annotations

import bpy
import numpy as np

from ...deps import rig


def build_armature(skeleton, name: str, collection, context) -> bpy.types.Object:
    """A new armature object at the origin whose bone frames equal skeleton.matrices."""
    data = bpy.data.armatures.new(name)
    data.display_type = "STICK"
    obj = bpy.data.objects.new(name, data)
    obj.show_in_front = True
    collection.objects.link(obj)
    rolls = rig.bone_frames.bone_rolls(skeleton.matrices)
    with _edit_mode(context, obj):
        bones = data.edit_bones
        for bone_name in skeleton.names:
            bones.new(bone_name)
        # Bulk setters: one call each instead of B attribute writes.
        bones.foreach_set("head", np.ascontiguousarray(skeleton.heads, np.float32).ravel())
        bones.foreach_set("tail", np.ascontiguousarray(skeleton.tails, np.float32).ravel())
        bones.foreach_set("roll", rolls)
        for eb, parent in zip(bones, skeleton.parents.tolist()):
            if parent >= 0:
                eb.parent = bones[parent]
                eb.use_connect = False   # keep heads exactly where the avatar puts them
    return obj


class _edit_mode:
    """Enter edit mode on ``obj`` (made active) and return to object mode afterwards."""

    def __init__(self, context, obj):
        self.context, self.obj = context, obj

    def __enter__(self):
        view_layer = self.context.view_layer
        if self.context.mode != "OBJECT":
            bpy.ops.object.mode_set(mode="OBJECT")
        view_layer.objects.active = self.obj
        bpy.ops.object.mode_set(mode="EDIT")

    def __exit__(self, *exc):
        bpy.ops.object.mode_set(mode="OBJECT")
        return False
