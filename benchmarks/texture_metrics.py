"""How believable a completed texture is, measured on the layer's surface:

- seam ratio: mean colour jump (CIE Lab dE) between texels that straddle the seen/completed
  boundary, over the mean jump between neighbouring seen texels, for texel pairs 1 and 4
  texels apart in the atlas (and close on the surface, so pairs across UV cuts are left out).
  1.0: the boundary is as smooth as the photo itself; a hard seam scores several times that.
- off-colour fraction: completed texels whose colour is further than OFF_DE from every seen
  colour at the same rest (x, z) on the layer (within OFF_RADIUS), e.g. skin-coloured patches
  on the back of a dark dress. Texels with no seen texel there are not counted.

Plus flat-shaded orthographic renders of textured layers from any side (back views).
"""

from __future__ import annotations

import cv2
import numpy as np
from scipy.spatial import cKDTree

from backend.raster import rasterize
from backend.textures.atlas import uv_atlas

OFF_DE = 25.0
OFF_RADIUS = 0.06


def lab(rgb: np.ndarray) -> np.ndarray:
    """(..., 3) sRGB 0..255 -> CIE Lab (L 0..100)."""
    a = np.asarray(rgb, np.float32).reshape(-1, 1, 3) / 255.0
    return cv2.cvtColor(a, cv2.COLOR_RGB2Lab).reshape(np.shape(rgb))


def _texels(uvs, faces, rest, size):
    atlas = uv_atlas(uvs, size)
    face = atlas.face
    q = np.zeros((size, size, 3))
    m = face >= 0
    q[m] = np.einsum("nk,nkd->nd", atlas.bary[m], rest[faces[face[m]]])
    return m, q


def texture_scores(rgb: np.ndarray, seen: np.ndarray, uvs: np.ndarray, faces: np.ndarray,
                   rest: np.ndarray) -> dict:
    """rgb (S, S, 3) texture; seen (n, n) bool mask of photo texels at the metric's size."""
    n = seen.shape[0]
    img = cv2.resize(rgb.astype(np.float32), (n, n), interpolation=cv2.INTER_AREA)
    island, q = _texels(uvs, faces, rest, n)
    L = lab(img)
    out = {}
    pitch = None
    for step in (1, 4):
        jumps = {"cross": [], "seen": []}
        for dy, dx in ((0, step), (step, 0)):
            a = (slice(0, n - dy), slice(0, n - dx))
            b = (slice(dy, n), slice(dx, n))
            ok = island[a] & island[b]
            d3 = np.linalg.norm(q[a] - q[b], axis=-1)
            if pitch is None:
                pitch = float(np.median(d3[ok])) if step == 1 else pitch
            ok &= d3 < 2.5 * step * pitch                  # neighbours on the surface too
            de = np.linalg.norm(L[a] - L[b], axis=-1)
            jumps["cross"].append(de[ok & (seen[a] != seen[b])])
            jumps["seen"].append(de[ok & seen[a] & seen[b]])
        cross = np.concatenate(jumps["cross"])
        ref = np.concatenate(jumps["seen"])
        out[f"seam{step}"] = float(cross.mean() / max(ref.mean(), 1e-6)) if cross.size else 0.0
    out["off_colour"] = off_colour_fraction(L, seen, island, q)
    return out


def off_colour_fraction(L: np.ndarray, seen: np.ndarray, island: np.ndarray, q: np.ndarray,
                        radius: float = OFF_RADIUS, de: float = OFF_DE) -> float:
    s = np.flatnonzero((island & seen).ravel())
    c = np.flatnonzero((island & ~seen).ravel())
    if not s.size or not c.size:
        return 0.0
    qf, Lf = q.reshape(-1, 3)[:, [0, 2]], L.reshape(-1, 3)
    rng = np.random.default_rng(0)
    c = rng.choice(c, min(c.size, 20000), replace=False)
    tree = cKDTree(qf[s])
    _, near = tree.query(qf[c], k=48, distance_upper_bound=radius)
    hit = near < s.size
    counted = hit[:, 0]
    idx = s[np.where(hit, near, 0)]
    d = np.linalg.norm(Lf[idx] - Lf[c][:, None], axis=-1)
    d = np.where(hit, d, np.inf).min(1)
    return float((d[counted] > de).mean()) if counted.any() else 0.0


def render_layers(layers: list[tuple], yaw_deg: float, up: np.ndarray, size: int = 384,
                  centre: np.ndarray | None = None, extent: float | None = None) -> np.ndarray:
    """Flat-textured orthographic view of [(posed (N, 3) camera frame, faces, uvs, rgb)],
    orbiting ``yaw_deg`` about ``up`` from the photo's camera (0 = the photo's side)."""
    allv = np.concatenate([lay[0] for lay in layers])
    up = np.asarray(up, np.float64) / np.linalg.norm(up)
    centre = 0.5 * (allv.min(0) + allv.max(0)) if centre is None else centre
    fwd = np.array([0.0, 0.0, 1.0]) - up * up[2]
    fwd /= np.linalg.norm(fwd)
    a = np.radians(yaw_deg)
    f2 = np.cos(a) * fwd + np.sin(a) * np.cross(up, fwd)     # viewing direction
    right = np.cross(f2, up)                                 # camera +x at yaw 0
    if extent is None:
        p = allv - centre
        extent = 1.1 * float(max(np.ptp(p @ up), np.ptp(p @ right)))
    pts, fcs, base = [], [], 0
    for v, f, _, _ in layers:
        pts.append(v)
        fcs.append(f + base)
        base += len(v)
    p = np.concatenate(pts) - centre
    pix = np.stack([(p @ right / extent + 0.5) * size, (-(p @ up) / extent + 0.5) * size], 1)
    ras = rasterize(pix, np.concatenate(fcs), size, size, depth=p @ f2)
    img = np.full((size, size, 3), 235, np.uint8)
    starts = np.cumsum([0] + [len(lay[1]) for lay in layers])
    for i, (_, f, uvs, tex) in enumerate(layers):
        hit = (ras.face >= starts[i]) & (ras.face < starts[i + 1])
        fi = ras.face[hit] - starts[i]
        uv = np.einsum("nk,nkd->nd", ras.bary[hit], uvs[fi])
        th, tw = tex.shape[:2]
        tx = np.clip((uv[:, 0] * tw).astype(int), 0, tw - 1)
        ty = np.clip(((1 - uv[:, 1]) * th).astype(int), 0, th - 1)
        img[hit] = tex[ty, tx]
    return img
