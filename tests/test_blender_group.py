"""A group photo -> server -> Blender from the Reconstruct section: the people arrive
together, in one collection, under the photo's one camera, standing where the photo shows
them (real photo, real server and job, real bpy)."""

from __future__ import annotations

from itertools import pairwise

import bpy  # a missing bpy fails the run, never skips it
import pytest

import blender_addon

pytestmark = [pytest.mark.blender, pytest.mark.slow]

GROUP = "39742984604_46934fbd50_c"      # seven men side by side


@pytest.fixture
def addon(live_server):
    bpy.ops.wm.read_factory_settings(use_empty=True)
    blender_addon.register()
    bpy.context.window_manager.doppel_connection.address = live_server
    settings = bpy.context.scene.doppel_reconstruct
    settings.quality = "fast"
    settings.max_people = 3              # three people keep the test short
    yield bpy.context
    blender_addon.unregister()
    bpy.ops.wm.read_factory_settings(use_empty=True)


def test_group_photo_people_stand_together_under_one_photo_camera(addon, shared_data):
    from bpy_extras.object_utils import world_to_camera_view
    folder = shared_data / "photos" / "group"
    result = bpy.ops.doppel.reconstruct(directory=str(folder) + "/",
                                        files=[{"name": f"{GROUP}.jpg"}])
    assert result == {"FINISHED"}
    arms = sorted((o for o in bpy.data.objects
                   if o.type == "ARMATURE" and "doppel_avatar" in o), key=lambda o: o.name)
    assert [a.users_collection[0].name for a in arms] == \
        [f"{GROUP}.person{k}" for k in (1, 2, 3)]
    group = bpy.data.collections[GROUP]                   # the photo's own collection
    assert {c.name for c in group.children} == {a.users_collection[0].name for a in arms}
    cams = [o for o in bpy.data.objects if o.type == "CAMERA"]
    assert len(cams) == 1 and bpy.context.scene.camera == cams[0]
    scene = bpy.context.scene
    xs = []
    for arm in arms:         # each person's head is in view, left to right as named
        head = arm.matrix_world @ arm.pose.bones["head"].head
        ndc = world_to_camera_view(scene, cams[0], head)
        assert 0.0 < ndc.x < 1.0 and 0.0 < ndc.y < 1.0 and ndc.z > 0.0
        xs.append(ndc.x)
    assert xs == sorted(xs) and min(b - a for a, b in pairwise(xs)) > 0.05
    (item,) = addon.scene.doppel_reconstruct.items
    assert item.state == "done"
