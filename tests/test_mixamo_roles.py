"""Mixamo joint names -> SMPL roles (bpy-free): Mixamo's skeleton by its names, with or
without the mixamorig: prefix; a CMU tree that reuses some Mixamo words for other joints by
its structure."""

from __future__ import annotations

import numpy as np

from rig.motion.mixamo import armature_roles, strip_prefix

MIXAMO = [("Hips", -1), ("Spine", 0), ("Spine1", 1), ("Spine2", 2), ("Neck", 3), ("Head", 4),
          ("LeftShoulder", 3), ("LeftArm", 6), ("LeftForeArm", 7), ("LeftHand", 8),
          ("RightShoulder", 3), ("RightArm", 10), ("RightForeArm", 11), ("RightHand", 12),
          ("LeftUpLeg", 0), ("LeftLeg", 14), ("LeftFoot", 15), ("LeftToeBase", 16),
          ("RightUpLeg", 0), ("RightLeg", 18), ("RightFoot", 19), ("RightToeBase", 20)]


def _roles(tree, prefix=""):
    names = [prefix + n for n, _ in tree]
    roles = armature_roles(names, np.array([p for _, p in tree]))
    return {r: strip_prefix(names[i]) for r, i in roles.items()}


def test_mixamo_names_with_and_without_prefix():
    for prefix in ("mixamorig:", "mixamorig1:", "mixamorig_", ""):
        roles = _roles(MIXAMO, prefix)
        assert roles["left_collar"] == "LeftShoulder" and roles["left_shoulder"] == "LeftArm"
        assert roles["spine1"] == "Spine" and roles["spine3"] == "Spine2"
        assert roles["neck"] == "Neck" and roles["right_foot"] == "RightToeBase"
        assert len(roles) == 22


def test_cmu_names_are_read_by_structure():
    # CMU's 131 files: "LeftShoulder" is the upper arm, "LeftCollar" the collar.
    cmu = [("Hips", -1), ("Chest", 0), ("Neck", 1), ("Head", 2), ("LeftCollar", 1),
           ("LeftShoulder", 4), ("LeftElbow", 5), ("LeftWrist", 6), ("RightCollar", 1),
           ("RightShoulder", 8), ("RightElbow", 9), ("RightWrist", 10), ("LeftHip", 0),
           ("LeftKnee", 12), ("LeftAnkle", 13), ("RightHip", 0), ("RightKnee", 15),
           ("RightAnkle", 16)]
    roles = _roles(cmu, "mixamorig:")
    assert roles["left_collar"] == "LeftCollar" and roles["left_shoulder"] == "LeftShoulder"
    assert roles["left_hip"] == "LeftHip" and roles["neck"] == "Neck"
