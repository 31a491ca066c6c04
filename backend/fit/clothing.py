"""Clothed shape: smooth per-vertex offsets along the rest normals, fitted to the silhouette.

Skinning is linear in the rest vertices, so with the pose fixed the posed surface is
``base + d * m`` (m = the skinned rest normal) and an iteration costs no body-model call.
The silhouette term is exact rather than splatted (a splat's soft edge is biased outwards by
its radius, which cost ~10 IoU points): an exact raster picks the model's contour vertices
every few iterations; they are pulled onto the mask's boundary through its signed distance
field, and every mask-boundary pixel pulls its nearest contour vertex (so clothing that sticks
out, a skirt or hair, is reached). Offsets live in rest space, so they are baked into the rest
mesh and deform with the skeleton.
"""

from __future__ import annotations

import cv2
import numpy as np
import torch
import trimesh
from scipy.spatial import cKDTree

from ..raster import rasterize
from .geometry import project, vertex_normals

MAX_OUT = 0.25     # metres; beyond this it is not clothing but a segmentation error
MAX_IN = 0.015     # metres; bodies may shrink a little where the phenotype overshoots


def mesh_edges(faces: np.ndarray) -> torch.Tensor:
    """(E, 2) unique undirected edges of a triangle mesh."""
    edges = trimesh.Trimesh(faces=faces, process=False).edges_unique
    return torch.tensor(np.asarray(edges), dtype=torch.long)


def signed_distance(mask: np.ndarray) -> np.ndarray:
    """(H, W) bool -> float32 pixels to the mask boundary, positive outside."""
    m = mask.astype(np.uint8)
    out = cv2.distanceTransform(1 - m, cv2.DIST_L2, 5)
    inside = cv2.distanceTransform(m, cv2.DIST_L2, 5)
    return (out - inside).astype(np.float32)


def boundary_pixels(mask: np.ndarray) -> np.ndarray:
    """(N, 2) x, y centres of the mask's boundary pixels."""
    m = mask.astype(np.uint8)
    edge = m & (1 - cv2.erode(m, np.ones((3, 3), np.uint8)))
    ys, xs = np.nonzero(edge)
    return np.stack([xs, ys], axis=1).astype(np.float32) + 0.5


def silhouette_terms(target: np.ndarray, max_rim: int = 3000):
    """What the contour fits pull against: the mask's signed distance field as a (1, 1, H, W)
    tensor, at most ``max_rim`` boundary pixels, and the pixel unit errors are measured in
    (1 % of the person's size, at least 4 px)."""
    h, w = target.shape
    sdf = torch.from_numpy(signed_distance(target))[None, None]
    rim = boundary_pixels(target)
    if len(rim) > max_rim:
        rim = rim[np.linspace(0, len(rim) - 1, max_rim).astype(int)]
    ys, xs = np.nonzero(target)
    unit = max(4.0, 0.01 * float(max(np.ptp(ys), np.ptp(xs)) if ys.size else max(h, w)))
    return sdf, rim, unit


def fit_offsets(rig, rest, deltas: torch.Tensor, camera, target: np.ndarray,
                edges: torch.Tensor, iters: int = 60, refresh: int = 10, smooth_w: float = 3e3,
                progress=lambda f: None) -> torch.Tensor:
    """Offsets along the rest normals so the posed silhouette matches ``target`` ((H, W) bool
    person mask at working resolution). Returns rest-space offsets (V, 3), metres."""
    with torch.no_grad():
        n_rest = vertex_normals(rest.vertices[0], rig.faces)
        base, _ = rig.pose(rest, deltas)
        moved, _ = rig.pose(rest, deltas, offsets=n_rest)
        m = moved - base                                   # (V, 3) posed normal directions
    h, w = target.shape
    sdf, rim, unit = silhouette_terms(target)
    faces = rig.mesh_faces
    d = torch.zeros(base.shape[0], requires_grad=True)
    opt = torch.optim.Adam([d], lr=0.003)
    contour = pairs = goals = None
    for it in range(iters):
        if it % refresh == 0:
            contour, pairs, goals = _contour(base + d.detach()[:, None] * m, faces, camera,
                                             target, rim)
        opt.zero_grad()
        verts = base + d[:, None] * m
        px = project(verts[contour], camera.f, camera.cx, camera.cy)
        grid = torch.stack([px[:, 0] / w * 2 - 1, px[:, 1] / h * 2 - 1], dim=1)[None, None]
        s = torch.nn.functional.grid_sample(sdf, grid, align_corners=False,
                                            padding_mode="border")[0, 0, 0]
        # Spill outside the mask is pulled back; coverage is the job of the pairs below.
        onto = torch.sqrt((torch.relu(s) / unit) ** 2 + 0.01).sum()
        gap = (px[pairs[:, 0]] - goals[pairs[:, 1]]).norm(dim=1) / unit
        reach = torch.sqrt(gap ** 2 + 0.01).sum() * (len(contour) / max(len(pairs), 1))
        smooth = (d[edges[:, 0]] - d[edges[:, 1]]).pow(2).sum()
        loss = onto + 0.5 * reach + smooth_w * smooth + 100.0 * d.pow(2).sum()
        loss.backward()
        opt.step()
        with torch.no_grad():
            d.clamp_(-MAX_IN, MAX_OUT)
        if it % 10 == 0:
            progress(it / iters)
    return (d.detach()[:, None] * n_rest).detach()


def _contour(verts: torch.Tensor, faces: np.ndarray, camera, target: np.ndarray,
             rim: np.ndarray, max_goals: int = 3000):
    """Contour vertices of the rendered silhouette, goal pixels (the mask's rim plus mask
    pixels the mesh does not cover yet, e.g. a coat between the legs) and (vertex, goal)
    nearest pairs: every goal pulls the contour vertex nearest to it."""
    h, w = target.shape
    pix = project(verts, camera.f, camera.cx, camera.cy).numpy()
    ras = rasterize(pix, faces, w, h, depth=verts[:, 2].numpy())
    sil = ras.mask.astype(np.uint8)
    band = sil & (1 - cv2.erode(sil, np.ones((3, 3), np.uint8)))
    band = cv2.dilate(band, np.ones((3, 3), np.uint8))
    xi = np.clip(pix[:, 0].astype(int), 0, w - 1)
    yi = np.clip(pix[:, 1].astype(int), 0, h - 1)
    inside = (pix[:, 0] >= 0) & (pix[:, 0] < w) & (pix[:, 1] >= 0) & (pix[:, 1] < h)
    idx = np.nonzero(inside & (band[yi, xi] > 0))[0]
    if idx.size == 0:
        idx = np.arange(len(pix))
    ys, xs = np.nonzero(target & ~ras.mask)
    missed = np.stack([xs, ys], axis=1).astype(np.float32) + 0.5
    if len(missed) > max_goals:
        missed = missed[np.linspace(0, len(missed) - 1, max_goals).astype(int)]
    goals = np.concatenate([rim, missed]) if len(missed) else rim
    _, near = cKDTree(pix[idx]).query(goals)
    pairs = np.stack([near, np.arange(len(goals))], axis=1)
    return torch.from_numpy(idx), torch.from_numpy(pairs), torch.from_numpy(goals)
