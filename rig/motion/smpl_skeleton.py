"""The SMPL family's joint trees (SMPL, SMPL+H, SMPL-X) with a fixed T-pose rest skeleton.

The body offsets are the SMPL male template's rest joints (J_regressor applied to the
template mesh), each relative to its parent, metres, SMPL axes (Y up, +Z forward, +X the
body's left), as tabulated in public SMPL->BVH converters. A clip's own ``betas`` move joints
by a few centimetres; retargeting only uses bone directions and a leg-length ratio, which
that barely changes. Finger, jaw and eye offsets are rough placements: those joints are
retargeted by rotation only, so their rest positions matter only for drawing the source.
"""

from __future__ import annotations

import numpy as np

from .source import BODY_ROLES, SourceSkeleton

# Pelvis rest position in the template (SMPL axes). SMPL rotates the root about it, so the
# pelvis sits at ``trans + PELVIS_REST`` in the clip's world.
PELVIS_REST = np.array([0.0022, -0.2408, 0.0286])

BODY_PARENTS = (-1, 0, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 9, 9, 12, 13, 14, 16, 17, 18, 19)

BODY_OFFSETS = np.array([
    [0.0, 0.0, 0.0],                            # pelvis
    [0.05858135, -0.07485655, -0.01076985],     # left_hip
    [-0.06030973, -0.07470079, -0.01263084],    # right_hip
    [0.00443945, 0.13255003, -0.02336406],      # spine1
    [0.04546878, -0.38555849, 0.01662963],      # left_knee
    [-0.04634289, -0.39276251, 0.01633527],     # right_knee
    [0.00448844, 0.13459153, -0.01103504],      # spine2
    [0.00979727, -0.42672321, -0.03810842],     # left_ankle
    [-0.01183556, -0.42878771, -0.03554174],    # right_ankle
    [0.00226459, 0.13054353, -0.02166699],      # spine3
    [0.04660314, -0.07542279, 0.11749724],      # left_foot (toe base)
    [-0.04618765, -0.07062489, 0.11656886],     # right_foot
    [-0.00164673, 0.13783935, 0.01898734],      # neck
    [0.08272535, 0.05886477, -0.01755913],      # left_collar
    [-0.08182963, 0.06202167, -0.01777013],     # right_collar
    [0.00511599, 0.09349814, 0.0415392],        # head
    [0.11470433, -0.02237064, -0.00898711],     # left_shoulder
    [-0.11905067, -0.02230303, -0.01358364],    # right_shoulder
    [0.26477611, -0.01323386, -0.02337774],     # left_elbow
    [-0.26622838, -0.01423405, -0.02989299],    # right_elbow
    [0.24522966, -0.01235123, -0.01189334],     # left_wrist
    [-0.25203794, -0.01309325, -0.01449627],    # right_wrist
])

FINGERS = ("index", "middle", "pinky", "ring", "thumb")     # SMPL+H / SMPL-X hand order
# Knuckle offsets from the wrist for the left hand (x along the T-pose arm); rough.
_KNUCKLES = {"index": (0.09, 0.0, 0.03), "middle": (0.095, 0.0, 0.01),
             "pinky": (0.08, -0.01, -0.035), "ring": (0.09, -0.005, -0.015),
             "thumb": (0.03, -0.015, 0.04)}
_PHALANX = {"index": 0.03, "middle": 0.033, "pinky": 0.022, "ring": 0.03, "thumb": 0.03}


def _hand(side: str, wrist: int, start: int) -> tuple[list[str], list[int], list[np.ndarray]]:
    sign = 1.0 if side == "left" else -1.0
    names, parents, offsets = [], [], []
    for f in FINGERS:
        for k in (1, 2, 3):
            idx = start + len(names)
            names.append(f"{side}_{f}{k}")
            parents.append(wrist if k == 1 else idx - 1)
            if k == 1:
                kx, ky, kz = _KNUCKLES[f]
                offsets.append(np.array([sign * kx, ky, kz]))
            elif f == "thumb":
                offsets.append(np.array([sign * _PHALANX[f] * 0.7, 0.0, _PHALANX[f] * 0.7]))
            else:
                offsets.append(np.array([sign * _PHALANX[f], 0.0, 0.0]))
    return names, parents, offsets


def smpl_family_skeleton(kind: str) -> SourceSkeleton:
    """Rest skeleton in SMPL axes for kind "smpl" (24 joints), "smplh" (52), "smplx" (55) or
    "body" (22). Convert to Blender axes with ``source.reframe``."""
    names = list(BODY_ROLES)
    parents = list(BODY_PARENTS)
    offsets = list(BODY_OFFSETS)
    if kind == "smpl":
        names += ["left_hand", "right_hand"]
        parents += [20, 21]
        offsets += [np.array([0.0848, -0.0104, -0.0132]), np.array([-0.0858, -0.0103, -0.0146])]
    elif kind == "smplx":
        names += ["jaw", "left_eye", "right_eye"]
        parents += [15, 15, 15]
        offsets += [np.array([0.0, -0.01, 0.05]), np.array([0.03, 0.06, 0.08]),
                    np.array([-0.03, 0.06, 0.08])]
    if kind in ("smplh", "smplx"):
        for side, wrist in (("left", 20), ("right", 21)):
            n, p, o = _hand(side, wrist, len(names))
            names += n
            parents += p
            offsets += o
    parents_arr = np.array(parents, dtype=np.int64)
    rest = np.zeros((len(names), 3))
    rest[0] = PELVIS_REST
    for i in range(1, len(names)):
        rest[i] = rest[parents_arr[i]] + offsets[i]
    roles = {name: i for i, name in enumerate(names)}
    return SourceSkeleton(names=names, parents=parents_arr, rest=rest, roles=roles)
