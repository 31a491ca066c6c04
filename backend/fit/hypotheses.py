"""The readings of one detection that 2D keypoints cannot tell apart, tried one by one by the fit.

A single view leaves two ambiguities the detector sometimes resolves wrongly:
- left/right: BlazePose now and then labels a person facing the camera as one seen from
  behind (every left landmark on the person's right side); swapping the labels turns them
  round while keeping each landmark's pixel and 3D position;
- facing: the same pixels fit a body turned towards the camera or away from it, with every
  depth mirrored (front/back of the body swap).
The fitter runs a short fit of each reading and keeps the one that explains image + body
prior best (body_fit.py).
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from ..perception import LANDMARKS, PersonObservation

# Landmark index of each landmark's other-side twin (itself for the nose).
MIRROR = np.array([LANDMARKS.index(n.replace("left", "#").replace("right", "left")
                                   .replace("#", "right")) for n in LANDMARKS])

READINGS = ("as detected", "sides swapped", "depth mirrored", "sides swapped, depth mirrored")


def reading(obs: PersonObservation, name: str) -> PersonObservation:
    """``obs`` under one of READINGS."""
    if name not in READINGS:
        raise ValueError(f"unknown reading {name!r}")
    out = obs
    if "swapped" in name:
        out = replace(out, keypoints=out.keypoints[MIRROR], visibility=out.visibility[MIRROR],
                      world=out.world[MIRROR])
    if "mirrored" in name:
        out = replace(out, world=out.world * np.array([1.0, 1.0, -1.0], np.float32))
    return out
