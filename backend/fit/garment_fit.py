"""Fit garment templates (garment_templates.py) to the person's silhouette.

The garments are posed by the fitted skeleton (linear blend skinning of rest + basis @ params,
so linear in the params), rasterised together with the fitted body, and fitted with the
clothing stage's exact-contour terms (clothing.py): contour vertices outside the mask are
pulled in through its signed distance field, and every mask rim pixel or uncovered mask pixel
pulls its nearest contour vertex. The garments' few parameters move, and the body's offsets
where no garment covers it (BodyFreedom). Cloth may take in only down to a few millimetres off
the skin, and the fitted garments are finally pushed outside the body and outside the garments
under them (_settle), so they never cut into it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from scipy.spatial import cKDTree

from ..garments.body_regions import BodyRegions
from ..garments.layers import HIDE_RINGS, merge_pieces
from ..garments.shells import GarmentPiece, interior, open_edge_vertices
from ..garments.surface import push_outside, vertex_normals
from ..raster import rasterize
from .clothing import _contour, silhouette_terms
from .garment_templates import Template
from .geometry import project

SMOOTH_W = 300.0     # first differences of neighbouring knots (metres^2)
PRIOR_W = 20.0       # pull towards the template (depth the photo cannot see stays small)
MIN_GAP = 0.0025     # metres of cloth off the skin at the least (poke-through tolerance: 2 mm)
STACK_GAP = 0.0025   # metres between a garment and the one under it
STACK_REACH = 0.03   # metres: only garment points this close to the one under it are pushed
NOT_STACKED = ("hair",)   # hair lies on the scalp and hangs behind; clothes do not stack on it


@dataclass
class FittedGarment:
    template: Template
    piece: GarmentPiece            # the merged pieces, fitted rest vertices
    posed: np.ndarray              # (N, 3) camera-frame vertices in the photo's pose
    params: dict[str, list[float]]  # mode name -> knot values (metres), for the metadata


def blend(transforms: np.ndarray, idx: np.ndarray, w: np.ndarray) -> np.ndarray:
    """(B, 4, 4) bone transforms, (N, k) skin indices/weights -> (N, 3, 4) blended."""
    return np.einsum("nk,nkij->nij", w.astype(np.float64), transforms[idx, :3, :])


def _linear_model(templates: list[Template], transforms: np.ndarray, lift: np.ndarray):
    """Posed garments = base + (J @ p).reshape(-1, 3): (base (N, 3), J (3N, K), per-param
    bounds (hi, lo), bounded-by index, smoothness pairs, mode slices)."""
    bases, cols, his, los, bound, pairs, slices = [], [], [], [], [], [], []
    start_v, start_p = 0, 0
    total_v = sum(sum(len(p.vertices) for p in t.pieces) for t in templates)
    for t in templates:
        piece = merge_pieces(t.pieces)
        a = blend(transforms, piece.skin_indices, piece.skin_weights)
        rest = piece.vertices.astype(np.float64) - lift
        bases.append(np.einsum("nij,nj->ni", a[:, :, :3], rest) + a[:, :, 3])
        mode_start = {}
        for i, m in enumerate(t.modes):
            k = m.control.shape[1]
            moved = np.einsum("nij,nj->ni", a[:, :, :3], m.direction)      # (N, 3)
            block = np.zeros((total_v, 3, k))
            block[start_v:start_v + len(rest)] = moved[:, :, None] * m.control[:, None, :]
            cols.append(block.reshape(-1, k))
            his.append(np.full(k, m.hi))
            los.append(np.full(k, m.lo))
            mode_start[i] = start_p
            bound.append(np.arange(mode_start[m.bounded_by], mode_start[m.bounded_by] + k)
                         if m.bounded_by is not None else np.full(k, -1))
            pairs += [(start_p + j, start_p + j + 1) for j in range(k - 1)]
            slices.append((t, m.name, slice(start_p, start_p + k)))
            start_p += k
        start_v += len(rest)
    return (np.concatenate(bases), np.concatenate(cols, axis=1), np.concatenate(his),
            np.concatenate(los), np.concatenate(bound), np.asarray(pairs, dtype=np.int64).reshape(-1, 2), slices)


@dataclass
class BodyFreedom:
    """Per-vertex offsets of the body along its normals, fitted with the garments: skin the
    garments do not cover (face, arms, legs below a skirt) and regions whose garment was not
    recognised follow the silhouette as the offsets of clothing.py do; skin under a garment
    may only shrink a little (the fit's phenotype overshoots on loose clothing), never grow."""

    normals: np.ndarray            # (V, 3) rest-space unit normals
    lo: np.ndarray                 # (V,) metres
    hi: np.ndarray                 # (V,) metres
    edges: torch.Tensor            # (E, 2) mesh edges, for smoothness


def fit_garments(templates: list[Template], regions: BodyRegions, transforms: np.ndarray,
                 lift: np.ndarray, body_faces: np.ndarray, camera, target: np.ndarray,
                 freedom: BodyFreedom, iters: int = 60, refresh: int = 10,
                 progress=lambda f: None) -> tuple[list[FittedGarment], np.ndarray]:
    """Fit every template's parameters and the body's offsets at once to ``target`` ((H, W)
    bool person mask). transforms: (B, 4, 4) bone transforms of the fitted pose (fit space
    -> camera); lift: rest_body space minus fit space (rest_body stands on the floor).
    Returns the fitted garments and the body's rest-space offsets (V, 3)."""
    a_body = blend(transforms, *_skin(regions))
    body_rest = regions.vertices.astype(np.float64) - lift
    body_base = np.einsum("nij,nj->ni", a_body[:, :, :3], body_rest) + a_body[:, :, 3]
    body_dir = np.einsum("nij,nj->ni", a_body[:, :, :3], freedom.normals)
    n_body = len(body_base)
    faces = [body_faces]
    if templates:
        base, jac, hi, lo, bound, pairs, slices = _linear_model(templates, transforms, lift)
        offsets = np.cumsum([0] + [sum(len(p.vertices) for p in t.pieces) for t in templates])
        faces += [merge_pieces(t.pieces).faces + n_body + o
                  for t, o in zip(templates, offsets[:-1])]
    else:
        base, jac, hi, lo = np.zeros((0, 3)), np.zeros((0, 0)), np.zeros(0), np.zeros(0)
        bound, pairs, slices = np.zeros(0, int), np.zeros((0, 2), int), []
    faces = np.concatenate(faces)
    body_b = torch.from_numpy(body_base.astype(np.float32))
    body_m = torch.from_numpy(body_dir.astype(np.float32))
    d_lo = torch.from_numpy(freedom.lo.astype(np.float32))
    d_hi = torch.from_numpy(freedom.hi.astype(np.float32))
    base_t = torch.from_numpy(base.astype(np.float32))
    jac_t = torch.from_numpy(jac.astype(np.float32))
    hi_t = torch.from_numpy(hi.astype(np.float32))
    lo_t = torch.from_numpy(lo.astype(np.float32))
    has_bound = torch.from_numpy(bound >= 0)
    bound_t = torch.from_numpy(np.maximum(bound, 0))
    pairs_t = torch.from_numpy(pairs)
    e = freedom.edges
    h, w = target.shape
    sdf, rim, unit = silhouette_terms(target)
    p = torch.zeros(len(hi), requires_grad=True)
    d = torch.zeros(n_body, requires_grad=True)
    opt = torch.optim.Adam([{"params": [p], "lr": 0.006}, {"params": [d], "lr": 0.003}])

    def vertices(params, dist):
        return torch.cat([body_b + dist[:, None] * body_m,
                          base_t + (jac_t @ params).reshape(-1, 3)])

    lengths = [(sl.start, lo[sl.start], hi[sl.start]) for _, name, sl in slices
               if name.endswith(".length")]
    contour = goal_pairs = goals = None
    for it in range(iters):
        if lengths and it == 0:
            with torch.no_grad():
                for k, a, b in lengths:
                    p[k] = _best_length(lambda q: vertices(q, d), p, k, a, b, faces, camera,
                                        target)
        if it % refresh == 0:
            with torch.no_grad():
                contour, goal_pairs, goals = _contour(vertices(p, d), faces, camera, target, rim)
        opt.zero_grad()
        verts = vertices(p, d)
        px = project(verts[contour], camera.f, camera.cx, camera.cy)
        grid = torch.stack([px[:, 0] / w * 2 - 1, px[:, 1] / h * 2 - 1], dim=1)[None, None]
        s = torch.nn.functional.grid_sample(sdf, grid, align_corners=False,
                                            padding_mode="border")[0, 0, 0]
        onto = torch.sqrt((torch.relu(s) / unit) ** 2 + 0.01).sum()
        gap = (px[goal_pairs[:, 0]] - goals[goal_pairs[:, 1]]).norm(dim=1) / unit
        reach = torch.sqrt(gap ** 2 + 0.01).sum() * (len(contour) / max(len(goal_pairs), 1))
        smooth = (p[pairs_t[:, 0]] - p[pairs_t[:, 1]]).pow(2).sum() if len(pairs_t) else 0.0
        body_smooth = (d[e[:, 0]] - d[e[:, 1]]).pow(2).sum()
        loss = onto + 0.5 * reach + SMOOTH_W * smooth + PRIOR_W * p.pow(2).sum() + \
            3e3 * body_smooth + 100.0 * d.pow(2).sum()
        loss.backward()
        opt.step()
        with torch.no_grad():
            d.copy_(torch.maximum(torch.minimum(d, d_hi), d_lo))
            p.copy_(torch.maximum(torch.minimum(p, hi_t), lo_t))
            lim = p[bound_t].abs()                 # a sideways shift never exceeds its growth
            p.copy_(torch.where(has_bound, torch.maximum(torch.minimum(p, lim), -lim), p))
        if it % 10 == 0:
            progress(it / iters)
    params = p.detach().numpy().astype(np.float64)
    body_offsets = d.detach().numpy().astype(np.float64)[:, None] * freedom.normals
    return _settle(templates, params, slices, regions, body_offsets, freedom, transforms, lift)


def _best_length(vertices, p: torch.Tensor, k: int, lo: float, hi: float, faces, camera,
                 target: np.ndarray, tries: int = 7) -> float:
    """The value of length parameter k (a hem) whose silhouette overlaps the mask best: the
    contour terms only see a hem's nearest pixels, and from a hem far off the photo's they
    would widen the skirt instead of lengthening it."""
    small = target[::2, ::2]                  # half resolution: a hem is not a pixel matter
    h, w = small.shape
    best, best_iou = float(p[k]), -1.0
    for value in np.unique(np.append(np.linspace(lo, hi, tries), float(p[k]))):
        q = p.clone()
        q[k] = float(value)
        v = vertices(q)
        pix = project(v, camera.f, camera.cx, camera.cy).numpy() / 2.0
        sil = rasterize(pix, faces, w, h).mask
        iou = float((sil & small).sum()) / max(float((sil | small).sum()), 1.0)
        if iou > best_iou + 1e-4:
            best, best_iou = float(value), iou
    return best


def _skin(r: BodyRegions) -> tuple[np.ndarray, np.ndarray]:
    """(V, B) dense weights -> (V, k) indices/weights of the nonzero ones."""
    k = int((r.dense_weights > 0).sum(1).max())
    idx = np.argsort(-r.dense_weights, axis=1)[:, :k]
    return idx, np.take_along_axis(r.dense_weights, idx, 1)


def _settle(templates, params, slices, regions: BodyRegions, body_offsets: np.ndarray,
            freedom: BodyFreedom, transforms, lift
            ) -> tuple[list[FittedGarment], np.ndarray]:
    """Fitted rest vertices: the template moved by its parameters; the hidden skin under it
    tucked in where the cloth came close (_tuck_skin); then the cloth kept outside the body
    and outside the garments put on before it (dressing order). Returns the garments and
    the body's final offsets."""
    fitted = []
    for t in templates:
        piece = merge_pieces(t.pieces)
        v = piece.vertices.astype(np.float64).copy()
        values = {}
        for tt, name, sl in slices:
            if tt is not t:
                continue
            m = next(m for m in t.modes if m.name == name)
            v += m.direction * (m.control @ params[sl])[:, None]
            values[name] = [round(float(x), 4) for x in params[sl]]
        fitted.append((t, piece, v, values))
    body_offsets = _tuck_skin(fitted, regions, body_offsets, freedom)
    body_v = regions.vertices + body_offsets
    body_n = vertex_normals(body_v, regions.faces)
    surface = np.flatnonzero(~regions.seg["inner"])
    body_tree = cKDTree(body_v[surface])
    out: list[FittedGarment] = []
    for t, piece, v, values in fitted:
        v = push_outside(v, body_v, body_n, MIN_GAP, candidates=surface,
                         tree=body_tree).astype(np.float64)
        # and outside the skin it is bound to (near an ear the nearest skin is another)
        a = piece.anchor
        v += body_n[a] * np.clip(MIN_GAP - ((v - body_v[a]) * body_n[a]).sum(1), 0.0,
                                 None)[:, None]
        for under in out:                          # over the garments already on
            if t.role in NOT_STACKED or under.template.role in NOT_STACKED:
                continue
            uv, uf = under.piece.vertices, under.piece.faces
            inner = np.flatnonzero(~open_edge_vertices(uf, len(uv)))   # hems push sideways
            near = cKDTree(uv[inner]).query(v, distance_upper_bound=STACK_REACH)[0] < np.inf
            if near.any():
                v[near] = push_outside(v[near], uv, vertex_normals(uv, uf), STACK_GAP,
                                       candidates=inner)
        if "skirt.length" in values:       # skin below a shortened hem is shown again
            hem = v[-len(t.pieces[-1].vertices):, 2].min()     # the skirt is the last piece
            legs = regions.part["leg"][piece.hides] > 0.5
            piece.hides = piece.hides[~legs | (regions.vertices[piece.hides, 2] > hem + 0.03)]
        piece.vertices = v.astype(np.float32)
        a = blend(transforms, piece.skin_indices, piece.skin_weights)
        posed = np.einsum("nij,nj->ni", a[:, :, :3], v - lift) + a[:, :, 3]
        out.append(FittedGarment(t, piece, posed.astype(np.float32), values))
    return out, body_offsets


def _tuck_skin(fitted, regions: BodyRegions, offsets: np.ndarray, freedom: BodyFreedom
               ) -> np.ndarray:
    """The fit may take cloth in past the fitted skin (the phenotype overshoots on loose
    clothing; the skin under cloth never reaches the outline, so nothing else moves it). Where
    it did, the hidden skin gives way, down to freedom.lo, rather than the cloth: it is tucked
    in to MIN_GAP under the cloth bound to it, smoothly over a ring of neighbours."""
    faces = regions.faces
    body_v = regions.vertices + offsets
    n = vertex_normals(body_v, faces).astype(np.float64)
    need = np.zeros(len(body_v))
    hides = np.zeros(len(body_v), dtype=bool)
    for _, piece, v, _ in fitted:
        a = piece.anchor
        np.maximum.at(need, a, MIN_GAP - ((v - body_v[a]) * n[a]).sum(1))
        hides[piece.hides] = True
    hidden = interior(faces, hides, HIDE_RINGS)      # skin the avatar does not show
    need = np.where(hidden, np.clip(need, 0.0, None), 0.0)
    for _ in range(2):                               # dent smoothly, not vertex by vertex
        ring = np.zeros_like(need)
        np.maximum.at(ring, faces.ravel(), np.repeat(need[faces].mean(1), 3))
        need = np.where(hidden, np.maximum(need, ring), 0.0)
    d = (offsets * freedom.normals).sum(1)
    return offsets + (np.maximum(d - need, freedom.lo) - d)[:, None] * freedom.normals
