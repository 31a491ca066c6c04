"""The RGBA strand atlas hair cards are textured with, drawn procedurally per person.

Layout (u across, v up; the root of a card is at v = 1, its tip at v = 0):
  u in [0, CARD_U_END)        CLUMPS columns, each a clump of strands on a transparent
                              background (alpha fades to 0 at the column's sides and tip)
  u in [CAP_U_START, 1]       an opaque block of streaks for the scalp cap under the cards
Straight strands for most styles, tight waves for curly ones.
"""

from __future__ import annotations

import numpy as np
from scipy.ndimage import gaussian_filter

from ..imageio.png import png_bytes

SIZE = 512                  # pixels, square
CLUMPS = 3
CARD_U_END = 0.75           # clump columns share the left three quarters
CAP_U_START = 0.78          # a gap, so bilinear filtering never mixes cap into a card edge
STRANDS = 80                # per clump column


def clump_u(column: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(u0, u1) of clump column(s) ``column`` (ints 0..CLUMPS-1), inset by a pixel."""
    w = CARD_U_END / CLUMPS
    inset = 1.5 / SIZE
    return column * w + inset, (column + 1) * w - inset


def _clump(rng: np.random.Generator, width: int, curly: bool) -> tuple[np.ndarray, np.ndarray]:
    """(H, W) alpha and (H, W) brightness of one clump of strands (row 0 = the root)."""
    y = np.linspace(0.0, 1.0, SIZE)[None, :, None]                    # 0 root .. 1 tip
    x = np.arange(width)[None, None, :].astype(np.float64)
    n = STRANDS
    x0 = rng.uniform(0.12, 0.88, n)[:, None, None] * width
    tip = rng.uniform(0.65, 1.0, n)[:, None, None]                    # strands end unevenly
    if curly:
        amp = rng.uniform(0.04, 0.09, n)[:, None, None] * width
        period = rng.uniform(0.06, 0.11, n)[:, None, None]
    else:
        amp = rng.uniform(0.0, 0.03, n)[:, None, None] * width
        period = rng.uniform(0.5, 1.5, n)[:, None, None]
    phase = rng.uniform(0, 2 * np.pi, n)[:, None, None]
    drift = rng.normal(0.0, 0.06, n)[:, None, None] * width * y       # strands fan out a bit
    xc = x0 + drift + amp * np.sin(2 * np.pi * y / period + phase)
    sigma = rng.uniform(0.8, 1.5, n)[:, None, None]                   # pixels: strand width
    a = np.exp(-0.5 * ((x - xc) / sigma) ** 2)
    a *= np.clip((tip - y) / 0.08, 0.0, 1.0)                          # soft tips
    shade = rng.uniform(0.75, 1.2, n)[:, None, None]
    alpha = 1.0 - np.prod(1.0 - 0.9 * a, axis=0)
    bright = (a * shade).sum(0) / np.maximum(a.sum(0), 1e-6)
    side = np.minimum(x[0], width - 1 - x[0]) / (0.12 * width)       # fade at the card sides
    alpha *= np.clip(side, 0.0, 1.0)
    return alpha, np.where(alpha > 1e-3, bright, 1.0)


def strand_atlas(color: tuple[int, int, int], rng: np.random.Generator, curly: bool = False
                 ) -> tuple[bytes, tuple[float, float, float, float]]:
    """-> (RGBA PNG bytes, mean base colour RGBA 0..1) for sRGB ``color`` (0..255)."""
    img = np.zeros((SIZE, SIZE, 4))
    base = np.asarray(color, np.float64)
    col_w = int(CARD_U_END / CLUMPS * SIZE)
    for c in range(CLUMPS):
        alpha, bright = _clump(rng, col_w, curly)
        img[:, c * col_w:(c + 1) * col_w, :3] = base * bright[..., None]
        img[:, c * col_w:(c + 1) * col_w, 3] = 255.0 * alpha
    # opaque streaks for the cap: along v, as combed hair
    cap0 = int(CAP_U_START * SIZE)
    streak = gaussian_filter(rng.standard_normal((SIZE, SIZE - cap0)), (20, 0.8), mode="wrap")
    streak /= max(float(streak.std()), 1e-9)
    img[:, cap0:, :3] = base * (0.85 + 0.15 * streak[..., None])
    img[:, cap0:, 3] = 255.0
    # row 0 of the image is v = 1 (the card roots): Blender's v runs bottom-up
    mean = base / 255.0
    return png_bytes(img), (float(mean[0]), float(mean[1]), float(mean[2]), 1.0)
