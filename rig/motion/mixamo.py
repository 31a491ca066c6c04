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


def armature_roles(names: list[str], parents: np.ndarray) -> dict[str, int]:
    """Role -> joint index: the structural search, overridden by Mixamo names where present."""
    roles = find_roles(names, parents)
    for i, name in enumerate(names):
        role = MIXAMO_ROLES.get(strip_prefix(name))
        if role is not None:
            roles[role] = i
    return roles
