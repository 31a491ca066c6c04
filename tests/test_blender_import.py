"""The add-on in real headless Blender (bpy 5.0.1): register, add a body from a live server,
check the rig and skin, deform it, import twice, `doppel blend`, unregister cleanly."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

import bpy  # noqa: E402  (a missing bpy fails the run, never skips it)

import blender_addon  # noqa: E402
from rig.kinematics import posed_bone_matrices  # noqa: E402
from blender_addon.io.camera_params import camera_settings, project_points  # noqa: E402
from panel_layout import draw_panel  # noqa: E402

pytestmark = pytest.mark.blender
REPO = Path(__file__).resolve().parents[1]


@pytest.fixture
def addon():
    bpy.ops.wm.read_factory_settings(use_empty=True)
    blender_addon.register()
    yield bpy.context
    if hasattr(bpy.types, "DOPPEL_PT_server"):
        blender_addon.unregister()
    bpy.ops.wm.read_factory_settings(use_empty=True)


def add_body(context, address: str, **sliders) -> set:
    context.window_manager.doppel_connection.address = address
    for name, value in sliders.items():
        setattr(context.scene.doppel_body, name, value)
    return bpy.ops.doppel.add_body()


def avatar_armatures() -> list:
    return [o for o in bpy.data.objects if o.type == "ARMATURE" and "doppel_avatar" in o]


def skinned_mesh(arm):
    return next(o for o in arm.children if o.type == "MESH")


def evaluated_positions(obj) -> np.ndarray:
    depsgraph = bpy.context.evaluated_depsgraph_get()
    mesh = obj.evaluated_get(depsgraph).data
    out = np.empty(len(mesh.vertices) * 3, dtype=np.float32)
    mesh.vertices.foreach_get("co", out)
    return out.reshape(-1, 3)


def group_weights(obj, bone_names) -> np.ndarray:
    """(V, B) dense vertex-group weights read back from Blender."""
    col = {obj.vertex_groups[n].index: i for i, n in enumerate(bone_names)}
    dense = np.zeros((len(obj.data.vertices), len(bone_names)))
    for v in obj.data.vertices:
        for g in v.groups:
            dense[v.index, col[g.group]] = g.weight
    return dense


def test_add_body_from_a_live_server_builds_the_rig(addon, live_server, anny_avatar):
    assert add_body(addon, live_server) == {"FINISHED"}
    (arm,) = avatar_armatures()
    sk = anny_avatar.skeleton
    assert len(arm.data.bones) == 104
    assert [b.name for b in arm.data.bones] == sk.names
    # Rest frames (head, tail, roll) and parenting are the avatar's.
    rest = np.array([np.array(b.matrix_local) for b in arm.data.bones])
    np.testing.assert_allclose(rest, sk.matrices, atol=2e-4)
    parents = [sk.names.index(b.parent.name) if b.parent else -1 for b in arm.data.bones]
    assert parents == sk.parents.tolist()

    mesh = skinned_mesh(arm)
    lay = anny_avatar.layer("body")
    assert len(mesh.data.vertices) == len(lay.vertices) == 13718
    assert len(mesh.data.polygons) == len(lay.faces)
    assert mesh.users_collection[0] == arm.users_collection[0]
    assert mesh.users_collection[0].name == "Body"
    assert mesh.modifiers["Armature"].object == arm
    weights = group_weights(mesh, sk.names)
    np.testing.assert_allclose(weights.sum(1), 1.0, atol=1e-4)
    # Textured material with the PNG packed into the .blend.
    mat = mesh.data.materials[0]
    image = next(n.image for n in mat.node_tree.nodes if n.type == "TEX_IMAGE")
    assert image.packed_file is not None and image.size[0] > 8
    assert len(mesh.data.uv_layers) == 1


def test_rotating_a_bone_deforms_the_mesh_like_linear_blend_skinning(addon, anny_avatar):
    from blender_addon.blender.builder import build_avatar
    built = build_avatar(anny_avatar, addon)
    arm, mesh = built.armature, built.meshes["body"]
    sk = anny_avatar.skeleton
    rest_pos = evaluated_positions(mesh)
    bone = sk.names.index("upperarm01.L")
    quats = np.tile([1.0, 0, 0, 0], (sk.bone_count, 1))
    quats[bone] = [np.cos(0.4), np.sin(0.4), 0, 0]       # 46 degrees about the bone's X
    arm.pose.bones[bone].rotation_quaternion = quats[bone]
    posed_pos = evaluated_positions(mesh)

    moved = np.linalg.norm(posed_pos - rest_pos, axis=1)
    weights = group_weights(mesh, sk.names)
    below_arm = weights[:, [i for i, n in enumerate(sk.names) if n.startswith(("upperarm",
                                                                                "lowerarm",
                                                                                "wrist"))
                            and n.endswith(".L")]].sum(1)
    assert moved[below_arm > 0.99].min() > 0.005       # the left arm moved
    assert moved[weights[:, sk.names.index("head")] > 0.99].max() < 1e-6   # the head did not
    # And exactly as the avatar format says: LBS with Blender's forward kinematics.
    posed = posed_bone_matrices(sk.matrices, sk.parents, quats)
    skin = posed @ np.linalg.inv(sk.matrices.astype(np.float64))        # (B, 4, 4)
    homo = np.c_[rest_pos, np.ones(len(rest_pos))]
    expected = np.einsum("vb,bij,vj->vi", weights, skin, homo)[:, :3]
    np.testing.assert_allclose(posed_pos, expected, atol=2e-4)


def test_importing_twice_makes_two_avatars(addon, anny_avatar_file):
    for _ in range(2):
        assert bpy.ops.doppel.import_avatar(filepath=str(anny_avatar_file)) == {"FINISHED"}
    arms = avatar_armatures()
    assert len(arms) == 2
    colls = {a.users_collection[0].name for a in arms}
    assert colls == {"TestBody", "TestBody.001"}
    assert all(len(skinned_mesh(a).vertex_groups) == 104 for a in arms)


def test_pose_and_photo_camera_are_reproduced(addon, anny_avatar):
    import dataclasses

    from bpy_extras.object_utils import world_to_camera_view

    from blender_addon.blender.builder import build_avatar
    from protocol import Camera, Pose
    sk = anny_avatar.skeleton
    rot = np.tile(np.array([1.0, 0, 0, 0], np.float32), (sk.bone_count, 1))
    rot[sk.names.index("lowerleg01.R")] = [np.cos(0.3), np.sin(0.3), 0, 0]
    world_from_cam = np.array([[1, 0, 0, 0.1], [0, 0, 1, -3], [0, -1, 0, 1.0], [0, 0, 0, 1]],
                              np.float32)
    cam = Camera(fx=900.0, fy=900.0, cx=250.0, cy=420.0, width=480, height=800,
                 world_from_camera=world_from_cam)
    png = anny_avatar.layers[0].texture
    avatar = dataclasses.replace(anny_avatar, camera=cam, source_image=png,
                                 pose=Pose(rotations=rot, location=np.array([0, 0, 0.2],
                                                                            np.float32)))
    built = build_avatar(avatar, addon)
    arm = built.armature
    addon.view_layer.update()
    posed = posed_bone_matrices(sk.matrices, sk.parents, rot, root_location=[0, 0, 0.2])
    got = np.array([np.array(pb.matrix) for pb in arm.pose.bones])
    np.testing.assert_allclose(got, posed, atol=2e-4)
    # The camera sees points where the photo's pinhole puts them.
    scene = addon.scene
    assert scene.camera == built.camera and built.camera.data.show_background_images
    pts = np.array([[0.0, 0.0, 1.0], [0.3, 0.2, 1.5], [-0.2, -0.1, 0.4]])
    expected = project_points(camera_settings(900, 900, 250, 420, 480, 800, world_from_cam), pts)
    from mathutils import Vector
    for p, (u, v) in zip(pts, expected):
        ndc = world_to_camera_view(scene, built.camera, Vector(p))
        assert ndc.x * 480 == pytest.approx(u, abs=0.05)
        assert (1 - ndc.y) * 800 == pytest.approx(v, abs=0.05)


def test_connect_to_a_dead_server_fails_fast_with_a_clear_message(addon):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        address = f"tcp://127.0.0.1:{s.getsockname()[1]}"
    addon.window_manager.doppel_connection.address = address
    start = time.monotonic()
    with pytest.raises(RuntimeError, match=f"cannot reach server at {address}"):
        bpy.ops.doppel.connect()
    assert time.monotonic() - start < 5.0
    assert addon.window_manager.doppel_connection.state == "FAILED"


def test_connect_shows_server_device(addon, live_server):
    addon.window_manager.doppel_connection.address = live_server
    assert bpy.ops.doppel.connect() == {"FINISHED"}
    conn = addon.window_manager.doppel_connection
    assert conn.state == "CONNECTED" and conn.device


def test_register_and_unregister_cleanly(addon):
    names = ["DOPPEL_PT_server", "DOPPEL_PT_body", "DOPPEL_OT_connect", "DOPPEL_OT_add_body",
             "DOPPEL_OT_import_avatar"]
    assert all(hasattr(bpy.types, n) for n in names)
    assert bpy.types.DOPPEL_PT_server.bl_category == "Doppel"
    assert hasattr(bpy.types.Scene, "doppel_body")
    blender_addon.unregister()
    left = [n for n in dir(bpy.types) if n.startswith(("DOPPEL_", "Doppel"))]
    assert left == []
    assert not hasattr(bpy.types.Scene, "doppel_body")
    assert not hasattr(bpy.types.WindowManager, "doppel_connection")
    draw_funcs = getattr(bpy.types.TOPBAR_MT_file_import.draw, "_draw_funcs", [])
    assert not any(getattr(f, "__module__", "").startswith("blender_addon") for f in draw_funcs)


def run_doppel(*args: str) -> subprocess.CompletedProcess:
    doppel = Path(sys.executable).with_name("doppel")
    return subprocess.run([str(doppel), *args], capture_output=True, text=True, timeout=300,
                          cwd=REPO, env={**os.environ, "PYTHONWARNINGS": "ignore"})


def test_doppel_blend_writes_a_blend_a_render_and_turntable_frames(anny_avatar_file, tmp_path):
    out, png, table = tmp_path / "scene.blend", tmp_path / "scene.png", tmp_path / "turntable"
    proc = run_doppel("blend", str(anny_avatar_file), str(anny_avatar_file), "--out", str(out),
                      "--render", str(png), "--turntable", str(table), "--frames", "4")
    assert proc.returncode == 0, proc.stderr
    assert out.stat().st_size > 100_000
    from PIL import Image
    img = np.asarray(Image.open(png).convert("RGB"), dtype=np.int32)
    assert img.shape == (320, 320, 3)
    # Something other than the background was drawn (two avatars in the middle).
    background = img[0, 0]
    assert (np.abs(img - background).sum(-1) > 30).mean() > 0.03
    # Four turntable views of the pair, each seen from a different side.
    frames = sorted(table.glob("*.png"))
    assert len(frames) == 4
    views = [np.asarray(Image.open(f).convert("L"), dtype=np.int32) for f in frames]
    assert all(np.abs(a - b).mean() > 1.0 for a, b in zip(views, views[1:]))
    # The .blend holds both avatars.
    bpy.ops.wm.open_mainfile(filepath=str(out))
    assert len([o for o in bpy.data.objects if o.type == "ARMATURE"]) == 2
    bpy.ops.wm.read_factory_settings(use_empty=True)


def test_doppel_blend_rejects_bad_input_without_writing(tmp_path):
    out = tmp_path / "bad.blend"
    not_avatar = tmp_path / "photo.doppel"
    not_avatar.write_bytes(b"\x89PNG not an avatar")
    missing = run_doppel("blend", str(tmp_path / "missing.doppel"), "--out", str(out))
    assert missing.returncode == 1 and "does not exist" in missing.stderr
    wrong = run_doppel("blend", str(not_avatar), "--out", str(out))
    assert wrong.returncode == 1 and "not a Doppel avatar file" in wrong.stderr
    assert not out.exists()


def test_start_and_stop_a_local_server_from_blender(addon):
    from blender_addon.blender import local_server
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        address = f"tcp://127.0.0.1:{s.getsockname()[1]}"
    conn = addon.window_manager.doppel_connection
    conn.address = address
    conn.server_command = f"{sys.executable} -m backend"      # = doppel serve
    assert bpy.ops.doppel.start_server() == {"FINISHED"}
    assert conn.state == "CONNECTED" and conn.device
    proc = local_server._process
    assert bpy.ops.doppel.stop_server() == {"FINISHED"}
    assert proc.poll() is not None
    # Unregistering the add-on stops a server it started.
    assert bpy.ops.doppel.start_server() == {"FINISHED"}
    proc = local_server._process
    blender_addon.unregister()
    assert proc.poll() is not None


@pytest.mark.parametrize("panel", ["DOPPEL_PT_server", "DOPPEL_PT_body", "DOPPEL_PT_reconstruct",
                                   "DOPPEL_PT_batch", "DOPPEL_PT_turntable", "DOPPEL_PT_export"])
def test_panels_draw_known_properties_and_operators(addon, panel):
    cls = getattr(bpy.types, panel)
    assert cls.bl_space_type == "VIEW_3D" and cls.bl_category == "Doppel"
    addon.scene.doppel_batch.items.add().name = "photo.jpg"    # the photo lists are drawn too
    addon.scene.doppel_reconstruct.items.add().name = "photo.jpg"
    assert draw_panel(cls, addon).operators


def test_remove_avatar_leaves_nothing_behind(addon, anny_avatar):
    import dataclasses

    from blender_addon.blender.builder import build_avatar, remove_avatar
    from protocol import Camera
    cam = Camera(fx=500.0, fy=500.0, cx=160.0, cy=160.0, width=320, height=320,
                 world_from_camera=np.eye(4, dtype=np.float32))
    avatar = dataclasses.replace(anny_avatar, camera=cam,
                                 source_image=anny_avatar.layers[0].texture)
    remove_avatar(build_avatar(avatar, addon))
    for store in ("objects", "meshes", "armatures", "cameras", "materials", "images",
                  "collections"):
        assert len(getattr(bpy.data, store)) == 0, store
