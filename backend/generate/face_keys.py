"""Shape keys of a layer bound to the body (hair, hats): the body's keys carried through the
layer's SurfaceBinding, so a fringe rides on the brow it is bound to."""

from __future__ import annotations

import numpy as np

from protocol import MeshLayer, ShapeKeys

from ..garments.surface import refit

MIN_MOTION = 1e-4   # metres: a key that moves a layer less than this is left out of it


def bound_shape_keys(layer: MeshLayer, body: MeshLayer) -> ShapeKeys | None:
    """The body's keys as they move ``layer`` (each key at weight 1, refitted through the
    binding, including the turn of the triangle frames); None when the layer has no binding,
    the body no keys, or no key moves the layer by MIN_MOTION (the layer is off the face)."""
    if layer.binding is None or body.shape_keys is None:
        return None
    keys = body.shape_keys
    base = refit(layer.binding, body.vertices).astype(np.float64)
    names, deltas = [], []
    for name, d in zip(keys.names, keys.deltas):
        touched = np.any(d[layer.binding.triangles] != 0, axis=(1, 2))
        if not touched.any():
            continue
        moved = refit(layer.binding, body.vertices + d).astype(np.float64) - base
        moved[~touched] = 0.0            # float noise off the key's support stays exactly 0
        if np.abs(moved).max() >= MIN_MOTION:
            names.append(name)
            deltas.append(moved.astype(np.float32))
    if not names:
        return None
    values = None
    if keys.values is not None:
        values = np.array([keys.values[keys.index(n)] for n in names], dtype=np.float32)
    return ShapeKeys(names=names, deltas=np.stack(deltas), values=values)


def add_bound_shape_keys(layers: list[MeshLayer], body: MeshLayer) -> None:
    """Give every bound layer that covers part of the face its keys (in place)."""
    for lay in layers:
        if lay is not body:
            lay.shape_keys = bound_shape_keys(lay, body)
