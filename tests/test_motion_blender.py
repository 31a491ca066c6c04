"""Motion on a real Anny avatar in headless Blender (bpy 5.0.1): the Motion panel's operator
keys a layered action whose evaluated bones match the retargeting maths, fractional frame
rates land on exact frames, a second clip keeps the first, errors change nothing, and
`doppel animate` writes a .blend."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import bpy  # noqa: E402  (a missing bpy fails the run, never skips it)

from rig.motion import output_frame_count, prepare_clip, sole_points_from_mesh  # noqa: E402
from rig.motion.target_pose import TargetRest, posed_bones  # noqa: E402
from motion_scene import apply, avatar  # noqa: E402,F401  (avatar: fixture)
from panel_layout import draw_panel  # noqa: E402

pytestmark = pytest.mark.blender


@pytest.fixture
def motions(shared_data):
    return shared_data / "motions"


def bone_heads(arm) -> np.ndarray:
    return np.array([tuple(arm.matrix_world @ pb.head) for pb in arm.pose.bones])


def fcurve_values(action) -> np.ndarray:
    curves = action.layers[0].strips[0].channelbags[0].fcurves
    out = []
    for fc in curves:
        co = np.empty(2 * len(fc.keyframe_points), np.float32)
        fc.keyframe_points.foreach_get("co", co)
        out.append(co)
    return np.concatenate(out)


def test_applied_walk_moves_the_bones_as_retargeted(avatar, anny_avatar, motions):
    assert apply(motions / "bvh" / "walk.bvh") == {"FINISHED"}
    anim = avatar.animation_data
    action = anim.action
    assert action.name == "walk" and action.is_action_layered and anim.action_slot is not None
    frames = output_frame_count(344, 1 / 0.0083333, 30.0)
    scene = bpy.context.scene
    assert (scene.frame_start, scene.frame_end) == (1, frames)
    curves = action.layers[0].strips[0].channelbags[0].fcurves
    assert len(curves) == 104 * 4 + 3 and len(curves[0].keyframe_points) == frames
    assert {k.interpolation for k in curves[-1].keyframe_points} == {"LINEAR"}

    sk, body = anny_avatar.skeleton, anny_avatar.layers[0]       # grounded on the mesh's soles
    feet = sole_points_from_mesh(sk.names, sk.parents, body.vertices, body.skin_indices,
                                 body.skin_weights)
    clip = prepare_clip(motions / "bvh" / "walk.bvh", sk, 30.0, feet=feet)
    want, _ = posed_bones(TargetRest.from_skeleton(anny_avatar.skeleton),
                          clip.rotations.astype(np.float64), clip.root_location.astype(np.float64))
    names = [pb.name for pb in avatar.pose.bones]
    order = [anny_avatar.skeleton.names.index(n) for n in names]
    seen = {}
    for frame in (1, 25, 50, frames):
        scene.frame_set(frame)
        seen[frame] = bone_heads(avatar)
        assert np.abs(seen[frame] - want[frame - 1][order]).max() < 1e-4
    root, foot = names.index("root"), names.index("foot.L")
    assert np.linalg.norm(seen[frames][root, :2] - seen[1][root, :2]) > 1.0    # walks forward
    assert np.ptp([seen[f][foot, 2] for f in seen]) > 0.03                    # feet lift
    head = names.index("head")
    assert all(seen[f][head, 2] > seen[f][root, 2] + 0.3 for f in seen)       # upright


def test_fractional_scene_rate_keys_whole_frames(avatar, motions):
    scene = bpy.context.scene
    scene.render.fps, scene.render.fps_base = 30, 1.001                      # 29.97 fps
    assert apply(motions / "amass" / "amass_sample_male_120fps.npz", start_frame=10,
                 use_scene_fps=True) == {"FINISHED"}
    fc = avatar.animation_data.action.layers[0].strips[0].channelbags[0].fcurves[0]
    count = output_frame_count(601, 120.0, 30 / 1.001)
    co = np.empty(2 * len(fc.keyframe_points), np.float32)
    fc.keyframe_points.foreach_get("co", co)
    assert np.allclose(co[0::2], np.arange(10, 10 + count))
    assert abs((count - 1) / (30 / 1.001) - 5.0) < 1 / 29.97
    assert scene.frame_end == 10 + count - 1


def test_second_clip_keeps_the_first_as_its_own_action(avatar, motions):
    assert apply(motions / "bvh" / "walk.bvh") == {"FINISHED"}
    first = avatar.animation_data.action
    first_keys = fcurve_values(first)
    mesh = next(o for o in avatar.children if o.type == "MESH")
    bpy.context.view_layer.objects.active = mesh       # the avatar's mesh selected: fine too
    assert apply(motions / "amass" / "hbp_amass_sample_female_120fps.npz", in_place=True) \
        == {"FINISHED"}
    second = avatar.animation_data.action
    assert second != first and second.name.startswith("hbp_amass_sample_female_120fps")
    assert first.name == "walk" and first.use_fake_user                       # survives saving
    assert np.array_equal(fcurve_values(first), first_keys)
    root = avatar.pose.bones["root"]
    bpy.context.scene.frame_set(60)
    assert np.hypot(*avatar.matrix_world.translation[:2]) < 1e-6
    assert abs(root.head[0]) < 0.2 and abs(root.head[1]) < 0.2                # in place


def test_errors_leave_the_animation_unchanged(avatar, motions, tmp_path):
    assert apply(motions / "bvh" / "walk.bvh") == {"FINISHED"}
    action = avatar.animation_data.action
    keys = fcurve_values(action)
    actions = len(bpy.data.actions)
    broken = tmp_path / "broken.bvh"
    broken.write_text((motions / "bvh" / "walk.bvh").read_text().replace("{", "", 3))
    src = np.load(motions / "amass" / "amass_sample_male_120fps.npz")
    poses = src["poses"].copy()
    poses[5, 5] = np.nan
    nan = tmp_path / "nan.npz"
    np.savez(nan, poses=poses, trans=src["trans"], mocap_framerate=np.array(120.0))
    text = tmp_path / "notes.txt"
    text.write_text("not motion")
    no_fps = tmp_path / "nofps.npz"
    np.savez(no_fps, poses=poses[:, :72] * 0, trans=src["trans"])
    for path, message in ((broken, "not a valid BVH"), (nan, "NaN"),
                          (no_fps, "frame rate"), (tmp_path / "gone.bvh", "does not exist"),
                          (text, "not a motion file"), (tmp_path, "is a folder")):
        with pytest.raises(RuntimeError, match=message):
            apply(path)
    # Not a Doppel avatar: a plain armature, then nothing selected.
    plain = bpy.data.objects.new("Plain", bpy.data.armatures.new("Plain"))
    bpy.context.scene.collection.objects.link(plain)
    bpy.context.view_layer.objects.active = plain
    with pytest.raises(RuntimeError, match="not a Doppel avatar"):
        apply(motions / "bvh" / "walk.bvh")
    bpy.context.view_layer.objects.active = None
    with pytest.raises(RuntimeError, match="Select a Doppel avatar"):
        apply(motions / "bvh" / "walk.bvh")
    assert avatar.animation_data.action == action and len(bpy.data.actions) == actions
    assert np.array_equal(fcurve_values(action), keys)
    assert plain.animation_data is None


def test_doppel_animate_writes_a_blend(anny_avatar_file, motions, tmp_path):
    out = tmp_path / "walk.blend"
    doppel = str(Path(sys.executable).with_name("doppel"))
    cmd = [doppel, "animate", str(anny_avatar_file),
           str(motions / "bvh" / "walk.bvh"), "--out", str(out), "--fps", "29.97",
           "--in-place", "--start", "5"]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    bad = subprocess.run(cmd[:3] + [str(tmp_path / "x.txt")] + cmd[4:], capture_output=True,
                         text=True, timeout=300)
    assert bad.returncode == 1 and "does not exist" in bad.stderr
    bpy.ops.wm.open_mainfile(filepath=str(out))
    scene = bpy.context.scene
    assert scene.render.fps / scene.render.fps_base == pytest.approx(29.97, abs=1e-3)
    arm = next(o for o in scene.objects if o.type == "ARMATURE")
    assert arm.animation_data.action.name == "walk"
    count = output_frame_count(344, 1 / 0.0083333, 29.97)
    assert (scene.frame_start, scene.frame_end) == (5, 5 + count - 1)
    scene.frame_set(5 + count - 1)
    assert abs(arm.pose.bones["root"].head[1]) < 0.2          # in place: no travel along -Y
    bpy.ops.wm.read_factory_settings(use_empty=True)


def test_motion_panel_draws_its_settings_and_the_apply_button(avatar):
    panel = bpy.types.DOPPEL_PT_motion
    assert panel.bl_category == "Doppel" and panel.bl_label == "Motion"
    layout = draw_panel(panel, bpy.context)
    assert {"filepath", "use_scene_fps", "fps", "root_motion", "plant_feet",
            "start_frame"} <= set(layout.props)
    assert layout.operators == ["doppel.apply_motion"]
