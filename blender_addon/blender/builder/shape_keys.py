"""Pass: a layer's ShapeKeys -> Blender shape keys (Basis + one key per name, e.g. the 52
ARKit keys with Apple's names), set to the avatar's weights (the photo's expression)."""

from __future__ import annotations

import numpy as np


def build_shape_keys(obj, layer) -> None:
    """Add ``layer.shape_keys`` to mesh object ``obj`` (built from ``layer``; same vertex
    order). Each key's "co" is written in one foreach_set: rest + delta."""
    keys = layer.shape_keys
    if keys is None:
        return
    rest = np.ascontiguousarray(layer.vertices, dtype=np.float32)
    obj.shape_key_add(name="Basis", from_mix=False)
    values = np.zeros(len(keys.names), np.float32) if keys.values is None else keys.values
    for name, delta, value in zip(keys.names, keys.deltas, values):
        block = obj.shape_key_add(name=name, from_mix=False)
        block.data.foreach_set("co", (rest + delta).astype(np.float32).ravel())
        block.slider_min, block.slider_max = 0.0, 1.0
        block.value = float(value)
    obj.data.shape_keys.use_relative = True
