"""Garment pieces -> protocol mesh layers: merging a garment's pieces, binding a layer to the
body surface, and leaving out the skin under garments.

Hidden skin: each garment layer's binding lists the body vertices under it
(``binding.hides``); the body layer leaves out every face whose three vertices lie at least
HIDE_RINGS edge rings inside the union of those areas (so skin never pokes through, and no
gap opens at a hem). The full body stays recoverable: its vertices are all kept and the faces
come from the body model's fixed topology, which is what `transfer` uses to re-hide after a swap.
"""

from __future__ import annotations

import numpy as np

from protocol import MeshLayer

from ..bodies import RestBody
from .hems import add_hem
from .shells import GarmentPiece, interior
from .surface import bind_to_vertices, make_binding, vertex_normals
from .textures import box_uvs

ROLE_ORDER = ("body", "bottom", "top", "outerwear", "shoes", "hair")
HIDE_RINGS = 2       # edge rings of skin kept under each garment edge (no see-through gaps)


def merge_pieces(pieces: list[GarmentPiece]) -> GarmentPiece:
    k = max(p.skin_indices.shape[1] for p in pieces)

    def pad(a: np.ndarray, fill) -> np.ndarray:
        return np.pad(a, ((0, 0), (0, k - a.shape[1])), constant_values=fill)

    starts = np.cumsum([0] + [len(p.vertices) for p in pieces[:-1]])
    return GarmentPiece(
        vertices=np.concatenate([p.vertices for p in pieces]),
        faces=np.concatenate([p.faces + s for p, s in zip(pieces, starts)]).astype(np.int32),
        anchor=np.concatenate([p.anchor for p in pieces]),
        skin_indices=np.concatenate([pad(p.skin_indices, 0) for p in pieces]).astype(np.int32),
        skin_weights=np.concatenate([pad(p.skin_weights, 0.0) for p in pieces]).astype(
            np.float32),
        hides=np.unique(np.concatenate([p.hides for p in pieces])))


def garment_layer(role: str, style: str, piece: GarmentPiece, rest: RestBody,
                  texture: bytes, color, material: str | None = None) -> MeshLayer:
    """A piece with its own UVs (hair cards: ``piece.uvs``) is kept as it is; cloth gets
    hems (hems.py) and box UVs that tile its texture. ``material``: the shader hint."""
    uvs = getattr(piece, "uvs", None)
    if uvs is None:
        piece = add_hem(piece, rest.vertices, vertex_normals(rest.vertices, rest.faces))
        uvs = box_uvs(piece.vertices, piece.faces)
    tris, bary, offsets = bind_to_vertices(rest.vertices, rest.faces, piece.vertices,
                                           piece.anchor)
    return MeshLayer(role=role, name=f"{role}_{style}", vertices=piece.vertices,
                     faces=piece.faces, skin_indices=piece.skin_indices,
                     skin_weights=piece.skin_weights, uvs=uvs, texture=texture,
                     base_color=color, binding=make_binding(tris, bary, offsets, piece.hides),
                     material=material)


def hidden_vertices(full_faces: np.ndarray, vertex_count: int, layers: list[MeshLayer]
                    ) -> np.ndarray:
    """(V,) bool: body vertices deep enough under the garments to leave out."""
    under = np.zeros(vertex_count, dtype=bool)
    for lay in layers:
        if lay.binding is not None and lay.role != "body":
            under[lay.binding.hides] = True
    return interior(full_faces, under, HIDE_RINGS)


def hide_covered_faces(body: MeshLayer, full_faces: np.ndarray, full_uvs: np.ndarray | None,
                       layers: list[MeshLayer]) -> None:
    """Set the body layer's faces to the full topology minus faces hidden under garments."""
    hidden = hidden_vertices(full_faces, len(body.vertices), layers)
    keep = ~hidden[full_faces].all(1)
    body.faces = np.ascontiguousarray(full_faces[keep], dtype=np.int32)
    body.uvs = None if full_uvs is None else np.ascontiguousarray(full_uvs[keep])
