"""Eye texture: white sclera, a coloured iris with radial streaks, a dark pupil, as PNG bytes.
Laid out for ``eye_uvs``: the UV disc's centre is the front pole of the eyeball."""

from __future__ import annotations

from functools import lru_cache

import numpy as np

from ..imageio.png import png_bytes

IRIS_COLORS = {"brown": (92, 56, 30), "hazel": (120, 98, 52), "green": (78, 112, 70),
               "blue": (72, 112, 160), "grey": (116, 126, 134), "dark": (48, 32, 22)}
IRIS_ANGLE = 0.42      # radians from the front pole to the iris edge (~6.5 mm on Anny's eye)
PUPIL_ANGLE = 0.15


def eye_uvs(vertices: np.ndarray, faces: np.ndarray, forward=(0.0, -1.0, 0.0)) -> np.ndarray:
    """(F, 3, 2) float32 polar UVs of an eyeball: the angle from the front pole (0..pi) maps
    to radius 0..0.5 around (0.5, 0.5). vertices (N, 3) metres, faces (F, 3)."""
    d = vertices - vertices.mean(0)
    d /= np.maximum(np.linalg.norm(d, axis=1, keepdims=True), 1e-12)
    f = np.asarray(forward, np.float64)
    up = np.array([0.0, 0.0, 1.0])
    side = np.cross(f, up)
    theta = np.arccos(np.clip(d @ f, -1.0, 1.0))
    phi = np.arctan2(d @ up, d @ side)
    rho = 0.5 * theta / np.pi
    uv = np.stack([0.5 + rho * np.cos(phi), 0.5 + rho * np.sin(phi)], axis=1)
    return uv[faces].astype(np.float32)


@lru_cache(maxsize=16)
def eye_texture(iris: tuple[int, int, int], size: int = 128, seed: int = 0) -> bytes:
    """PNG bytes, ``size`` square; iris sRGB 0..255."""
    rng = np.random.default_rng(seed)
    y, x = (np.mgrid[0:size, 0:size] + 0.5) / size - 0.5
    theta = np.hypot(x, y) / 0.5 * np.pi            # angle from the front pole
    phi = np.arctan2(y, x)
    streaks = np.interp(phi, np.linspace(-np.pi, np.pi, 65), rng.uniform(0.75, 1.2, 65))
    rgb = np.full((size, size, 3), (236.0, 232.0, 226.0))
    iris_rgb = np.asarray(iris, np.float64) * streaks[..., None]
    # darker limbal ring toward the iris edge
    iris_rgb *= (1.0 - 0.45 * np.clip((theta / IRIS_ANGLE - 0.75) / 0.25, 0, 1))[..., None]
    rgb = np.where((theta < IRIS_ANGLE)[..., None], iris_rgb, rgb)
    rgb = np.where((theta < PUPIL_ANGLE)[..., None], np.array([12.0, 10.0, 10.0]), rgb)
    return png_bytes(rgb[::-1])                     # image rows run top-down, UV v bottom-up
