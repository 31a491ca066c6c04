"""AMASS clips on SMPL-family avatars: applied directly (the clip's own joint rotations, no
retargeting), the root where SMPL puts it, time-exact resampling, `doppel animate
--use-clip-body`, Anny <-> SMPL through rig.motion.pose_transfer, and the same in real Blender.

The licensed SMPL files cannot be had here, so tests/smpl_model_maker.py writes a stand-in
SMPL-H model (same file format) into a temporary DOPPEL_SMPL_DIR; the avatar comes from the
real body job. The reference rotations are computed from the clip's raw axis-angles with
scipy, independently of the add-on's quaternion code."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from scipy.spatial.transform import Rotation, Slerp

from rig.motion.pose_transfer import anny_to_smpl_mapping, transfer_pose
from backend.bodies.smpl_files import configure_smpl_dir
from backend.bodies.smpl_skeleton import SMPL_TO_BLENDER
from backend.jobs import JobContext, get_job
from rig.kinematics import posed_bone_matrices
from rig.motion import MotionError, prepare_clip
from panel_layout import RecordingLayout, draw_panel
from protocol import save_avatar
from smpl_model_maker import write_model

AMASS = "motions/amass/amass_sample_male_120fps.npz"       # 601 frames at 120 fps, SMPL+H
A = SMPL_TO_BLENDER


@pytest.fixture(scope="module")
def smpl_dir(tmp_path_factory):
    """A SMPL folder with a stand-in SMPL-H male and SMPL-X neutral model, named by
    DOPPEL_SMPL_DIR for the whole module."""
    folder = tmp_path_factory.mktemp("smpl_models")
    write_model(folder, "smplh", "male", "npz")
    write_model(folder, "smplx", "neutral", "npz")
    with pytest.MonkeyPatch.context() as mp:
        configure_smpl_dir(None)
        mp.setenv("DOPPEL_SMPL_DIR", str(folder))
        yield folder


def body_job(model: str, **params):
    return get_job("body")({"body_model": model, "name": model.upper(), "params": params}, {},
                           JobContext("test-smpl-motion"))


@pytest.fixture(scope="module")
def smplh_avatar(smpl_dir):
    return body_job("smplh", gender="male", betas=[0.8, -0.5])


@pytest.fixture(scope="module")
def amass(shared_data):
    with np.load(shared_data / AMASS) as data:
        return {k: data[k] for k in ("poses", "trans", "betas", "mocap_framerate")}


def posed(skeleton, clip, k: int) -> np.ndarray:
    """(B, 4, 4) armature-space bone frames of output frame ``k``, as Blender poses them
    (pose_bone.location of the root is in its rest frame)."""
    location = skeleton.matrices[0, :3, :3] @ clip.root_location[k]
    return posed_bone_matrices(skeleton.matrices, skeleton.parents, clip.rotations[k], location)


def check_bones_follow_clip(skeleton, clip, local_aa: np.ndarray, atol: float) -> None:
    """Every SMPL bone's posed frame is the clip's world joint rotation applied to its rest
    frame: W_b = G_j A^T C_b (A^T takes Blender's rest axes back to SMPL's)."""
    t, j = local_aa.shape[:2]
    local = Rotation.from_rotvec(local_aa.reshape(-1, 3))
    local = [local[np.arange(t) * j + i] for i in range(j)]
    world = []
    for i, p in enumerate(skeleton.parents[:j]):
        world.append(local[i] if p < 0 else world[p] * local[i])
    rest = skeleton.matrices[:, :3, :3].astype(np.float64)
    for k in range(t):
        w = posed(skeleton, clip, k)[:j, :3, :3]
        want = np.stack([world[i][k].as_matrix() @ A.T @ rest[i] for i in range(j)])
        np.testing.assert_allclose(w, want, atol=atol, err_msg=f"output frame {k}")


# ---- direct application (numpy) ------------------------------------------------------------
def test_amass_clip_applies_directly_with_the_clips_rotations(smplh_avatar, amass, shared_data):
    sk = smplh_avatar.skeleton
    assert sk.names[:22] == ["pelvis", "left_hip", "right_hip", "spine1", "left_knee",
                             "right_knee", "spine2", "left_ankle", "right_ankle", "spine3",
                             "left_foot", "right_foot", "neck", "left_collar", "right_collar",
                             "head", "left_shoulder", "right_shoulder", "left_elbow",
                             "right_elbow", "left_wrist", "right_wrist"]
    clip = prepare_clip(shared_data / AMASS, sk, 30.0, smpl_body=smplh_avatar.metadata["smpl"])
    assert clip.method == "direct" and "directly" in clip.info and not clip.warnings
    assert amass["mocap_framerate"] == 120 and len(amass["poses"]) == 601
    assert clip.frame_count == 151 and clip.fps == 30.0
    assert len(clip.mapped) == 52 and set(clip.mapped) == set(sk.names)
    # Output frame k is at k / 30 s = source frame 4k: the clip's own rotations, exactly.
    local_aa = amass["poses"][::4].reshape(151, 52, 3)
    check_bones_follow_clip(sk, clip, local_aa, atol=1e-4)
    # Root: SMPL puts the pelvis at trans + rest pelvis; the height is kept, the floor path
    # starts over the avatar's rest position.
    pelvis_native = np.array(smplh_avatar.metadata["smpl"]["pelvis_native"])
    trans = amass["trans"][::4]
    heads = np.stack([posed(sk, clip, k)[0, :3, 3] for k in range(151)])
    np.testing.assert_allclose(heads[:, 2], trans[:, 2] + pelvis_native[2], atol=1e-5)
    np.testing.assert_allclose(heads[:, :2], trans[:, :2] - trans[0, :2] + sk.heads[0, :2],
                               atol=1e-5)


def test_stays_upright_over_the_clip(smplh_avatar, shared_data):
    sk = smplh_avatar.skeleton
    clip = prepare_clip(shared_data / AMASS, sk, 30.0, smpl_body=smplh_avatar.metadata["smpl"],
                        in_place=True)
    head, pelvis = sk.names.index("head"), sk.names.index("pelvis")
    rest_up = sk.heads[head, 2] - sk.heads[pelvis, 2]
    for k in range(clip.frame_count):
        p = posed(sk, clip, k)
        up = p[head, :3, 3] - p[pelvis, :3, 3]
        assert up[2] > 0.8 * rest_up and up[2] > np.cos(np.radians(30)) * np.linalg.norm(up)
        np.testing.assert_allclose(p[pelvis, :2, 3], sk.heads[pelvis, :2], atol=1e-6)  # in place


def test_fractional_rate_interpolates_the_clip_at_exact_times(smplh_avatar, amass, shared_data):
    """At 29.97 fps output frames fall between source frames: each is the slerp of the clip's
    rotations at time k / 29.97 s, and the clip keeps its duration."""
    sk = smplh_avatar.skeleton
    fps = 30 / 1.001
    clip = prepare_clip(shared_data / AMASS, sk, fps, smpl_body=smplh_avatar.metadata["smpl"])
    assert clip.method == "direct"
    duration = 600 / 120.0
    assert (clip.frame_count - 1) / fps <= duration < clip.frame_count / fps
    times = np.arange(clip.frame_count) / fps
    source_times = np.arange(601) / 120.0
    poses = amass["poses"].reshape(601, 52, 3)
    local_aa = np.stack([Slerp(source_times, Rotation.from_rotvec(poses[:, j]))(times).as_rotvec()
                         for j in range(52)], axis=1)
    check_bones_follow_clip(sk, clip, local_aa, atol=1e-4)


def test_smplh_clip_on_a_smplx_avatar_drives_the_shared_joints(smpl_dir, amass, shared_data):
    avatar = body_job("smplx")
    sk = avatar.skeleton
    clip = prepare_clip(shared_data / AMASS, sk, 30.0, smpl_body=avatar.metadata["smpl"])
    assert clip.method == "direct"
    assert set(sk.names) - set(clip.mapped) == {"jaw", "left_eye_smplhf", "right_eye_smplhf"}
    for name in ("jaw", "left_eye_smplhf", "right_eye_smplhf"):     # no source: at rest
        np.testing.assert_allclose(clip.rotations[:, sk.names.index(name)], [[1, 0, 0, 0]] * 151,
                                   atol=1e-7)
    # Body and fingers match the clip (SMPL-X orders its joints like SMPL-H after the face).
    smplx_order = [sk.names.index(n) for n in sk.names if n in clip.mapped]
    assert smplx_order == sorted(smplx_order)
    local = amass["poses"][::4].reshape(151, 52, 3)
    aa = np.zeros((151, len(sk.names), 3))
    h_names = [n for n in sk.names if n not in ("jaw", "left_eye_smplhf", "right_eye_smplhf")]
    for i, name in enumerate(h_names):
        aa[:, sk.names.index(name)] = local[:, i]
    check_bones_follow_clip(sk, clip, aa, atol=1e-4)


def test_other_pairings_are_retargeted_and_direct_is_refused_where_it_cannot_work(
        smplh_avatar, anny_avatar, shared_data):
    walk = shared_data / "motions" / "bvh" / "walk.bvh"
    bvh = prepare_clip(walk, smplh_avatar.skeleton, 30.0, smpl_body=smplh_avatar.metadata["smpl"])
    assert bvh.method == "retarget" and "retargeted" in bvh.info
    anny = prepare_clip(shared_data / AMASS, anny_avatar.skeleton, 30.0)
    assert anny.method == "retarget" and anny.frame_count == 151
    with pytest.raises(MotionError, match="cannot be applied directly"):
        prepare_clip(shared_data / AMASS, anny_avatar.skeleton, 30.0, method="direct")
    with pytest.raises(MotionError, match="cannot be applied directly"):
        prepare_clip(walk, smplh_avatar.skeleton, 30.0, method="direct")
    # Without the avatar's SMPL record the clip still applies, with a warning about the root.
    bare = prepare_clip(shared_data / AMASS, smplh_avatar.skeleton, 30.0)
    assert bare.method == "direct" and any("SMPL pelvis" in w for w in bare.warnings)


def test_clip_body_reads_the_clips_shape_and_gender(shared_data, amass, tmp_path):
    from rig.motion.clip_body import clip_body_job, read_clip_body
    smpl = {"model": "smplh", "gender": "neutral"}
    params, warnings = clip_body_job(shared_data / AMASS, smpl, "S")
    assert params == {"body_model": "smplh", "name": "S",
                      "params": {"gender": "male", "betas": amass["betas"].tolist()}}
    assert not warnings
    assert read_clip_body(shared_data / "motions/amass/dmpl_sample_bytes_gender.npz").gender \
        == "female"                                         # stored as bytes
    wild = tmp_path / "wild.npz"
    np.savez(wild, poses=amass["poses"], betas=np.r_[9.0, amass["betas"][1:]],
             gender=np.array("robot"))
    body = read_clip_body(wild)
    assert body.betas[0] == 5.0 and body.gender == ""
    assert len(body.warnings) == 2
    assert clip_body_job(wild, smpl, "S")[0]["params"]["gender"] == "neutral"   # avatar's
    bare = tmp_path / "bare.npz"
    np.savez(bare, poses=amass["poses"])
    for path, message in ((bare, "has no 'betas'"),
                          (shared_data / "motions/bvh/walk.bvh", "needs an AMASS/SMPL .npz")):
        with pytest.raises(MotionError, match=message):
            read_clip_body(path)
    with pytest.raises(MotionError, match="needs a SMPL, SMPL-H or SMPL-X avatar"):
        clip_body_job(shared_data / AMASS, None, "Anny")


# ---- Anny <-> SMPL through rig.motion.pose_transfer ---------------------------------------------------
def test_a_clip_retargeted_for_anny_plays_on_smpl(smplh_avatar, anny_avatar, shared_data):
    """The reverse (a SMPL pose onto Anny and back) is in test_smpl_body.py."""
    anny, sk = anny_avatar.skeleton, smplh_avatar.skeleton
    clip = prepare_clip(shared_data / AMASS, anny, 10.0)
    frames = np.arange(0, clip.frame_count, 5)
    mapping = anny_to_smpl_mapping(sk.names)
    smpl_q = transfer_pose(anny.names, anny.parents, anny.matrices, clip.rotations[frames],
                           sk.names, sk.parents, sk.matrices, mapping)
    head, pelvis = sk.names.index("head"), sk.names.index("pelvis")
    for i, k in enumerate(frames):
        a_post = posed_bone_matrices(anny.matrices, anny.parents, clip.rotations[k])
        s_post = posed_bone_matrices(sk.matrices, sk.parents, smpl_q[i])
        for a_name, s_name in mapping.items():
            if s_name != "pelvis":      # every mapped limb points where Anny's does
                np.testing.assert_allclose(s_post[sk.names.index(s_name), :3, 1],
                                           a_post[anny.names.index(a_name), :3, 1], atol=1e-5)
        assert s_post[head, 2, 3] - s_post[pelvis, 2, 3] > 0.4


# ---- `doppel animate --use-clip-body` -----------------------------------------------------
def doppel(*args, timeout=300):
    exe = str(Path(sys.executable).with_name("doppel"))
    return subprocess.run([exe, *map(str, args)], capture_output=True, text=True,
                          timeout=timeout, env=dict(os.environ))


def test_use_clip_body_is_refused_with_a_reason(smpl_dir, anny_avatar_file, smplh_avatar,
                                                shared_data, tmp_path):
    out = tmp_path / "x.blend"
    done = doppel("animate", anny_avatar_file, shared_data / AMASS, "--out", out,
                  "--use-clip-body")
    assert done.returncode == 1 and "needs a SMPL, SMPL-H or SMPL-X avatar" in done.stderr
    smpl_file = save_avatar(smplh_avatar, tmp_path / "smplh.doppel")
    done = doppel("animate", smpl_file, shared_data / "motions" / "bvh" / "walk.bvh", "--out",
                  out, "--use-clip-body")
    assert done.returncode == 1 and "needs an AMASS/SMPL .npz clip" in done.stderr
    assert not out.exists()


# ---- real Blender -------------------------------------------------------------------------
@pytest.mark.blender
def test_doppel_animate_uses_the_clips_body_and_applies_it_directly(
        smpl_dir, smplh_avatar, amass, shared_data, tmp_path):
    import bpy
    smpl_file = save_avatar(smplh_avatar, tmp_path / "smplh.doppel")
    out = tmp_path / "amass.blend"
    done = doppel("animate", smpl_file, shared_data / AMASS, "--out", out, "--fps", 30,
                  "--use-clip-body")
    assert done.returncode == 0, done.stderr
    assert "betas from the clip" in done.stdout and "directly" in done.stdout
    bpy.ops.wm.open_mainfile(filepath=str(out))
    try:
        arm = next(o for o in bpy.context.scene.objects if o.type == "ARMATURE")
        meta = json.loads(arm["doppel_avatar"])["smpl"]
        assert meta["gender"] == "male"
        np.testing.assert_allclose(meta["betas"], amass["betas"], atol=1e-6)
        assert arm.animation_data.action.name == "amass_sample_male_120fps"
        assert (bpy.context.scene.frame_start, bpy.context.scene.frame_end) == (1, 151)
    finally:
        bpy.ops.wm.read_factory_settings(use_empty=True)


@pytest.mark.blender
def test_blender_applies_the_clip_to_the_smplh_armature(smplh_avatar, shared_data):
    import bpy
    import blender_addon
    from blender_addon.blender.builder import build_avatar
    bpy.ops.wm.read_factory_settings(use_empty=True)
    blender_addon.register()
    try:
        scene = bpy.context.scene
        scene.render.fps, scene.render.fps_base = 30, 1.0
        arm = build_avatar(smplh_avatar, bpy.context, posed=False).armature
        bpy.context.view_layer.objects.active = arm
        s = scene.doppel_motion
        s.filepath = str(shared_data / AMASS)
        assert bpy.ops.doppel.apply_motion() == {"FINISHED"}
        assert (scene.frame_start, scene.frame_end) == (1, 151)
        sk = smplh_avatar.skeleton
        clip = prepare_clip(shared_data / AMASS, sk, 30.0,
                            smpl_body=smplh_avatar.metadata["smpl"])
        moved = set()
        for k in (0, 50, 100, 150):
            scene.frame_set(1 + k)
            want = posed(sk, clip, k)
            for i, name in enumerate(sk.names):
                got = np.array(arm.pose.bones[name].matrix)
                np.testing.assert_allclose(got, want[i], atol=2e-4, err_msg=f"{name} @ {k}")
                if k and np.abs(got[:3, :3] - sk.matrices[i, :3, :3]).max() > 0.05:
                    moved.add(name)
        # Bones with SMPL joint names move, on the body, the arms and the hands.
        assert {"pelvis", "left_hip", "spine1", "left_shoulder", "right_elbow"} <= moved
        assert any(n.startswith("left_index") for n in moved)
    finally:
        blender_addon.unregister()
        bpy.ops.wm.read_factory_settings(use_empty=True)


@pytest.fixture(scope="module")
def smpl_server(smpl_dir, tmp_path_factory):
    """A real server whose worker sees the stand-in SMPL models (DOPPEL_SMPL_DIR)."""
    from server_fixtures import running_server
    with running_server(tmp_path_factory.mktemp("smpl-server"), preload=()) as server:
        yield server.address


def draw_motion_panel(bpy) -> RecordingLayout:
    return draw_panel(bpy.types.DOPPEL_PT_motion, bpy.context)


@pytest.mark.blender
def test_motion_panel_rebuilds_the_avatar_with_the_clips_body(smpl_server, smplh_avatar,
                                                             anny_avatar, amass, shared_data):
    import bpy
    import blender_addon
    from blender_addon.blender.builder import build_avatar
    bpy.ops.wm.read_factory_settings(use_empty=True)
    blender_addon.register()
    try:
        context = bpy.context
        context.window_manager.doppel_connection.address = smpl_server
        context.scene.render.fps, context.scene.render.fps_base = 30, 1.0
        old = build_avatar(smplh_avatar, context, posed=False).armature
        context.view_layer.objects.active = old
        settings = context.scene.doppel_motion
        settings.filepath = str(shared_data / AMASS)
        assert "use_clip_body" in draw_motion_panel(bpy).props
        assert draw_motion_panel(bpy).operators == ["doppel.apply_motion"]
        settings.use_clip_body = True
        assert draw_motion_panel(bpy).operators == ["doppel.apply_motion_clip_body"]
        assert bpy.ops.doppel.apply_motion_clip_body() == {"FINISHED"}
        new = context.view_layer.objects.active
        assert new != old and old.hide_get() and not new.hide_get()
        meta = json.loads(new["doppel_avatar"])["smpl"]
        assert meta["gender"] == "male"
        np.testing.assert_allclose(meta["betas"], amass["betas"], atol=1e-6)
        assert new.animation_data.action.name == "amass_sample_male_120fps"
        assert (context.scene.frame_start, context.scene.frame_end) == (1, 151)
        assert old.animation_data is None                 # the old avatar is left as it was
        # An Anny avatar has no SMPL body to rebuild: refused before any job, nothing added.
        anny = build_avatar(anny_avatar, context, posed=False).armature
        context.view_layer.objects.active = anny
        assert "use_clip_body" not in draw_motion_panel(bpy).props
        count = len(bpy.data.objects)
        with pytest.raises(RuntimeError, match="needs a SMPL, SMPL-H or SMPL-X avatar"):
            bpy.ops.doppel.apply_motion_clip_body()
        assert len(bpy.data.objects) == count
    finally:
        blender_addon.unregister()
        bpy.ops.wm.read_factory_settings(use_empty=True)
