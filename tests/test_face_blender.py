"""ARKit face keys in real headless Blender (bpy 5.0.1): Basis + 52 keys with Apple's names
that deform like the avatar's deltas, the photo's weights set on them, a Live Link Face CSV
keyed onto them through the Motion panel's operator and `doppel animate`, bad CSVs leaving
the scene as it was."""

from __future__ import annotations

import copy
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import bpy  # noqa: E402  (a missing bpy fails the run, never skips it)

import blender_addon  # noqa: E402
from blender_addon.blender.builder import build_avatar  # noqa: E402
from rig.arkit import ARKIT_NAMES  # noqa: E402
from test_face_keys import live_link_csv  # noqa: E402

pytestmark = pytest.mark.blender
REPO = Path(__file__).resolve().parents[1]


@pytest.fixture
def scene30():
    bpy.ops.wm.read_factory_settings(use_empty=True)
    blender_addon.register()
    scene = bpy.context.scene
    scene.render.fps, scene.render.fps_base = 30, 1.0
    yield scene
    if hasattr(bpy.types, "DOPPEL_PT_server"):
        blender_addon.unregister()
    bpy.ops.wm.read_factory_settings(use_empty=True)


def evaluated(obj) -> np.ndarray:
    mesh = obj.evaluated_get(bpy.context.evaluated_depsgraph_get()).data
    out = np.empty(len(mesh.vertices) * 3, np.float32)
    mesh.vertices.foreach_get("co", out)
    return out.reshape(-1, 3)


def test_import_makes_52_named_keys_that_deform(scene30, anny_avatar_file):
    from protocol import load_avatar
    avatar = load_avatar(anny_avatar_file)                  # through the .doppel file
    avatar.layer("body").shape_keys.values = np.zeros(52, np.float32)
    avatar.layer("body").shape_keys.values[ARKIT_NAMES.index("eyeBlinkRight")] = 0.25
    built = build_avatar(avatar, bpy.context, posed=False)
    body = built.meshes["body"]
    blocks = body.data.shape_keys.key_blocks
    assert [b.name for b in blocks] == ["Basis", *ARKIT_NAMES]
    assert blocks["eyeBlinkRight"].value == pytest.approx(0.25)  # the avatar's expression
    blocks["eyeBlinkRight"].value = 0.0
    body.modifiers["Armature"].show_viewport = False        # shape keys alone
    rest = evaluated(body)
    blocks["jawOpen"].value = 1.0
    opened = evaluated(body)
    want = avatar.layer("body").shape_keys.deltas[ARKIT_NAMES.index("jawOpen")]
    assert np.abs((opened - rest) - want).max() < 1e-5
    assert (opened - rest)[:, 2].min() < -0.02


def test_saved_blend_keeps_the_keys(scene30, anny_avatar, tmp_path):
    build_avatar(anny_avatar, bpy.context, posed=False)
    path = tmp_path / "face.blend"
    bpy.ops.wm.save_as_mainfile(filepath=str(path))
    bpy.ops.wm.open_mainfile(filepath=str(path))
    body = next(o for o in bpy.data.objects if o.type == "MESH" and o.name.endswith("_body"))
    assert [b.name for b in body.data.shape_keys.key_blocks][1:] == list(ARKIT_NAMES)


def apply(path):
    bpy.context.scene.doppel_motion.filepath = str(path)
    return bpy.ops.doppel.apply_motion()


def test_live_link_csv_animates_jaw_open(scene30, anny_avatar, tmp_path):
    built = build_avatar(anny_avatar, bpy.context, posed=False)
    jaw = np.linspace(0.0, 1.0, 121)                        # 2 s at 60 fps -> 61 frames at 30
    assert apply(live_link_csv(tmp_path / "talk.csv", list(jaw))) == {"FINISHED"}
    key = built.meshes["body"].data.shape_keys
    action = key.animation_data.action
    assert action.name == "talk" and action.is_action_layered
    curves = action.layers[0].strips[0].channelbag(key.animation_data.action_slot).fcurves
    assert len(curves) == 52 and len(curves[0].keyframe_points) == 61
    assert (scene30.frame_start, scene30.frame_end) == (1, 61)
    for frame in (1, 16, 31, 61):
        scene30.frame_set(frame)
        assert key.key_blocks["jawOpen"].value == pytest.approx((frame - 1) / 60, abs=1e-4)
        assert key.key_blocks["eyeBlinkLeft"].value == pytest.approx(0.0)


@pytest.mark.parametrize("text", ["Timecode,Banana\n0,1\n", "Timecode,JawOpen\n0,nan\n",
                                  "Timecode,JawOpen\n"])
def test_bad_csv_changes_nothing(scene30, anny_avatar, tmp_path, text):
    built = build_avatar(anny_avatar, bpy.context, posed=False)
    path = tmp_path / "broken.csv"
    path.write_text(text)
    with pytest.raises(RuntimeError, match="broken.csv"):
        apply(path)
    assert built.meshes["body"].data.shape_keys.animation_data is None
    assert not bpy.data.actions


def test_an_avatar_without_face_keys_gets_a_clear_error(scene30, anny_avatar, tmp_path):
    old = copy.copy(anny_avatar)
    old.layers = [copy.copy(lay) for lay in anny_avatar.layers]
    for lay in old.layers:
        lay.shape_keys = None
    build_avatar(old, bpy.context, posed=False)
    with pytest.raises(RuntimeError, match="no ARKit face shape keys"):
        apply(live_link_csv(tmp_path / "talk.csv", [0.0, 0.5]))
    assert not bpy.data.actions


def test_doppel_animate_writes_a_face_blend(anny_avatar_file, tmp_path):
    csv = live_link_csv(tmp_path / "face.csv", list(np.linspace(0, 1, 61)))   # 1 s at 60
    out = tmp_path / "face.blend"
    doppel = str(Path(sys.executable).with_name("doppel"))
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    cmd = [doppel, "animate", str(anny_avatar_file), str(csv), "--out", str(out), "--fps", "30"]
    run = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=300)
    assert run.returncode == 0, run.stderr
    bad = tmp_path / "bad.csv"
    bad.write_text("Timecode,Banana\n0,1\n")
    cmd_bad = cmd[:3] + [str(bad), "--out", str(tmp_path / "bad.blend")]
    failed = subprocess.run(cmd_bad, capture_output=True, text=True, env=env, timeout=300)
    assert failed.returncode == 1 and "bad.csv" in failed.stderr and "Banana" in failed.stderr
    assert not (tmp_path / "bad.blend").exists()
    bpy.ops.wm.open_mainfile(filepath=str(out))
    body = next(o for o in bpy.data.objects if o.type == "MESH" and o.name.endswith("_body"))
    key = body.data.shape_keys
    assert key.animation_data.action.name == "face"
    scene = bpy.context.scene
    assert (scene.frame_start, scene.frame_end) == (1, 31)
    scene.frame_set(16)
    assert key.key_blocks["jawOpen"].value == pytest.approx(0.5, abs=1e-4)


def test_face_csv_also_moves_bound_hair(scene30, tmp_path):
    """A generated avatar's hair carries the keys that move it (through its binding); one
    action keys the body's and the hair's shape keys, each through its own slot."""
    from backend.generate.assemble import generate_avatar
    avatar = generate_avatar(1, {})
    built = build_avatar(avatar, bpy.context, posed=False)
    hair = next(o for name, o in built.meshes.items() if name.startswith("hair"))
    names = [b.name for b in hair.data.shape_keys.key_blocks][1:]
    assert names == avatar.layer("hair").shape_keys.names and "browInnerUp" in names
    shoes = next(o for name, o in built.meshes.items() if name.startswith("shoes"))
    assert shoes.data.shape_keys is None
    path = tmp_path / "brows.csv"
    path.write_text("Timecode,BrowInnerUp\n" + "".join(f"00:00:00:{i:02d}.0,{i / 6}\n"
                                                        for i in range(7)))   # 60 -> 30 fps
    assert apply(path) == {"FINISHED"}
    body_key = built.meshes["body"].data.shape_keys
    action = body_key.animation_data.action
    assert hair.data.shape_keys.animation_data.action == action
    assert len(action.slots) >= 2
    assert scene30.frame_end == 4
    scene30.frame_set(4)
    assert hair.data.shape_keys.key_blocks["browInnerUp"].value == pytest.approx(1.0)
