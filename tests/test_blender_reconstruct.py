"""Photo -> server -> Blender, as an artist does it from the Reconstruct section: real photo,
real server running the real reconstruct job, real bpy 5.0.1."""

from __future__ import annotations

import numpy as np
import pytest

import bpy  # noqa: E402  (a missing bpy fails the run, never skips it)

import blender_addon  # noqa: E402

pytestmark = [pytest.mark.blender, pytest.mark.slow]


@pytest.fixture
def addon(live_server):
    bpy.ops.wm.read_factory_settings(use_empty=True)
    blender_addon.register()
    bpy.context.window_manager.doppel_connection.address = live_server
    bpy.context.scene.doppel_reconstruct.quality = "fast"
    yield bpy.context
    blender_addon.unregister()
    bpy.ops.wm.read_factory_settings(use_empty=True)


def armatures() -> list:
    return [o for o in bpy.data.objects if o.type == "ARMATURE" and "doppel_avatar" in o]


def test_reconstruct_imports_the_person_posed_with_the_photo_camera(addon, shared_data):
    folder = shared_data / "photos" / "single"
    result = bpy.ops.doppel.reconstruct(directory=str(folder) + "/", files=[{"name": "ryota.png"}])
    assert result == {"FINISHED"}
    (arm,) = armatures()
    assert len(arm.data.bones) == 104
    assert arm.users_collection[0].name == "ryota"
    # posed as in the photo: some bones are rotated away from rest
    quats = np.array([tuple(pb.rotation_quaternion) for pb in arm.pose.bones])
    assert np.abs(quats[:, 1:]).max() > 0.05
    # the photo camera: renders at the photo's size and shows the photo behind the avatar
    cam = bpy.context.scene.camera
    assert cam is not None and cam.type == "CAMERA"
    assert (bpy.context.scene.render.resolution_x, bpy.context.scene.render.resolution_y) == \
        (512, 512)
    bg = cam.data.background_images
    assert len(bg) == 1 and tuple(bg[0].image.size) == (512, 512)
    # the avatar is in front of that camera
    from bpy_extras.object_utils import world_to_camera_view
    head = arm.matrix_world @ arm.pose.bones["head"].head
    ndc = world_to_camera_view(bpy.context.scene, cam, head)
    assert 0.0 < ndc.x < 1.0 and 0.0 < ndc.y < 1.0 and ndc.z > 0.0
    assert bpy.context.scene.doppel_reconstruct.items[0].state == "done"


def test_rest_pose_toggle_and_a_bad_photo_reported_while_others_go_on(addon, shared_data,
                                                                     tmp_path):
    (tmp_path / "notes.png").write_text("not an image, just text")
    (tmp_path / "ryota.png").symlink_to(shared_data / "photos" / "single" / "ryota.png")
    settings = addon.scene.doppel_reconstruct
    settings.posed, settings.add_camera = False, False
    result = bpy.ops.doppel.reconstruct(directory=str(tmp_path) + "/",
                                        files=[{"name": "notes.png"}, {"name": "ryota.png"}])
    assert result == {"FINISHED"}
    (arm,) = armatures()
    quats = np.array([tuple(pb.rotation_quaternion) for pb in arm.pose.bones])
    assert np.allclose(quats, [1, 0, 0, 0], atol=1e-6)           # rest pose
    assert not [o for o in bpy.data.objects if o.type == "CAMERA"]
    states = {i.name: (i.state, i.message) for i in settings.items}
    assert states["notes.png"][0] == "failed"
    assert "image" in states["notes.png"][1].lower()             # says what is wrong
    assert states["ryota.png"][0] == "done"


def test_a_photo_without_a_person_is_reported_and_the_scene_is_unchanged(addon, shared_data,
                                                                        tmp_path):
    from PIL import Image
    ramp = np.tile(np.linspace(0, 255, 256, dtype=np.uint8), (256, 1))
    Image.fromarray(np.stack([ramp] * 3, -1)).save(tmp_path / "empty_room.png")
    before = ({o.name for o in bpy.data.objects}, {c.name for c in bpy.data.collections})
    bpy.ops.doppel.reconstruct(directory=str(tmp_path) + "/", files=[{"name": "empty_room.png"}])
    after = ({o.name for o in bpy.data.objects}, {c.name for c in bpy.data.collections})
    assert after == before
    (item,) = addon.scene.doppel_reconstruct.items
    assert item.state == "failed" and "person" in item.message.lower()


def test_an_smpl_body_without_model_files_is_refused_with_where_to_put_them(addon, shared_data,
                                                                            live_server):
    from protocol.client import Client
    with Client(live_server) as client:
        if "smplx" in client.hello()["body_models"]:
            pytest.skip("this server has SMPL-X model files")
    addon.scene.doppel_reconstruct.body_model = "smplx"
    folder = shared_data / "photos" / "single"
    bpy.ops.doppel.reconstruct(directory=str(folder) + "/", files=[{"name": "ryota.png"}])
    (item,) = addon.scene.doppel_reconstruct.items
    assert item.state == "failed"
    assert "SMPL-X model files not found" in item.message and "weights/README" in item.message
    assert not armatures()
