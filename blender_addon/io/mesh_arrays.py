"""MeshLayer -> the flat arrays Blender's bulk setters take (``foreach_set``), without bpy.

Blender stores a mesh as points, corners ("loops": one vertex index per face corner) and faces
(offset of their first corner). UVs live per corner. Skin weights live in one vertex group per
bone, so the (V, k) top-k table is turned into per-(vertex, bone) pairs.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass
class MeshArrays:
    positions: np.ndarray      # (V*3,) float32, metres, Z up
    corner_verts: np.ndarray   # (L,) int32, vertex index of every face corner, L = F*K
    face_starts: np.ndarray    # (F,) int32, first corner of each face
    corner_uvs: np.ndarray | None  # (L*2,) float32 per-corner UVs, or None

    @property
    def vertex_count(self) -> int:
        return self.positions.size // 3

    @property
    def corner_count(self) -> int:
        return self.corner_verts.size

    @property
    def face_count(self) -> int:
        return self.face_starts.size


@dataclass
class SkinPairs:
    """Nonzero skin weights as parallel arrays, sorted by bone (one vertex group each)."""
    vertices: np.ndarray       # (P,) int32 vertex index
    bones: np.ndarray          # (P,) int32 bone index
    weights: np.ndarray        # (P,) float32 in (0, 1]; every vertex's weights sum to 1

    def bone_slices(self, bone_count: int) -> list[slice]:
        """slice into the arrays for each bone 0..bone_count-1 (empty for unweighted bones)."""
        edges = np.searchsorted(self.bones, np.arange(bone_count + 1))
        return [slice(int(a), int(b)) for a, b in zip(edges[:-1], edges[1:])]


def mesh_arrays(vertices: np.ndarray, faces: np.ndarray,
                uvs: np.ndarray | None = None) -> MeshArrays:
    """vertices (V, 3), faces (F, K) with K = 3 or 4, uvs (F, K, 2) per face corner or None."""
    faces = np.asarray(faces)
    f, k = faces.shape
    return MeshArrays(
        positions=np.ascontiguousarray(vertices, dtype=np.float32).ravel(),
        corner_verts=np.ascontiguousarray(faces, dtype=np.int32).ravel(),
        face_starts=np.arange(0, f * k, k, dtype=np.int32),
        corner_uvs=None if uvs is None else np.ascontiguousarray(uvs, dtype=np.float32).ravel())


def skin_pairs(skin_indices: np.ndarray, skin_weights: np.ndarray,
               min_weight: float = 1e-6) -> SkinPairs:
    """(V, k) top-k bone indices and weights -> nonzero pairs sorted by bone.

    Each vertex's weights are renormalised to sum to 1 after dropping weights below
    ``min_weight`` (and merging a bone listed twice in one row), so the Armature modifier
    never scales a vertex. A vertex with no weight at all is left out (it stays at rest).
    """
    idx = np.asarray(skin_indices, dtype=np.int64)
    w = np.where(np.asarray(skin_weights, dtype=np.float64) >= min_weight, skin_weights, 0.0)
    v_count = idx.shape[0]
    # Merge duplicates: a bone listed twice in one row adds up (keyed by vertex * B + bone).
    bone_count = int(idx.max()) + 1 if idx.size else 1
    key = (np.arange(v_count)[:, None] * bone_count + idx).ravel()
    flat_w = w.ravel()
    keep = flat_w > 0
    uniq, inverse = np.unique(key[keep], return_inverse=True)
    summed = np.bincount(inverse, weights=flat_w[keep], minlength=uniq.size)
    verts, bones = uniq // bone_count, uniq % bone_count
    totals = np.bincount(verts, weights=summed, minlength=v_count)
    summed = summed / totals[verts]
    order = np.argsort(bones, kind="stable")
    return SkinPairs(vertices=verts[order].astype(np.int32), bones=bones[order].astype(np.int32),
                     weights=summed[order].astype(np.float32))
