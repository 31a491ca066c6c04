"""Mixamo's skeleton names (``mixamorig:Hips`` ...) and the SMPL roles they play.

Mixamo names are fixed, so its joints are found by name; any other skeleton read from an FBX
falls back on the structural search BVH files use (bvh_roles.find_roles).
"""

from __future__ import annotations

import re

import numpy as np

from .bvh_roles import find_roles

# Mixamo joint name (prefix removed) -> SMPL role. Mixamo's "Shoulder" is the collar bone
# and its "Arm" the upper arm.
MIXAMO_ROLES = {
    "Hips": "pelvis", "Spine": "spine1", "Spine1": "spine2", "Spine2": "spine3",
    "Neck": "neck", "Head": "head",
    **{f"{side.capitalize()}{joint}": f"{side}_{role}" for side in ("left", "right")
       for joint, role in (("UpLeg", "hip"), ("Leg", "knee"), ("Foot", "ankle"),
                           ("ToeBase", "foot"), ("Shoulder", "collar"), ("Arm", "shoulder"),
                           ("ForeArm", "elbow"), ("Hand", "wrist"))},
}


def strip_prefix(name: str) -> str:
    """'mixamorig:LeftArm', 'mixamorig1:LeftArm', 'mixamorig_LeftArm' -> 'LeftArm'."""
    name = name.rsplit(":", 1)[-1]
    return re.sub(r"^mixamorig\d*_", "", name)


# Joints every Mixamo skeleton has. Names alone are not enough: in some CMU files
# "LeftShoulder" is the upper arm and "Neck" the upper neck, so the table applies only to
# a skeleton that has Mixamo's whole limb naming.
MIXAMO_CORE = {"Hips", *(f"{side}{joint}" for side in ("Left", "Right")
                         for joint in ("UpLeg", "Leg", "Foot", "Arm", "ForeArm", "Hand"))}


def armature_roles(names: list[str], parents: np.ndarray) -> dict[str, int]:
    """Role -> joint index: the structural search, overridden by Mixamo's names on a
    Mixamo skeleton."""
    roles = find_roles(names, parents)
    if not MIXAMO_CORE <= {strip_prefix(n) for n in names}:
        return roles
    for i, name in enumerate(names):
        role = MIXAMO_ROLES.get(strip_prefix(name))
        if role is not None:
            roles[role] = i
    return roles
