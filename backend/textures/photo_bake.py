"""Bake a photo onto Anny's UV atlas: the body layer's texture.

`bake_photo_texture` routes the body through layer_bake.py (seen texels from the photo, the
unseen back completed from the seen side with harmonic blending, so no seam at the silhouette
line). The shared pieces live here: the UV atlas raster, bilinear sampling, pull-push fill.

`bake_front_copy` is the previous method, kept for benchmarks/texture_back.py to compare with:
1. Every texel inside a UV triangle gets its surface point (barycentric on the posed mesh).
2. Seen texels: the point projects inside the person mask, faces the camera and passes a
   depth test against an exact raster of the posed mesh -> bilinear sample of the photo.
3. Unseen texels, in order: the mirror point (x -> -x in rest space, left/right symmetry);
   the same place on the other side of the body (front/back: mean of the nearest seen texels
   in rest (x, z), so colours carry over but prints do not; not for the head, whose back is
   hair: the crown's colour); OpenCV inpainting for the rest.
4. Texels outside every UV island are filled outwards (pull-push) so mip-mapping and bilinear
   lookups at island edges never pick up black.
"""

from __future__ import annotations

import cv2
import numpy as np
from scipy.spatial import cKDTree

from ..imageio.png import png_bytes
from ..raster import rasterize
from .atlas import SIZE, BakedTexture, Raster, _bilinear, _pull_push, uv_atlas
from .layer_bake import LayerMesh, View, bake_layer

__all__ = ["SIZE", "BakedTexture", "Raster", "bake_front_copy", "bake_photo_texture",
           "uv_atlas"]
MIRROR_TOL = 0.015     # metres between a texel's mirror point and the seen texel we copy
BACK_TOL = 0.04        # metres in rest (x, z) for the front/back copy
BACK_K = 24            # front texels averaged per back texel


COMPLETE_SIZE = 512   # atlas size at which unseen texels are completed (then upsampled)


def bake_photo_texture(photo: np.ndarray, mask: np.ndarray, posed: np.ndarray,
                       rest: np.ndarray, faces: np.ndarray, uvs: np.ndarray, f: float,
                       cx: float, cy: float, head_z: float, size: int = SIZE,
                       labels: np.ndarray | None = None,
                       occluders: list | None = None) -> BakedTexture:
    """photo (h, w, 3) uint8 and mask (h, w) bool at working resolution; posed (V, 3) camera
    frame (OpenCV, metres) and rest (V, 3) model space (Z up) vertices; faces (F, 3); uvs
    (F, 3, 2); intrinsics in working pixels; head_z: rest height (model space) above which
    texels belong to the head. labels: optional (h, w) segmentation (garments.outfit.SEGMENT_LABELS
    indices); occluders: optional layer_bake.LayerMesh garments over the body (the body then
    takes only skin, face and hair pixels)."""
    view = View(photo, mask, f, f, cx, cy, labels)
    own = ("skin", "face", "hair") if labels is not None and occluders else ()
    body = LayerMesh(posed, faces, uvs, rest, own, head_z=head_z, name="body",
                     mirror_colours=True)
    return bake_layer(view, body, list(occluders or ()), size=size)


def bake_front_copy(photo: np.ndarray, mask: np.ndarray, posed: np.ndarray,
                    rest: np.ndarray, faces: np.ndarray, uvs: np.ndarray, f: float,
                    cx: float, cy: float, head_z: float, size: int = SIZE) -> BakedTexture:
    """The previous bake (module docstring), for comparisons.

    Seen texels are sampled at ``size``; completion (symmetry, inpainting) runs on a
    COMPLETE_SIZE atlas and is upsampled: unseen parts are low-detail guesses anyway, and it
    keeps the nearest-neighbour searches and the inpainting 4x smaller."""
    view = (photo, mask, posed, faces, f, cx, cy)
    small = min(size, COMPLETE_SIZE)
    img, stats = _complete(view, rest, uvs, head_z, small)
    if size != small:
        img = cv2.resize(img, (size, size), interpolation=cv2.INTER_LINEAR)
        atlas = uv_atlas(uvs, size)
        tex_idx, tf, tb = _texels(atlas)
        p = np.einsum("nk,nkd->nd", tb, posed[faces[tf]])
        colours = np.zeros((len(tex_idx), 3), np.float32)
        seen = _seen_texels(photo, mask, posed, faces, tf, p, f, cx, cy, colours)
        flat = img.reshape(-1, 3)
        flat[tex_idx[seen]] = colours[seen]
    rgb = np.clip(img + 0.5, 0, 255).astype(np.uint8)
    island = uv_atlas(uvs, size).face >= 0
    return BakedTexture(png_bytes(rgb, compress_level=1), rgb, island, *stats)


def _texels(atlas: Raster):
    tex_idx = np.flatnonzero(atlas.face >= 0)
    return tex_idx, atlas.face.reshape(-1)[tex_idx], atlas.bary.reshape(-1, 3)[tex_idx]


def _complete(view, rest, uvs, head_z, size):
    """A fully filled (size, size, 3) float atlas and (seen, mirrored, inpainted) fractions."""
    photo, mask, posed, faces, f, cx, cy = view
    atlas = uv_atlas(uvs, size)
    tex_idx, tf, tb = _texels(atlas)
    p = np.einsum("nk,nkd->nd", tb, posed[faces[tf]])              # (N, 3) camera space
    q = np.einsum("nk,nkd->nd", tb, rest[faces[tf]])               # (N, 3) rest space
    colours = np.zeros((len(tex_idx), 3), np.float32)
    seen = _seen_texels(photo, mask, posed, faces, tf, p, f, cx, cy, colours)

    done = seen.copy()
    src = np.flatnonzero(seen)
    if src.size:
        tree = cKDTree(q[src])
        todo = np.flatnonzero(~done)
        mirrored = q[todo] * np.array([-1.0, 1.0, 1.0])
        dist, near = tree.query(mirrored, distance_upper_bound=MIRROR_TOL)
        ok = np.isfinite(dist)
        colours[todo[ok]] = colours[src[near[ok]]]
        done[todo[ok]] = True
        todo = np.flatnonzero(~done & (q[:, 2] < head_z))
        if todo.size:
            # Averaging several front texels keeps the garment's colour but not its print
            # (a logo copied sharp onto the back would read mirrored).
            tree_xz = cKDTree(q[src][:, [0, 2]])
            dist, near = tree_xz.query(q[todo][:, [0, 2]], k=BACK_K,
                                       distance_upper_bound=BACK_TOL)
            hit = np.isfinite(dist)
            ok = hit[:, 0]
            picked = np.where(hit, near, 0)
            avg = (colours[src[picked]] * hit[..., None]).sum(1) \
                / np.maximum(hit.sum(1), 1)[:, None]
            colours[todo[ok]] = avg[ok]
            done[todo[ok]] = True
        _hair_behind(q, seen, done, colours, head_z)
    n_sym = int(done.sum() - seen.sum())

    img = np.zeros((size * size, 3), np.float32)
    img[tex_idx] = colours
    known = np.zeros(size * size, bool)
    known[tex_idx[done]] = True
    img, known = img.reshape(size, size, 3), known.reshape(size, size)
    holes = (atlas.face >= 0) & ~known
    if not known.any():
        img[:] = (150, 120, 100)
        known[:] = True
    img = _inpaint(img, known, holes)
    img = _pull_push(img, known | holes)
    n = max(len(tex_idx), 1)
    return img, (float(seen.sum() / n), n_sym / n, float(holes.sum() / n))


def _hair_behind(q, seen, done, colours, head_z) -> None:
    """The back of the head is hair (or the scalp's colour), not a mirrored face: fill unseen
    head texels behind the ears with the median colour seen on the crown."""
    head = q[:, 2] >= head_z
    if not (head & seen).any():
        return
    top = q[head, 2].max()
    crown = seen & head & (q[:, 2] > top - 0.04)
    if crown.sum() < 20:
        return
    ears_y = np.median(q[head, 1])               # model -Y is forward: larger y is behind
    back = ~done & head & (q[:, 1] > ears_y)
    colours[back] = np.median(colours[crown], axis=0)
    done[back] = True


def _seen_texels(photo, mask, posed, faces, tf, p, f, cx, cy, colours) -> np.ndarray:
    """Mark texels the camera saw and write their photo colour into ``colours``."""
    h, w = mask.shape
    z = np.maximum(posed[:, 2], 1e-3)
    pix = np.stack([f * posed[:, 0] / z + cx, f * posed[:, 1] / z + cy], axis=1)
    ras = rasterize(pix, faces, w, h, depth=posed[:, 2])
    a, b, c = posed[faces[:, 0]], posed[faces[:, 1]], posed[faces[:, 2]]
    fn = np.cross(b - a, c - a)
    fn /= np.maximum(np.linalg.norm(fn, axis=1, keepdims=True), 1e-12)
    centre = (a + b + c) / 3.0
    facing = -(fn * centre).sum(1) / np.maximum(np.linalg.norm(centre, axis=1), 1e-9)
    pz = np.maximum(p[:, 2], 1e-3)
    u = f * p[:, 0] / pz + cx
    v = f * p[:, 1] / pz + cy
    inside = (u >= 0) & (u < w - 1) & (v >= 0) & (v < h - 1)
    ui = np.clip(u.astype(int), 0, w - 1)
    vi = np.clip(v.astype(int), 0, h - 1)
    # Stay clear of the mask's edge (segmentation is a few pixels loose there, and edge
    # pixels mix person and background) and of grazing views (stretched, smeared samples).
    k = max(5, int(0.007 * max(h, w)) | 1)
    eroded = cv2.erode(mask.astype(np.uint8), np.ones((k, k), np.uint8)) > 0
    front = ras.depth[vi, ui] + 0.02 >= p[:, 2]     # nothing nearer at that pixel
    seen = inside & front & eroded[vi, ui] & (facing[tf] > 0.3)
    idx = np.flatnonzero(seen)
    if idx.size:
        colours[idx] = _bilinear(photo, u[idx] - 0.5, v[idx] - 0.5)
    return seen


def _inpaint(img: np.ndarray, known: np.ndarray, holes: np.ndarray) -> np.ndarray:
    """Fill ``holes`` from ``known`` texels with OpenCV's Telea inpainting, at half resolution
    when the atlas is large (inpainting time grows with hole area)."""
    if not holes.any():
        return img
    size = img.shape[0]
    small = max(256, size // 2) if size > 256 else size
    k = size // small
    base = _pull_push(img, known)      # a rough fill so the downscale has no black
    lo = cv2.resize(base, (small, small), interpolation=cv2.INTER_AREA)
    lo_holes = cv2.resize(holes.astype(np.uint8), (small, small), interpolation=cv2.INTER_NEAREST)
    lo_holes = cv2.dilate(lo_holes, np.ones((3, 3), np.uint8))
    filled = cv2.inpaint(np.clip(lo, 0, 255).astype(np.uint8), lo_holes, 3, cv2.INPAINT_TELEA)
    up = cv2.resize(filled, (size, size), interpolation=cv2.INTER_LINEAR if k > 1 else
                    cv2.INTER_NEAREST).astype(np.float32)
    out = img.copy()
    out[holes] = up[holes]
    return out
