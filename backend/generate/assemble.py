"""Seed + attributes -> a layered RiggedAvatar: body, bottom, top, shoes, hair, each its own
mesh with its own UVs and texture, all skinned to the one Anny skeleton. The garments come
from the shared template library in backend/garments (reconstruction uses it too).
"""

from __future__ import annotations

from typing import Any, Mapping

import numpy as np

from protocol import Pose, RiggedAvatar

from .. import __version__
from ..avatar_build import avatar_from_rest_body
from ..bodies import get_body_model
from ..garments.body_regions import body_regions
from ..garments.fabrics import fabric_for
from ..garments.hair_cards import CURLY
from ..garments.hair_texture import strand_atlas
from ..garments.layers import (
    ROLE_ORDER,
    garment_layer,
    hide_covered_faces,
    merge_pieces,
)
from ..garments.textures import (
    COLORS,
    HAIR_COLORS,
    cloth_texture,
    shoe_texture,
)
from ..garments.wardrobe import layer_pieces
from ..textures.eyes import IRIS_COLORS
from .attributes import resolve_outfit
from .expressions import wear_expression
from .face_keys import add_bound_shape_keys
from .phenotype import sample_phenotype
from .posing import local_rotations, standing_pose
from .skin_tone import skin_tone_texture

TEXTURE_STREAMS = ("body", "bottom", "top", "shoes", "hair")   # fixed: seeds stay reproducible


def _texture_for(role: str, style: str, outfit: Mapping[str, Any], rng: np.random.Generator):
    if role == "hair":
        return strand_atlas(HAIR_COLORS[outfit["hair_color"]], rng, curly=style in CURLY)
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
        tex_rng = np.random.default_rng([int(seed), 5, TEXTURE_STREAMS.index(role)])
        png, color = _texture_for(role, style, outfit, tex_rng)
        piece = parts[0] if len(parts) == 1 else merge_pieces(parts)
        fabric = fabric_for(role, style, outfit.get(f"{role}_pattern"))
        layers.append(garment_layer(role, style, piece, rest, png, color, fabric))
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
    body.material = "skin"
    hide_covered_faces(body, rest.faces, rest.uvs, layers)
    add_bound_shape_keys(layers, body)
    avatar.layers.extend(sorted(layers, key=lambda lay: ROLE_ORDER.index(lay.role)))
    meta["expression_weights"] = wear_expression(avatar, outfit["expression"], seed)
    pose = standing_pose(avatar, outfit["pose"], np.random.default_rng([int(seed), 8]))
    if pose:                 # the file stays in rest; the pose is what Blender shows first
        avatar.pose = Pose(rotations=local_rotations(avatar, pose).astype(np.float32),
                           location=np.zeros(3, np.float32))
    progress("done", 1.0)
    return avatar
