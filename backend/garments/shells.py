"""Garments that follow the body: offset shells of body regions.

A shell copies the body faces of a region, moves each vertex out along the body normal by the
garment's thickness, smooths away skin detail (cloth does not show a navel), and keeps the
body vertex it came from: that anchor gives its skin weights and its surface binding.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
from scipy.spatial import cKDTree

from .body_regions import BodyRegions
from .surface import push_outside


@dataclass
class GarmentPiece:
    """One connected part of a garment layer, before UVs and texture."""

    vertices: np.ndarray        # (N, 3) float32 rest pose
    faces: np.ndarray           # (M, 3) int32
    anchor: np.ndarray          # (N,) body vertex each point is bound to
    skin_indices: np.ndarray    # (N, k) int32
    skin_weights: np.ndarray    # (N, k) float32
    hides: np.ndarray           # (H,) body vertices under this piece (see assemble.py)


# --- which body vertices a garment covers ----------------------------------------------------

def _not_limb_end(r: BodyRegions) -> np.ndarray:
    return ~(r.seg["head"] | r.seg["hand"] | r.seg["foot"] | r.seg["inner"])


def top_mask(r: BodyRegions, sleeve: float, hem_z: float, straps: bool = False) -> np.ndarray:
    """Torso from the neckline down to hem_z, arms down to ``sleeve`` (0 shoulder .. 1 wrist).
    ``straps``: a tank top, no sleeves and bare shoulders."""
    v = r.vertices
    arm = r.part["arm"] + r.part["hand"] > 0.5
    leg = r.part["leg"] + r.part["foot"] > 0.5
    torso = ~arm & ~leg & (v[:, 2] >= hem_z) & (r.part["neck"] + r.part["head"] < 0.3)
    hips = leg & (v[:, 2] >= hem_z)          # under a long top; hem_z stays above the crotch
    mask = torso | hips
    if straps:
        shoulder = np.abs(v[:, 0]) > 0.62 * r.shoulder_x
        mask &= ~(shoulder & (v[:, 2] > r.z["chest"] - 0.03))
    else:
        mask |= arm & (r.arm_s <= sleeve)
    return mask & _not_limb_end(r)


def bottom_mask(r: BodyRegions, leg_len: float, waist_z: float) -> np.ndarray:
    """Pelvis up to waist_z and legs down to ``leg_len`` (0 hip joint .. 1 ankle)."""
    v = r.vertices
    arm = r.part["arm"] + r.part["hand"] > 0.5
    leg = r.part["leg"] + r.part["foot"] > 0.5
    pelvis = ~arm & ~leg & (v[:, 2] <= waist_z) & (v[:, 2] > r.z["crotch"] - 0.1)
    legs = leg & (r.leg_s <= leg_len) & (v[:, 2] <= waist_z)
    return (pelvis | legs) & _not_limb_end(r)


def shoe_mask(r: BodyRegions, from_leg_s: float) -> np.ndarray:
    return (r.seg["foot"] | ((r.part["leg"] + r.part["foot"] > 0.5) &
                             (r.leg_s >= from_leg_s))) & ~r.seg["inner"]


def shoe_offsets(r: BodyRegions, upper: float, sole: float, heel: float = 0.0) -> np.ndarray:
    """(V,) shell thickness of a shoe: ``upper`` metres over the foot, a ``sole`` under it
    (where the skin faces the floor), rising by ``heel`` under the back of the foot, and a
    rounder toe cap."""
    v, n = r.vertices, r.normals
    down = np.clip(-n[:, 2], 0.0, 1.0) ** 2                       # 1 under the foot
    foot = r.seg["foot"]
    front = float(v[foot, 1].min()) if foot.any() else 0.0
    back = float(v[foot, 1].max()) if foot.any() else 0.0
    along = np.clip((v[:, 1] - front) / max(back - front, 1e-6), 0.0, 1.0)   # 0 toe .. 1 heel
    toe = np.clip(1.0 - along / 0.2, 0.0, 1.0) * 0.004
    return upper + toe + down * (sole + heel * np.clip((along - 0.55) / 0.3, 0.0, 1.0))


def hair_mask(r: BodyRegions) -> np.ndarray:
    """Scalp: head vertices above a hairline that runs low at the nape, over the ears and
    high on the forehead."""
    v = r.vertices
    c = r.head_center
    back = np.arctan2(v[:, 0] - c[0], v[:, 1] - c[1])            # 0 at the back (+Y)
    front = 0.5 * (1 - np.cos(back))                             # 0 back .. 1 front
    line = (r.z["skull_base"] - 0.01) + front * (r.z["eye"] + 0.07 - r.z["skull_base"] + 0.01)
    return r.seg["head"] & (v[:, 2] > line) & ~r.seg["inner"]


# --- shells ----------------------------------------------------------------------------------

def interior(faces: np.ndarray, mask: np.ndarray, rings: int) -> np.ndarray:
    """Masked vertices at least ``rings`` edges away from any unmasked vertex."""
    inside = mask.copy()
    for _ in range(rings):
        bad_face = ~inside[faces].all(1)
        near = np.zeros_like(inside)
        near[faces[bad_face].ravel()] = True
        inside &= ~near
    return inside


def _adjacency(faces: np.ndarray, n: int) -> sp.csr_matrix:
    i = np.concatenate([faces[:, 0], faces[:, 1], faces[:, 2], faces[:, 1], faces[:, 2],
                        faces[:, 0]])
    j = np.concatenate([faces[:, 1], faces[:, 2], faces[:, 0], faces[:, 0], faces[:, 1],
                        faces[:, 2]])
    a = sp.csr_matrix((np.ones(len(i)), (i, j)), shape=(n, n))
    a.data[:] = 1.0
    return a


def open_edge_vertices(faces: np.ndarray, n: int) -> np.ndarray:
    """(n,) bool: vertices on an open edge (an edge used by one face only)."""
    e = np.sort(np.concatenate([faces[:, [0, 1]], faces[:, [1, 2]], faces[:, [2, 0]]]), axis=1)
    key = e[:, 0].astype(np.int64) * n + e[:, 1]
    uniq, count = np.unique(key, return_counts=True)
    out = np.zeros(n, dtype=bool)
    once = uniq[count == 1]
    out[once // n] = True
    out[once % n] = True
    return out


def shell(r: BodyRegions, rest_skin: tuple[np.ndarray, np.ndarray], mask: np.ndarray,
          offset: np.ndarray | float, smooth: int = 4, passes: int = 1) -> GarmentPiece:
    """The body faces whose three vertices are in ``mask``, pushed out by ``offset`` metres
    (scalar or (V,) per body vertex) and lightly smoothed."""
    faces = r.faces[mask[r.faces].all(1)]
    used = np.unique(faces)
    remap = np.full(len(r.vertices), -1, dtype=np.int64)
    remap[used] = np.arange(len(used))
    off = np.broadcast_to(np.asarray(offset, dtype=np.float64), (len(r.vertices),))[used]
    pts = r.vertices[used] + r.normals[used] * off[:, None]
    local = remap[faces]
    if smooth:
        adj = _adjacency(local, len(used))
        deg = np.maximum(np.asarray(adj.sum(1)).ravel(), 1)[:, None]
        surface = np.flatnonzero(~r.seg["inner"])
        tree = cKDTree(r.vertices[surface])
        edge = open_edge_vertices(local, len(used))
        start = pts.copy()
        for _ in range(passes):          # Laplacian smoothing, then restore the thickness
            for _ in range(smooth):      # against every body part (toes, the other thigh)
                pts = 0.5 * pts + 0.5 * (adj @ pts) / deg
                pts[edge] = start[edge]  # hems stay where they are: no gap opens at an edge
            pts = push_outside(pts, r.vertices, r.normals, off, candidates=surface, tree=tree)
        anchor = surface[tree.query(pts)[1]]    # smoothing may slide a point to a neighbour
    else:
        anchor = used
    idx, w = rest_skin
    return GarmentPiece(vertices=pts.astype(np.float32), faces=local.astype(np.int32),
                        anchor=anchor, skin_indices=idx[anchor], skin_weights=w[anchor],
                        hides=used)
