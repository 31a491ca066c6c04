"""Final screen-space touch to the dressed avatar's outline: the outermost layers' rim slides
parallel to the image plane onto the person mask.

The garments fit as whole rings and bands (garment_fit.py), so a ring that is right on one side
of a limb can be a few pixels off on the other, and skin under a garment cannot follow the
outline at all. Here every vertex of an outermost layer near the rendered outline may move in
the camera's x/y at its own depth, never along its viewing ray (so the depth the garment
priors chose stays, and side views see no new bulk), as a smooth field: neighbours along the
mesh pull each other's moves together and a small cost on every move lets the field fade
into the surface away from the rim. The pull is clothing.py's exact-contour terms (the
mask's signed distance for outline that spills, the mask's rim and missed pixels for outline
that falls short), limited to what a move within CAP can reach, so a wrong mask cannot pull
a spike. Each move is finally cut back where it would take a layer closer than MIN_GAP to
the surface under it (the body, or an earlier garment), measured again after the move.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np
import torch
import trimesh
from scipy.spatial import cKDTree

from ..garments.surface import vertex_normals
from .clothing import silhouette_terms
from .geometry import project

CAP = 0.03          # metres: the most any vertex moves (a wrong mask makes no spike)
MIN_GAP = 0.0025    # metres: kept between a layer and the surface under it (garment_fit's)
BAND = 1.5          # caps: free vertices lie this close to the outline (projected)
FAR = 4.0           # caps: outline spilling farther out is a wrong mask or a missed limb
ITERS = 60
REFRESH = 10        # iterations between outline rasters
LR = 0.04           # Adam step, error units (larger steps oscillate about the outline)
SMOOTH_W = 0.3      # neighbouring moves alike (per edge, moves measured in error units)
SIZE_W = 0.05       # every move costs a little: the field fades away from the rim
CLEAR_W = 50.0      # soft clearance during the fit (the hard cut comes after)


@dataclass
class RimLayer:
    """One layer of the dressed avatar in the photo's camera frame."""

    posed: np.ndarray              # (N, 3) camera-frame vertices, metres
    faces: np.ndarray              # (F, 3)
    shows: np.ndarray              # (N,) bool: outermost here, follows the outline
    carried: np.ndarray | None = None  # (N,) bool: hidden under a layer that shows, moves
    #                                    only inwards, to make room for it (_carry)
    rests_on: tuple[int, ...] | None = None   # layers it keeps clear of (None: all before)
    solid: np.ndarray | None = None    # (N,) bool: vertices that count as a surface under
    #                                    others (None: all; not e.g. the mouth's inside)


def refine_outline(layers: list[RimLayer], camera, target: np.ndarray, cap: float = CAP,
                   iters: int = ITERS) -> list[np.ndarray]:
    """(N, 3) camera-frame moves per layer (z = 0) that bring the union's outline onto
    ``target`` ((H, W) bool person mask at the camera's resolution). Layers later in the list
    lie over earlier ones: a layer keeps MIN_GAP from the layers it rests on."""
    sizes = [len(lay.posed) for lay in layers]
    starts = np.cumsum([0] + sizes)
    verts = np.concatenate([lay.posed for lay in layers]).astype(np.float64)
    faces = np.concatenate([lay.faces + s for lay, s in zip(layers, starts[:-1])])
    shows = np.concatenate([lay.shows for lay in layers])
    carried = np.concatenate([np.zeros_like(lay.shows) if lay.carried is None
                              else lay.carried & ~lay.shows for lay in layers])
    moves = np.zeros_like(verts)
    if not shows.any() or iters <= 0:
        return _split(moves, starts)
    h, w = target.shape
    f, cx, cy = camera.f, camera.cx, camera.cy
    z = verts[:, 2]
    cap_px = cap * f / np.maximum(z, 1e-3)                     # (V,) the cap in pixels
    pix = _project(verts, camera)
    sil = _raster(pix, faces, w, h)
    near = np.abs(_sdf(sil)) if sil.any() else np.zeros((h, w))
    xi, yi = _pixel_index(pix, w, h)
    cand = np.flatnonzero(shows & (near[yi, xi] <= BAND * cap_px))
    if cand.size == 0:
        return _split(moves, starts)
    sdf, rim, unit = silhouette_terms(target)
    slot = np.full(len(verts), -1)
    slot[cand] = np.arange(len(cand))
    e = np.asarray(trimesh.Trimesh(faces=faces, process=False).edges_unique)
    e = e[(slot[e] >= 0).any(1)]                   # edges touching a free vertex
    ea, eb = torch.from_numpy(slot[e[:, 0]]), torch.from_numpy(slot[e[:, 1]])
    free = (slot[faces] >= 0).any(1)          # only these faces' outline changes
    moving, still = faces[free], _raster(pix, faces[~free], w, h)
    clear = _clearance(layers, starts, verts, cand, slot, carried)
    zc = torch.from_numpy(z[cand])
    scale = zc / f                                   # metres per pixel at each vertex
    base = torch.from_numpy(verts[cand])
    q = torch.zeros(len(cand), 2, requires_grad=True)   # moves in error units (pixels/unit)
    opt = torch.optim.Adam([q], lr=LR)
    lim = torch.from_numpy(cap_px[cand] / unit)
    others = torch.from_numpy(verts)
    far = torch.from_numpy(FAR * cap_px[cand])
    for it in range(iters):
        if it % REFRESH == 0:
            with torch.no_grad():
                full = others.clone()
                full[cand] = base + _lift(q, scale, unit)
            contour, pairs, goals = _contour(full.numpy(), moving, still, camera, target,
                                             rim, slot, cap_px)
        opt.zero_grad()
        moved = base + _lift(q, scale, unit)
        loss = SIZE_W * q.pow(2).sum()
        qa = torch.cat([q, torch.zeros(1, 2)])           # slot -1: a fixed vertex, no move
        loss = loss + SMOOTH_W * (qa[ea] - qa[eb]).pow(2).sum()
        allpx = project(moved, f, cx, cy)
        # every free point outside the mask spills (the outline is the union of the faces);
        # points far outside are a wrong mask or a missed limb, not this stage's to pull in
        grid = torch.stack([allpx[:, 0] / w * 2 - 1, allpx[:, 1] / h * 2 - 1], 1)[None, None]
        s = torch.nn.functional.grid_sample(sdf, grid.float(), align_corners=False,
                                            padding_mode="border")[0, 0, 0].double()
        spill = torch.relu(s) * (s < far).double() / unit
        loss = loss + (torch.sqrt(spill ** 2 + 0.01) - 0.1).sum()
        if len(pairs):
            gap = (allpx[pairs[:, 0]] - goals[pairs[:, 1]]).norm(dim=1) / unit
            loss = loss + 0.5 * torch.sqrt(gap ** 2 + 0.01).sum() * \
                (max(len(contour), 1) / len(pairs))
        if clear is not None:
            idx, below, normal, need = clear
            lifted = torch.cat([_lift(q, scale, unit), torch.zeros(1, 3, dtype=torch.float64)])
            d = ((lifted[idx] - lifted[below]) * normal).sum(1)
            loss = loss + CLEAR_W * (torch.relu(need - d) / 0.001).pow(2).sum()
        loss.backward()
        opt.step()
        with torch.no_grad():                           # the cap, in every direction
            n = q.norm(dim=1).clamp_min(1e-9)
            q.mul_((torch.minimum(n, lim) / n)[:, None])
    moves[cand] = _lift(q.detach(), scale, unit).numpy()
    moves = _carry(layers, starts, verts, moves, carried)
    moves = _keep_clear(layers, starts, verts, moves, cap)
    return _split(moves, starts)


def _lift(q: torch.Tensor, scale: torch.Tensor, unit: float) -> torch.Tensor:
    """Moves in error units -> camera-frame metres in x/y at each vertex's depth (z = 0)."""
    xy = q.double() * unit * scale[:, None]
    return torch.cat([xy, torch.zeros(len(q), 1, dtype=xy.dtype)], dim=1)


def _project(v: np.ndarray, camera) -> np.ndarray:
    z = np.maximum(v[:, 2], 1e-3)
    return np.stack([camera.f * v[:, 0] / z + camera.cx, camera.f * v[:, 1] / z + camera.cy], 1)


def _raster(pix: np.ndarray, faces: np.ndarray, w: int, h: int) -> np.ndarray:
    """(H, W) bool outline of the projected mesh: OpenCV's triangle fill, one call per face
    (several times faster than raster.rasterize, and no depth is needed for a silhouette).
    Pixel centres are at i + 0.5 here, at i in OpenCV; vertices in 1/16 pixels."""
    m = np.zeros((h, w), np.uint8)
    tri = np.round((pix[faces] - 0.5) * 16).astype(np.int32)
    lo, hi = tri.min(1), tri.max(1)
    keep = (hi[:, 0] >= 0) & (hi[:, 1] >= 0) & (lo[:, 0] < w * 16) & (lo[:, 1] < h * 16)
    for t in tri[keep]:
        cv2.fillConvexPoly(m, t, 1, lineType=cv2.LINE_8, shift=4)
    return m > 0


def _sdf(mask: np.ndarray) -> np.ndarray:
    m = mask.astype(np.uint8)
    return cv2.distanceTransform(1 - m, cv2.DIST_L2, 5) - cv2.distanceTransform(m, cv2.DIST_L2, 5)


def _pixel_index(pix: np.ndarray, w: int, h: int) -> tuple[np.ndarray, np.ndarray]:
    return (np.clip(pix[:, 0].astype(int), 0, w - 1), np.clip(pix[:, 1].astype(int), 0, h - 1))


def _contour(verts: np.ndarray, moving: np.ndarray, still: np.ndarray, camera,
             target: np.ndarray, rim: np.ndarray, slot: np.ndarray, cap_px: np.ndarray):
    """Free vertices on the rendered outline (slots) and (slot, goal) pairs: each mask rim
    pixel, and each mask pixel the outline misses, pulls its nearest outline vertex, if that
    one is free (a goal nearest to a fixed vertex, e.g. skin next to a hem, is not a free
    neighbour's to slide along the outline for) and a move within the cap reaches it
    (farther goals are a wrong mask or a limb the body fit missed: not this stage's)."""
    h, w = target.shape
    pix = _project(verts, camera)
    sil = _raster(pix, moving, w, h) | still
    m = sil.astype(np.uint8)
    ring = np.ones((3, 3), np.uint8)
    band = cv2.dilate(m & (1 - cv2.erode(m, ring)), ring)
    xi, yi = _pixel_index(pix, w, h)
    outline = np.flatnonzero(band[yi, xi] > 0)
    on = slot[outline][slot[outline] >= 0]
    empty = (torch.zeros(0, dtype=torch.long), torch.zeros((0, 2), dtype=torch.long),
             torch.zeros((0, 2), dtype=torch.float64))
    if on.size == 0:
        return empty
    ys, xs = np.nonzero(target & ~sil)
    missed = np.stack([xs, ys], 1).astype(np.float64) + 0.5
    goals = np.concatenate([rim.astype(np.float64), missed])
    dist, near = cKDTree(pix[outline]).query(goals)
    v = outline[near]
    ok = (slot[v] >= 0) & (dist <= cap_px[v])
    if not ok.any():
        return torch.from_numpy(on), *empty[1:]
    pairs = np.stack([slot[v[ok]], np.arange(int(ok.sum()))], 1)
    return (torch.from_numpy(on), torch.from_numpy(pairs), torch.from_numpy(goals[ok]))


def _under_surfaces(layers: list[RimLayer], starts: np.ndarray, verts: np.ndarray, i: int):
    """Vertices, normals and global indices of the layers layer i rests on."""
    vs, ns, ids = [], [], []
    below = layers[i].rests_on
    for j in (range(i) if below is None else below):
        v = verts[starts[j]:starts[j + 1]]
        keep = np.ones(len(v), bool) if layers[j].solid is None else layers[j].solid
        vs.append(v[keep])
        ns.append(vertex_normals(v, layers[j].faces)[keep])
        ids.append(starts[j] + np.flatnonzero(keep))
    if not vs:
        return None
    return np.concatenate(vs), np.concatenate(ns), np.concatenate(ids)


def _clearance(layers, starts, verts, cand, slot, carried):
    """Linearised clearance for the fit: per free vertex over another layer, the slot of the
    nearest under-surface vertex (-1: it does not move), its normal and how far along it the
    move may go inwards relative to that vertex's (negative). Over carried skin there is no
    limit: the skin gives way (_carry)."""
    idx, below, normals, need = [], [], [], []
    owner = np.searchsorted(starts, cand, side="right") - 1
    for i in np.unique(owner):
        under = _under_surfaces(layers, starts, verts, i)
        if under is None:
            continue
        uv, un, ui = under
        sel = np.flatnonzero(owner == i)
        _, nn = cKDTree(uv).query(verts[cand[sel]])
        n = un[nn]
        c0 = ((verts[cand[sel]] - uv[nn]) * n).sum(1)
        fixed = ~carried[ui[nn]]
        idx.append(sel[fixed])
        below.append(slot[ui[nn]][fixed])
        normals.append(n[fixed])
        need.append((np.minimum(MIN_GAP, c0) - c0)[fixed])
    if not idx:
        return None
    return tuple(torch.from_numpy(np.concatenate(x)) for x in (idx, below, normals, need))


def _carry(layers, starts, verts, moves, carried, reach: float = 0.03, k: int = 4
           ) -> np.ndarray:
    """Carried skin makes room for the cloth over it: it takes the inward part (along its
    own normal, within the image plane) of the most inward move among the nearest moved
    points of the layers resting on it, and never moves outwards, so the clearance between
    them can only grow."""
    moves = moves.copy()
    for i, lay in enumerate(layers):
        mine = np.flatnonzero(carried[starts[i]:starts[i + 1]])
        over = [j for j in range(i + 1, len(layers))
                if layers[j].rests_on is None or i in layers[j].rests_on]
        pts = np.concatenate([np.arange(starts[j], starts[j + 1]) for j in over]) if over \
            else np.zeros(0, int)
        pts = pts[np.abs(moves[pts]).sum(1) > 0]
        if mine.size == 0 or pts.size == 0:
            continue
        v = verts[starts[i]:starts[i + 1]]
        n = vertex_normals(v, lay.faces)[mine, :2]
        size = np.linalg.norm(n, axis=1)
        dist, near = cKDTree(verts[pts]).query(v[mine], k=min(k, len(pts)),
                                                distance_upper_bound=reach)
        dist, near = dist.reshape(len(mine), -1), near.reshape(len(mine), -1)
        hit = dist < np.inf
        m = moves[pts[np.where(hit, near, 0)], :2]                       # (C, k, 2)
        hat = n / np.maximum(size, 1e-9)[:, None]
        inward = np.where(hit, np.minimum((m * hat[:, None, :]).sum(2), 0.0), 0.0).min(1)
        inward[size < 0.3] = 0.0          # facing the camera: moves in x/y pass over it
        moves[starts[i] + mine, :2] = inward[:, None] * hat
    return moves


def _keep_clear(layers, starts, verts, moves, cap: float, rounds: int = 4) -> np.ndarray:
    """Cut back moves that bring a layer closer than MIN_GAP (or closer than it was) to the
    layers under it, in dressing order so each layer is checked over the moved ones: first
    within the image plane along the surface's normal, then, if that is not enough, the move
    shrinks towards none."""
    moves = moves.copy()
    for i in range(len(layers)):
        sl = slice(starts[i], starts[i + 1])
        under = _under_surfaces(layers, starts, verts + moves, i)
        if under is None or not np.abs(moves[:starts[i + 1]]).any():
            continue
        uv, un, _ = under                  # every point: unmoved ones too, under may move
        tree = cKDTree(uv)
        orig = verts[sl]
        uv0, un0, _ = _under_surfaces(layers, starts, verts, i)     # the clearance before
        _, n0 = cKDTree(uv0).query(orig)
        c0 = ((orig - uv0[n0]) * un0[n0]).sum(1)
        need = np.minimum(MIN_GAP, c0)
        m = moves[sl].copy()
        for r in range(rounds):
            p = orig + m
            _, nn = tree.query(p)
            n = un[nn]
            short = need - ((p - uv[nn]) * n).sum(1)
            bad = short > 1e-5
            if not bad.any():
                break
            if r < rounds - 1:
                nxy = n[:, :2]
                k = (nxy ** 2).sum(1)
                fix = np.where(k > 0.09, short / np.maximum(k, 1e-9), 0.0)
                m[bad, :2] += nxy[bad] * fix[bad, None]
                m[bad & (k <= 0.09)] *= 0.5
                size = np.linalg.norm(m, axis=1)        # the push may not pass the cap
                m *= (np.minimum(size, cap) / np.maximum(size, 1e-12))[:, None]
            else:
                m[bad] = 0.0
        moves[sl] = m
    return moves


def _split(moves: np.ndarray, starts: np.ndarray) -> list[np.ndarray]:
    return [moves[starts[i]:starts[i + 1]] for i in range(len(starts) - 1)]
