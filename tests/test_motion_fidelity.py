"""Retargeted clips judged against references that are not the retargeter's own maths
(issue 15): BVH bone directions against Blender's own BVH importer (real bpy), feet on the
avatar's skinned mesh against the floor, for every shared clip, on the default Anny avatar
and on a child-sized one."""

from __future__ import annotations

import numpy as np
import pytest

import bpy  # noqa: F401  (a missing bpy fails the run, never skips it)

from benchmarks.motion_quality import (GROUPS, bvh_direction_errors, feet_report,
                                       group_summary, mesh_feet)
from conftest import SHARED_DATA
from rig.motion import load_motion, prepare_clip

SHARED = SHARED_DATA / "motions"
BVHS = sorted(p.name for p in (SHARED / "bvh").glob("*.bvh"))
AMASS = sorted(p.name for p in (SHARED / "amass").glob("*.npz"))
CLIPS = [f"bvh/{n}" for n in BVHS] + [f"amass/{n}" for n in AMASS]

pytestmark = pytest.mark.blender


@pytest.fixture(scope="module")
def child_avatar():
    """A child-sized Anny (age 0.2: about 1.1 m tall, legs 0.53 m)."""
    from backend.jobs import JobContext, get_job
    return get_job("body")({"name": "Child", "params": {"age": 0.2}}, {}, JobContext("test"))


def test_shared_clips_are_there(shared_data):
    assert len(BVHS) >= 5 and len(AMASS) >= 3


@pytest.mark.parametrize("name", BVHS)
def test_bvh_directions_match_blenders_importer(shared_data, anny_avatar, name):
    """Spine (hip centre -> neck), neck, head (head joint -> its end site), arms and legs
    point where Blender's own import of the file points them, frame by frame."""
    path = shared_data / "motions" / "bvh" / name
    roles = load_motion(path).skeleton
    names = {r: roles.names[j] for r, j in roles.roles.items()}
    # The joints compared are the ones a person would pick in a CMU file.
    assert names["head"] == "Head" and names["head_end"] == "Head_end"
    assert names["left_knee"] in ("LeftLeg", "LeftKnee")
    assert names["left_elbow"] in ("LeftForeArm", "LeftElbow")
    errors, _ = bvh_direction_errors(path, anny_avatar)
    summary = group_summary(errors)
    assert set(summary) == set(GROUPS)
    for group, (median, worst) in summary.items():
        assert median <= 5.0 and worst <= 15.0, (name, group, median, worst)


@pytest.mark.parametrize("body", ["adult", "child"])
@pytest.mark.parametrize("name", CLIPS)
def test_feet_grounded_and_planted(shared_data, anny_avatar, child_avatar, body, name):
    """In the source's contact frames the lowest point of the skinned feet is on z = 0
    (within 1 cm in >= 95 % of them), never more than 1 cm under it in any frame, and a
    planted foot drifts less than 1 cm."""
    avatar = anny_avatar if body == "adult" else child_avatar
    clip = prepare_clip(shared_data / "motions" / name, avatar.skeleton, 30.0,
                        feet=mesh_feet(avatar))
    assert clip.method == "retarget" and clip.contacts.shape == (clip.frame_count, 2)
    report = feet_report(avatar, clip)
    assert report["contact_frames"] >= 0.2 * clip.frame_count, "contacts were found"
    assert report["within_1cm"] >= 0.95, report["within_1cm"]
    assert report["lowest_m"] >= -0.01, report["lowest_m"]
    assert report["drift_m"] < 0.01, report["drift_m"]


def test_contacts_follow_the_source_feet(shared_data, anny_avatar):
    """A walk has each foot down part of the time and in the air part of the time,
    alternating; a contact foot in the source is slow."""
    clip = prepare_clip(shared_data / "motions" / "bvh" / "walk.bvh", anny_avatar.skeleton,
                        30.0)
    share = clip.contacts[1:].mean(0)              # frame 0 is the file's rest pose
    assert ((share > 0.2) & (share < 0.8)).all(), share
    assert (clip.contacts[1:, 0] != clip.contacts[1:, 1]).mean() > 0.4


def test_plant_feet_removes_sliding_and_off_keeps_the_source(shared_data, anny_avatar):
    """Plant Feet off: feet slide as the clip's do (more than 1 cm somewhere) but still
    stand on the floor; on: they hold still."""
    path = shared_data / "motions" / "bvh" / "131_03.bvh"
    feet = mesh_feet(anny_avatar)
    loose = feet_report(anny_avatar, prepare_clip(path, anny_avatar.skeleton, 30.0, feet=feet,
                                                  plant_feet=False))
    held = feet_report(anny_avatar, prepare_clip(path, anny_avatar.skeleton, 30.0, feet=feet))
    assert loose["drift_m"] > 0.01 and held["drift_m"] < 0.01
    assert loose["within_1cm"] >= 0.95 and loose["lowest_m"] >= -0.01


def test_bone_feet_without_a_mesh_stay_near_the_floor(shared_data, anny_avatar):
    """Without the mesh (a bare skeleton), the sole points come from the foot and toe bones:
    the skinned feet then stay within 2 cm of the floor in contact."""
    clip = prepare_clip(shared_data / "motions" / "bvh" / "walk.bvh", anny_avatar.skeleton,
                        30.0)
    report = feet_report(anny_avatar, clip)
    assert report["within_2cm"] >= 0.95 and report["lowest_m"] >= -0.03


def test_height_of_the_body_ignores_the_source_floor_drift(shared_data, anny_avatar):
    """CMU feet climb several cm over a take (131_01: the planted toe tips rise ~5 cm from the
    first quarter to the last); the avatar's planted feet stay on the floor throughout."""
    from rig.motion import world_transforms
    path = shared_data / "motions" / "bvh" / "131_01.bvh"
    clip = prepare_clip(path, anny_avatar.skeleton, 30.0, feet=mesh_feet(anny_avatar))
    _, joints = world_transforms(clip.source)
    roles = clip.source.skeleton.roles
    tips = joints[:, [roles["left_toe_end"], roles["right_toe_end"]], 2]
    quarter = clip.frame_count // 4
    climb = (np.median(tips[-quarter:][clip.contacts[-quarter:]])
             - np.median(tips[:quarter][clip.contacts[:quarter]]))
    assert climb > 0.03, climb                           # the source's floor drifts
    report = feet_report(anny_avatar, clip)
    low = report["low"][report["contacts"]]
    assert np.abs(low).max() < 0.01
    assert abs(np.median(low[:quarter]) - np.median(low[-quarter:])) < 0.005
