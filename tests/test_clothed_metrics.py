"""The clothed-avatar metrics (benchmarks/clothed_metrics.py) on devset_clothed's exact truth,
and the camera-space mesh they read: every worn layer of the avatar, posed."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
DEVSET = ROOT.parent / "shared" / "data" / "devset_clothed"
sys.path.append(str(ROOT / "benchmarks"))

import clothed_metrics as cm

pytestmark = pytest.mark.skipif(not DEVSET.exists(), reason="devset_clothed not present")


@pytest.fixture(scope="module")
def dress():
    """sample_0007: a flared dress, the outfit furthest from the body underneath."""
    return cm.load_truth(DEVSET / "sample_0007", "dress", "short")


def _score(truth, v, tri=None, K=None):
    K = truth.K if K is None else K
    return cm.clothed_metrics(v, truth.tri if tri is None else tri, K[0, 0], K[1, 1], K[0, 2],
                              K[1, 2], truth)


def test_the_true_clothed_mesh_scores_as_perfect(dress):
    m = _score(dress, dress.vertices)
    assert m["iou_front"] > 0.98                 # polygon fill vs the renderer's mask
    for key in ("iou_side90", "iou_back180", "iou_side270", "iou_novel_hn"):
        assert m[key] > 0.999, key
    assert m["chamfer_cm"] < 0.3 and m["chamfer_cm_hn"] < 0.3
    assert m["outlier_frac"] == 0.0 and abs(m["depth_scale"] - 1.0) < 1e-6


def test_the_naked_body_is_clearly_not_the_clothed_person(dress):
    naked = cm.naked_body_metrics(dress)
    # the README: naked body iou_front ~0.75-0.95, chamfer ~0.5-3.5 cm "depending on the
    # outfit"; the dress is the loosest outfit, so at the far end of both
    assert 0.55 < naked["iou_front"] < 0.8
    assert 0.45 < naked["iou_novel"] < 0.8 and 0.4 < naked["iou_novel_hn"] < 0.8
    assert 2.5 < naked["chamfer_cm"] < 6.0
    tight = cm.load_truth(DEVSET / "sample_0000", "tight", "short")    # painted-on clothes
    close = cm.naked_body_metrics(tight)
    assert close["iou_novel"] > 0.85 and close["chamfer_cm"] < 1.0
    assert close["iou_novel"] > naked["iou_novel"] + 0.2


def test_depth_alignment_undoes_a_copy_scaled_about_the_camera(dress):
    # same photo, wrong size and distance: what a wrong focal length does to a reconstruction
    m = _score(dress, dress.vertices * 1.3)
    assert abs(m["depth_scale"] - 1 / 1.3) < 1e-3
    assert m["iou_front"] > 0.98 and m["iou_novel"] > 0.999 and m["chamfer_cm"] < 0.3


def test_height_normalisation_undoes_a_shifted_resized_copy_that_depth_alignment_cannot(dress):
    v = (dress.vertices - dress.centroid) * 0.9 + dress.centroid + [0.05, -0.1, 0.3]
    m = _score(dress, v)
    assert m["iou_novel_hn"] > 0.995 and m["chamfer_cm_hn"] < 0.3 and m["outlier_frac_hn"] == 0
    assert m["iou_novel"] < 0.97 and m["chamfer_cm"] > 1.0


def test_camera_space_ply_holds_every_worn_layer_posed(tmp_path):
    import trimesh

    from backend.cli.reconstruct import write_camera_space
    from backend.fit.posing import posed_joints, posed_vertices
    from backend.generate import generate_avatar
    from backend.generate.posing import FIXED_POSES, local_rotations
    from protocol import FACE_ROLES, Camera, Pose

    av = generate_avatar(3, {"top": "dress", "hair": "long", "shoes": "boots"})
    av.pose = Pose(local_rotations(av, FIXED_POSES["walk"]).astype(np.float32),
                   np.zeros(3, np.float32))
    world_from_cam = np.array([[1, 0, 0, 0], [0, 0, -1, -4.0], [0, 1, 0, 0.9], [0, 0, 0, 1]])
    av.camera = Camera(fx=900.0, fy=900.0, cx=256.0, cy=384.0, width=512, height=768,
                       world_from_camera=world_from_cam.astype(np.float32))  # 4 m in front
    write_camera_space(av, tmp_path, "walker")
    mesh = trimesh.load(tmp_path / "walker.posed.ply", process=False)
    info = json.loads((tmp_path / "walker.camera.json").read_text())
    roles = [lay["role"] for lay in info["layers"]]
    assert roles[0] == "body" and {"top", "shoes", "hair"} <= set(roles)
    assert not set(roles) & set(FACE_ROLES)
    worn = [lay for lay in av.layers if lay.role not in FACE_ROLES]
    assert len(mesh.vertices) == sum(len(lay.vertices) for lay in worn)
    assert info["layers"][-1]["faces"][1] == len(mesh.faces)
    v = np.asarray(mesh.vertices)
    assert (v[:, 2] > 3.0).all() and (v[:, 2] < 5.0).all()
    # the body is the posed body, as before
    cam_from_world = np.linalg.inv(world_from_cam @ np.diag([1.0, -1, -1, 1]))
    to_cam = lambda p: p @ cam_from_world[:3, :3].T + cam_from_world[:3, 3]
    nb = len(av.layers[0].vertices)
    assert np.abs(v[:nb] - to_cam(posed_vertices(av))).max() < 1e-4
    # the flared dress widens the silhouette the photo's camera sees
    def area(faces):
        z = v[:, 2]
        uv = np.stack([900 * v[:, 0] / z + 255.5, 900 * v[:, 1] / z + 383.5], 1)
        return cm.fill_mask(uv, faces, 512, 768, supersample=1).sum()
    faces = np.asarray(mesh.faces)
    assert area(faces) > 1.1 * area(faces[: info["layers"][0]["faces"][1]])
    # the dress and hair move with the body: posed, not left in the rest pose
    start = {lay.role: sum(len(x.vertices) for x in worn[:i]) for i, lay in enumerate(worn)}
    top = v[start["top"]: start["top"] + len(av.layer("top").vertices)]
    assert np.abs(top - to_cam(av.layer("top").vertices)).max() > 0.05
    head = to_cam(posed_joints(av)["head"][None])[0]
    hair = v[start["hair"]: start["hair"] + len(av.layer("hair").vertices)]
    near = np.linalg.norm(hair - head, axis=1)
    assert np.median(near) < 0.3 and near.max() < 0.7     # long hair cards fall to the back
