"""Two-bone IK (rig/ik.py) that plants feet: the end lands on a reachable target, segment
lengths never change, the knee bends in its own plane, and an unreachable target gets the
limb stretched straight towards it."""

from __future__ import annotations

import numpy as np

from rig import rotations as Q
from rig.ik import two_bone_ik


def _limbs(n, seed=0):
    rng = np.random.default_rng(seed)
    a = rng.normal(size=(n, 3))
    b = a + rng.normal(size=(n, 3)) * 0.4
    c = b + rng.normal(size=(n, 3)) * 0.4
    return a, b, c


def _solve(a, b, c, target):
    upper, lower = two_bone_ik(a, b, c, target)
    b2 = a + Q.rotate(upper, b - a)
    c2 = b2 + Q.rotate(Q.multiply(upper, lower), c - b)
    return b2, c2


def test_reachable_targets_are_reached_with_lengths_kept():
    a, b, c = _limbs(200)
    rng = np.random.default_rng(1)
    l1, l2 = np.linalg.norm(b - a, axis=1), np.linalg.norm(c - b, axis=1)
    direction = rng.normal(size=(200, 3))
    direction /= np.linalg.norm(direction, axis=1, keepdims=True)
    dist = np.abs(l1 - l2) + rng.uniform(0.05, 0.95, 200) * (l1 + l2 - np.abs(l1 - l2))
    target = a + direction * dist[:, None]
    b2, c2 = _solve(a, b, c, target)
    assert np.abs(c2 - target).max() < 1e-6
    assert np.allclose(np.linalg.norm(b2 - a, axis=1), l1)
    assert np.allclose(np.linalg.norm(c2 - b2, axis=1), l2)


def test_small_correction_keeps_the_knee_in_its_plane():
    a = np.array([[0.0, 0.0, 0.9]])
    b = np.array([[0.0, -0.05, 0.5]])                 # knee a little forward
    c = np.array([[0.0, 0.0, 0.08]])
    b2, c2 = _solve(a, b, c, c + [0.0, 0.0, 0.03])    # lift the ankle 3 cm
    assert np.allclose(c2, c + [0.0, 0.0, 0.03])
    assert abs(b2[0, 0]) < 1e-9 and b2[0, 1] < b[0, 1]   # bends further forward, no splay


def test_unreachable_target_stretches_towards_it():
    a, b, c = _limbs(50, seed=3)
    l1, l2 = np.linalg.norm(b - a, axis=1), np.linalg.norm(c - b, axis=1)
    far = a + (c - a) / np.linalg.norm(c - a, axis=1, keepdims=True) * (2 * (l1 + l2))[:, None]
    _, c2 = _solve(a, b, c, far)
    got = np.linalg.norm(c2 - a, axis=1)
    assert np.allclose(got, l1 + l2, atol=1e-5)
    cos = np.sum((c2 - a) * (far - a), 1) / (got * np.linalg.norm(far - a, axis=1))
    assert (cos > 1 - 1e-9).all()


def test_a_straight_leg_bends_its_knee_forward():
    """Perfectly straight (a T-pose frame): no bend plane, so the fallback axis decides; the
    body's left-right axis bends the knee forward (-Y), even for a body turned 90 degrees."""
    a, b, c = np.array([[0.0, 0, 0.9]]), np.array([[0.0, 0, 0.5]]), np.array([[0.0, 0, 0.1]])
    b2, c2 = _solve(a, b, c, c + [0.0, 0.0, 0.05])
    assert np.allclose(c2, c + [0.0, 0.0, 0.05]) and b2[0, 1] < -0.05 and abs(b2[0, 0]) < 1e-9
    upper, lower = two_bone_ik(a, b, c, c + [0.0, 0.0, 0.05], fallback_axis=[0.0, 1.0, 0.0])
    knee = a + Q.rotate(upper, b - a)                 # facing +X: lateral is +Y
    assert knee[0, 0] > 0.05 and abs(knee[0, 1]) < 1e-9


def test_a_nearly_straight_knee_bends_forward_whichever_way_noise_tips_it():
    """A straight mocap leg's bend plane is noise: a tenth of a millimetre either side of
    straight must not decide between a knee bending forward and one bending backwards."""
    hip = np.zeros((2, 3))
    ankle = np.tile([0.0, 0.0, -0.9], (2, 1))
    knee = np.array([[0.0, -0.0001, -0.45], [0.0, 0.0001, -0.45]])   # forward / backward by noise
    target = ankle + [0.0, 0.0, 0.05]                                  # needs a 5 cm bend
    upper, lower = two_bone_ik(hip, knee, ankle, target, fallback_axis=[1.0, 0.0, 0.0])
    new_knee = hip + Q.rotate(upper, knee - hip)
    assert (new_knee[:, 1] < -0.05).all(), new_knee        # both knees forward (-Y), not back
    np.testing.assert_allclose(new_knee[0], new_knee[1], atol=2e-3)
