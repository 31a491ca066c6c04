"""Clothed-avatar metrics against devset_clothed's exact 3D truth, as its README defines them
("Metrics"): front silhouette IoU, novel-view silhouette IoU (side / back / other side),
Chamfer distance and outlier fraction, each after the depth alignment and after the
height-normalised alignment (``_hn``).

numpy / scipy / OpenCV only. A reconstruction is given as a mesh in the photo's OpenCV camera
frame (metres) plus its intrinsics at the photo's original resolution, in the README's pixel
convention (pixel centres at integer coordinates: a Doppel avatar's Camera puts them at
i + 0.5, so subtract 0.5 from its cx, cy).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np
from PIL import Image
from scipy.spatial import cKDTree

SUPERSAMPLE = 4            # front IoU: 4x4 samples per pixel, majority vote
GRID_M = 0.002             # novel views: orthographic grid cell (2 mm)
N_QUERY = 20_000           # Chamfer: samples whose distances are averaged
N_SURFACE = 200_000        # Chamfer: samples standing in for the other surface
OUTLIER_M = 0.08
NOVEL_DEG = {"iou_side90": 90.0, "iou_back180": 180.0, "iou_side270": 270.0}
_SHIFT = 4                 # OpenCV fixed-point fraction bits for sub-pixel vertices


def triangles(faces: np.ndarray) -> np.ndarray:
    """(F, 3) triangles of a triangle or quad face array."""
    faces = np.asarray(faces, np.int64)
    if faces.shape[1] == 3:
        return faces
    return np.concatenate([faces[:, [0, 1, 2]], faces[:, [0, 2, 3]]])


def _areas(v: np.ndarray, tri: np.ndarray) -> np.ndarray:
    t = v[tri]
    return 0.5 * np.linalg.norm(np.cross(t[:, 1] - t[:, 0], t[:, 2] - t[:, 0]), axis=1)


def surface_centroid(v: np.ndarray, tri: np.ndarray) -> np.ndarray:
    """Area-weighted centroid of a triangle surface."""
    a = _areas(v, tri)
    return (a[:, None] * v[tri].mean(1)).sum(0) / max(a.sum(), 1e-12)


def sample_surface(v: np.ndarray, tri: np.ndarray, n: int, rng) -> np.ndarray:
    """(n, 3) points uniformly distributed over the surface area."""
    a = _areas(v, tri)
    pick = rng.choice(len(tri), n, p=a / a.sum())
    r1, r2 = rng.random(n), rng.random(n)
    s = np.sqrt(r1)
    w = np.stack([1 - s, s * (1 - r2), s * r2], 1)
    return np.einsum("nk,nkd->nd", w, v[tri[pick]])


def fill_mask(pts: np.ndarray, tri: np.ndarray, width: int, height: int,
              supersample: int = SUPERSAMPLE) -> np.ndarray:
    """(H, W) bool coverage of 2D triangles; pts in pixels with centres at integers. Each
    triangle is filled on its own (one fillPoly call would cancel overlaps), at
    ``supersample``^2 samples per pixel, then a majority vote."""
    s = supersample
    p = np.round((s * (pts + 0.5) - 0.5) * (1 << _SHIFT)).astype(np.int64)
    lim = (1 << 30) // (1 << _SHIFT)                  # keep far-off vertices inside int32
    p = np.clip(p, -lim, lim).astype(np.int32)
    canvas = np.zeros((height * s, width * s), np.uint8)
    t = p[tri]
    lo, hi = t.min(1), t.max(1)
    on = ((hi[:, 0] >= 0) & (hi[:, 1] >= 0) & (lo[:, 0] < (width * s) << _SHIFT)
          & (lo[:, 1] < (height * s) << _SHIFT))
    for corners in t[on]:
        cv2.fillConvexPoly(canvas, corners, 1, lineType=cv2.LINE_8, shift=_SHIFT)
    return canvas.reshape(height, s, width, s).mean((1, 3)) >= 0.5


def iou(a: np.ndarray, b: np.ndarray) -> float:
    union = np.logical_or(a, b).sum()
    return float(np.logical_and(a, b).sum() / union) if union else 1.0


def rotation_about(axis: np.ndarray, deg: float) -> np.ndarray:
    """Right-handed rotation matrix by ``deg`` about the unit ``axis``."""
    return cv2.Rodrigues(np.asarray(axis, np.float64) * np.radians(deg))[0]


@dataclass
class ClothedTruth:
    """One devset_clothed sample's truth, with the samples the metrics reuse."""
    name: str
    garment: str
    hair: str | None
    vertices: np.ndarray          # clothed mesh, camera frame
    tri: np.ndarray
    body_vertices: np.ndarray     # the naked Anny body under the clothes
    body_tri: np.ndarray
    K: np.ndarray
    up: np.ndarray                # world up in camera coordinates
    mask: np.ndarray              # (H, W) bool
    centroid: np.ndarray = field(init=False)
    height: float = field(init=False)
    query: np.ndarray = field(init=False)      # N_QUERY samples
    tree: cKDTree = field(init=False)          # over N_SURFACE samples

    def __post_init__(self):
        rng = np.random.default_rng(0)
        self.centroid = surface_centroid(self.vertices, self.tri)
        h = self.vertices @ self.up
        self.height = float(h.max() - h.min())
        self.query = sample_surface(self.vertices, self.tri, N_QUERY, rng)
        self.tree = cKDTree(sample_surface(self.vertices, self.tri, N_SURFACE, rng))

    @property
    def size(self) -> tuple[int, int]:
        return self.mask.shape[1], self.mask.shape[0]


def load_truth(sample_dir: Path, garment: str = "", hair: str | None = None) -> ClothedTruth:
    sample_dir = Path(sample_dir)
    gt = np.load(sample_dir / "gt.npz")
    mask = np.asarray(Image.open(sample_dir / "mask.png").convert("L")) > 127
    return ClothedTruth(sample_dir.name, garment, hair,
                        gt["clothed_vertices"].astype(np.float64),
                        triangles(gt["clothed_faces"]), gt["vertices"].astype(np.float64),
                        triangles(gt["faces"]), gt["K"].astype(np.float64),
                        gt["R_world2cam"][:, 2].astype(np.float64), mask)


def front_iou(v: np.ndarray, tri: np.ndarray, fx, fy, cx, cy, truth: ClothedTruth) -> float:
    z = np.maximum(v[:, 2], 1e-6)
    uv = np.stack([fx * v[:, 0] / z + cx, fy * v[:, 1] / z + cy], 1)
    w, h = truth.size
    return iou(fill_mask(uv, tri, w, h), truth.mask)


def novel_ious(v: np.ndarray, tri: np.ndarray, truth: ClothedTruth) -> dict[str, float]:
    """Silhouette IoUs of the (aligned) reconstruction and the truth turned about world up
    through the truth's centroid, orthographic along camera z on a common 2 mm grid."""
    out = {}
    for key, deg in NOVEL_DEG.items():
        r = rotation_about(truth.up, deg)
        a = (v - truth.centroid) @ r.T
        b = (truth.vertices - truth.centroid) @ r.T
        lo = np.minimum(a[:, :2].min(0), b[:, :2].min(0)) - 2 * GRID_M
        hi = np.maximum(a[:, :2].max(0), b[:, :2].max(0)) + 2 * GRID_M
        w, h = (np.ceil((hi - lo) / GRID_M)).astype(int)
        ga = (a[:, :2] - lo) / GRID_M - 0.5          # cell j has its centre at lo + (j + .5) g
        gb = (b[:, :2] - lo) / GRID_M - 0.5
        out[key] = iou(fill_mask(ga, tri, w, h), fill_mask(gb, truth.tri, w, h))
    out["iou_novel"] = float(np.mean([out[k] for k in NOVEL_DEG]))
    return out


def surface_distances(query: np.ndarray, v: np.ndarray, tri: np.ndarray,
                      truth: ClothedTruth, rng) -> tuple[float, float]:
    """(chamfer_cm, outlier_frac) of reconstruction samples ``query`` on mesh (v, tri)."""
    to_gt = truth.tree.query(query)[0]
    to_rec = cKDTree(sample_surface(v, tri, N_SURFACE, rng)).query(truth.query)[0]
    return 100.0 * 0.5 * (to_gt.mean() + to_rec.mean()), float((to_gt > OUTLIER_M).mean())


def clothed_metrics(vertices: np.ndarray, faces: np.ndarray, fx: float, fy: float, cx: float,
                    cy: float, truth: ClothedTruth, novel: bool = True) -> dict[str, float]:
    """All README metrics of one reconstruction (camera-frame mesh + intrinsics)."""
    v = np.asarray(vertices, np.float64)
    tri = triangles(faces)
    rng = np.random.default_rng(1)
    row = {"iou_front": front_iou(v, tri, fx, fy, cx, cy, truth),
           "focal_ratio": float(fx / truth.K[0, 0])}
    c = surface_centroid(v, tri)
    query = sample_surface(v, tri, N_QUERY, rng)
    # depth alignment: scaling about the camera keeps the projection
    s = truth.centroid[2] / c[2]
    row["depth_scale"] = float(s)
    if novel:
        row.update(novel_ious(v * s, tri, truth))
    row["chamfer_cm"], row["outlier_frac"] = surface_distances(query * s, v * s, tri, truth, rng)
    # height-normalised: own extent along world up = the truth's, centroid onto the truth's
    h = v @ truth.up
    k = truth.height / max(float(h.max() - h.min()), 1e-9)
    v_hn = (v - c) * k + truth.centroid
    if novel:
        for key, val in novel_ious(v_hn, tri, truth).items():
            row[f"{key}_hn"] = val
    row["chamfer_cm_hn"], row["outlier_frac_hn"] = surface_distances(
        (query - c) * k + truth.centroid, v_hn, tri, truth, rng)
    return row


def naked_body_metrics(truth: ClothedTruth) -> dict[str, float]:
    """The obvious alternative: the true naked body, through the true camera."""
    K = truth.K
    return clothed_metrics(truth.body_vertices, truth.body_tri, K[0, 0], K[1, 1], K[0, 2],
                           K[1, 2], truth)
