"""Anatomical rotation ranges of the fitted bones, as a differentiable penalty (torch).

Each fitted bone turns by an axis-angle in its own rest frame (+Y along the bone, Blender's
convention; see backend.bodies.protocol.FitRig). For Anny's Blender rig (checked by rotating
each axis and watching the child joint, tests/test_pose_limits.py):
- knees and elbows are hinges about their +X axis, +X flexes (the shin swings back, the
  forearm forward); Anny's rest elbow is already bent ~43 degrees, so the elbow may open by
  that much before it bends backwards;
- hips: -X flexes the thigh forward, +Z adducts the left leg; shoulders: +X swings the arm
  forward, +Z raises the left arm sideways;
- the right side mirrors the left: the same X ranges, Y and Z negated.
Ranges are generous (the extremes of healthy adults): the penalty is there to forbid what no
body does (a knee bending forwards, an elbow sideways), not to pull towards a typical pose.
"""

from __future__ import annotations

import math

import torch

# Left-side / central ranges in degrees, (lo, hi) per rest-frame axis (x, y twist, z).
ANNY_RANGES = {
    "spine04": ((-30, 40), (-25, 25), (-25, 25)),
    "spine02": ((-30, 40), (-25, 25), (-25, 25)),
    "spine01": ((-30, 40), (-25, 25), (-25, 25)),
    "neck01": ((-40, 40), (-45, 45), (-30, 30)),
    "head": ((-45, 45), (-60, 60), (-35, 35)),
    "clavicle.L": ((-20, 20), (-20, 20), (-20, 25)),
    "upperarm01.L": ((-60, 160), (-90, 90), (-50, 150)),
    "lowerarm01.L": ((-40, 110), (-80, 80), (-3, 3)),
    "wrist.L": ((-70, 70), (-30, 30), (-40, 40)),
    "upperleg01.L": ((-125, 35), (-45, 45), (-45, 35)),
    "lowerleg01.L": ((-3, 150), (-15, 15), (-3, 3)),
    "foot.L": ((-45, 40), (-20, 20), (-30, 30)),
}
# Bones whose off-hinge (Z) rotation is removed from the fit's freedom altogether.
HINGES = ("lowerarm01.L", "lowerarm01.R", "lowerleg01.L", "lowerleg01.R")


def _ranges(bone: str) -> tuple | None:
    if bone in ANNY_RANGES:
        return ANNY_RANGES[bone]
    if bone.endswith(".R") and bone[:-2] + ".L" in ANNY_RANGES:
        (xl, xh), (yl, yh), (zl, zh) = ANNY_RANGES[bone[:-2] + ".L"]
        return (xl, xh), (-yh, -yl), (-zh, -zl)
    return None


class JointLimits:
    """Per-axis ranges (radians) of ``bones``; bones without a known range are left free."""

    def __init__(self, bones) -> None:
        lo = torch.full((len(bones), 3), -math.inf)
        hi = torch.full((len(bones), 3), math.inf)
        hinge = torch.ones(len(bones), 3)
        for k, bone in enumerate(bones):
            r = _ranges(bone)
            if r is not None:
                lo[k] = torch.tensor([math.radians(a) for a, _ in r])
                hi[k] = torch.tensor([math.radians(b) for _, b in r])
            if bone in HINGES:
                hinge[k, 2] = 0.0
        self.lo, self.hi = lo, hi
        self.free_mask = hinge      # multiply the fitted rotvecs: hinges lose their Z freedom

    def penalty(self, rotvecs: torch.Tensor) -> torch.Tensor:
        """Sum of squared excursions (radians^2) outside the ranges; 0 inside them."""
        over = torch.relu(rotvecs - self.hi) + torch.relu(self.lo - rotvecs)
        return over.pow(2).sum()
