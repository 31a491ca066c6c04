"""FBX (Mixamo) motion in headless Blender (bpy 5.0.1): a Mixamo-named, centimetre, Y-up FBX
written by Blender's exporter from walk.bvh retargets onto Anny like the BVH itself, the
Motion panel and `doppel animate` take it, and bad FBX files say what is wrong and leave
nothing imported behind."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import bpy  # noqa: E402  (a missing bpy fails the run, never skips it)

import blender_addon  # noqa: E402
from blender_addon.blender.builder import build_avatar  # noqa: E402
from blender_addon.blender.fbx_motion import load_fbx_motion  # noqa: E402
from fbx_clips import mixamo_fbx_from_bvh  # noqa: E402
from motion_clips import angle_deg, posed_heads_tails  # noqa: E402
from rig.motion import MotionError, load_motion, prepare_clip, world_transforms  # noqa: E402

pytestmark = pytest.mark.blender

STORES = ("objects", "meshes", "armatures", "actions", "collections", "scenes", "materials")


def counts() -> dict:
    return {s: len(getattr(bpy.data, s)) for s in STORES}


@pytest.fixture(scope="module")
def walk_bvh(shared_data) -> Path:
    return shared_data / "motions" / "bvh" / "walk.bvh"


@pytest.fixture(scope="module")
def walk_fbx(walk_bvh, tmp_path_factory) -> Path:
    return mixamo_fbx_from_bvh(walk_bvh, tmp_path_factory.mktemp("fbx") / "walk.fbx")


def test_fbx_reads_as_the_bvh_it_was_made_from(walk_fbx, walk_bvh):
    before = counts()
    fbx, bvh = load_motion(walk_fbx), load_motion(walk_bvh)
    assert counts() == before                                  # the import is all removed
    assert fbx.kind == "fbx" and fbx.unit == "cm" and fbx.fps == pytest.approx(120, abs=1e-2)
    assert set(fbx.skeleton.roles) == set(bvh.skeleton.roles)
    names = {r: fbx.skeleton.names[i] for r, i in fbx.skeleton.roles.items()}
    assert names["left_collar"] == "mixamorig:LeftShoulder" and names["spine3"] == \
        "mixamorig:Spine2"
    # Same joints in the same places, metres, Blender axes (the FBX has a frame more: the
    # exporter bakes the scene's end frame).
    n = bvh.frame_count
    assert fbx.frame_count in (n, n + 1)
    _, pf = world_transforms(fbx)
    _, pb = world_transforms(bvh)
    for role, i in bvh.skeleton.roles.items():
        assert np.abs(pf[:n, fbx.skeleton.roles[role]] - pb[:n, i]).max() < 1e-3, role


@pytest.mark.parametrize("clip", ["walk", "131_01"])   # 131_01: CMU's other naming
def test_fbx_on_anny_matches_the_bvh_per_frame(clip, shared_data, anny_avatar, tmp_path):
    bvh_path = shared_data / "motions" / "bvh" / f"{clip}.bvh"
    fbx_path = mixamo_fbx_from_bvh(bvh_path, tmp_path / f"{clip}.fbx")
    sk = anny_avatar.skeleton
    fbx = prepare_clip(fbx_path, sk, 30.0)
    bvh = prepare_clip(bvh_path, sk, 30.0)
    n = min(fbx.frame_count, bvh.frame_count)
    assert n >= bvh.frame_count - 1 and fbx.mapped == bvh.mapped and len(fbx.mapped) == 34
    hf, tf = posed_heads_tails(sk, fbx)
    hb, tb = posed_heads_tails(sk, bvh)
    bones = [sk.names.index(b) for b in fbx.mapped]
    err = angle_deg((tf - hf)[:n, bones], (tb - hb)[:n, bones])
    assert err.max() < 1.0, err.max()                # degrees, every driven bone and frame
    assert np.abs(hf[:n, 0] - hb[:n, 0]).max() < 0.005             # root travel, metres


def test_prefixless_mixamo_names_work(walk_bvh, tmp_path, anny_avatar):
    path = mixamo_fbx_from_bvh(walk_bvh, tmp_path / "plain.fbx", prefix="")
    clip = prepare_clip(path, anny_avatar.skeleton, 30.0)
    assert clip.mapped == prepare_clip(walk_bvh, anny_avatar.skeleton, 30.0).mapped


def test_motion_panel_and_user_scene_untouched(walk_fbx, anny_avatar):
    bpy.ops.wm.read_factory_settings(use_empty=True)
    blender_addon.register()
    try:
        scene = bpy.context.scene
        scene.render.fps, scene.render.fps_base = 30, 1.0
        arm = build_avatar(anny_avatar, bpy.context).armature
        before = counts()
        s = scene.doppel_motion
        s.filepath = str(walk_fbx)
        assert bpy.ops.doppel.apply_motion() == {"FINISHED"}
        after = counts()
        assert after["actions"] == before["actions"] + 1          # only the keyed clip
        assert {k: v for k, v in after.items() if k != "actions"} == \
            {k: v for k, v in before.items() if k != "actions"}
        assert (scene.render.fps, scene.render.fps_base) == (30, 1.0)  # importer set 120
        assert bpy.context.window.scene == scene
        assert arm.animation_data.action.name == "walk" and scene.frame_end > 80
    finally:
        blender_addon.unregister()
        bpy.ops.wm.read_factory_settings(use_empty=True)


def _export(tmp_path, name, build) -> Path:
    bpy.ops.wm.read_factory_settings(use_empty=True)
    build()
    path = tmp_path / f"{name}.fbx"
    bpy.ops.export_scene.fbx(filepath=str(path), bake_anim=True)
    bpy.ops.wm.read_factory_settings(use_empty=True)
    return path


def _still_armature():
    bpy.ops.object.armature_add()


def _cube():
    bpy.ops.mesh.primitive_cube_add()


def _unknown_names(walk_bvh):
    def build():
        bpy.ops.import_anim.bvh(filepath=str(walk_bvh))
        for i, bone in enumerate(bpy.context.active_object.data.bones):
            bone.name = f"joint{i}"
    return build


@pytest.mark.parametrize("case, message", [
    ("cube", "holds no armature"), ("still", "no animation"),
    ("unknown", "joint names .* are not ones Doppel recognises"),
    ("garbage", "cannot be read as an FBX file"), ("missing", "does not exist")])
def test_bad_fbx_says_why_and_leaves_nothing(case, message, tmp_path, walk_bvh):
    if case == "garbage":
        path = tmp_path / "garbage.fbx"
        path.write_bytes(b"Kaydara FBX Binary  \x00\x1a\x00" + bytes(200))
    elif case == "missing":
        path = tmp_path / "missing.fbx"
    else:
        build = {"cube": _cube, "still": _still_armature,
                 "unknown": _unknown_names(walk_bvh)}[case]
        path = _export(tmp_path, case, build)
    before = counts()
    with pytest.raises(MotionError, match=message) as info:
        load_fbx_motion(path)
    assert path.name in str(info.value)
    assert counts() == before


def test_doppel_animate_takes_fbx(anny_avatar_file, walk_fbx, tmp_path):
    out = tmp_path / "walk.blend"
    doppel = str(Path(sys.executable).with_name("doppel"))
    done = subprocess.run([doppel, "animate", str(anny_avatar_file), str(walk_fbx), "--out",
                           str(out), "--fps", "30"], capture_output=True, text=True,
                          timeout=300)
    assert done.returncode == 0, done.stderr
    assert "action walk" in done.stdout and out.is_file()
    empty = tmp_path / "empty.fbx"
    empty.write_bytes(b"")
    bad = subprocess.run([doppel, "animate", str(anny_avatar_file), str(empty), "--out",
                          str(tmp_path / "bad.blend")], capture_output=True, text=True,
                         timeout=300)
    assert bad.returncode == 1 and "empty.fbx" in bad.stderr
    assert not (tmp_path / "bad.blend").exists()
