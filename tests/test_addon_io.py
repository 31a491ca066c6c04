"""The add-on's bpy-free half: mesh/skin arrays, bone rolls, rotations, photo camera."""

from __future__ import annotations

import numpy as np
import pytest

from rig.bone_frames import bone_rolls, roll_frames, zero_roll_frames
from rig.kinematics import posed_bone_matrices
from rig.rotations import from_matrix as matrix_to_quat, to_matrix as quat_to_matrix
from blender_addon.io.camera_params import camera_settings, project_points
from blender_addon.io.mesh_arrays import mesh_arrays, skin_pairs


def random_rotations(n: int, seed: int = 0) -> np.ndarray:
    q = np.random.default_rng(seed).normal(size=(n, 4))
    return quat_to_matrix(q)


def test_mesh_arrays_flatten_the_anny_body(anny_avatar):
    lay = anny_avatar.layer("body")
    arrays = mesh_arrays(lay.vertices, lay.faces, lay.uvs)
    # 27420 triangles less Anny's own eyeballs and tongue (the face layers replace them)
    assert arrays.vertex_count == 13718 and arrays.face_count == 26692
    assert arrays.corner_count == 3 * 26692
    # Corner i of face f is faces[f, i]; UV of that corner is uvs[f, i].
    f = 12345
    start = arrays.face_starts[f]
    np.testing.assert_array_equal(arrays.corner_verts[start:start + 3], lay.faces[f])
    np.testing.assert_array_equal(arrays.corner_uvs.reshape(-1, 2)[start:start + 3], lay.uvs[f])
    assert arrays.positions.dtype == np.float32 and arrays.corner_verts.dtype == np.int32


def test_mesh_arrays_quads_without_uvs():
    faces = np.array([[0, 1, 2, 3], [1, 4, 5, 2]])
    arrays = mesh_arrays(np.zeros((6, 3)), faces)
    np.testing.assert_array_equal(arrays.face_starts, [0, 4])
    assert arrays.corner_uvs is None and arrays.corner_count == 8


def test_skin_pairs_keep_every_anny_weight_and_sum_to_one(anny_avatar):
    lay = anny_avatar.layer("body")
    pairs = skin_pairs(lay.skin_indices, lay.skin_weights)
    v_count, b_count = lay.vertices.shape[0], anny_avatar.skeleton.bone_count
    dense = np.zeros((v_count, b_count))
    np.add.at(dense, (pairs.vertices, pairs.bones), pairs.weights)
    np.testing.assert_allclose(dense.sum(1), 1.0, atol=1e-5)
    expected = np.zeros((v_count, b_count))
    np.add.at(expected, (np.repeat(np.arange(v_count), lay.skin_indices.shape[1]),
                         lay.skin_indices.ravel()), lay.skin_weights.ravel())
    np.testing.assert_allclose(dense, expected / expected.sum(1, keepdims=True), atol=1e-5)
    assert np.all(np.diff(pairs.bones) >= 0)
    slices = pairs.bone_slices(b_count)
    assert sum(s.stop - s.start for s in slices) == len(pairs.weights)
    assert all(np.all(pairs.bones[s] == b) for b, s in enumerate(slices))


def test_skin_pairs_merge_repeated_bones_and_drop_zero_weights():
    idx = np.array([[2, 2, 0], [1, 0, 0]])
    w = np.array([[0.25, 0.25, 0.0], [0.5, 0.5, 0.0]], dtype=np.float32)
    pairs = skin_pairs(idx, w)
    got = sorted(zip(pairs.vertices.tolist(), pairs.bones.tolist(),
                     np.round(pairs.weights, 6).tolist()))
    assert got == [(0, 2, 1.0), (1, 0, 0.5), (1, 1, 0.5)]


def test_bone_rolls_rebuild_the_anny_rest_frames(anny_avatar):
    sk = anny_avatar.skeleton
    frames = roll_frames(sk.heads, sk.tails, bone_rolls(sk.matrices))
    np.testing.assert_allclose(frames, sk.matrices, atol=1e-4)


@pytest.mark.parametrize("y_axis", [(0, 1, 0), (0, -1, 0), (1, 0, 0), (0, 0, -1),
                                    (1e-5, -1, 0), (0.3, -0.95, 0.1)])
def test_bone_rolls_round_trip_in_every_direction(y_axis):
    y = np.asarray(y_axis, float) / np.linalg.norm(y_axis)
    zero = zero_roll_frames(y[None])[0]
    np.testing.assert_allclose(zero.T @ zero, np.eye(3), atol=1e-6)
    np.testing.assert_allclose(zero[:, 1], y, atol=1e-4)   # Blender snaps near -Y
    for roll in (-2.5, -0.3, 0.0, 1.0, 3.0):
        frame = roll_frames(np.zeros((1, 3)), y[None], np.array([roll]))
        np.testing.assert_allclose(bone_rolls(frame), [roll], atol=1e-5)


def test_quaternions_round_trip_and_match_axis_angle():
    mats = random_rotations(200)
    np.testing.assert_allclose(quat_to_matrix(matrix_to_quat(mats)), mats, atol=1e-9)
    # 90 degrees about Z takes +X to +Y.
    q = np.array([np.cos(np.pi / 4), 0, 0, np.sin(np.pi / 4)])
    np.testing.assert_allclose(quat_to_matrix(q) @ [1, 0, 0], [0, 1, 0], atol=1e-12)


def test_posed_bone_matrices_rest_pose_and_a_bent_child():
    rest = np.tile(np.eye(4), (2, 1, 1))
    rest[1, :3, 3] = [0, 1, 0]                       # child one metre along the parent's +Y
    ident = np.tile([1.0, 0, 0, 0], (2, 1))
    np.testing.assert_allclose(posed_bone_matrices(rest, np.array([-1, 0]), ident), rest)
    turn = ident.copy()
    turn[0] = [np.cos(np.pi / 4), 0, 0, np.sin(np.pi / 4)]   # parent turns 90 degrees about Z
    posed = posed_bone_matrices(rest, np.array([-1, 0]), turn, root_location=[0, 0, 2])
    np.testing.assert_allclose(posed[1, :3, 3], [-1, 0, 2], atol=1e-12)


def test_camera_settings_reproduce_a_pinhole_projection():
    # Camera 3 m in front of the origin (at -Y), looking at it along +Y, Z up.
    world_from_cam = np.array([[1, 0, 0, 0], [0, 0, 1, -3], [0, -1, 0, 1], [0, 0, 0, 1.0]])
    fx = fy = 1200.0
    cx, cy, w, h = 300.0, 500.0, 640, 960
    s = camera_settings(fx, fy, cx, cy, w, h, world_from_cam)
    pts = np.random.default_rng(1).uniform(-0.5, 0.5, size=(20, 3)) + [0, 0, 1]
    # The same points through an OpenCV pinhole (x right, y down, z forward).
    cam = (pts - world_from_cam[:3, 3]) @ world_from_cam[:3, :3]
    cv = cam * [1, -1, -1]
    expected = np.stack([fx * cv[:, 0] / cv[:, 2] + cx, fy * cv[:, 1] / cv[:, 2] + cy], 1)
    np.testing.assert_allclose(project_points(s, pts), expected, atol=1e-6)
    assert s.lens_mm == pytest.approx(1200 * 36 / 640)
