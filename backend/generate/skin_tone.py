"""Skin albedo for generated people: a tone from a ten-step scale spanning light to very dark
skin (after the Monk Skin Tone scale), jittered per person, with gentle blotchy variation."""

from __future__ import annotations

import numpy as np

from ..textures.skin import skin_texture_png
from .attributes import SKIN_TONES

# sRGB, light to dark, in the order of attributes.SKIN_TONES
TONES = ((236, 204, 182), (228, 192, 164), (218, 176, 146), (212, 166, 132), (190, 140, 104),
         (170, 124, 88), (140, 96, 66), (110, 74, 52), (84, 58, 42), (60, 42, 32))


def skin_tone_texture(name: str, seed: int) -> tuple[bytes, tuple[float, float, float, float]]:
    """-> (PNG albedo for Anny's UV layout, base colour RGBA 0..1)."""
    rng = np.random.default_rng([int(seed), 3])
    base = np.asarray(TONES[SKIN_TONES.index(name)], dtype=np.float64)
    tone = tuple(int(c) for c in np.clip(base * (1 + rng.normal(0, 0.03, 3)), 0, 255))
    png = skin_texture_png(512, tone, int(rng.integers(2**31)))
    return png, (tone[0] / 255, tone[1] / 255, tone[2] / 255, 1.0)
