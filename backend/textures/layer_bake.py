"""Bake the photo onto one layer of an avatar (body, garment, hair, shoes) and complete what
the camera did not see from the seen side of the same layer, with no seam where they meet.

1. Texels: every texel inside a UV triangle gets its posed (camera) and rest point.
2. Seen: the texel faces the camera, its pixel is inside the (eroded) person mask and, when a
   segmentation is given, inside the layer's own labels, and an exact raster of ALL layers
   shows this layer at that pixel and its neighbours (so a coat's colour never lands on the
   body under it) within a self-occlusion tolerance. A view weight ramps from 0 at grazing
   angles to 1 facing the camera: grazing samples are smeared and mix in the background.
3. Completion C for every texel, from seen texels of the same layer, first that applies: the
   left/right mirror point (same side of the body); the other side at the same rest (x, z)
   (front <-> back, so stripes and hems continue round); for the body's head behind the
   ears, the hair colour (the back of a head is hair).
4. Blending (Poisson, on the mesh): the offset S - C on seen vertices is interpolated
   harmonically over the unseen ones (Laplace on the mesh graph, so UV cuts do not matter)
   and added to C; seen texels blend into it by their view weight. Where seen meets
   completed the colours agree, yet the back keeps the pattern of the copied side.
5. Texels outside every UV island are filled outwards (pull-push) for mip-mapping.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import cv2
import numpy as np
import scipy.sparse as sp
from scipy.sparse.csgraph import connected_components
from scipy.sparse.linalg import splu, spsolve
from scipy.spatial import cKDTree

from ..garments.outfit import SEGMENT_LABELS
from ..imageio.png import png_bytes
from ..raster import Raster, rasterize
from .atlas import BakedTexture, _bilinear, _pull_push, uv_atlas

COMPLETE_SIZE = 512    # atlas size at which unseen texels are completed (then upsampled)
MIRROR_TOL = 0.015     # metres between a texel's mirror point and the seen texel we copy
BACK_TOL = 0.04        # metres in rest (x, z) for the front/back copy
BACK_K = 6             # texels averaged per front/back copy: stripes survive, noise does not
FACING_MIN = 0.3       # cosine to the view ray below which a texel counts as unseen
FACING_FULL = 0.6      # ... at and above which the photo's colour is taken unblended
LOWPASS_M = 0.06       # metres: colour variations wider than this are light, not pattern
DARK = 8.0             # sRGB offset of the pattern ratio: dark cloth keeps a faint pattern
PATTERN_MAX = 2.5      # a pattern brightens or darkens its smooth colour at most this much
SELF_TOL = 0.02        # metres: the layer's own surface nearer than this does not occlude


@dataclass
class View:
    """The photo and its pinhole camera (pixel i covers [i, i + 1), as in raster.py)."""

    photo: np.ndarray                 # (h, w, 3) uint8
    person_mask: np.ndarray           # (h, w) bool
    fx: float
    fy: float
    cx: float
    cy: float
    labels: np.ndarray | None = None  # (h, w) int indices into SEGMENT_LABELS

    def project(self, p: np.ndarray) -> np.ndarray:
        z = np.maximum(p[:, 2], 1e-3)
        return np.stack([self.fx * p[:, 0] / z + self.cx, self.fy * p[:, 1] / z + self.cy], 1)


@dataclass
class LayerMesh:
    """One layer as the bake needs it: posed in the camera frame and at rest (model space,
    Z up, -Y forward, +X the person's left) with per-face-corner UVs."""

    posed: np.ndarray                 # (N, 3) camera frame, metres
    faces: np.ndarray                 # (F, 3)
    uvs: np.ndarray | None = None     # (F, 3, 2); None for an occluder
    rest: np.ndarray | None = None    # (N, 3); None: posed used (no symmetry then)
    labels: tuple[str, ...] = ()      # segmentation labels it may be seen under; () any
    head_z: float | None = None       # body only: rest height above which texels are head
    name: str = "layer"
    # copy the mirror side's colours, not only its pattern: right for the body (a hand, an
    # ear, an arm), not for a garment lit from one side (the copy would show the light)
    mirror_colours: bool = False


@dataclass
class LayerBake(BakedTexture):
    seen: np.ndarray = field(default=None)      # (S, S) bool texels sampled from the photo
    source: np.ndarray = field(default=None)    # (S, S) int8 completion kind (see SOURCES)


SOURCES = ("seen", "mirror", "front_back", "blend", "hair", "none")


def scene_raster(view: View, meshes: list[LayerMesh]) -> tuple[Raster, np.ndarray]:
    """Exact raster of all layers at the photo's resolution and (F_total,) layer index."""
    h, w = view.person_mask.shape
    pts = np.concatenate([m.posed for m in meshes])
    starts = np.cumsum([0] + [len(m.posed) for m in meshes[:-1]])
    faces = np.concatenate([m.faces + s for m, s in zip(meshes, starts)])
    owner = np.concatenate([np.full(len(m.faces), i) for i, m in enumerate(meshes)])
    return rasterize(view.project(pts), faces, w, h, depth=pts[:, 2]), owner


def bake_layer(view: View, layer: LayerMesh, occluders: list[LayerMesh] = (),
               size: int = 1024, scene: tuple[Raster, np.ndarray] | None = None,
               index: int = 0) -> LayerBake:
    """Texture of ``layer`` from the photo, its unseen part completed from its own seen part.
    ``scene``/``index``: a scene_raster already made (layer ``index`` of it), so several
    layers share one raster; otherwise it is made of [layer, *occluders]."""
    if layer.uvs is None:
        raise ValueError(f"layer {layer.name!r} has no UVs to bake into")
    if scene is None:
        scene, index = scene_raster(view, [layer, *occluders]), 0
    rest = layer.posed if layer.rest is None else layer.rest
    small = min(size, COMPLETE_SIZE)
    tx = _Texels(uv_atlas(layer.uvs, small), layer, rest)
    colour, weight = _seen(view, scene, index, layer, tx)
    img, source, holes = _complete(view, layer, tx, colour, weight, small)
    seen_small = weight > 0
    if size != small:
        img = cv2.resize(img, (size, size), interpolation=cv2.INTER_LINEAR)
        big = _Texels(uv_atlas(layer.uvs, size), layer, rest)
        c_big, w_big = _seen(view, scene, index, layer, big)
        flat = img.reshape(-1, 3)
        k = w_big > 0
        flat[big.idx[k]] = w_big[k, None] * c_big[k] + (1 - w_big[k, None]) * flat[big.idx[k]]
        island = uv_atlas(layer.uvs, size).face >= 0
    else:
        island = tx.atlas.face >= 0
    rgb = np.clip(img + 0.5, 0, 255).astype(np.uint8)
    src_img = np.full(small * small, len(SOURCES) - 1, np.int8)
    src_img[tx.idx] = source
    n = max(len(tx.idx), 1)
    seen_f = float(seen_small.sum() / n)
    copied = float(np.isin(source, (1, 2)).sum() / n)
    seen_map = np.zeros(small * small, bool)
    seen_map[tx.idx] = seen_small
    return LayerBake(png_bytes(rgb, compress_level=1), rgb, island, seen_f, copied,
                     float((np.isin(source, (3, 4)).sum() + holes) / n),
                     seen=seen_map.reshape(small, small), source=src_img.reshape(small, small))


class _Texels:
    """Texels of a UV atlas with their posed and rest points and posed face facing."""

    def __init__(self, atlas: Raster, layer: LayerMesh, rest: np.ndarray) -> None:
        self.atlas = atlas
        self.idx = np.flatnonzero(atlas.face >= 0)
        self.face = atlas.face.reshape(-1)[self.idx]
        self.bary = atlas.bary.reshape(-1, 3)[self.idx]
        corners = layer.faces[self.face]
        self.corners = corners
        self.p = np.einsum("nk,nkd->nd", self.bary, layer.posed[corners])
        self.q = np.einsum("nk,nkd->nd", self.bary, rest[corners])
        self.rest_ny = _face_normals(rest, layer.faces)[self.face, 1]


def _face_normals(v: np.ndarray, faces: np.ndarray) -> np.ndarray:
    a, b, c = v[faces[:, 0]], v[faces[:, 1]], v[faces[:, 2]]
    n = np.cross(b - a, c - a)
    return n / np.maximum(np.linalg.norm(n, axis=1, keepdims=True), 1e-12)


def _label_mask(view: View, labels: tuple[str, ...]) -> np.ndarray:
    """Pixels of the person the layer may be seen under (its labels when a segmentation is
    given), eroded clear of mixed edge pixels."""
    h, w = view.person_mask.shape
    k = max(5, int(0.007 * max(h, w)) | 1)
    ok = view.person_mask.astype(bool)
    if view.labels is not None and labels:
        ids = [SEGMENT_LABELS.index(nm) for nm in labels]
        ok = ok & np.isin(view.labels, ids)
    return cv2.erode(ok.astype(np.uint8), np.ones((k, k), np.uint8)) > 0


def _seen(view: View, scene, index: int, layer: LayerMesh, tx: _Texels):
    """(N, 3) photo colour and (N,) view weight (0 = unseen) of each texel."""
    ras, owner = scene
    h, w = view.person_mask.shape
    fn = _face_normals(layer.posed, layer.faces)
    centre = layer.posed[layer.faces].mean(1)
    facing = -(fn * centre).sum(1) / np.maximum(np.linalg.norm(centre, axis=1), 1e-9)
    uv = view.project(tx.p)
    inside = (uv[:, 0] >= 0) & (uv[:, 0] < w - 1) & (uv[:, 1] >= 0) & (uv[:, 1] < h - 1)
    ui = np.clip(uv[:, 0].astype(int), 0, w - 1)
    vi = np.clip(uv[:, 1].astype(int), 0, h - 1)
    # this layer is what the camera sees at the pixel and all around it (bilinear samples
    # and a pixel of fit error must not pull in the garment over or under it)
    mine = np.where(ras.face >= 0, owner[np.maximum(ras.face, 0)] == index, False)
    mine = cv2.erode(mine.astype(np.uint8), np.ones((3, 3), np.uint8)) > 0
    front = ras.depth[vi, ui] + SELF_TOL >= tx.p[:, 2]
    ok = inside & mine[vi, ui] & front & _label_mask(view, layer.labels)[vi, ui]
    weight = np.where(ok, np.clip((facing[tx.face] - FACING_MIN) / (FACING_FULL - FACING_MIN),
                                  0.0, 1.0), 0.0).astype(np.float32)
    colour = np.zeros((len(tx.idx), 3), np.float32)
    k = np.flatnonzero(weight > 0)
    if k.size:
        colour[k] = _bilinear(view.photo, uv[k, 0] - 0.5, uv[k, 1] - 0.5)
    return colour, weight


def _complete(view: View, layer: LayerMesh, tx: _Texels, seen_rgb: np.ndarray,
              weight: np.ndarray, size: int):
    """Filled (size, size, 3) float atlas, (N,) source kind per texel, hole texel count."""
    seen = weight > 0
    n = len(tx.idx)
    comp = np.zeros((n, 3), np.float32)
    source = np.full(n, 5, np.int8)
    src = np.flatnonzero(seen)
    if src.size:
        _copy_sources(tx, seen_rgb, src, comp, source)
        if layer.head_z is not None:
            _hair_behind(view, tx, seen_rgb, seen, layer.head_z, comp, source)
        # Stage 1, mirror copies (the same side of the body, lit alike): the copy plus the
        # offset S - C on seen texels that have one too, continued harmonically (Poisson
        # blending), so a copy meets the photo without a jump. They then count as known.
        mir = (source == 1) if layer.mirror_colours else np.zeros(len(source), bool)
        known_rgb, known_w = seen_rgb.copy(), weight.copy()
        if mir.any():
            off = _harmonic(layer, tx, seen_rgb - comp, weight * mir)
            fill = mir & (weight < 1)
            known_rgb[fill] = (weight[fill, None] * seen_rgb[fill]
                                + (1 - weight[fill, None]) * (comp[fill] + off[fill]))
            known_w[fill] = 1.0
        # Stage 2, the rest: the front/back copy's pattern (colour over smooth colour: no
        # lit blotch on the back, dark on black) on the known colours continued
        # harmonically over the unknown part (mean matched where they meet: no seam).
        detail = _pattern(layer, tx, comp, source, kinds=(2,) if mir.any() else (1, 2))
        blend = _harmonic(layer, tx, known_rgb, known_w)
        # never darker or brighter than both colours it is made of (no black specks)
        lo, hi = np.minimum(blend, comp), np.maximum(blend, comp)
        made = np.clip((blend + DARK) * detail - DARK, lo, hi)
        comp = np.where((source == 4)[:, None], comp, made)            # hair: its colour
        comp[mir] = known_rgb[mir]
        seen_rgb, weight = known_rgb, known_w
    else:
        comp[:] = _fallback_colour(view, layer)
    w = weight[:, None]
    colours = w * seen_rgb + (1 - w) * comp
    source[seen & (weight >= 1)] = 0
    img = np.zeros((size * size, 3), np.float32)
    img[tx.idx] = colours
    known = np.zeros(size * size, bool)
    known[tx.idx] = True
    img = _pull_push(img.reshape(size, size, 3), known.reshape(size, size))
    return img, source, 0


def _copy_sources(tx: _Texels, rgb: np.ndarray, src: np.ndarray, comp: np.ndarray,
                  source: np.ndarray) -> None:
    """For every texel, the colour of the corresponding seen texel(s): mirror, then the other
    side at the same rest (x, z); kind 3 where neither applies. A texel's own colour is
    never its source (seen texels get one too: the Poisson step needs S - C on them)."""
    q = tx.q
    todo = np.ones(len(q), bool)
    tree = cKDTree(q[src])
    dist, near = tree.query(q * np.array([-1.0, 1.0, 1.0]), distance_upper_bound=MIRROR_TOL)
    # a texel on the mid-plane is its own mirror: not a source for itself
    ok = np.isfinite(dist) & (np.abs(q[:, 0]) > MIRROR_TOL)
    comp[ok] = rgb[src[near[ok]]]
    source[ok] = 1
    todo &= ~ok
    for side in (True, False):                  # texels facing back take the front, ...
        mine = todo & ((tx.rest_ny >= 0) == side)
        other = src[(tx.rest_ny[src] >= 0) != side]
        if not mine.any() or other.size < BACK_K:
            continue
        t2 = cKDTree(q[other][:, [0, 2]])
        dist, near = t2.query(q[mine][:, [0, 2]], k=BACK_K, distance_upper_bound=BACK_TOL)
        hit = np.isfinite(dist)
        good = hit[:, 0]
        pick = np.where(hit, near, 0)
        avg = (rgb[other[pick]] * hit[..., None]).sum(1) / np.maximum(hit.sum(1), 1)[:, None]
        ids = np.flatnonzero(mine)[good]
        comp[ids] = avg[good]
        source[ids] = 2
        todo[ids] = False
    source[todo] = 3        # no copy: the harmonic blend of the seen colours alone


def _hair_behind(view: View, tx: _Texels, rgb: np.ndarray, seen: np.ndarray, head_z: float,
                 comp: np.ndarray, source: np.ndarray) -> None:
    """The back of the head is hair, not a copy of the face: unseen head texels behind the
    ears take the hair colour (the photo's hair region when labelled, else the crown's)."""
    q = tx.q
    head = q[:, 2] >= head_z
    if not head.any():
        return
    hair = None
    if view.labels is not None:
        m = cv2.erode((view.labels == SEGMENT_LABELS.index("hair")).astype(np.uint8),
                      np.ones((3, 3), np.uint8)) > 0
        if m.sum() >= 20:
            hair = np.median(view.photo[m].reshape(-1, 3), axis=0)
    if hair is None:
        crown = seen & head & (q[:, 2] > q[head, 2].max() - 0.04)
        if crown.sum() < 20:
            return
        hair = np.median(rgb[crown], axis=0)
    ears_y = np.median(q[head, 1])               # model -Y is forward: larger y is behind
    back = ~seen & head & (q[:, 1] > ears_y)
    comp[back] = hair
    source[back] = 4


def _fallback_colour(view: View, layer: LayerMesh) -> np.ndarray:
    """A layer the camera did not see at all: the median colour of its labels in the photo,
    else of the person."""
    m = _label_mask(view, layer.labels)
    if m.sum() < 20:
        m = view.person_mask.astype(bool)
    if m.sum() < 20:
        return np.array([150.0, 120.0, 100.0], np.float32)
    return np.median(view.photo[m].reshape(-1, 3), axis=0).astype(np.float32)


def _vertex_graph(faces: np.ndarray, nv: int) -> sp.csr_matrix:
    f = faces
    i = np.concatenate([f[:, 0], f[:, 1], f[:, 2]])
    j = np.concatenate([f[:, 1], f[:, 2], f[:, 0]])
    adj = sp.coo_matrix((np.ones(len(i)), (i, j)), shape=(nv, nv)).tocsr()
    adj = ((adj + adj.T) > 0).astype(np.float64)
    return sp.diags(np.asarray(adj.sum(1)).ravel()) - adj       # graph Laplacian


def _to_vertices(tx: _Texels, values: np.ndarray, weight: np.ndarray, nv: int):
    """Barycentric-weighted per-vertex means of (N, 3) texel values -> ((nv, 3), (nv,) mass)."""
    rows = tx.corners.ravel()
    b = tx.bary.ravel().astype(np.float64) * np.repeat(weight, 3)
    mass = np.bincount(rows, b, nv)
    vals = np.repeat(values, 3, axis=0)
    out = np.stack([np.bincount(rows, b * vals[:, c], nv) for c in range(3)], 1)
    return out / np.maximum(mass, 1e-12)[:, None], mass


def _to_texels(tx: _Texels, vertex_values: np.ndarray) -> np.ndarray:
    return np.einsum("nk,nkd->nd", tx.bary, vertex_values[tx.corners]).astype(np.float32)


def _pattern(layer: LayerMesh, tx: _Texels, values: np.ndarray, source: np.ndarray,
             kinds: tuple[int, ...]) -> np.ndarray:
    """(N, 3) ``values`` over their smooth part over LOWPASS_M metres on the mesh, for texels
    whose source is one of ``kinds`` (1 elsewhere): the pattern (stripes, checks, folds)
    without the light, which copied from the lit front would be a blotch on the back.
    Smoothing is normalised per kind, (M_k + lam L) x = M_k c, so neighbouring texels from
    another source do not bleed in."""
    nv = len(layer.posed)
    edges = layer.posed[layer.faces] - np.roll(layer.posed[layer.faces], 1, axis=1)
    edge = float(np.median(np.linalg.norm(edges, axis=-1)))
    lam = (LOWPASS_M / max(edge, 1e-4)) ** 2
    lap = _vertex_graph(layer.faces, nv)
    out = np.ones_like(values)
    for k in kinds:
        sel = source == k
        if not sel.any():
            continue
        v, mass = _to_vertices(tx, values, sel.astype(np.float64), nv)
        m = mass / np.maximum(_to_vertices(tx, values, np.ones(len(sel)), nv)[1], 1e-12)
        solve = splu((sp.diags(m + 1e-6) + lam * lap).tocsc()).solve
        num = solve(v * m[:, None])
        den = solve(m)
        low = num / np.maximum(den, 1e-6)[:, None]
        ratio = (values[sel] + DARK) / (_to_texels(tx, low)[sel] + DARK)
        out[sel] = np.clip(ratio, 1 / PATTERN_MAX, PATTERN_MAX)
    return out


def _harmonic(layer: LayerMesh, tx: _Texels, target: np.ndarray, weight: np.ndarray
              ) -> np.ndarray:
    """(N, 3): ``target`` on the layer's seen vertices (most of their texels seen), harmonic
    (mesh Laplace equation, so UV cuts do not matter) on the others, interpolated to texels.
    Completed texels then meet seen ones without a jump, and the colour between two seen
    edges (a back between two silhouette lines) blends between them."""
    nv = len(layer.posed)
    val, sw = _to_vertices(tx, target, weight, nv)
    _, tot = _to_vertices(tx, target, np.ones(len(weight)), nv)
    fixed = sw > 0.5 * np.maximum(tot, 1e-9)
    free = np.flatnonzero(~fixed)
    out = np.where(fixed[:, None], val, 0.0)
    if free.size and fixed.any():
        lap = _vertex_graph(layer.faces, nv)
        luu = lap[free][:, free] + sp.identity(free.size) * 1e-6   # parts with nothing seen
        rhs = -(lap[free][:, np.flatnonzero(fixed)] @ val[fixed])
        out[free] = np.asarray(spsolve(luu.tocsc(), rhs)).reshape(free.size, 3)
        _, comp_id = connected_components(lap != 0, directed=False)
        reached = np.isin(comp_id, comp_id[fixed])
        out[~reached] = np.average(val[fixed], axis=0, weights=sw[fixed])  # nothing seen
    return _to_texels(tx, out)


def bake_avatar_layers(view: View, layers: list[LayerMesh], sizes: dict[str, int] | None = None
                       ) -> dict[str, LayerBake]:
    """Bake every layer that has UVs against one exact raster of all of them: {name: bake}.
    sizes: texture size per layer name (default 1024 for the body, 512 for the others)."""
    scene = scene_raster(view, layers)
    out = {}
    for i, lay in enumerate(layers):
        if lay.uvs is None:
            continue
        size = (sizes or {}).get(lay.name, 1024 if lay.head_z is not None else 512)
        out[lay.name] = bake_layer(view, lay, size=size, scene=scene, index=i)
    return out
