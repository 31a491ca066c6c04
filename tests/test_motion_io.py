"""Motion clips onto the Anny avatar without Blender: loaders, time-exact resampling,
retargeting (upright, grounded, faithful) and every bad-input message, on real AMASS and CMU
clips from ../shared/data/motions."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.spatial.transform import Rotation, Slerp

from blender_addon.io.motion import (MotionError, load_motion, output_frame_count,
                                     prepare_clip, resample, world_transforms)
from blender_addon.io.motion import quaternions as Q
from blender_addon.io.motion.bone_map import SEGMENT_CHILD, chains_for
from blender_addon.io.motion.target_pose import TargetRest, posed_bones

AMASS_601 = "amass/amass_sample_male_120fps.npz"       # 601 frames at 120 fps
AMASS_FEMALE = "amass/hbp_amass_sample_female_120fps.npz"
BYTES_GENDER = "amass/dmpl_sample_bytes_gender.npz"
WALK = "bvh/walk.bvh"
STANDING_OR_WALKING = (AMASS_601, AMASS_FEMALE, WALK, "bvh/131_01.bvh", "bvh/131_03.bvh")
# Short or bent Anny bones whose own direction differs from their limb segment's in the rest
# pose itself (the collar bone is two bones around the shoulder's bump).
KINKED = {"clavicle.L", "clavicle.R", "shoulder01.L", "shoulder01.R", "upperleg01.L",
          "upperleg01.R"}


@pytest.fixture(scope="module")
def motions(shared_data):
    return shared_data / "motions"


@pytest.fixture(scope="module")
def skeleton(anny_avatar):
    return anny_avatar.skeleton


@pytest.fixture(scope="module")
def clips(motions, skeleton):
    """Each standing/walking clip retargeted at 30 fps, computed once."""
    return {name: prepare_clip(motions / name, skeleton, 30.0) for name in STANDING_OR_WALKING}


def _posed(skeleton, clip):
    target = TargetRest.from_skeleton(skeleton)
    return posed_bones(target, clip.rotations.astype(np.float64),
                       clip.root_location.astype(np.float64))


def _angle_deg(a, b):
    cos = np.sum(a * b, -1) / (np.linalg.norm(a, axis=-1) * np.linalg.norm(b, axis=-1))
    return np.degrees(np.arccos(np.clip(cos, -1.0, 1.0)))


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


# --- time-exact resampling -----------------------------------------------------------------

def test_601_frames_at_120_fps_give_151_at_30(clips):
    clip = clips[AMASS_601]
    assert clip.frame_count == 151 and clip.source_duration == pytest.approx(5.0)


def test_2997_fps_ends_within_one_frame_of_the_duration(motions, skeleton):
    for name in (AMASS_601, WALK, BYTES_GENDER):
        clip = prepare_clip(motions / name, skeleton, 30000 / 1001)
        end = (clip.frame_count - 1) / clip.fps
        assert abs(end - clip.source_duration) < 1 / clip.fps, name


def test_100_fps_source_at_30_keeps_duration_and_timing(motions, skeleton, tmp_path):
    # A real CMU clip relabelled as 100 fps (its frames unchanged), and an AMASS one.
    text = (motions / WALK).read_text().replace("Frame Time: .0083333", "Frame Time: .01")
    bvh = tmp_path / "walk_100fps.bvh"
    bvh.write_text(text)
    src = np.load(motions / AMASS_601)
    npz = tmp_path / "amass_100fps.npz"
    np.savez(npz, poses=src["poses"], trans=src["trans"], mocap_framerate=np.array(100.0))
    for path, frames in ((bvh, 344), (npz, 601)):
        source = load_motion(path)
        clip = prepare_clip(path, skeleton, 30.0)
        duration = (frames - 1) / 100
        assert clip.frame_count == output_frame_count(frames, 100.0, 30.0)
        assert abs((clip.frame_count - 1) / 30 - duration) < 1 / 30
        # Not integer decimation (every 3rd frame would play 11 % slow): output frame k
        # holds the source pose at k/30 s, interpolated.
        assert clip.frame_count == int(duration * 30) + 1 != len(range(0, frames, 3))
        for k in (7, 50, clip.frame_count - 1):
            u = k * 100 / 30
            i, f = int(u), u - int(u)
            j = min(i + 1, frames - 1)
            want = source.root_position[i] * (1 - f) + source.root_position[j] * f
            assert np.allclose(clip.source.root_position[k], want, atol=1e-9)


def test_resample_slerps_rotations(motions):
    m = load_motion(motions / WALK)
    r = resample(m, 50.0)
    k = 13                                   # 13/50 s = source frame 31.2
    want = Q.slerp(m.rotations[31], m.rotations[32], np.full(m.skeleton.joint_count, 0.2))
    assert np.allclose(np.abs(np.sum(r.rotations[k] * want, -1)), 1.0, atol=1e-9)


# --- retargeting -------------------------------------------------------------------------

@pytest.mark.parametrize("name", STANDING_OR_WALKING)
def test_upright_and_grounded(clips, skeleton, name):
    heads, tails = _posed(skeleton, clips[name])
    idx = {n: i for i, n in enumerate(skeleton.names)}
    assert (heads[:, idx["head"], 2] > heads[:, idx["root"], 2] + 0.25).all()
    feet = [i for i, n in enumerate(skeleton.names) if n.startswith(("foot.", "toe"))]
    low = np.minimum(heads[:, feet, 2].min(1), tails[:, feet, 2].min(1))   # per frame
    assert abs(np.median(low)) < 0.05, "feet should rest on the floor (z = 0)"
    assert np.percentile(low, 2) > -0.08, "feet sink through the floor"


@pytest.mark.parametrize("name", STANDING_OR_WALKING)
def test_mapped_bones_point_where_the_source_bones_point(clips, skeleton, name):
    clip = clips[name]
    heads, tails = _posed(skeleton, clip)
    _, joints = world_transforms(clip.source)          # source rotations on its rest skeleton
    roles = clip.source.skeleton.roles
    idx = {n: i for i, n in enumerate(skeleton.names)}
    checked = 0
    for chain in chains_for(skeleton.names):
        child = SEGMENT_CHILD.get(chain.role.replace("right", "left"))
        if not chain.aim or chain.role not in roles or child is None:
            continue
        child = child.replace("left", "right") if chain.role.startswith("right") else child
        if child not in roles:
            continue
        src = joints[:, roles[child]] - joints[:, roles[chain.role]]
        if np.linalg.norm(src[0]) < 1e-6:             # e.g. CMU's zero-length lower back
            continue
        segment = tails[:, idx[chain.bones[-1]]] - heads[:, idx[chain.bones[0]]]
        assert _angle_deg(segment, src).mean() <= 10.0, chain
        for bone in chain.bones:
            if bone not in KINKED:
                own = tails[:, idx[bone]] - heads[:, idx[bone]]
                assert _angle_deg(own, src).mean() <= 10.0, (bone, chain.role)
        checked += 1
    assert checked >= 15                                # legs, arms, spine, neck


def test_unmapped_bones_stay_at_rest_and_in_place_holds_the_root(motions, skeleton, clips):
    walk = clips[WALK]
    toes_fingers = [i for i, n in enumerate(skeleton.names) if n.startswith(("toe", "finger",
                                                                              "metacarpal"))]
    assert np.allclose(np.abs(walk.rotations[:, toes_fingers, 0]), 1.0, atol=1e-5)   # BVH: no hands
    amass = clips[AMASS_FEMALE]                         # SMPL+H has fingers: they move
    fingers = [skeleton.names.index(n) for n in ("finger2-1.L", "finger3-2.R")]
    assert (np.abs(amass.rotations[:, fingers, 0]) < 0.9999).any()
    heads, _ = _posed(skeleton, walk)
    root = skeleton.names.index("root")
    travel = np.linalg.norm(heads[-1, root, :2] - heads[0, root, :2])
    assert travel > 1.0                                 # the walk walks (scaled to Anny's legs)
    still = prepare_clip(motions / WALK, skeleton, 30.0, in_place=True)
    heads, _ = _posed(skeleton, still)
    assert np.ptp(heads[:, root, :2], axis=0).max() < 0.15   # only the pelvis' own sway


def test_root_travel_scales_with_leg_length(motions, skeleton, clips):
    walk = clips[WALK]
    src = walk.source.root_position
    heads, _ = _posed(skeleton, walk)
    root = skeleton.names.index("root")
    ratio = (np.linalg.norm(heads[-1, root, :2] - heads[0, root, :2])
             / np.linalg.norm(src[-1, :2] - src[0, :2]))
    anny_leg = np.linalg.norm(skeleton.heads[4] - skeleton.heads[2]) \
        + np.linalg.norm(skeleton.heads[6] - skeleton.heads[4])
    assert 0.6 < ratio < 1.4 and abs(ratio - anny_leg / 0.84) < 0.35


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
    other = tmp_path / "clip.fbx"
    other.write_bytes(b"Kaydara FBX Binary")
    with pytest.raises(MotionError, match="not a motion file"):
        prepare_clip(other, skeleton, 30.0)
    with pytest.raises(MotionError, match="does not exist"):
        prepare_clip(tmp_path / "missing.bvh", skeleton, 30.0)
    for fps in (0.0, -24.0, float("nan")):
        with pytest.raises(MotionError, match="positive"):
            prepare_clip(motions / WALK, skeleton, fps)
    with pytest.raises(MotionError, match="match no skeleton"):
        chains_for(["Bone", "Bone.001"])


def _smpl_named_rig():
    """A target rig built from the SMPL body joints, bones named "Pelvis", "L_Hip", ... (the
    way an SMPL-family avatar names them), each pointing at its child joint."""
    from types import SimpleNamespace

    from blender_addon.io.motion.amass import SMPL_TO_BLENDER
    from blender_addon.io.motion.smpl_skeleton import smpl_family_skeleton
    sk = smpl_family_skeleton("body")
    rest = Q.rotate(SMPL_TO_BLENDER, sk.rest)
    label = {"left": "L_", "right": "R_"}
    names = [label[n.split("_")[0]] + n.split("_")[1].capitalize() if "_" in n else n.capitalize()
             for n in sk.names]
    heads, tails, mats = rest.copy(), np.empty_like(rest), np.zeros((len(names), 4, 4))
    for i, n in enumerate(sk.names):
        side = n.split("_")[0]
        child = SEGMENT_CHILD.get(n.replace("right", "left"))
        child = child.replace("left", side) if child and side in ("left", "right") else child
        tails[i] = rest[sk.roles[child]] if child else rest[i] + [0.0, -0.05, 0.05]
        y = tails[i] - heads[i]
        y /= np.linalg.norm(y)
        x = np.cross(y, [0.0, -1.0, 0.0])
        x = x / np.linalg.norm(x) if np.linalg.norm(x) > 1e-3 else np.array([1.0, 0.0, 0.0])
        mats[i, :3, :3] = np.stack([x, y, np.cross(x, y)], axis=1)
        mats[i, :3, 3], mats[i, 3, 3] = heads[i], 1.0
    return SimpleNamespace(names=names, parents=sk.parents, heads=heads, tails=tails,
                           matrices=mats)


def test_retargets_onto_an_smpl_named_rig(motions):
    rig = _smpl_named_rig()
    assert len(chains_for(rig.names)) >= 20
    clip = prepare_clip(motions / AMASS_601, rig, 30.0)
    heads, tails = _posed(rig, clip)
    _, joints = world_transforms(clip.source)
    roles = clip.source.skeleton.roles
    for i, bone in enumerate(rig.names):
        role = clip.source.skeleton.names[i]
        child = SEGMENT_CHILD.get(role.replace("right", "left"))
        if child:
            child = child.replace("left", "right") if role.startswith("right") else child
            src = joints[:, roles[child]] - joints[:, roles[role]]
            assert _angle_deg(tails[:, i] - heads[:, i], src).mean() < 1.0, bone


def _z_up_centimetre_bvh(text: str) -> str:
    """The same motion written Z-up in centimetres: offsets and root positions rotated
    (x, y, z) -> (x, -z, y) and scaled; rotation channels renamed (about Y becomes about Z,
    about Z becomes about -Y), channel order kept."""
    scale = 2.54 / 0.45                                 # CMU units -> cm
    swap = {"Yrotation": "Zrotation", "Zrotation": "Yrotation",
            "Yposition": "Zposition", "Zposition": "Yposition"}
    head, motion = text.split("MOTION")
    out, flipped, scaled, column = [], [], [], 0
    for line in head.splitlines():
        words = line.split()
        if words[:1] == ["OFFSET"]:
            x, y, z = (float(v) * scale for v in words[1:4])
            line = f"OFFSET {x} {-z} {y}"
        elif words[:1] == ["CHANNELS"]:
            names = words[2:]
            flipped += [column + k for k, ch in enumerate(names) if ch.startswith("Z")]
            scaled += [column + k for k, ch in enumerate(names) if ch.endswith("position")]
            column += len(names)
            line = f"CHANNELS {words[1]} " + " ".join(swap.get(c, c) for c in names)
        out.append(line)
    lines = motion.strip().splitlines()
    values = np.array([row.split() for row in lines[2:]], dtype=np.float64)
    values[:, flipped] *= -1
    values[:, scaled] *= scale
    rows = [" ".join(f"{x:.6f}" for x in row) for row in values]
    return "\n".join(out) + "\nMOTION\n" + "\n".join(lines[:2] + rows) + "\n"


def test_z_up_centimetre_bvh_gives_the_same_animation(motions, skeleton, clips, tmp_path):
    path = tmp_path / "walk_zup_cm.bvh"
    path.write_text(_z_up_centimetre_bvh((motions / WALK).read_text()))
    m = load_motion(path)
    assert m.unit == "cm"
    ref = clips[WALK]
    clip = prepare_clip(path, skeleton, 30.0)
    assert np.abs(np.abs(np.sum(clip.rotations * ref.rotations, -1)) - 1).max() < 1e-4
    assert np.abs(clip.root_location - ref.root_location).max() < 1e-3


def test_retargets_onto_an_smpl_h_avatar(tmp_path, monkeypatch, motions):
    """An SMPL-H avatar from the real body job (model file made by tests/smpl_model_maker, the
    licensed ones being unavailable): limbs follow the clip, fingers get the clip's hands."""
    from backend.bodies.smpl_files import configure_smpl_dir
    from backend.jobs import JobContext, get_job
    from smpl_model_maker import write_model
    configure_smpl_dir(None)
    folder = tmp_path / "smpl_models"
    folder.mkdir()
    monkeypatch.setenv("DOPPEL_SMPL_DIR", str(folder))
    write_model(folder, "smplh", "neutral", "npz")
    avatar = get_job("body")({"body_model": "smplh", "name": "S"}, {}, JobContext("t"))
    rig = avatar.skeleton
    # Retargeting asked for by name: on its own, a SMPL-family avatar takes AMASS directly.
    clip = prepare_clip(motions / AMASS_601, rig, 30.0, method="retarget")
    assert clip.method == "retarget"
    heads, tails = _posed(rig, clip)
    _, joints = world_transforms(clip.source)
    roles = clip.source.skeleton.roles
    for chain in chains_for(rig.names):
        child = SEGMENT_CHILD.get(chain.role.replace("right", "left"))
        if chain.aim and child:
            child = child.replace("left", "right") if chain.role.startswith("right") else child
            b = rig.names.index(chain.bones[0])
            src = joints[:, roles[child]] - joints[:, roles[chain.role]]
            assert _angle_deg(tails[:, b] - heads[:, b], src).mean() < 10.0, chain
    finger = rig.names.index("left_index2")
    assert finger in [rig.names.index(n) for n in clip.mapped]
    assert (np.abs(clip.rotations[:, finger, 0]) < 0.9999).any()
