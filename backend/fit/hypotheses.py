"""The two readings of one detection that 2D keypoints cannot tell apart, tried by the fit.

A single view leaves the front/back ambiguity: the same pixels fit a body turned towards the
camera and the same body turned round (every landmark's depth mirrored, left and right
labels swapped, which is a half turn about the vertical: the 3D anatomy is unchanged). The
detector sometimes settles it wrongly: BlazePose now and then reads a person facing the
camera as one seen from behind (every "left" landmark on the person's right side), and
its 3D landmarks then describe the turned-round body consistently. Swapping the labels
alone (keeping the depths) was tried too: it breaks the anatomy (knees bending forwards,
toes pointing back) and lost on every devset photo.

Nothing in the landmarks tells the two readings apart; a face seen on the head does
(PersonObservation.face_score), which body_fit.py scores against the fitted head's facing.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from ..perception import LANDMARKS, PersonObservation

# Landmark index of each landmark's other-side twin (itself for the nose).
MIRROR = np.array([LANDMARKS.index(n.replace("left", "#").replace("right", "left")
                                   .replace("#", "right")) for n in LANDMARKS])

READINGS = ("as detected", "turned round")


def reading(obs: PersonObservation, name: str) -> PersonObservation:
    """``obs`` under one of READINGS."""
    if name == READINGS[0]:
        return obs
    if name != READINGS[1]:
        raise ValueError(f"unknown reading {name!r}")
    return replace(obs, keypoints=obs.keypoints[MIRROR], visibility=obs.visibility[MIRROR],
                   world=obs.world[MIRROR] * np.array([1.0, 1.0, -1.0], np.float32))
