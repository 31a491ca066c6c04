"""SMPL / SMPL-H / SMPL-X bodies from model files in the official format (made here: the real
ones are licensed), loaded through the production path (smplx) and checked as a user would
meet them: offered only when present, skeleton = kintree_table, posing moves the right
vertices exactly as smplx does, the avatar file round-trips, AMASS clips apply directly and
convert to Anny, Blender builds an armature with SMPL names; missing / wrong files explain."""

from __future__ import annotations

import pickle

import numpy as np
import pytest

from backend.errors import JobInputError
from backend.bodies import available_body_models, get_body_model
from rig.motion.pose_transfer import (anny_to_smpl_mapping, blender_locals_to_pose,
                                         pose_to_smpl, smpl_root_offset,
                                         smpl_to_anny_mapping, smpl_to_pose, transfer_pose)
from backend.bodies.smpl_files import configure_smpl_dir
from backend.bodies.smpl_skeleton import JOINT_NAMES_BY_MODEL, SMPL_TO_BLENDER
from backend.jobs import JobContext, get_job
from rig.kinematics import posed_bone_matrices
from protocol import load_avatar, save_avatar
from smpl_model_maker import smpl_dir, build_model, write_model  # noqa: F401  (smpl_dir: fixture)

CASES = [("smpl", "npz"), ("smpl", "pkl"), ("smplh", "pkl"), ("smplh", "npz"), ("smplx", "npz"),
         ("smplx", "pkl")]



def skin(rest_vertices, skin_indices, skin_weights, posed, rest):
    """Linear blend skinning as Blender does it: (V, 3) rest -> (V, 3) posed vertices."""
    mats = posed @ np.linalg.inv(rest)                    # (B, 4, 4) skinning transforms
    vh = np.c_[rest_vertices, np.ones(len(rest_vertices))]
    out = np.zeros((len(vh), 3))
    for k in range(skin_indices.shape[1]):
        out += skin_weights[:, k, None] * np.einsum("vij,vj->vi", mats[skin_indices[:, k]],
                                                     vh)[:, :3]
    return out


def body_job(params):
    return get_job("body")(params, {}, JobContext("test-smpl"))


# ---- offered only when present ------------------------------------------------------------
def test_offered_only_when_files_are_present(smpl_dir):
    assert not {"smpl", "smplh", "smplx"} & set(available_body_models())
    with pytest.raises(JobInputError) as err:
        get_body_model("smplx")
    msg = str(err.value)
    assert "model files not found at" in msg and str(smpl_dir) in msg
    assert "weights/README.md" in msg
    write_model(smpl_dir, "smplh", "male", "pkl")
    offered = available_body_models()
    assert "smplh" in offered and "anny" in offered
    assert "smpl" not in offered and "smplx" not in offered


def test_amass_smplh_download_layout_is_found(smpl_dir):
    """AMASS ships SMPL-H as smplh/<gender>/model.npz without hand PCA arrays."""
    data = build_model("smplh")
    for key in ("hands_componentsl", "hands_componentsr", "hands_meanl", "hands_meanr"):
        del data[key]
    (smpl_dir / "smplh" / "female").mkdir(parents=True)
    np.savez(smpl_dir / "smplh" / "female" / "model.npz", **data)
    assert "smplh" in available_body_models()
    rest = get_body_model("smplh").rest_body({})
    assert rest.metadata["smpl"]["gender"] == "female"
    assert len(rest.bone_names) == 52


def test_server_setting_overrides_environment(smpl_dir, tmp_path):
    other = tmp_path / "configured"
    write_model(other, "smpl", "neutral", "npz")
    assert "smpl" not in available_body_models()
    configure_smpl_dir(other)
    try:
        assert "smpl" in available_body_models()
    finally:
        configure_smpl_dir(None)


# ---- skeleton, shape, skin --------------------------------------------------------------------
@pytest.mark.parametrize("model,ext", CASES)
def test_skeleton_matches_kintree_table(smpl_dir, model, ext):
    gender = "male" if model == "smplh" else "neutral"
    write_model(smpl_dir, model, gender, ext)
    rest = get_body_model(model).rest_body({"gender": gender})
    data = build_model(model)
    parents = data["kintree_table"][0].astype(np.int64)
    parents[0] = -1
    assert rest.bone_names == JOINT_NAMES_BY_MODEL[model]
    assert len(rest.bone_names) == {"smpl": 24, "smplh": 52, "smplx": 55}[model]
    np.testing.assert_array_equal(rest.parents, parents)
    # Heads are the regressed joints, turned from SMPL's Y up into Blender's Z up.
    joints = (data["J_regressor"] @ data["v_template"]) @ SMPL_TO_BLENDER.T
    lift = rest.heads[0] - joints[0]
    np.testing.assert_allclose(rest.heads, joints + lift, atol=1e-5)
    assert lift[:2] == pytest.approx([0, 0], abs=1e-6)
    assert rest.vertices[:, 2].min() == pytest.approx(0.0, abs=1e-6)   # feet on the floor
    names = rest.bone_names
    head, pelvis, l_hip = (rest.heads[names.index(n)] for n in ("head", "pelvis", "left_hip"))
    assert head[2] > pelvis[2] + 0.4 and l_hip[0] > 0                 # Z up, left is +X
    # Rest frames: orthonormal, right-handed, +Y from head to tail, origin at the head.
    rot = rest.matrices[:, :3, :3].astype(np.float64)
    np.testing.assert_allclose(rot @ np.swapaxes(rot, 1, 2), np.tile(np.eye(3), (len(rot), 1, 1)),
                               atol=1e-5)
    assert np.allclose(np.linalg.det(rot), 1.0, atol=1e-5)
    direction = rest.tails - rest.heads
    length = np.linalg.norm(direction, axis=1)
    assert length.min() >= 0.01
    np.testing.assert_allclose(rot[:, :, 1], direction / length[:, None], atol=1e-5)
    np.testing.assert_allclose(rest.matrices[:, :3, 3], rest.heads, atol=1e-6)
    # Feet point forward (-Y); the leg bones' Z axes face forward too (roll rule).
    foot = names.index("left_ankle")
    assert rest.tails[foot, 1] < rest.heads[foot, 1]
    assert rot[names.index("left_knee"), 1, 2] < -0.9
    # The skin is the model's own dense weights (rigid here), top-4, rows summing to 1.
    np.testing.assert_allclose(rest.skin_weights.sum(1), 1.0, atol=1e-6)
    np.testing.assert_array_equal(rest.skin_indices[:, 0], data["weights"].argmax(1))


def test_betas_and_gender_select_the_shape(smpl_dir):
    write_model(smpl_dir, "smpl", "neutral", "npz", seed=0)
    write_model(smpl_dir, "smpl", "female", "npz", seed=1)
    body = get_body_model("smpl")
    base = body.rest_body({})
    tall = body.rest_body({"betas": [2.0]})
    assert np.ptp(tall.vertices[:, 2]) == pytest.approx(1.1 * np.ptp(base.vertices[:, 2]),
                                                        rel=0.01)
    same = body.rest_body({"beta0": 2.0})                 # the CLI's --set beta0=2 form
    np.testing.assert_allclose(same.vertices, tall.vertices, atol=1e-6)
    # The two files differ in their minor shape directions (seeded differently).
    female = body.rest_body({"gender": "female", "betas": [0, 0, 3.0]})
    neutral = body.rest_body({"betas": [0, 0, 3.0]})
    assert female.metadata["smpl"]["file"] == "SMPL_FEMALE.npz"
    assert np.abs(female.vertices - neutral.vertices).max() > 1e-3
    with pytest.raises(JobInputError, match="no male SMPL model file is installed"):
        body.check_params({"gender": "male"})
    with pytest.raises(JobInputError, match="outside"):
        body.check_params({"betas": [9.0]})
    with pytest.raises(JobInputError, match="unknown smpl parameter 'height'"):
        body.check_params({"height": 0.5})


# ---- posing -----------------------------------------------------------------------------------
@pytest.mark.parametrize("model,world", [("smpl", "y_up"), ("smplx", "z_up")])
def test_posing_matches_smplx_and_moves_the_right_vertices(smpl_dir, model, world):
    write_model(smpl_dir, model, "neutral", "npz")
    body = get_body_model(model)
    params = {"betas": [0.5, 1.0, -0.3]}
    rest = body.rest_body(params)
    names, j = rest.bone_names, len(rest.bone_names)
    # A known pose: the left elbow bent 90 degrees forward, i.e. -90 about SMPL's Y (up).
    aa = np.zeros((1, j, 3))
    aa[0, names.index("left_elbow")] = [0.0, -np.pi / 2, 0.0]
    if world == "z_up":     # AMASS-style roots carry the turn from Y up to Z up
        aa[0, 0] = [np.pi / 2, 0.0, 0.0]
    quats = smpl_to_pose(aa, names, names, rest.matrices, world=world)
    posed = posed_bone_matrices(rest.matrices, rest.parents, quats[0])
    verts = skin(rest.vertices, rest.skin_indices, rest.skin_weights, posed, rest.matrices)
    moved = np.linalg.norm(verts - rest.vertices, axis=1) > 1e-4
    arm = {names.index(n) for n in ("left_elbow", "left_wrist")} | \
        {i for i, n in enumerate(names) if n.startswith("left_") and n[5:].rstrip("123") in
         ("hand", "index", "middle", "pinky", "ring", "thumb")}
    on_arm = np.isin(rest.skin_indices[:, 0], sorted(arm))
    np.testing.assert_array_equal(moved, on_arm)
    # The forearm now points forward (-Y in Blender): -90 about SMPL's Y turns +X to +Z.
    wrist = posed[names.index("left_wrist"), :3, 3] - posed[names.index("left_elbow"), :3, 3]
    assert wrist[1] < -0.9 * np.linalg.norm(wrist)
    # A random pose: Blender's skinning of our rig == smplx's own lbs (rigid weights, no
    # pose correctives in this file), with the root in the clip's world.
    rng = np.random.default_rng(3)
    aa = rng.normal(scale=0.5, size=(2, j, 3))
    quats = smpl_to_pose(aa, names, names, rest.matrices, world=world)
    smpl_meta = rest_meta(body, params)
    trans = rng.normal(scale=0.5, size=(2, 3))
    loc = smpl_root_offset(trans, smpl_meta["pelvis_native"], rest.heads[0],
                           smpl_meta["lift"], world=world)
    ref_v, ref_j = body.posed(params, aa, trans, world=world)
    if world == "y_up":         # Blender places the rest body on the floor
        ref_v, ref_j = ref_v + [0, 0, smpl_meta["lift"]], ref_j + [0, 0, smpl_meta["lift"]]
    for t in range(2):
        posed = posed_bone_matrices(rest.matrices, rest.parents, quats[t], loc[t])
        np.testing.assert_allclose(posed[:, :3, 3], ref_j[t], atol=2e-5)
        verts = skin(rest.vertices, rest.skin_indices, rest.skin_weights, posed, rest.matrices)
        np.testing.assert_allclose(verts, ref_v[t], atol=2e-5)
    np.testing.assert_allclose(pose_to_smpl(quats, names, rest.matrices, names, world=world),
                               aa, atol=1e-6)


def rest_meta(body, params):
    return body.rest_body(params).metadata["smpl"]


# ---- the body job and the avatar file ------------------------------------------------------
def test_body_job_avatar_round_trips(smpl_dir, tmp_path):
    write_model(smpl_dir, "smpl", "neutral", "pkl")
    avatar = body_job({"body_model": "smpl", "name": "Smpl", "params": {"betas": [1.0]}})
    assert avatar.metadata["body_model"] == "smpl"
    assert avatar.metadata["params"] == {"gender": "neutral", "betas": [1.0]}
    assert avatar.metadata["smpl"]["file"] == "SMPL_NEUTRAL.pkl"
    assert any("no UV layout" in w for w in avatar.metadata["warnings"])
    assert avatar.layers[0].uvs is None
    back = load_avatar(save_avatar(avatar, tmp_path / "smpl.doppel"))
    assert back.skeleton.names == JOINT_NAMES_BY_MODEL["smpl"]
    for name in ("heads", "tails", "matrices", "parents"):
        np.testing.assert_array_equal(getattr(back.skeleton, name),
                                      getattr(avatar.skeleton, name))
    for name in ("vertices", "faces", "skin_indices", "skin_weights"):
        np.testing.assert_array_equal(getattr(back.layers[0], name),
                                      getattr(avatar.layers[0], name))
    assert back.metadata == avatar.metadata


def write_uv_obj(path, data, rng):
    """An .obj UV layout as published: vertices, one vt per corner, faces in another order."""
    faces = data["f"].astype(np.int64)
    order = rng.permutation(len(faces))
    uvs = rng.random((len(faces), 3, 2))
    lines = [f"v {x} {y} {z}" for x, y, z in data["v_template"]]
    for k, i in enumerate(order):
        lines += [f"vt {u} {v}" for u, v in uvs[i]]
        a, b, c = faces[i] + 1
        lines.append(f"f {b}/{3 * k + 2} {c}/{3 * k + 3} {a}/{3 * k + 1}")   # rotated corners
    path.write_text("\n".join(lines) + "\n")
    return uvs


def test_uv_layout_is_used_when_present(smpl_dir):
    write_model(smpl_dir, "smplx", "neutral", "npz")
    uvs = write_uv_obj(smpl_dir / "smplx" / "smplx_uv.obj", build_model("smplx"),
                       np.random.default_rng(0))
    avatar = body_job({"body_model": "smplx", "params": {}})
    np.testing.assert_allclose(avatar.layers[0].uvs, uvs, atol=1e-6)
    assert not any("UV" in w for w in avatar.metadata["warnings"])


# ---- missing and wrong files ---------------------------------------------------------------
def test_missing_file_error_reaches_the_job(smpl_dir):
    with pytest.raises(JobInputError) as err:
        body_job({"body_model": "smpl", "params": {}})
    assert f"SMPL model files not found at {smpl_dir / 'smpl'}" in str(err.value)


def write_bytes(folder, name, payload: bytes):
    path = folder / "smpl" / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(payload)
    return path


@pytest.mark.parametrize("case,expect", [
    ("garbage", "cannot be read"),
    ("smplx_as_smpl", "it has 55 joints, SMPL has 24: it looks like a SMPL-X file"),
    ("missing_keys", "it lacks J_regressor, weights"),
    ("chumpy", "needs the 'chumpy' package"),
    ("not_a_dict", "not a dict of arrays"),
    ("planted_code", "it refers to posix.system, which no model file holds"),
])
def test_wrong_file_gives_a_clear_error(smpl_dir, case, expect):
    if case == "garbage":
        write_bytes(smpl_dir, "SMPL_NEUTRAL.npz", b"PK\x03\x04 this is not a zip archive")
    elif case == "smplx_as_smpl":
        np.savez(write_bytes(smpl_dir, "SMPL_NEUTRAL.npz", b""), **build_model("smplx"))
    elif case == "missing_keys":
        data = build_model("smpl")
        del data["J_regressor"], data["weights"]
        write_bytes(smpl_dir, "SMPL_NEUTRAL.pkl", pickle.dumps(data, protocol=2))
    elif case == "chumpy":        # the original MPI pickles reference chumpy classes
        write_bytes(smpl_dir, "SMPL_NEUTRAL.pkl", b"\x80\x02cchumpy.ch\nCh\nq\x00.")
    elif case == "planted_code":  # a pickle that would run a shell command when loaded
        write_bytes(smpl_dir, "SMPL_NEUTRAL.pkl", b"\x80\x02cposix\nsystem\nX\x04\x00\x00\x00"
                    b"true\x85R.")
    else:
        write_bytes(smpl_dir, "SMPL_NEUTRAL.pkl", pickle.dumps([1, 2, 3], protocol=2))
    assert "smpl" in available_body_models()          # present, so offered...
    with pytest.raises(JobInputError) as err:          # ...but loading explains the problem
        body_job({"body_model": "smpl", "params": {}})
    assert expect in str(err.value)
    assert "is not a usable SMPL model file" in str(err.value)
    assert err.value.code == "bad_input"


# ---- AMASS clips and Anny --------------------------------------------------------------------
AMASS_CLIP = "motions/amass/amass_sample_male_120fps.npz"


def test_amass_clip_applies_directly(smpl_dir, shared_data):
    from rig.motion import amass as motion
    clip = np.load(shared_data / AMASS_CLIP)
    write_model(smpl_dir, "smplh", "male", "npz")
    body = get_body_model("smplh")
    params, warnings = body.clip_params(shared_data / AMASS_CLIP)     # "use clip's body"
    assert params == {"gender": "male", "betas": clip["betas"].tolist()} and not warnings
    rest = body.rest_body(params)
    assert any("betas beyond the first 10 were ignored" in w for w in rest.warnings)
    meta = rest.metadata["smpl"]
    names = rest.bone_names
    src = motion.load_smpl_npz(shared_data / AMASS_CLIP)
    frames = np.arange(0, src.frame_count, 40)
    quats = blender_locals_to_pose(src.rotations[frames], src.skeleton.names, names,
                                   rest.matrices)
    assert src.frame_count == len(clip["poses"]) == 601
    # The add-on's reading of the clip == ours from the raw axis-angles.
    poses = clip["poses"][frames].reshape(len(frames), 52, 3)
    np.testing.assert_allclose(quats, smpl_to_pose(poses, names, names, rest.matrices), atol=1e-6)
    loc = smpl_root_offset(clip["trans"][frames], meta["pelvis_native"], rest.heads[0])
    _, ref_j = body.posed(params, poses, clip["trans"][frames])
    head, pelvis = names.index("head"), names.index("pelvis")
    for t in range(len(frames)):
        posed = posed_bone_matrices(rest.matrices, rest.parents, quats[t], loc[t])
        np.testing.assert_allclose(posed[:, :3, 3], ref_j[t], atol=1e-4)
        # Upright: the head stays well above the pelvis, the spine leans < 30 degrees.
        up = posed[head, :3, 3] - posed[pelvis, :3, 3]
        assert up[2] > 0.4 and up[2] > np.cos(np.radians(30)) * np.linalg.norm(up)


def test_clip_body_falls_back_to_an_installed_gender(smpl_dir, shared_data):
    write_model(smpl_dir, "smplh", "male", "npz")
    clip = "motions/amass/dmpl_sample_bytes_gender.npz"       # gender stored as b'female'
    params, warnings = get_body_model("smplh").clip_params(shared_data / clip)
    assert params["gender"] == "male"
    assert warnings == [f"clip '{clip.split('/')[-1]}' is female, but no female SMPL-H file "
                        "is installed; using male"]


def test_pose_converts_between_smpl_and_anny(smpl_dir, shared_data, anny_avatar):
    clip = np.load(shared_data / AMASS_CLIP)
    write_model(smpl_dir, "smplh", "male", "npz")
    rest = get_body_model("smplh").rest_body({"gender": "male"})
    names = rest.bone_names
    poses = clip["poses"][::60].reshape(-1, 52, 3)
    smpl_q = smpl_to_pose(poses, names, names, rest.matrices)
    anny = anny_avatar.skeleton
    to_anny = smpl_to_anny_mapping(names)
    assert len(to_anny) == 20 + 30            # every body and finger joint but SMPL's feet
    anny_q = transfer_pose(names, rest.parents, rest.matrices, smpl_q, anny.names,
                           anny.parents, anny.matrices, to_anny)
    back = transfer_pose(anny.names, anny.parents, anny.matrices, anny_q, names,
                         rest.parents, rest.matrices, anny_to_smpl_mapping(names))
    for t in range(len(poses)):
        s_post = posed_bone_matrices(rest.matrices, rest.parents, smpl_q[t])
        a_post = posed_bone_matrices(anny.matrices, anny.parents, anny_q[t])
        b_post = posed_bone_matrices(rest.matrices, rest.parents, back[t])
        for s_name, a_name in to_anny.items():
            s, a = names.index(s_name), anny.names.index(a_name)
            if s_name != "pelvis":    # limbs point the same way on both bodies
                np.testing.assert_allclose(a_post[a, :3, 1], s_post[s, :3, 1], atol=1e-5)
            # there and back restores the SMPL bone's world rotation
            np.testing.assert_allclose(b_post[s, :3, :3], s_post[s, :3, :3], atol=1e-5)
        # the Anny body is upright as the SMPL one is
        head = a_post[anny.names.index("head"), :3, 3] - a_post[0, :3, 3]
        assert head[2] > 0.3


# ---- Blender ------------------------------------------------------------------------------
@pytest.mark.blender
def test_blender_builds_an_armature_with_smpl_joint_names(smpl_dir):
    import bpy
    from blender_addon.blender import builder
    write_model(smpl_dir, "smplx", "neutral", "npz")
    avatar = body_job({"body_model": "smplx", "name": "SmplX", "params": {"betas": [0.5]}})
    bpy.ops.wm.read_factory_settings(use_empty=True)
    try:
        built = builder.build_avatar(avatar, bpy.context)
        arm = built.armature
        assert sorted(b.name for b in arm.data.bones) == sorted(JOINT_NAMES_BY_MODEL["smplx"])
        for i, name in enumerate(avatar.skeleton.names):
            bone = arm.data.bones[name]
            parent = avatar.skeleton.parents[i]
            assert (bone.parent.name if bone.parent else None) == \
                (avatar.skeleton.names[parent] if parent >= 0 else None)
            np.testing.assert_allclose(bone.head_local, avatar.skeleton.heads[i], atol=1e-5)
            np.testing.assert_allclose(np.array(bone.matrix_local)[:3, :3],
                                       avatar.skeleton.matrices[i, :3, :3], atol=1e-4)
        mesh = next(iter(built.meshes.values()))
        assert {g.name for g in mesh.vertex_groups} <= set(JOINT_NAMES_BY_MODEL["smplx"])
        assert len(mesh.data.vertices) == len(avatar.layers[0].vertices)
    finally:
        bpy.ops.wm.read_factory_settings(use_empty=True)
