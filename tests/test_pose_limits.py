"""The body fit keeps to what a body can do (knees and elbows are hinges that never bend
backwards) and turns the person the right way round, on real photos and on devset photos
whose true 3D joints are known (devset_pose/README.md)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from backend.fit.body_fit import BodyFitter, Intrinsics
from backend.fit.focal import choose_focal
from backend.fit.joint_limits import ANNY_RANGES, HINGES
from backend.fit.pipeline import target_mask
from backend.fit.rigs import fit_rig
from backend.imageio import read_photo
from backend.perception import get_detector

HINGE_CHILD = {"lowerleg01.L": "foot.L", "lowerleg01.R": "foot.R",
               "lowerarm01.L": "wrist.L", "lowerarm01.R": "wrist.R"}


@pytest.fixture(scope="module")
def rig():
    torch.set_num_threads(1)
    return fit_rig("anny")[0]


def fit_photo(rig, data: bytes, iters: int = 60):
    photo = read_photo(data, "photo.png")
    obs = get_detector().observe(photo.rgb)
    h, w = photo.rgb.shape[:2]
    cam = Intrinsics(f=choose_focal(photo.focal_35mm, obs, w, h).f_px, cx=w / 2, cy=h / 2,
                     width=w, height=h)
    fit = BodyFitter(rig).fit(obs, target_mask(obs, photo).astype(np.float32), cam,
                              iters=iters, grid=96)
    with torch.no_grad():
        _, poses = rig.pose(fit.rest, rig.deltas(fit.rest, fit.global_rot, fit.translation,
                                                 fit.bone_rotvecs))
    return fit, poses[:, :3, 3].numpy(), photo


def child_head(rig, rest, bones: torch.Tensor, child: str) -> np.ndarray:
    d = rig.deltas(rest, torch.eye(3), torch.zeros(3), bones)
    _, poses = rig.model.get_bone_transforms(d, rest.bone_poses)
    return poses[0, rig.bone_names.index(child), :3, 3].numpy()


def test_hinge_axes_flex_knees_back_and_elbows_forward(rig):
    """The ranges' premise: +X about a knee swings the foot back (+Y in Anny's model space,
    which faces -Y), +X about an elbow swings the hand forward and up, on both sides."""
    rest = rig.rest_state_subset(rig.default_shape())
    zero = torch.zeros(len(rig.fit_bones), 3)
    for bone in HINGES:
        flexed = zero.clone()
        flexed[rig.fit_bones.index(bone), 0] = 0.5
        move = child_head(rig, rest, flexed, HINGE_CHILD[bone]) - \
            child_head(rig, rest, zero, HINGE_CHILD[bone])
        if "leg" in bone:
            assert move[1] > 0.1, (bone, move)               # the foot goes back
        else:
            assert move[1] < -0.03 and move[2] > 0.03, (bone, move)   # the hand forward, up
    assert ANNY_RANGES["lowerleg01.L"][0][0] <= 0 and ANNY_RANGES["lowerarm01.L"][0][0] < 0


def _knee_elbow_angles(fit, rig) -> dict[str, np.ndarray]:
    rv = fit.bone_rotvecs.numpy()
    return {b: np.degrees(rv[rig.fit_bones.index(b)]) for b in HINGES}


@pytest.mark.parametrize("photo", ["photos/single/ryota.png",
                                   "photos/single/pexels-anete-lusina-4793258.jpg",
                                   "devset_pose/sample_0007/image.png",
                                   "devset_pose/sample_0008/image.png"])
def test_no_knee_or_elbow_bends_backwards(rig, shared_data, photo):
    fit, heads, _ = fit_photo(rig, (shared_data / photo).read_bytes())
    names = rig.bone_names
    for bone, (flex, _, off_hinge) in _knee_elbow_angles(fit, rig).items():
        assert off_hinge == 0.0, (bone, off_hinge)              # a pure hinge
        # Knees: straight at rest, never past straight; Anny's elbows rest bent ~43 degrees.
        assert flex >= (-5.0 if "leg" in bone else -45.0), (photo, bone, flex)
    # The same read off the posed joints: each ankle lies behind its thigh's line, seen
    # from the body's own side (the knee's hinge axis, the thigh bone's X).
    poses = None
    with torch.no_grad():
        _, poses = rig.pose(fit.rest, rig.deltas(fit.rest, fit.global_rot, fit.translation,
                                                 fit.bone_rotvecs))
    for side in "LR":
        hip, knee, ankle = (heads[names.index(f"{b}.{side}")]
                            for b in ("upperleg01", "lowerleg01", "foot"))
        axis = poses[names.index(f"lowerleg01.{side}"), :3, 0].numpy()
        bend = np.cross(knee - hip, ankle - knee) @ axis
        assert bend >= -2e-3 * np.linalg.norm(knee - hip) * np.linalg.norm(ankle - knee), \
            (photo, side, bend)


def _facing(global_rot: np.ndarray) -> np.ndarray:
    return global_rot @ np.array([0.0, -1.0, 0.0])       # Anny faces -Y


def _true_facing(gt) -> np.ndarray:
    return gt["R_world2cam"] @ np.array([0.0, -1.0, 0.0])


def _mirrored_png(path) -> bytes:
    import io
    buf = io.BytesIO()
    Image.open(path).transpose(Image.Transpose.FLIP_LEFT_RIGHT).save(buf, format="PNG")
    return buf.getvalue()


def test_front_back_choice_faces_the_camera_like_the_person(rig, shared_data):
    """devset sample_0009: the full landmark model reads this woman, who faces the camera,
    as seen from behind (every left landmark on her right); the face on her head makes the
    fit turn her round. Mirrored, the photo shows her facing the camera still."""
    root = shared_data / "devset_pose" / "sample_0009"
    gt = np.load(root / "gt.npz")
    true = _true_facing(gt)
    for data, want in ((root.joinpath("image.png").read_bytes(), true),
                       (_mirrored_png(root / "image.png"), true * [-1.0, 1.0, 1.0])):
        fit, _, _ = fit_photo(rig, data)
        got = _facing(fit.global_rot.numpy())
        angle = np.degrees(np.arccos(np.clip(got @ want, -1, 1)))
        assert angle < 45.0, (fit.reading, got, want)
