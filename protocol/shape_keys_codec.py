"""A layer's ShapeKeys <-> sparse array frames (the avatar codec's optional ``shape_keys``).

Dense deltas cost K x V x 3 float32: the 52 ARKit keys on Anny's 13,718-vertex body are
8.6 MB, mostly zeros (a face key moves a few hundred to ~2,500 vertices). So each key is sent
as the vertices it moves: ``counts`` (K,) int32, then ``indices`` (N,) int32 and ``deltas``
(N, 3) float32 for all keys one after another (N = sum of counts). Lossless: a vertex is left
out only when its delta is exactly zero.
"""

from __future__ import annotations

from typing import Any, Callable

import numpy as np

from .avatar import ShapeKeys
from .constants import ErrorCode
from .errors import ProtocolError

MAX_SHAPE_KEYS = 1024
MAX_DENSE_BYTES = 2 << 30     # a hostile file must not make the decoder allocate without end


def shape_keys_to_parts(sk: ShapeKeys, put: Callable[[str, Any, Any], str], p: str) -> dict:
    """-> the JSON description; ``put(name, array, dtype)`` stores an array frame."""
    moved = np.any(sk.deltas != 0, axis=2)                      # (K, V)
    keys, verts = np.nonzero(moved)                             # key-major order
    counts = np.bincount(keys, minlength=len(sk.names))
    return {"names": list(sk.names),
            "counts": put(p + "shape_keys/counts", counts, np.int32),
            "indices": put(p + "shape_keys/indices", verts, np.int32),
            "deltas": put(p + "shape_keys/deltas", sk.deltas[keys, verts], np.float32),
            "values": None if sk.values is None else put(p + "shape_keys/values", sk.values,
                                                         np.float32)}


def _bad(text: str) -> ProtocolError:
    return ProtocolError(ErrorCode.BAD_FILE, f"invalid avatar: {text}")


def shape_keys_from_parts(d: Any, get: Callable[..., np.ndarray | None],
                          vertex_count: int) -> ShapeKeys | None:
    """Inverse of :func:`shape_keys_to_parts` for a layer of ``vertex_count`` vertices;
    ``get(key, dtype)`` fetches an array frame. None when the layer has no shape keys."""
    if d is None:
        return None
    names = d["names"]
    if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
        raise _bad("shape key names must be a list of strings")
    k = len(names)
    if k > MAX_SHAPE_KEYS or k * vertex_count * 12 > MAX_DENSE_BYTES:
        raise _bad(f"{k} shape keys on {vertex_count} vertices is more than Doppel reads")
    counts = get(d["counts"], np.int64)
    indices = get(d["indices"], np.int64)
    deltas = get(d["deltas"], np.float32)
    if counts.shape != (k,) or (counts < 0).any():
        raise _bad(f"shape_keys.counts must be {k} non-negative counts")
    n = int(counts.sum())
    if indices.shape != (n,) or deltas.shape != (n, 3):
        raise _bad(f"shape_keys.indices/deltas must hold {n} entries as counts say")
    if n and (indices.min() < 0 or indices.max() >= vertex_count):
        raise _bad(f"shape_keys.indices name vertices outside 0..{vertex_count - 1}")
    dense = np.zeros((k, vertex_count, 3), dtype=np.float32)
    dense[np.repeat(np.arange(k), counts), indices] = deltas
    values = get(d.get("values"), np.float32)
    return ShapeKeys(names=names, deltas=dense, values=values)
