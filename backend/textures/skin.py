"""A plain skin albedo: one tone with gentle low-frequency variation, as PNG bytes."""

from __future__ import annotations

from functools import lru_cache

import numpy as np
from PIL import Image, ImageFilter

from ..imageio.png import png_bytes

DEFAULT_TONE = (224, 172, 140)   # sRGB, a mid-light skin tone


@lru_cache(maxsize=16)
def skin_texture_png(size: int = 512, tone: tuple[int, int, int] = DEFAULT_TONE,
                     seed: int = 0) -> bytes:
    rng = np.random.default_rng(seed)
    noise = rng.normal(0.0, 1.0, (size // 16, size // 16)).astype(np.float32)
    blur = Image.fromarray(((noise * 20) + 128).clip(0, 255).astype(np.uint8))
    blur = blur.resize((size, size), Image.BICUBIC).filter(ImageFilter.GaussianBlur(size / 64))
    var = (np.asarray(blur, dtype=np.float32) - 128.0) / 128.0 * 0.05
    rgb = np.asarray(tone, dtype=np.float32)[None, None, :] * (1.0 + var[..., None])
    return png_bytes(rgb)
