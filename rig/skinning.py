"""Linear blend skinning and skin-weight utilities, once, in numpy (the way smplx's lbs.py
is written: stateless functions, shapes in the docstrings).

A point bound to bone b moves by the skinning matrix S_b = G_b @ inv(R_b): posed frame times
inverse rest frame (see kinematics.py).
"""

from __future__ import annotations

import numpy as np


def skinning_matrices(rest: np.ndarray, posed: np.ndarray) -> np.ndarray:
    """(B, 4, 4) rest frames, (..., B, 4, 4) posed frames -> (..., B, 4, 4) matrices taking
    rest armature-space points to posed ones."""
    return np.asarray(posed, np.float64) @ np.linalg.inv(np.asarray(rest, np.float64))


def blend_transforms(skin: np.ndarray, indices: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """(B, 4, 4) skinning matrices, (N, k) bone indices and weights -> (N, 4, 4) per point.
    Weights are renormalised per point (a point whose weights sum to 0 gets a zero matrix)."""
    w = np.asarray(weights, np.float64)
    w = w / np.maximum(w.sum(axis=1, keepdims=True), 1e-12)
    return np.einsum("nk,nkij->nij", w, np.asarray(skin)[np.asarray(indices)])


def skin_points(points: np.ndarray, transforms: np.ndarray) -> np.ndarray:
    """(N, 3) rest points, (N, 4, 4) blended transforms -> (N, 3) posed points."""
    p = np.asarray(points, np.float64)
    return np.einsum("nij,nj->ni", transforms[:, :3, :3], p) + transforms[:, :3, 3]


def linear_blend_skinning(points: np.ndarray, indices: np.ndarray, weights: np.ndarray,
                          skin: np.ndarray) -> np.ndarray:
    """(N, 3) rest points, (N, k) bone indices and weights, (B, 4, 4) skinning matrices ->
    (N, 3) posed points (what Blender's armature modifier computes)."""
    return skin_points(points, blend_transforms(skin, indices, weights))


def top_k_weights(dense: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """(V, B) dense weights -> ((V, k) int32 bone indices, (V, k) float32 weights summing to 1),
    the k largest per vertex (ties keep the lower bone index). A vertex with no weight at all
    keeps bone 0 at full weight, so nothing is left unbound."""
    dense = np.asarray(dense, dtype=np.float64)
    k = min(k, dense.shape[1])
    order = np.argsort(-dense, axis=1, kind="stable")[:, :k]
    w = np.clip(np.take_along_axis(dense, order, axis=1), 0.0, None)
    total = w.sum(axis=1, keepdims=True)
    empty = total[:, 0] <= 0
    w[empty] = 0.0
    w[empty, 0] = 1.0
    w = w / np.maximum(w.sum(axis=1, keepdims=True), 1e-12)
    return order.astype(np.int32), w.astype(np.float32)
