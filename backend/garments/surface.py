"""Binding points to a body surface and refitting them onto another body of the same topology.

A bound point is (triangle as three body-vertex indices, barycentric weights, offset in the
triangle's orthonormal frame). On the body it was made on it reproduces the point exactly; on
another body the point follows the local surface (position, orientation, scale of the triangle
area is ignored on purpose: cloth keeps its thickness). All arrays are float32/int32 numpy.
"""

from __future__ import annotations

import numpy as np
import trimesh
from scipy.spatial import cKDTree

from protocol import SurfaceBinding


def vertex_normals(vertices: np.ndarray, faces: np.ndarray) -> np.ndarray:
    """(V, 3) float32 unit area-weighted vertex normals of a triangle mesh. Area-weighted (the
    face normals unnormalised), not trimesh's default angle weighting: garment offsets were
    tuned on these and small faces at seams must not tilt them."""
    v = np.asarray(vertices, np.float64)
    area_normals = trimesh.triangles.cross(v[faces])
    return trimesh.geometry.mean_vertex_normals(len(v), faces, area_normals).astype(np.float32)


def triangle_frames(vertices: np.ndarray, tris: np.ndarray) -> np.ndarray:
    """(N, 3, 3) frames whose columns are (t, b, n) for triangles given as (N, 3) indices."""
    v = vertices.astype(np.float64)
    a, b, c = v[tris[:, 0]], v[tris[:, 1]], v[tris[:, 2]]
    t = b - a
    n = np.cross(t, c - a)
    t /= np.maximum(np.linalg.norm(t, axis=1, keepdims=True), 1e-12)
    n /= np.maximum(np.linalg.norm(n, axis=1, keepdims=True), 1e-12)
    bt = np.cross(n, t)
    return np.stack([t, bt, n], axis=2)


def incident_faces(faces: np.ndarray, vertex_count: int) -> np.ndarray:
    """(V, D) faces around each vertex, padded with -1 (D = the largest vertex degree)."""
    corner_v = faces.ravel()
    corner_f = np.repeat(np.arange(len(faces)), faces.shape[1])
    order = np.argsort(corner_v, kind="stable")
    corner_v, corner_f = corner_v[order], corner_f[order]
    counts = np.bincount(corner_v, minlength=vertex_count)
    starts = np.concatenate([[0], np.cumsum(counts)[:-1]])
    slot = np.arange(len(corner_v)) - starts[corner_v]
    out = np.full((vertex_count, max(int(counts.max()), 1)), -1, dtype=np.int64)
    out[corner_v, slot] = corner_f
    return out


def bind_to_vertices(body_vertices: np.ndarray, body_faces: np.ndarray, points: np.ndarray,
                     anchor: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Bind each point to a face incident to its anchor body vertex.

    points (N, 3), anchor (N,) body vertex indices -> (triangles (N, 3) int32,
    barycentric (N, 3) float32, offsets (N, 3) float32). The barycentric weights are those
    of the point's projection onto the triangle plane, so the tangential part of the offset
    is small and the point refits smoothly."""
    v = body_vertices.astype(np.float64)
    p = points.astype(np.float64)
    # of the faces around the anchor, the one the point lies most squarely in front of
    around = incident_faces(body_faces, len(v))[anchor]                    # (N, D)
    fv = v[body_faces[np.maximum(around, 0)]]                              # (N, D, 3, 3)
    fn = np.cross(fv[:, :, 1] - fv[:, :, 0], fv[:, :, 2] - fv[:, :, 0])
    fn /= np.maximum(np.linalg.norm(fn, axis=-1, keepdims=True), 1e-12)
    d = p[:, None, :] - fv.mean(2)
    d /= np.maximum(np.linalg.norm(d, axis=-1, keepdims=True), 1e-12)
    score = np.where(around >= 0, (fn * d).sum(-1), -np.inf)
    face_of = np.take_along_axis(around, np.argmax(score, axis=1)[:, None], 1)[:, 0]
    tris = body_faces[face_of].astype(np.int32)
    a, b, c = v[tris[:, 0]], v[tris[:, 1]], v[tris[:, 2]]
    e0, e1, d = b - a, c - a, p - a
    d00, d01, d11 = (e0 * e0).sum(1), (e0 * e1).sum(1), (e1 * e1).sum(1)
    d20, d21 = (d * e0).sum(1), (d * e1).sum(1)
    den = np.maximum(d00 * d11 - d01 * d01, 1e-18)
    wb = (d11 * d20 - d01 * d21) / den
    wc = (d00 * d21 - d01 * d20) / den
    bary = np.stack([1.0 - wb - wc, wb, wc], axis=1)
    # keep the anchor inside the triangle: clamp, so far-away points hang off its frame
    bary = np.clip(bary, 0.0, 1.0)
    bary /= bary.sum(1, keepdims=True)
    base = np.einsum("nk,nkd->nd", bary, np.stack([a, b, c], axis=1))
    frames = triangle_frames(body_vertices, tris)
    offsets = np.einsum("nji,nj->ni", frames, p - base)   # F^T (p - base)
    return tris, bary.astype(np.float32), offsets.astype(np.float32)


def refit(binding: SurfaceBinding, body_vertices: np.ndarray) -> np.ndarray:
    """(N, 3) float32 positions of the bound points on a body with these (V, 3) vertices."""
    v = body_vertices.astype(np.float64)
    tri = binding.triangles
    base = np.einsum("nk,nkd->nd", binding.barycentric.astype(np.float64), v[tri])
    frames = triangle_frames(body_vertices, tri)
    return (base + np.einsum("nij,nj->ni", frames, binding.offsets.astype(np.float64))) \
        .astype(np.float32)


def push_outside(points: np.ndarray, body_vertices: np.ndarray, body_normals: np.ndarray,
                 min_offset: np.ndarray | float, candidates: np.ndarray | None = None,
                 tree: cKDTree | None = None, iterations: int = 4) -> np.ndarray:
    """Move points that sit closer than ``min_offset`` outside the body (signed distance along
    the nearest body vertex's normal) out to that distance. Used after refitting onto a
    different body, whose local shape the binding frames only approximate.

    candidates: optional (C,) body vertex indices to measure against (a region)."""
    idx = np.arange(len(body_vertices)) if candidates is None else candidates
    if tree is None:
        tree = cKDTree(body_vertices[idx])
    pts = points.astype(np.float64)
    need = np.broadcast_to(np.asarray(min_offset, dtype=np.float64), (len(pts),))
    for _ in range(iterations):         # a push can bring another body vertex nearest
        _, near = tree.query(pts, k=1)
        vi = idx[near]
        n = body_normals[vi].astype(np.float64)
        lift = np.clip(need - ((pts - body_vertices[vi]) * n).sum(1), 0.0, None)
        if not lift.any():
            break
        pts = pts + n * lift[:, None]
    return pts.astype(np.float32)


def make_binding(tris, bary, offsets, hides) -> SurfaceBinding:
    return SurfaceBinding(triangles=np.ascontiguousarray(tris, np.int32),
                          barycentric=np.ascontiguousarray(bary, np.float32),
                          offsets=np.ascontiguousarray(offsets, np.float32),
                          hides=np.ascontiguousarray(np.sort(hides), np.int32))
