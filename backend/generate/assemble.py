"""Seed + attributes -> a layered RiggedAvatar: body, bottom, top, shoes, hair, each its own
mesh with its own UVs and texture, all skinned to the one Anny skeleton.

Hidden skin: each garment layer's binding lists the body vertices under it
(``binding.hides``); the body layer leaves out every face whose three vertices lie at least
HIDE_RINGS edge rings inside the union of those areas (so skin never pokes through, and no
gap opens at a hem).
The full body stays recoverable: its vertices are all kept and the faces come from the body
model's fixed topology, which is what `transfer` uses to re-hide after a swap.
"""

from __future__ import annotations

from typing import Any, Mapping

import numpy as np

from protocol import MeshLayer, RiggedAvatar

from .. import __version__
from ..avatar_build import avatar_from_rest_body
from ..bodies import RestBody, get_body_model
from .attributes import resolve_outfit
from .body_regions import body_regions
from .face_keys import add_bound_shape_keys
from .garments import layer_pieces
from .phenotype import sample_phenotype
from .shells import GarmentPiece, interior
from .skin_tone import skin_tone_texture
from .surface import bind_to_vertices, make_binding
from ..textures.eyes import IRIS_COLORS
from .textures import COLORS, HAIR_COLORS, box_uvs, cloth_texture, hair_texture, shoe_texture

ROLE_ORDER = ("body", "bottom", "top", "shoes", "hair")
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
                  texture: bytes, color) -> MeshLayer:
    tris, bary, offsets = bind_to_vertices(rest.vertices, rest.faces, piece.vertices,
                                           piece.anchor)
    return MeshLayer(role=role, name=f"{role}_{style}", vertices=piece.vertices,
                     faces=piece.faces, skin_indices=piece.skin_indices,
                     skin_weights=piece.skin_weights, uvs=box_uvs(piece.vertices, piece.faces),
                     texture=texture, base_color=color,
                     binding=make_binding(tris, bary, offsets, piece.hides))


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


def _texture_for(role: str, style: str, outfit: Mapping[str, Any], rng: np.random.Generator):
    if role == "hair":
        return hair_texture(HAIR_COLORS[outfit["hair_color"]], rng)
    if role == "shoes":
        sole = COLORS["white"] if style == "sneakers" else COLORS["black"]
        return shoe_texture(COLORS[outfit["shoes_color"]], sole,
                            0.025 if style == "sneakers" else 0.015, rng)
    return cloth_texture(outfit[f"{role}_pattern"], COLORS[outfit[f"{role}_color"]],
                         COLORS[outfit[f"{role}_accent"]], rng)


def generate_avatar(seed: int, attributes: Mapping[str, Any], name: str | None = None,
                    progress=lambda stage, fraction: None) -> RiggedAvatar:
    """The avatar for (seed, attributes); the same inputs give a byte-identical file.
    Raises JobInputError for unknown attributes or values."""
    outfit = resolve_outfit(seed, attributes)
    phenotype = sample_phenotype(seed, outfit)
    progress("body", 0.1)
    model = get_body_model("anny")
    rest = model.rest_body(phenotype)
    regions = body_regions(rest)
    skin_png, skin_color = skin_tone_texture(outfit["skin_tone"], seed)
    progress("garments", 0.3)
    rng = np.random.default_rng([int(seed), 4])
    pieces = layer_pieces(regions, (rest.skin_indices, rest.skin_weights), outfit, rng)
    progress("textures", 0.7)
    layers = []
    for role, (style, parts) in pieces.items():
        tex_rng = np.random.default_rng([int(seed), 5, ROLE_ORDER.index(role)])
        png, color = _texture_for(role, style, outfit, tex_rng)
        layers.append(garment_layer(role, style, merge_pieces(parts), rest, png, color))
    meta = {"body_model": model.name, "params": phenotype, "producer": "doppel.generate",
            "doppel_version": __version__, "seed": int(seed),
            "attributes": {k: outfit[k] for k in sorted(outfit)},
            "hidden_skin": "body faces under a garment are left out; see binding.hides",
            "warnings": []}
    iris = tuple(IRIS_COLORS)[int(np.random.default_rng([int(seed), 6]).integers(len(IRIS_COLORS)))]
    brow = np.asarray(HAIR_COLORS[outfit["hair_color"]], np.float64) / 255.0
    brow = (*(0.8 * brow ** 2.2), 1.0)          # sRGB -> linear, a shade darker than the hair
    meta["iris"] = iris
    avatar = avatar_from_rest_body(rest, name or f"Doppel_{seed}", meta, texture=skin_png,
                                   iris=iris, brow_color=tuple(float(c) for c in brow))
    body = avatar.layers[0]
    body.base_color = skin_color
    hide_covered_faces(body, rest.faces, rest.uvs, layers)
    add_bound_shape_keys(layers, body)
    avatar.layers.extend(sorted(layers, key=lambda lay: ROLE_ORDER.index(lay.role)))
    progress("done", 1.0)
    return avatar
