"""Hands and face-driven head on real photos: MediaPipe Hands drives Anny's finger bones
(fists curl, open hands stay open, hidden hands rest relaxed, never clenched), FaceMesh turns
the head towards where the face looks (synthetic photo with the true head orientation), and
the finger pose survives the .doppel file and shows on the Blender armature."""

from __future__ import annotations

import copy

import numpy as np
import pytest

from backend.fit.hands import (
    BOUNDS,
    JOINTS,
    detect_hand,
    finger_rotations,
    joint_angles,
    rest_hand,
)
from protocol import Pose
from rig import rotations as Q
from rig.avatar_pose import posed_bone_matrices

FINGERS = [b for b, _, _, kind in JOINTS if kind in ("mcp", "pip")]


def posed_hand(skeleton, pose, side: str) -> np.ndarray:
    """(21, 3) the posed hand's joints in MediaPipe's order (each moves with its bone)."""
    owners = [f"wrist.{side}"] + [f"finger{f}-{min(k, 3)}.{side}"
                                  for f in range(1, 6) for k in (1, 2, 3, 4)]
    names = skeleton.names
    rel = posed_bone_matrices(skeleton, pose) @ np.linalg.inv(
        np.asarray(skeleton.matrices, np.float64))
    rest = rest_hand(skeleton, side)
    return np.array([(rel[names.index(o)] @ np.append(p, 1.0))[:3]
                     for o, p in zip(owners, rest)])


def flexions(skeleton, pose, side: str) -> dict[str, float]:
    """Bone (no side) -> flexion in degrees measured on the posed avatar's hand."""
    return {b: float(np.degrees(a[0]))
            for b, a in joint_angles(posed_hand(skeleton, pose, side), side).items()}


def mean_curl(flex: dict[str, float]) -> float:
    """Mean knuckle + middle-joint flexion of the four fingers, degrees."""
    return float(np.mean([flex[b] for b in FINGERS]))


def rest_pose(skeleton) -> Pose:
    quats = np.tile(np.array([1.0, 0, 0, 0], np.float32), (len(skeleton.names), 1))
    return Pose(rotations=quats, location=np.zeros(3, np.float32))


@pytest.mark.parametrize("photo, side, closed", [
    ("single/pexels-anete-lusina-4793258.jpg", "L", True),    # fists round a barbell
    ("single/pexels-anete-lusina-4793258.jpg", "R", True),
    ("research_only/test.png", "R", True),                     # holding a mug
    ("research_only/test.png", "L", False),                    # hanging open
    ("research_only/slack_trial2-000150.png", "L", False),     # arm out, hand open
])
def test_photo_hands_curl_the_right_way_within_anatomical_ranges(shared_data, anny_avatar,
                                                                 photo, side, closed):
    from backend.imageio import read_photo
    from backend.perception import get_detector
    path = shared_data / "photos" / photo
    rgb = read_photo(path.read_bytes(), path.name).rgb
    seen = detect_hand(rgb, get_detector().observe(rgb), side)
    assert not isinstance(seen, str), f"{photo} {side}: {seen}"
    skel = anny_avatar.skeleton
    pose = rest_pose(skel)
    rotations, _ = finger_rotations(skel, side, seen)
    for bone, rotvec in rotations.items():
        pose.rotations[skel.names.index(bone)] = Q.from_axis_angle(rotvec)
    flex = flexions(skel, pose, side)
    rest = flexions(skel, rest_pose(skel), side)
    curl = mean_curl(flex)
    if closed:
        assert curl > 45.0 and curl > mean_curl(rest) + 25.0, flex
    else:
        assert curl < 25.0, flex
    # Bounds hold to a few degrees: spread, and the thumb's oblique axes, shift the angle a
    # little as measured on the posed hand.
    for bone, _, _, kind in JOINTS:
        lo, hi, relative, _ = BOUNDS[kind]
        base, slack = (rest[bone], 6.0) if relative else (0.0, 3.0)
        assert base + lo - slack <= flex[bone] <= base + hi + slack, (bone, flex[bone])


@pytest.fixture(scope="module")
def coat(shared_data):
    """A man in a long coat whose hands are inside the sleeves, reconstructed."""
    from backend.fit.pipeline import reconstruct_photo
    path = shared_data / "photos" / "research_only" / "2095f20b1390e14d9312913c61c4b621.png"
    return reconstruct_photo(path.read_bytes(), "coat", quality="fast").avatar


def test_hidden_hands_rest_in_a_gentle_curl_not_a_fist(coat):
    skel = coat.skeleton
    for side in "LR":
        note = coat.metadata["hands"][side]
        assert not note["found"] and note["relaxed_because"]
        flex = flexions(skel, coat.pose, side)
        assert 15.0 < mean_curl(flex) < 40.0, flex
        assert max(flex[b] for b in FINGERS) < 45.0, flex


def test_finger_pose_survives_the_file_and_shows_on_the_blender_armature(coat, tmp_path):
    import bpy

    from blender_addon.blender.builder import build_avatar
    from protocol import load_avatar, save_avatar
    back = load_avatar(save_avatar(coat, tmp_path / "coat.doppel"))
    names = coat.skeleton.names
    fingers = [names.index(f"{b}.{s}") for b, _, _, _ in JOINTS for s in "LR"]
    q = coat.pose.rotations[fingers]
    assert np.degrees(np.linalg.norm(Q.to_axis_angle(q), axis=1)).max() > 10.0
    np.testing.assert_allclose(back.pose.rotations[fingers], q, atol=1e-6)
    bpy.ops.wm.read_factory_settings(use_empty=True)
    try:
        arm = build_avatar(back, bpy.context, posed=True).armature
        bpy.context.view_layer.update()          # evaluates the pose (pose_bone.matrix)
        expect = posed_bone_matrices(back.skeleton, back.pose)
        for i in fingers:
            pb = arm.pose.bones[names[i]]
            np.testing.assert_allclose(tuple(pb.rotation_quaternion), back.pose.rotations[i],
                                       atol=1e-5)
            np.testing.assert_allclose(np.array(pb.matrix)[:3, :3], expect[i, :3, :3],
                                       atol=1e-4)
    finally:
        bpy.ops.wm.read_factory_settings(use_empty=True)


def test_head_turns_to_where_the_face_looks(shared_data, monkeypatch):
    """devset_pose sample 6: the head is turned; the true head orientation is known."""
    from backend.fit import pipeline
    from backend.fit.bone_edit import angle_deg, camera_deltas
    sample = shared_data / "devset_pose" / "sample_0006"
    gt = np.load(sample / "gt.npz")
    labels = [str(x) for x in gt["bone_labels"]]
    rot = gt["pose_parameters"][:, :3, :3].astype(np.float64)
    truth, b = np.eye(3), labels.index("head")
    while b >= 0:                       # 'local-ref' rotations compose down the chain
        truth = rot[b] @ truth
        b = int(gt["bone_parents"][b])
    truth = gt["R_world2cam"] @ truth
    kept = {}
    head_step = pipeline.set_photo_head

    def keep_then_turn(avatar, *args):
        kept["before"] = copy.deepcopy(avatar)
        head_step(avatar, *args)
    monkeypatch.setattr(pipeline, "set_photo_head", keep_then_turn)
    avatar = pipeline.reconstruct_photo((sample / "image.png").read_bytes(), "sample",
                                        quality="fast").avatar
    i = avatar.skeleton.names.index("head")
    before = angle_deg(camera_deltas(kept["before"])[i].T @ truth)
    after = angle_deg(camera_deltas(avatar)[i].T @ truth)
    note = avatar.metadata["head_from_face"]
    assert note["face_found"] and note["turn_deg"] <= 45.0
    assert after < 8.0 and after < before - 5.0, (before, after)
