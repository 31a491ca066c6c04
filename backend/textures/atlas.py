"""What every texture bake shares: the result type, the UV atlas raster (which texel lies on
which face), bilinear photo sampling and the pull-push fill outside UV islands."""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import cv2
import numpy as np

from ..raster import Raster, rasterize

SIZE = 1024


@dataclass
class BakedTexture:
    png: bytes
    rgb: np.ndarray            # (S, S, 3) uint8
    island: np.ndarray         # (S, S) bool: texels inside a UV triangle
    seen_fraction: float       # of island texels, taken from the photo
    mirrored_fraction: float   # completed by copying (mirror, front/back)
    inpainted_fraction: float  # completed otherwise (blending, inpainting, hair colour)


@lru_cache(maxsize=4)
def _atlas(size: int, uv_key: bytes, n_faces: int) -> Raster:
    uvs = np.frombuffer(uv_key, dtype=np.float32).reshape(n_faces * 3, 2)
    pts = np.stack([uvs[:, 0] * size, (1.0 - uvs[:, 1]) * size], axis=1)
    return rasterize(pts, np.arange(n_faces * 3).reshape(-1, 3), size, size)


def uv_atlas(uvs: np.ndarray, size: int = SIZE) -> Raster:
    """Raster of the UV layout: per texel the face and barycentrics (image row 0 = v 1)."""
    uvs = np.ascontiguousarray(uvs, dtype=np.float32)
    return _atlas(size, uvs.tobytes(), uvs.shape[0])


def _bilinear(img: np.ndarray, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Sample (h, w, 3) at float pixel-index coordinates -> (N, 3) float32."""
    h, w = img.shape[:2]
    x = np.clip(x, 0, w - 1.001)
    y = np.clip(y, 0, h - 1.001)
    x0, y0 = x.astype(int), y.astype(int)
    fx, fy = (x - x0)[:, None], (y - y0)[:, None]
    im = img.astype(np.float32)
    top = im[y0, x0] * (1 - fx) + im[y0, x0 + 1] * fx
    bot = im[y0 + 1, x0] * (1 - fx) + im[y0 + 1, x0 + 1] * fx
    return top * (1 - fy) + bot * fy


def _pull_push(img: np.ndarray, known: np.ndarray) -> np.ndarray:
    """Fill every unknown texel with a smooth extrapolation of the known ones (image pyramid:
    average down known values, then fill unknowns from the coarser level on the way up)."""
    if known.all():
        return img
    levels = [(img * known[..., None], known.astype(np.float32))]
    while min(levels[-1][1].shape) > 1:
        c, wgt = levels[-1]
        hh, ww = (c.shape[0] + 1) // 2, (c.shape[1] + 1) // 2
        c = cv2.resize(c, (ww, hh), interpolation=cv2.INTER_AREA)
        wgt = cv2.resize(wgt, (ww, hh), interpolation=cv2.INTER_AREA)
        levels.append((c, wgt))
    c, wgt = levels[-1]
    fill = c / np.maximum(wgt[..., None], 1e-8)
    for c, wgt in reversed(levels[:-1]):
        up = cv2.resize(fill, (c.shape[1], c.shape[0]), interpolation=cv2.INTER_LINEAR)
        cur = c / np.maximum(wgt[..., None], 1e-8)
        a = np.clip(wgt, 0, 1)[..., None]
        fill = a * cur + (1 - a) * up
    out = img.copy()
    out[~known] = fill[~known]
    return out
