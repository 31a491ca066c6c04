"""Reading motion clips without Blender: the quaternion maths against scipy, loaders of real
AMASS and CMU clips from ../shared/data/motions, and every bad-input message."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.spatial.transform import Rotation, Slerp

from rig.motion import MotionError, load_motion, prepare_clip
from rig import rotations as Q
from rig.motion.bone_map import chains_for
from motion_clips import AMASS_601, BYTES_GENDER, WALK, motions, skeleton  # noqa: F401 (fixtures)


# --- quaternion helpers against scipy ------------------------------------------------------

def test_quaternion_helpers_match_scipy():
    rng = np.random.default_rng(0)
    aa = rng.normal(size=(50, 3))
    q = Q.from_axis_angle(aa)
    ref = Rotation.from_rotvec(aa)
    assert np.allclose(Q.to_matrix(q), ref.as_matrix(), atol=1e-12)
    assert np.allclose(np.abs(np.sum(Q.from_matrix(ref.as_matrix()) * q, -1)), 1.0, atol=1e-12)
    assert np.allclose(Q.rotate(q, np.ones(3)), ref.apply(np.ones(3)), atol=1e-12)
    assert np.allclose(Rotation.from_rotvec(Q.to_axis_angle(q)).as_matrix(), ref.as_matrix())
    angles = rng.uniform(-3, 3, size=(50, 3))
    for order in ("ZYX", "XZY", "YXZ", "ZXY"):        # BVH channel orders: intrinsic
        got = Q.to_matrix(Q.from_euler(angles, order))
        assert np.allclose(got, Rotation.from_euler(order, angles).as_matrix(), atol=1e-12)
    a, b = q[:10], q[10:20]
    for t in (0.0, 0.3, 1.0):
        want = np.stack([Slerp([0, 1], Rotation.from_quat(
            np.stack([x, y])[:, [1, 2, 3, 0]]))(t).as_matrix() for x, y in zip(a, b)])
        assert np.allclose(Q.to_matrix(Q.slerp(a, b, np.full(10, t))), want, atol=1e-9)
    d = Q.between(np.array([[1.0, 0, 0], [0, 0, 1]]), np.array([[-1.0, 0, 0], [0, 1, 0]]))
    assert np.allclose(Q.rotate(d, np.array([[1.0, 0, 0], [0, 0, 1]])), [[-1, 0, 0], [0, 1, 0]])


# --- loaders -----------------------------------------------------------------------------

def test_loads_every_real_clip(motions):
    m = load_motion(motions / AMASS_601)
    assert (m.kind, m.frame_count, m.fps, m.gender) == ("smplh", 601, 120.0, "male")
    m = load_motion(motions / BYTES_GENDER)        # gender stored as bytes, 120.00005 fps
    assert m.gender == "female" and abs(m.fps - 120.00005) < 1e-4 and m.frame_count == 235
    walk = load_motion(motions / WALK)
    assert walk.kind == "bvh" and walk.frame_count == 344 and abs(walk.fps - 120) < 0.01
    for role in ("left_hip", "left_knee", "left_ankle", "right_wrist", "spine3", "head"):
        assert role in walk.skeleton.roles
    rest = walk.skeleton.rest                        # Y-up file -> Z up, in metres
    height = rest[:, 2].max() - rest[:, 2].min()
    assert 1.4 < height < 2.0
    assert rest[walk.skeleton.roles["head"], 2] > rest[walk.skeleton.roles["left_ankle"], 2] + 1


def test_smplx_split_keys_and_165_poses_match_smplh(motions, skeleton, tmp_path):
    src = np.load(motions / AMASS_601)
    poses, n = src["poses"], len(src["poses"])
    split = tmp_path / "split_stageii.npz"
    np.savez(split, root_orient=poses[:, :3], pose_body=poses[:, 3:66], pose_hand=poses[:, 66:],
             pose_jaw=np.zeros((n, 3)), pose_eye=np.zeros((n, 6)), trans=src["trans"],
             mocap_frame_rate=np.array(120.0), gender=np.array(b"male"))
    whole = tmp_path / "whole_stageii.npz"
    np.savez(whole, poses=np.concatenate([poses[:, :66], np.zeros((n, 9)), poses[:, 66:]], 1),
             trans=src["trans"], mocap_frame_rate=np.array(120.0))
    ref = prepare_clip(motions / AMASS_601, skeleton, 30.0)
    for path in (split, whole):
        clip = prepare_clip(path, skeleton, 30.0)
        assert clip.source.kind == "smplx" and clip.frame_count == 151
        assert np.allclose(clip.rotations, ref.rotations, atol=1e-5)
        assert np.allclose(clip.root_location, ref.root_location, atol=1e-5)


def test_plain_smpl_72_takes_the_users_frame_rate(motions, skeleton, tmp_path):
    src = np.load(motions / AMASS_601)
    path = tmp_path / "plain_smpl.npz"
    np.savez(path, poses=np.concatenate([src["poses"][:, :66], np.zeros((601, 6))], 1),
             trans=src["trans"])
    with pytest.raises(MotionError, match="frame rate"):
        prepare_clip(path, skeleton, 30.0)
    clip = prepare_clip(path, skeleton, 30.0, source_fps=60.0)
    assert clip.source.kind == "smpl" and clip.frame_count == 301      # 10 s at 30 fps


# --- bad input ---------------------------------------------------------------------------

def _npz(tmp_path, name, **arrays):
    path = tmp_path / name
    np.savez(path, **arrays)
    return path


def test_bad_npz_inputs_say_what_is_wrong(motions, skeleton, tmp_path):
    src = np.load(motions / AMASS_601)
    poses, trans, fps = src["poses"], src["trans"], np.array(120.0)
    nan = poses.copy()
    nan[40, 7] = np.nan
    cases = {
        "no 'poses'": _npz(tmp_path, "keys.npz", foo=poses),
        "expected one of": _npz(tmp_path, "shape.npz", poses=poses[:, :10], trans=trans,
                                mocap_framerate=fps),
        r"NaN or infinite values \(first at frame 40\)": _npz(
            tmp_path, "nan.npz", poses=nan, trans=trans, mocap_framerate=fps),
        "no frames": _npz(tmp_path, "empty.npz", poses=poses[:0], trans=trans[:0],
                          mocap_framerate=fps),
        "does not say its frame rate": _npz(tmp_path, "nofps.npz", poses=poses, trans=trans),
        "must be a positive": _npz(tmp_path, "zerofps.npz", poses=poses, trans=trans,
                                   mocap_framerate=np.array(0.0)),
        "'trans' has 10 frames": _npz(tmp_path, "short.npz", poses=poses, trans=trans[:10],
                                      mocap_framerate=fps),
    }
    inf = _npz(tmp_path, "inf.npz", poses=poses, trans=np.where(np.arange(601)[:, None] == 3,
                                                                np.inf, trans),
               mocap_framerate=fps)
    cases["NaN or infinite"] = inf
    not_zip = tmp_path / "text.npz"
    not_zip.write_text("hello")
    cases["not a readable .npz"] = not_zip
    for message, path in cases.items():
        with pytest.raises(MotionError, match=message):
            prepare_clip(path, skeleton, 30.0)


def test_bad_bvh_and_other_files_say_what_is_wrong(motions, skeleton, tmp_path):
    good = (motions / WALK).read_text()
    broken = {
        "ends early": good.split("MOTION")[0].rsplit("}", 3)[0] + "\nMOTION\nFrames: 1\n"
                      "Frame Time: 0.01\n0\n",
        "unknown channel 'Wrotation'": good.replace("Zrotation Yrotation Xrotation",
                                                    "Wrotation Yrotation Xrotation", 1),
        "no MOTION section": good.split("MOTION")[0],
        "'Frame Time' is 0": good.replace("Frame Time: .0083333", "Frame Time: 0"),
        "declares 344 frames but holds 101": "\n".join(good.splitlines()[:188 + 100]),
        "has 3 values": good.replace(good.splitlines()[200], "1 2 3"),
        "expected a number": good.replace("OFFSET 0 0 0", "OFFSET 0 zero 0", 1),
        "must start with 'HIERARCHY'": "hello\n" + good,
        "no frames": good.split("Frames:")[0] + "Frames: 0\nFrame Time: .01\n",
    }
    for message, text in broken.items():
        path = tmp_path / "broken.bvh"
        path.write_text(text)
        with pytest.raises(MotionError, match=message):
            prepare_clip(path, skeleton, 30.0)
    other = tmp_path / "clip.c3d"
    other.write_bytes(b"not ours")
    with pytest.raises(MotionError, match="not a motion file"):
        prepare_clip(other, skeleton, 30.0)
    fbx = tmp_path / "clip.fbx"          # only Blender reads FBX (tests/test_motion_fbx.py)
    fbx.write_bytes(b"Kaydara FBX Binary")
    with pytest.raises(MotionError, match="FBX"):
        prepare_clip(fbx, skeleton, 30.0)
    with pytest.raises(MotionError, match="does not exist"):
        prepare_clip(tmp_path / "missing.bvh", skeleton, 30.0)
    for fps in (0.0, -24.0, float("nan")):
        with pytest.raises(MotionError, match="positive"):
            prepare_clip(motions / WALK, skeleton, fps)
    with pytest.raises(MotionError, match="match no skeleton"):
        chains_for(["Bone", "Bone.001"])
