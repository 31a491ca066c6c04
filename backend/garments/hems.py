"""Hems and collars with thickness: a turned-in rim along a garment's open edges.

A shell or drape is a single sheet, so seen edge-on at a cuff, neckline or skirt hem it has
no thickness and reads as paint. Along every open (boundary) edge we add a strip folding
the cloth back towards the skin (HEM_DEPTH at most), then a facing running HEM_WIDTH back up
inside the garment, as a sewn hem does. The rim vertices copy their edge vertex's skin
weights and anchor, so they move, bind and transfer with the garment.
"""

from __future__ import annotations

import numpy as np

from .shells import GarmentPiece
from .surface import push_outside

HEM_DEPTH = 0.004     # metres: the cloth's visible thickness at an edge, at most
DEPTH_SHARE = 0.35    # of the cloth's height off the skin: tight cloth gets a thinner rim
HEM_WIDTH = 0.012     # metres: the turned-in facing inside the garment
MIN_GAP = 0.0015      # the fold stays this far off the skin


def boundary_edges(faces: np.ndarray) -> np.ndarray:
    """(E, 2) open edges (used by one face only), in their face's winding order."""
    e = np.concatenate([faces[:, [0, 1]], faces[:, [1, 2]], faces[:, [2, 0]]])
    key = np.sort(e, axis=1)
    _, inv, count = np.unique(key, axis=0, return_inverse=True, return_counts=True)
    return e[count[inv.ravel()] == 1]


def add_hem(piece: GarmentPiece, body_vertices: np.ndarray, body_normals: np.ndarray
            ) -> GarmentPiece:
    """``piece`` with a rim strip (two rows of quads) along each open edge."""
    edges = boundary_edges(piece.faces)
    if not len(edges):
        return piece
    v = piece.vertices.astype(np.float64)
    rim = np.unique(edges)
    slot = np.full(len(v), -1)
    slot[rim] = np.arange(len(rim))
    # into the garment along its surface: towards the mean of each rim vertex's neighbours
    nb_sum = np.zeros((len(v), 3))
    nb_cnt = np.zeros(len(v))
    for a, b in ((0, 1), (1, 2), (2, 0), (1, 0), (2, 1), (0, 2)):
        np.add.at(nb_sum, piece.faces[:, a], v[piece.faces[:, b]])
        np.add.at(nb_cnt, piece.faces[:, a], 1.0)
    n = body_normals[piece.anchor[rim]].astype(np.float64)
    inward = nb_sum[rim] / np.maximum(nb_cnt[rim], 1.0)[:, None] - v[rim]
    inward -= (inward * n).sum(1, keepdims=True) * n
    inward /= np.maximum(np.linalg.norm(inward, axis=1, keepdims=True), 1e-9)
    height = ((v[rim] - body_vertices[piece.anchor[rim]]) * n).sum(1)
    depth = np.clip(DEPTH_SHARE * height, 0.0, HEM_DEPTH)
    fold = v[rim] - n * depth[:, None]
    facing = fold + inward * HEM_WIDTH
    new = np.concatenate([fold, facing])
    gap = np.maximum(height - depth, MIN_GAP)
    new = push_outside(new, body_vertices, body_normals, np.concatenate([gap, gap]),
                       candidates=np.unique(piece.anchor))
    base = len(v)
    a, b = edges[:, 0], edges[:, 1]
    fa, fb = base + slot[a], base + slot[b]                       # fold row
    ia, ib = fa + len(rim), fb + len(rim)                         # facing row
    quads = [(b, a, fa, fb), (fb, fa, ia, ib)]                    # reversed: continues the sheet
    tris = np.concatenate([np.stack([q[0], q[1], q[2]], 1) for q in quads] +
                          [np.stack([q[0], q[2], q[3]], 1) for q in quads])
    take = np.concatenate([rim, rim])
    return GarmentPiece(
        vertices=np.concatenate([piece.vertices, new.astype(np.float32)]),
        faces=np.concatenate([piece.faces, tris]).astype(np.int32),
        anchor=np.concatenate([piece.anchor, piece.anchor[take]]),
        skin_indices=np.concatenate([piece.skin_indices, piece.skin_indices[take]]),
        skin_weights=np.concatenate([piece.skin_weights, piece.skin_weights[take]]),
        hides=piece.hides)
