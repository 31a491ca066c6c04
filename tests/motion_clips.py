"""Shared pieces of the bpy-free motion tests (test_motion_loading, test_motion_resample,
test_motion_retarget): the real clips from ../shared/data/motions they use, fixtures that
load and retarget them onto the Anny avatar, and the posed-skeleton measures they compare."""

from __future__ import annotations

import numpy as np
import pytest

from rig.motion import prepare_clip
from rig.motion.target_pose import TargetRest, posed_bones

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
    """Each standing/walking clip retargeted at 30 fps, computed once per test module."""
    return {name: prepare_clip(motions / name, skeleton, 30.0) for name in STANDING_OR_WALKING}


def posed_heads_tails(skeleton, clip):
    """(T, B, 3) armature-space heads and tails of ``skeleton``'s bones under ``clip``."""
    target = TargetRest.from_skeleton(skeleton)
    return posed_bones(target, clip.rotations.astype(np.float64),
                       clip.root_location.astype(np.float64))


def angle_deg(a, b):
    """Degrees between vectors a and b (..., 3)."""
    cos = np.sum(a * b, -1) / (np.linalg.norm(a, axis=-1) * np.linalg.norm(b, axis=-1))
    return np.degrees(np.arccos(np.clip(cos, -1.0, 1.0)))
