"""The rig core's kinematics and skinning: one implementation, checked against independent
references (scipy rotations, a per-frame loop, Anny's own torch forward pass)."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.spatial.transform import Rotation

from protocol import Pose
from rig import rotations as Q
from rig.avatar_pose import posed_layer_vertices, skinning_matrices
from rig.kinematics import posed_bone_matrices
from rig.motion import load_motion, world_transforms
from rig.skinning import top_k_weights


def random_skeleton(n: int, seed: int = 0):
    rng = np.random.default_rng(seed)
    parents = np.array([-1] + [int(rng.integers(0, i)) for i in range(1, n)])
    rest = np.tile(np.eye(4), (n, 1, 1))
    rest[:, :3, :3] = Rotation.random(n, random_state=seed).as_matrix()
    rest[:, :3, 3] = rng.normal(size=(n, 3))
    return rest, parents


def reference_fk(rest, parents, quats, loc):
    """Blender's rule bone by bone with scipy rotations: G_b = G_p R_p^-1 R_b L_b."""
    out = np.zeros_like(rest)
    for b, p in enumerate(parents):
        local = np.eye(4)
        local[:3, :3] = Rotation.from_quat(quats[b][[1, 2, 3, 0]]).as_matrix()
        if p < 0:
            out[b] = rest[b] @ local
            out[b, :3, 3] += loc
        else:
            out[b] = out[p] @ np.linalg.inv(rest[p]) @ rest[b] @ local
    return out


def test_forward_kinematics_matches_blenders_rule_and_broadcasts_over_frames():
    rest, parents = random_skeleton(12)
    rng = np.random.default_rng(1)
    quats = rng.normal(size=(5, 12, 4))
    loc = rng.normal(size=(5, 3))
    batched = posed_bone_matrices(rest, parents, quats, loc)
    assert batched.shape == (5, 12, 4, 4)
    for t in range(5):
        np.testing.assert_allclose(batched[t], reference_fk(rest, parents, quats[t], loc[t]),
                                   atol=1e-10)


def test_source_motion_forward_kinematics_keeps_bone_lengths_and_root_path(shared_data):
    clip = load_motion(shared_data / "motions" / "bvh" / "walk.bvh")
    rot, pos = world_transforms(clip)
    sk = clip.skeleton
    child = np.nonzero(sk.parents >= 0)[0]
    rest_len = np.linalg.norm(sk.rest[child] - sk.rest[sk.parents[child]], axis=1)
    posed_len = np.linalg.norm(pos[:, child] - pos[:, sk.parents[child]], axis=2)
    np.testing.assert_allclose(posed_len, np.broadcast_to(rest_len, posed_len.shape), atol=1e-9)
    np.testing.assert_allclose(pos[:, 0], clip.root_position, atol=1e-12)
    # World rotation of a child = parent world rotation * local rotation (quaternion chain).
    j = child[3]
    want = Q.multiply(rot[:, sk.parents[j]], clip.rotations[:, j])
    dots = np.abs(np.sum(Q.normalize(want) * rot[:, j], axis=-1))
    assert dots.min() > 1 - 1e-9


def test_top_k_weights_keep_the_largest_and_bind_every_vertex():
    dense = np.array([[0.1, 0.5, 0.0, 0.4], [0.0, 0.0, 0.0, 0.0], [-0.2, 0.3, 0.1, 0.0]])
    idx, w = top_k_weights(dense, 2)
    assert idx.tolist() == [[1, 3], [0, 1], [1, 2]]
    np.testing.assert_allclose(w.sum(1), 1.0, rtol=1e-6)
    np.testing.assert_allclose(w[0], [5 / 9, 4 / 9], rtol=1e-6)
    assert w[1].tolist() == [1.0, 0.0]            # unweighted vertex -> first bone, not lost


def test_numpy_skinning_equals_annys_own_torch_forward_pass(anny_avatar):
    """The generator's poke-through checks pose with Anny's torch model; the rig core must
    move the same bones the same way (the torch twin of FK/LBS)."""
    from backend.generate.posing import FIXED_POSES, bone_transforms, local_rotations
    pose = FIXED_POSES["walk"]
    torch_skin, torch_body = bone_transforms(anny_avatar, pose)
    quats = local_rotations(anny_avatar, pose)
    ours = skinning_matrices(anny_avatar.skeleton, Pose(quats.astype(np.float32),
                                                          np.zeros(3, np.float32)))
    np.testing.assert_allclose(ours, torch_skin, atol=2e-4)
    body = posed_layer_vertices(anny_avatar.skeleton, Pose(quats.astype(np.float32),
                                                           np.zeros(3, np.float32)),
                                anny_avatar.layer("body"))
    # Anny's own skinning has the same weights: the bodies agree to well under a millimetre.
    assert np.abs(body - torch_body).max() < 1e-3


@pytest.mark.parametrize("bad", [np.zeros(4), np.array([0.0, 0.0, 0.0, 2.0])])
def test_degenerate_quaternions_follow_blender(bad):
    m = Q.to_matrix(bad)
    if not bad.any():
        np.testing.assert_allclose(m, np.eye(3))
    else:
        np.testing.assert_allclose(m @ m.T, np.eye(3), atol=1e-12)


def test_a_zero_pose_quaternion_is_no_rotation_down_the_whole_chain():
    rest, parents = random_skeleton(6, seed=3)
    quats = np.random.default_rng(4).normal(size=(6, 4))
    zeroed = quats.copy()
    zeroed[2] = 0.0
    ident = quats.copy()
    ident[2] = [1.0, 0.0, 0.0, 0.0]
    np.testing.assert_allclose(posed_bone_matrices(rest, parents, zeroed),
                               posed_bone_matrices(rest, parents, ident), atol=1e-12)
