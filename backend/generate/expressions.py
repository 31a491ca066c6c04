"""Facial expressions of generated people as ARKit blendshape weights (the avatar carries the
52 ARKit shape keys; the body's values are shared with the face parts and bound layers).
Each expression is a recipe of key weights, scaled per person by a seeded intensity."""

from __future__ import annotations

import numpy as np

from protocol import RiggedAvatar, ShapeKeys

from ..face_layers import share_key_values


def _both(name: str, w: float) -> dict[str, float]:
    return {f"{name}Left": w, f"{name}Right": w}


EXPRESSIONS: dict[str, dict[str, float]] = {
    "neutral": {},
    "smile": {**_both("mouthSmile", 0.75), **_both("cheekSquint", 0.35),
              **_both("eyeSquint", 0.2), **_both("mouthDimple", 0.2)},
    "grin": {**_both("mouthSmile", 0.9), **_both("cheekSquint", 0.5), **_both("eyeSquint", 0.3),
             "jawOpen": 0.22, **_both("mouthUpperUp", 0.35), **_both("mouthLowerDown", 0.3)},
    "surprise": {"browInnerUp": 0.85, **_both("browOuterUp", 0.75), **_both("eyeWide", 0.7),
                 "jawOpen": 0.35, "mouthFunnel": 0.2},
    "sad": {"browInnerUp": 0.6, **_both("mouthFrown", 0.6), "mouthShrugLower": 0.35,
            **_both("eyeSquint", 0.15), **_both("eyeLookDown", 0.2)},
    "angry": {**_both("browDown", 0.75), **_both("noseSneer", 0.4), **_both("mouthPress", 0.4),
              **_both("eyeSquint", 0.35), **_both("mouthFrown", 0.3)},
    "wink": {"eyeBlinkLeft": 1.0, "cheekSquintLeft": 0.4, "mouthSmileLeft": 0.6,
             "mouthSmileRight": 0.35},
}


def expression_weights(name: str, intensity: float) -> dict[str, float]:
    """{ARKit key: weight in [0, 1]} of ``name`` at ``intensity`` (0..1)."""
    return {k: float(np.clip(w * intensity, 0.0, 1.0)) for k, w in EXPRESSIONS[name].items()}


def wear_expression(avatar: RiggedAvatar, name: str, seed: int) -> dict[str, float]:
    """Set the body's key values to the expression (in place) and share them with every layer
    that has keys; returns the weights worn. The intensity is the seed's (0.7 .. 1)."""
    body = avatar.layer("body")
    keys = None if body is None else body.shape_keys
    weights = expression_weights(name, float(np.random.default_rng([int(seed), 7]).uniform(
        0.7, 1.0)))
    if keys is None or not weights:
        return {}
    values = np.zeros(len(keys.names), np.float32)
    for k, w in weights.items():
        if k in keys.names:
            values[keys.index(k)] = w
    body.shape_keys = ShapeKeys(names=keys.names, deltas=keys.deltas, values=values)
    share_key_values(avatar)
    return {k: round(w, 4) for k, w in weights.items() if k in keys.names}
