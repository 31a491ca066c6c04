"""The exact rasteriser behind IoU, texture visibility and the UV atlas: no holes where
triangles overlap (an even-odd polygon fill cancels overlaps), nearest surface wins."""

from __future__ import annotations

import numpy as np

from backend.raster import mask_iou, rasterize


def test_overlapping_triangles_leave_no_hole_and_nearest_wins():
    pts = np.array([[2, 2], [30, 2], [2, 30], [6, 6], [34, 6], [6, 34]], float)
    faces = np.array([[0, 1, 2], [3, 4, 5]])
    depth = np.array([1, 1, 1, 2, 2, 2], float)
    ras = rasterize(pts, faces, 40, 40, depth=depth)
    overlap = (slice(8, 12), slice(8, 12))
    assert ras.mask[overlap].all()
    assert (ras.face[overlap] == 0).all(), "the nearer triangle is in front"
    assert np.allclose(ras.bary.sum(-1)[ras.mask], 1.0, atol=1e-5)


def test_anny_uv_layout_is_covered_exactly():
    """Rasterised texel count equals the analytic area of all UV triangles (islands do not
    overlap), so every texel inside the layout is found by the texture bake."""
    from backend.bodies import get_body_model
    uvs = get_body_model("anny").uvs.reshape(-1, 2).astype(np.float64)
    size = 512
    pts = np.stack([uvs[:, 0] * size, (1 - uvs[:, 1]) * size], 1)
    faces = np.arange(len(pts)).reshape(-1, 3)
    ras = rasterize(pts, faces, size, size)
    a, b, c = pts[faces[:, 0]], pts[faces[:, 1]], pts[faces[:, 2]]
    area = 0.5 * np.abs((b - a)[:, 0] * (c - a)[:, 1] - (c - a)[:, 0] * (b - a)[:, 1]).sum()
    assert abs(ras.mask.sum() - area) / area < 0.01


def test_mask_iou():
    a = np.zeros((10, 10), bool)
    a[:5] = True
    b = np.zeros((10, 10), bool)
    b[:, :5] = True
    assert mask_iou(a, b) == 25 / 75
    assert mask_iou(a, a) == 1.0
