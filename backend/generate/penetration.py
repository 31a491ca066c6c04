"""Poke-through measures for a dressed avatar, in rest pose or posed by bone transforms.

* garment_inside_body: share of garment vertices that lie inside the body, by signed
  distance along the body normal at the point each is bound to (binding), and at the nearest
  body vertex (catches cloth pushed into a neighbouring body part).
* skin_outside_garment: share of the visible body vertices under a garment (those its
  binding uses, minus the hidden ones) that stick out past the nearest garment surface.

Tolerance: 2 mm, below what shows at any normal viewing distance.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.spatial import cKDTree

from protocol import MeshLayer, RiggedAvatar

from .surface import triangle_frames, vertex_normals

TOLERANCE = 0.002


@dataclass
class Penetration:
    role: str
    garment_inside: float        # share of garment vertices inside the body (either test)
    skin_outside: float          # share of covered visible skin vertices outside the garment
    behind_bound: float = 0.0    # share behind the body surface at their bound point


def _bound_points(layer: MeshLayer, body_v: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    bd = layer.binding
    base = np.einsum("nk,nkd->nd", bd.barycentric.astype(np.float64), body_v[bd.triangles])
    return base, triangle_frames(body_v, bd.triangles)[:, :, 2]


def measure(avatar: RiggedAvatar, full_faces: np.ndarray, body_v: np.ndarray | None = None,
            layer_v: dict[str, np.ndarray] | None = None, inner: np.ndarray | None = None,
            visible_only: bool = True) -> list[Penetration]:
    """Measure every bound layer. ``body_v``/``layer_v`` give posed positions (default: rest);
    ``inner`` (V,) bool marks body vertices inside the head (eyes, mouth) to ignore.

    visible_only: count cloth inside the body only where that skin is shown (the body layer
    keeps a face there); cloth passing through skin hidden under clothes cannot be seen."""
    body = avatar.layer("body")
    bv = body.vertices.astype(np.float64) if body_v is None else body_v
    normals = vertex_normals(bv, full_faces).astype(np.float64)
    surface = np.arange(len(bv)) if inner is None else np.flatnonzero(~inner)
    tree = cKDTree(bv[surface])
    hidden = np.zeros(len(bv), bool)
    for lay in avatar.layers:
        if lay.binding is not None:
            hidden[lay.binding.hides] = True
    shown = np.ones(len(bv), bool)
    if visible_only:
        shown[:] = False
        shown[body.faces.ravel()] = True
    out = []
    for lay in avatar.layers:
        if lay.binding is None:
            continue
        gv = lay.vertices.astype(np.float64) if layer_v is None else layer_v[lay.role]
        base, n = _bound_points(lay, bv)
        behind = ((gv - base) * n).sum(1) < -TOLERANCE
        behind &= shown[lay.binding.triangles].any(1)
        _, near = tree.query(gv)
        vi = surface[near]
        inside = (((gv - bv[vi]) * normals[vi]).sum(1) < -TOLERANCE) & shown[vi]
        garment_inside = float(np.mean(behind | inside))
        under = np.zeros(len(bv), bool)       # the body vertex each garment vertex came from
        anchor = np.argmax(lay.binding.barycentric, axis=1)
        under[np.take_along_axis(lay.binding.triangles, anchor[:, None], 1).ravel()] = True
        under &= ~hidden
        if inner is not None:
            under &= ~inner
        skin = np.flatnonzero(under)
        skin_out = 0.0
        if len(skin):
            gn = vertex_normals(gv, lay.faces[:, :3]).astype(np.float64)
            _, g_near = cKDTree(gv).query(bv[skin])
            # sticks out: beyond the garment point along the skin's own outward normal
            d = ((bv[skin] - gv[g_near]) * normals[skin]).sum(1)
            facing = np.abs((gn[g_near] * normals[skin]).sum(1)) > 0.2
            skin_out = float(np.mean((d > TOLERANCE) & facing))
        out.append(Penetration(lay.role, garment_inside, skin_out, float(np.mean(behind))))
    return out
