"""Blender scenes the motion tests share: the add-on registered, an empty 30 fps scene with one
imported Anny avatar, and the Motion panel's Apply pressed with given settings."""

from __future__ import annotations

import bpy
import pytest

import blender_addon
from blender_addon.blender.builder import build_avatar


@pytest.fixture
def avatar(anny_avatar):
    """The add-on registered, an empty 30 fps scene and one imported Anny avatar (selected)."""
    bpy.ops.wm.read_factory_settings(use_empty=True)
    blender_addon.register()
    scene = bpy.context.scene
    scene.render.fps, scene.render.fps_base = 30, 1.0
    built = build_avatar(anny_avatar, bpy.context)
    yield built.armature
    if hasattr(bpy.types, "DOPPEL_PT_server"):
        blender_addon.unregister()
    bpy.ops.wm.read_factory_settings(use_empty=True)


def apply(path, **settings):
    """Set the Motion panel's settings and press Apply; the operator's result."""
    s = bpy.context.scene.doppel_motion
    s.filepath = str(path)
    for key, value in settings.items():
        setattr(s, key, value)
    return bpy.ops.doppel.apply_motion()
