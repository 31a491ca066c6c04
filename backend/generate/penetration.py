"""Poke-through measures for a dressed avatar, in rest pose or posed by bone transforms.

* garment_inside: share of garment vertices inside the shown body, by signed distance along
  the body normal at the point each is bound to, and at the nearest body vertex (catches
  cloth pushed into a neighbouring body part). Where the bound skin point is itself inside
  that body part, the body intersects itself (an arm pressed into the lap); the cloth is not
  to blame and the vertex is not counted.
* skin_outside: share of the shown body vertices under a garment (those it was built on)
  that stick out past their own cloth vertex along the skin normal.

Tolerance: 2 mm, below what shows at any normal viewing distance.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.spatial import cKDTree

from protocol import MeshLayer, RiggedAvatar

from ..garments.layers import hidden_vertices
from ..garments.surface import triangle_frames, vertex_normals

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
    hidden = hidden_vertices(full_faces, len(bv), avatar.layers)
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
        thickness = np.clip(lay.binding.offsets[:, 2], 0.0, None)
        self_contact = ((base - bv[vi]) * normals[vi]).sum(1) < thickness
        garment_inside = float(np.mean(behind | (inside & ~self_contact)))
        anchor = np.take_along_axis(lay.binding.triangles,
                                    np.argmax(lay.binding.barycentric, axis=1)[:, None], 1)[:, 0]
        gap = np.full(len(bv), np.inf)      # least cloth-over-skin distance at each anchor
        np.minimum.at(gap, anchor, ((gv - bv[anchor]) * normals[anchor]).sum(1))
        under = np.isfinite(gap) & ~hidden & shown
        if inner is not None:
            under &= ~inner
        skin_out = float(np.mean(gap[under] < -TOLERANCE)) if under.any() else 0.0
        out.append(Penetration(lay.role, garment_inside, skin_out, float(np.mean(behind))))
    return out
