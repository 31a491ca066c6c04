"""Cloth and hair textures: named colours and tileable patterns (plain, stripes, checks,
denim-like twill, hair strands), plus the box-projected UVs that make them tile at a fixed
real-world scale on any garment.

A texture tile covers TILE_METRES x TILE_METRES of cloth; UVs are metres / TILE_METRES, so a
pattern repeats (Blender's default image extension) and has the same scale everywhere.
"""

from __future__ import annotations


import numpy as np
from scipy.ndimage import gaussian_filter

from ..imageio.png import png_bytes

TILE_METRES = 0.25
TILE_PX = 256

# sRGB 0..255
COLORS: dict[str, tuple[int, int, int]] = {
    "black": (28, 28, 30), "white": (236, 236, 232), "grey": (128, 130, 134),
    "charcoal": (58, 60, 64), "navy": (30, 40, 80), "blue": (40, 80, 170),
    "light_blue": (140, 180, 220), "teal": (20, 120, 120), "green": (40, 110, 60),
    "olive": (100, 105, 55), "khaki": (180, 165, 120), "beige": (215, 200, 170),
    "brown": (100, 65, 40), "tan": (170, 125, 80), "red": (180, 30, 35),
    "maroon": (110, 25, 40), "pink": (230, 150, 170), "purple": (100, 50, 130),
    "orange": (225, 120, 40), "yellow": (230, 200, 60), "denim": (55, 80, 125),
}
HAIR_COLORS: dict[str, tuple[int, int, int]] = {
    "black": (22, 18, 16), "dark_brown": (50, 33, 22), "brown": (92, 62, 38),
    "auburn": (120, 50, 30), "blonde": (200, 165, 105), "grey": (160, 158, 152),
}
PATTERNS = ("plain", "stripes", "checks", "denim")


def _tile_noise(rng: np.random.Generator, sigma: float) -> np.ndarray:
    """(TILE_PX, TILE_PX) zero-mean, unit-std noise that wraps around at the tile edges."""
    n = gaussian_filter(rng.standard_normal((TILE_PX, TILE_PX)), sigma, mode="wrap")
    return (n - n.mean()) / max(float(n.std()), 1e-9)


def cloth_texture(pattern: str, color: tuple[int, int, int], accent: tuple[int, int, int],
                  rng: np.random.Generator) -> tuple[bytes, tuple[float, float, float, float]]:
    """-> (PNG bytes of one tile, mean linear-ish base colour RGBA 0..1)."""
    base = np.asarray(color, dtype=np.float64)
    acc = np.asarray(accent, dtype=np.float64)
    yy, xx = np.mgrid[0:TILE_PX, 0:TILE_PX] / TILE_PX          # v (rows), u (cols), 0..1
    if pattern == "stripes":
        period = int(rng.choice([4, 6, 8, 10]))                 # stripes per tile
        width = float(rng.uniform(0.3, 0.5))
        band = ((yy * period) % 1.0) < width
        img = np.where(band[..., None], acc, base)
    elif pattern == "checks":
        period = int(rng.choice([4, 5, 8]))
        a = ((xx * period) % 1.0) < 0.5
        b = ((yy * period) % 1.0) < 0.5
        mix = 0.5 * a + 0.5 * b                                  # gingham: 0, 0.5, 1
        img = base * (1 - mix[..., None]) + acc * mix[..., None]
    elif pattern == "denim":
        twill = 0.5 + 0.5 * np.sin(2 * np.pi * (xx + yy) * 64)  # diagonal weave
        img = base * (0.85 + 0.2 * twill[..., None])
        img = img * (1 + 0.12 * _tile_noise(rng, 6)[..., None])  # fading blotches
        img = img + 18 * (rng.random((TILE_PX, TILE_PX)) > 0.93)[..., None]  # white weft
    else:
        img = np.broadcast_to(base, (TILE_PX, TILE_PX, 3)).astype(np.float64)
    img = img * (1 + 0.035 * _tile_noise(rng, 0.8)[..., None])  # fabric grain
    mean = img.reshape(-1, 3).mean(0) / 255.0
    return png_bytes(img), (float(mean[0]), float(mean[1]), float(mean[2]), 1.0)


def hair_texture(color: tuple[int, int, int], rng: np.random.Generator
                 ) -> tuple[bytes, tuple[float, float, float, float]]:
    """Strands: noise stretched along v (down the hair), lighter and darker streaks."""
    streak = gaussian_filter(rng.standard_normal((TILE_PX, TILE_PX)), (24, 0.7), mode="wrap")
    streak /= max(float(streak.std()), 1e-9)
    img = np.asarray(color, dtype=np.float64) * (1 + 0.22 * streak[..., None])
    mean = img.reshape(-1, 3).mean(0) / 255.0
    return png_bytes(img), (float(mean[0]), float(mean[1]), float(mean[2]), 1.0)


def shoe_texture(color: tuple[int, int, int], sole: tuple[int, int, int], sole_height: float,
                 rng: np.random.Generator) -> tuple[bytes, tuple[float, float, float, float]]:
    """Upper colour with a sole band up to ``sole_height`` metres (box UVs: v = z / tile)."""
    img = np.empty((TILE_PX, TILE_PX, 3))
    img[:] = color
    rows = int(round(sole_height / TILE_METRES * TILE_PX))
    img[:rows] = sole        # row 0 is v = 0 after the flip below
    img = img * (1 + 0.04 * _tile_noise(rng, 1.0)[..., None])
    mean = np.asarray(color, dtype=np.float64) / 255.0
    return png_bytes(img[::-1]), (float(mean[0]), float(mean[1]), float(mean[2]), 1.0)


def box_uvs(vertices: np.ndarray, faces: np.ndarray) -> np.ndarray:
    """(F, 3, 2) per-corner UVs: v = height, u = the horizontal coordinate across the face's
    dominant horizontal normal axis, in tiles. Horizontal stripes stay continuous all round."""
    tri = vertices[faces].astype(np.float64)                          # (F, 3, 3)
    n = np.cross(tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0])
    use_y = np.abs(n[:, 0]) > np.abs(n[:, 1])                         # faces looking along X
    u = np.where(use_y[:, None], tri[:, :, 1], tri[:, :, 0])
    v = tri[:, :, 2]
    return (np.stack([u, v], axis=2) / TILE_METRES).astype(np.float32)
