"""Retargeting real motion clips without Blender, judged by how faithful the result is: the
avatar stays upright and grounded, its bones point where the source's bones point, root travel
scales with leg length, and the same holds on SMPL-named and SMPL-H rigs."""

from __future__ import annotations

import numpy as np
import pytest

from rig.motion import load_motion, prepare_clip, world_transforms
from rig import rotations as Q
from rig.motion.bone_map import SEGMENT_CHILD, chains_for
from motion_clips import (AMASS_601, AMASS_FEMALE, KINKED, STANDING_OR_WALKING, WALK, angle_deg,
                          clips, motions, posed_heads_tails, skeleton)  # noqa: F401 (fixtures)


# --- retargeting -------------------------------------------------------------------------

@pytest.mark.parametrize("name", STANDING_OR_WALKING)
def test_upright_and_grounded(clips, skeleton, name):
    heads, tails = posed_heads_tails(skeleton, clips[name])
    idx = {n: i for i, n in enumerate(skeleton.names)}
    assert (heads[:, idx["head"], 2] > heads[:, idx["root"], 2] + 0.25).all()
    feet = [i for i, n in enumerate(skeleton.names) if n.startswith(("foot.", "toe"))]
    low = np.minimum(heads[:, feet, 2].min(1), tails[:, feet, 2].min(1))   # per frame
    assert abs(np.median(low)) < 0.05, "feet should rest on the floor (z = 0)"
    assert np.percentile(low, 2) > -0.08, "feet sink through the floor"


@pytest.mark.parametrize("name", STANDING_OR_WALKING)
def test_mapped_bones_point_where_the_source_bones_point(clips, skeleton, name):
    clip = clips[name]
    heads, tails = posed_heads_tails(skeleton, clip)
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
        assert angle_deg(segment, src).mean() <= 10.0, chain
        for bone in chain.bones:
            if bone not in KINKED:
                own = tails[:, idx[bone]] - heads[:, idx[bone]]
                assert angle_deg(own, src).mean() <= 10.0, (bone, chain.role)
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
    heads, _ = posed_heads_tails(skeleton, walk)
    root = skeleton.names.index("root")
    travel = np.linalg.norm(heads[-1, root, :2] - heads[0, root, :2])
    assert travel > 1.0                                 # the walk walks (scaled to Anny's legs)
    still = prepare_clip(motions / WALK, skeleton, 30.0, in_place=True)
    heads, _ = posed_heads_tails(skeleton, still)
    assert np.ptp(heads[:, root, :2], axis=0).max() < 0.15   # only the pelvis' own sway


def test_root_travel_scales_with_leg_length(motions, skeleton, clips):
    walk = clips[WALK]
    src = walk.source.root_position
    heads, _ = posed_heads_tails(skeleton, walk)
    root = skeleton.names.index("root")
    ratio = (np.linalg.norm(heads[-1, root, :2] - heads[0, root, :2])
             / np.linalg.norm(src[-1, :2] - src[0, :2]))
    anny_leg = np.linalg.norm(skeleton.heads[4] - skeleton.heads[2]) \
        + np.linalg.norm(skeleton.heads[6] - skeleton.heads[4])
    assert 0.6 < ratio < 1.4 and abs(ratio - anny_leg / 0.84) < 0.35


def _smpl_named_rig():
    """A target rig built from the SMPL body joints, bones named "Pelvis", "L_Hip", ... (the
    way an SMPL-family avatar names them), each pointing at its child joint."""
    from types import SimpleNamespace

    from rig.motion.amass import SMPL_TO_BLENDER
    from rig.motion.smpl_skeleton import smpl_family_skeleton
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
    heads, tails = posed_heads_tails(rig, clip)
    _, joints = world_transforms(clip.source)
    roles = clip.source.skeleton.roles
    for i, bone in enumerate(rig.names):
        role = clip.source.skeleton.names[i]
        child = SEGMENT_CHILD.get(role.replace("right", "left"))
        if child:
            child = child.replace("left", "right") if role.startswith("right") else child
            src = joints[:, roles[child]] - joints[:, roles[role]]
            assert angle_deg(tails[:, i] - heads[:, i], src).mean() < 1.0, bone


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
    heads, tails = posed_heads_tails(rig, clip)
    _, joints = world_transforms(clip.source)
    roles = clip.source.skeleton.roles
    for chain in chains_for(rig.names):
        child = SEGMENT_CHILD.get(chain.role.replace("right", "left"))
        if chain.aim and child:
            child = child.replace("left", "right") if chain.role.startswith("right") else child
            b = rig.names.index(chain.bones[0])
            src = joints[:, roles[child]] - joints[:, roles[chain.role]]
            assert angle_deg(tails[:, b] - heads[:, b], src).mean() < 10.0, chain
    finger = rig.names.index("left_index2")
    assert finger in [rig.names.index(n) for n in clip.mapped]
    assert (np.abs(clip.rotations[:, finger, 0]) < 0.9999).any()
