"""Non-overlapping UV layouts for photo-textured garment layers (box_uvs tile a pattern and
overlap on purpose; a photo bake needs every texel to belong to one surface point).

- shells copy body faces, so they reuse the body's UV atlas for those faces (cropped to the
  part of the atlas they use);
- everything else (skirt and dress rings, the hair curtain, a bun) gets cylindrical UVs about
  the vertical axis through the piece: u around (0 = the back, so the cut sits behind the
  body), v up, metres kept in proportion;
- a layer of several pieces gets one square tile per piece.

Garment builders that want photo textures set ``MeshLayer.uvs = layer_uvs(pieces, ...)``
for the merged layer (merge_pieces keeps the pieces' order).
"""

from __future__ import annotations

import numpy as np

from .shells import GarmentPiece

MARGIN = 0.01        # UV units kept free around each tile (bilinear lookups, mip-maps)


def shell_uvs(piece: GarmentPiece, body_faces: np.ndarray, body_uvs: np.ndarray
              ) -> np.ndarray | None:
    """(M, 3, 2) the body atlas's UVs of the body faces a shell was copied from, or None
    when the piece is not a shell of these faces (shell() keeps the body vertex of each
    shell vertex in ``hides``, in order)."""
    if len(piece.hides) != len(piece.vertices):
        return None
    src = np.asarray(piece.hides)[piece.faces]                          # body vertex triples
    n = int(body_faces.max()) + 1
    key = lambda f: (f[:, 0].astype(np.int64) * n + f[:, 1]) * n + f[:, 2]
    order = np.argsort(key(body_faces))
    keys = key(body_faces)[order]
    want = key(src)
    pos = np.clip(np.searchsorted(keys, want), 0, len(keys) - 1)
    if not (keys[pos] == want).all():
        return None
    return body_uvs[order[pos]].astype(np.float32)


def cylinder_uvs(vertices: np.ndarray, faces: np.ndarray) -> np.ndarray:
    """(M, 3, 2) UVs unrolled about the vertical axis through the piece's centre: u is the
    angle (0 and 1 behind), v the height; faces across the cut take u + 1 on their small side
    so none spans the whole atlas. Scaled so a metre is as long in u as in v."""
    v = np.asarray(vertices, np.float64)
    c = 0.5 * (v.min(0) + v.max(0))
    ang = np.arctan2(v[:, 0] - c[0], -(v[:, 1] - c[1]))                # 0 = front (-Y)
    u = ((ang + 2 * np.pi) % (2 * np.pi)) / (2 * np.pi)                 # 0 front .. 1 front
    u = (u + 0.5) % 1.0                                                 # cut behind
    uv = np.stack([u[faces], v[faces, 2]], -1)                          # (M, 3, 2)
    span = uv[..., 0].max(1) - uv[..., 0].min(1)
    wrap = span > 0.5
    uv[..., 0] = np.where(wrap[:, None] & (uv[..., 0] < 0.5), uv[..., 0] + 1.0, uv[..., 0])
    radius = float(np.percentile(np.hypot(v[:, 0] - c[0], v[:, 1] - c[1]), 90))
    uv[..., 0] *= 2 * np.pi * max(radius, 1e-3)                         # metres around
    return uv.astype(np.float32)


def _fit_tile(uv: np.ndarray, tile: int, grid: int) -> np.ndarray:
    """Scale (M, 3, 2) UVs, aspect kept, into square tile ``tile`` of a grid x grid layout."""
    lo, hi = uv.reshape(-1, 2).min(0), uv.reshape(-1, 2).max(0)
    side = 1.0 / grid
    scale = (side - 2 * MARGIN) / max(float((hi - lo).max()), 1e-9)
    origin = np.array([tile % grid, tile // grid], np.float64) * side + MARGIN
    return ((uv - lo) * scale + origin).astype(np.float32)


def layer_uvs(pieces: list[GarmentPiece], body_faces: np.ndarray | None = None,
              body_uvs: np.ndarray | None = None) -> np.ndarray:
    """(M, 3, 2) non-overlapping UVs of the layer merge_pieces(pieces) makes: shells on the
    body atlas, other pieces unrolled about the vertical, one tile per piece."""
    parts, shells = [], []
    for p in pieces:
        uv = None
        if body_faces is not None and body_uvs is not None:
            uv = shell_uvs(p, body_faces, body_uvs)
        shells.append(uv is not None)
        parts.append(cylinder_uvs(p.vertices, p.faces) if uv is None else uv)
    if len(parts) == 1 and shells[0]:
        return parts[0]                 # one shell: the body atlas as it is
    grid = int(np.ceil(np.sqrt(len(parts))))
    return np.concatenate([_fit_tile(uv, i, grid) for i, uv in enumerate(parts)])
