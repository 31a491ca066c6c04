"""Face parts and the studio in real headless Blender (bpy 5.0.1): the eyes ride on the head
bone and turn with their own bones, jawOpen opens the lower teeth, a turntable shows the
cyclorama in a light grey world (no black sky)."""

from __future__ import annotations

import math

import numpy as np
import pytest

import bpy  # noqa: E402  (a missing bpy fails the run, never skips it)
from mathutils import Quaternion  # noqa: E402  (after bpy, which provides it)

from blender_addon.blender.builder import build_avatar  # noqa: E402
from blender_addon.blender.turntable import remove_turntable, setup_turntable  # noqa: E402

pytestmark = pytest.mark.blender


@pytest.fixture
def built(anny_avatar):
    bpy.ops.wm.read_factory_settings(use_empty=True)
    yield build_avatar(anny_avatar, bpy.context)
    bpy.ops.wm.read_factory_settings(use_empty=True)


def evaluated(obj) -> np.ndarray:
    """(V, 3) world positions of a mesh object after modifiers and shape keys."""
    bpy.context.view_layer.update()
    ev = obj.evaluated_get(bpy.context.evaluated_depsgraph_get())
    me = ev.to_mesh()
    co = np.empty(len(me.vertices) * 3, np.float32)
    me.vertices.foreach_get("co", co)
    ev.to_mesh_clear()
    m = np.array(obj.matrix_world)
    return co.reshape(-1, 3) @ m[:3, :3].T + m[:3, 3]


def _pose(arm, bone: str, axis, angle: float) -> None:
    pb = arm.pose.bones[bone]
    pb.rotation_mode = "QUATERNION"
    pb.rotation_quaternion = Quaternion(axis, angle)


def test_the_face_parts_are_built_with_their_materials(built):
    for name in ("eye_L", "eye_R", "eyelashes", "eyebrows", "teeth_upper", "teeth_lower",
                 "tongue"):
        assert name in built.meshes
    eye = built.meshes["eye_L"].data.materials[0]
    assert any(n.type == "TEX_IMAGE" and n.image for n in eye.node_tree.nodes)


def test_eyes_stay_in_the_head_when_it_turns_and_turn_with_their_bones(built):
    arm, eye = built.armature, built.meshes["eye_L"]
    rest_eye = evaluated(eye)
    head_bone = arm.pose.bones["head"]
    _pose(arm, "head", (0.0, 0.0, 1.0), math.radians(35))      # nod / turn the head
    bpy.context.view_layer.update()
    m = np.array(arm.matrix_world @ head_bone.matrix @ head_bone.bone.matrix_local.inverted())
    moved = evaluated(eye)
    expect = rest_eye @ m[:3, :3].T + m[:3, 3]
    assert np.abs(moved - expect).max() < 1e-3             # rides rigidly on the head
    assert np.linalg.norm(moved.mean(0) - rest_eye.mean(0)) > 0.01
    _pose(arm, "head", (0.0, 0.0, 1.0), 0.0)
    _pose(arm, "eye.L", (0.0, 0.0, 1.0), math.radians(25))     # look sideways
    looked = evaluated(eye)
    assert np.linalg.norm(looked.mean(0) - rest_eye.mean(0)) < 1e-3   # turns about its centre
    assert np.abs(looked - rest_eye).max() > 0.004


def test_jaw_open_moves_the_lower_teeth_down(built):
    # Anny has no jaw bone: jawOpen is a shape key on the body AND on the lower teeth/tongue
    lower, upper = built.meshes["teeth_lower"], built.meshes["teeth_upper"]
    before_lower, before_upper = evaluated(lower), evaluated(upper)
    for obj in built.meshes.values():
        keys = obj.data.shape_keys
        if keys is not None and "jawOpen" in keys.key_blocks:
            keys.key_blocks["jawOpen"].value = 1.0
    assert evaluated(lower)[:, 2].mean() < before_lower[:, 2].mean() - 0.005
    assert np.abs(evaluated(upper) - before_upper).max() < 1e-6


def test_turntable_has_a_backdrop_and_no_black_sky(built, tmp_path):
    table = setup_turntable(bpy.context, list(built.meshes.values()), tmp_path, frames=2,
                            engine="WORKBENCH", resolution=48)
    assert bpy.data.objects.get("Turntable Backdrop") is not None
    assert bpy.context.scene.render.film_transparent is False
    for i in range(2):
        png = bpy.data.images.load(str(table.render_frame(i)))
        px = np.array(png.pixels[:]).reshape(48, 48, 4)
        corners = px[[0, 0, -1], [0, -1, -1], :3]           # top corners: backdrop or world
        assert corners.min() > 0.2, corners
    remove_turntable()
    assert bpy.data.objects.get("Turntable Backdrop") is None


def test_preview_still_backdrop_has_no_shadow_band(anny_avatar, tmp_path):
    # The demo's Workbench still frames two avatars widely: the ring wall's own shadow once
    # drew a bright crescent over a dark band across the backdrop.
    from PIL import Image

    from blender_addon.blender.headless import build_blend
    png = tmp_path / "still.png"
    build_blend([anny_avatar, anny_avatar], tmp_path / "still.blend", render_png=png)
    img = np.asarray(Image.open(png).convert("L"), np.float32) / 255.0
    band = img[: int(0.15 * img.shape[0])]                    # backdrop only, above the heads
    assert np.abs(np.diff(band, axis=1)).max() < 0.03
    assert np.abs(np.diff(band, axis=0)).max() < 0.03
    bpy.ops.wm.read_factory_settings(use_empty=True)
