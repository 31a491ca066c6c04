"""The wardrobe: each garment style as a recipe of shells and drapes with its measurements
(sleeve and leg lengths as fractions of the limb, hems at body landmarks, cloth thickness).

Thicknesses stack in the order people dress: bottoms under tops, tops under long hair, shoes
over trouser hems.
"""

from __future__ import annotations

from typing import Any, Mapping

import numpy as np

from .body_regions import BodyRegions
from .drape import bun, hair_curtain, skirt
from .hair_cards import hair_card_piece
from .shells import GarmentPiece, bottom_mask, hair_mask, shell, shoe_mask, top_mask

# metres off the skin
BOTTOM_T, TOP_T, JACKET_T, SHOE_T, BOOT_T, HAIR_T = 0.007, 0.013, 0.022, 0.008, 0.015, 0.006
SLEEVE = {"tshirt": 0.3, "longsleeve": 0.95, "jacket": 0.97, "dress": 0.22, "tank": 0.0}


def top_pieces(r: BodyRegions, skin, style: str, rng: np.random.Generator) -> list[GarmentPiece]:
    z = r.z
    if style == "jacket":
        hem = max(z["hip"] - 0.07, z["crotch"] + 0.06)
        return [shell(r, skin, top_mask(r, SLEEVE[style], hem), JACKET_T)]
    if style == "dress":
        body = shell(r, skin, top_mask(r, SLEEVE[style], z["hip"] + 0.02), TOP_T)
        below = float(rng.uniform(-0.02, 0.18))                 # knee .. mid-calf
        return [body, skirt(r, z["waist"] - 0.01, z["knee"] - below, offset=TOP_T + 0.003,
                            flare=float(rng.uniform(0.1, 0.25)))]
    hem = z["hip"] - float(rng.uniform(0.0, 0.03))
    return [shell(r, skin, top_mask(r, SLEEVE[style], hem, straps=style == "tank"), TOP_T)]


def bottom_pieces(r: BodyRegions, skin, style: str, rng: np.random.Generator
                  ) -> list[GarmentPiece]:
    z = r.z
    waist = z["waist"] - float(rng.uniform(0.0, 0.04))
    if style == "skirt":
        hem = z["knee"] + float(rng.uniform(-0.08, 0.08))
        return [skirt(r, waist, hem, offset=BOTTOM_T + 0.002, flare=float(rng.uniform(0.1, 0.3)))]
    length = 0.97 if style == "trousers" else float(rng.uniform(0.3, 0.45))
    return [shell(r, skin, bottom_mask(r, length, waist), BOTTOM_T)]


def shoe_pieces(r: BodyRegions, skin, style: str) -> list[GarmentPiece]:
    if style == "boots":
        return [shell(r, skin, shoe_mask(r, 0.72), BOOT_T, smooth=4, passes=4)]
    return [shell(r, skin, shoe_mask(r, 0.93), SHOE_T, smooth=4, passes=4)]


def hair_pieces(r: BodyRegions, skin, style: str, rng: np.random.Generator
                ) -> list[GarmentPiece]:
    v = r.vertices
    up = np.clip((v[:, 2] - r.z["skull_base"]) / max(r.z["top"] - r.z["skull_base"], 1e-6), 0, 1)
    volume = 0.004 if style == "bun" else float(rng.uniform(0.01, 0.025))
    scalp = shell(r, skin, hair_mask(r), HAIR_T + volume * up, smooth=3)
    if style == "long":
        bottom = r.z["chest"] - float(rng.uniform(-0.05, 0.15))
        return [scalp, hair_curtain(r, bottom, offset=JACKET_T + 0.025)]
    if style == "bun":
        return [scalp, bun(r)]
    return [scalp]


def layer_pieces(r: BodyRegions, skin, outfit: Mapping[str, Any], rng: np.random.Generator
                 ) -> dict[str, tuple[str, list[GarmentPiece]]]:
    """{role: (style, pieces)} for the roles the outfit wears, in dressing order."""
    out: dict[str, tuple[str, list[GarmentPiece]]] = {}
    # one stream per role, so changing the top does not change the skirt's length
    rngs = {role: np.random.default_rng([int(rng.integers(2**31)), i])
            for i, role in enumerate(("bottom", "top", "shoes", "hair"))}
    if outfit["bottom"] != "none":
        out["bottom"] = (outfit["bottom"], bottom_pieces(r, skin, outfit["bottom"],
                                                         rngs["bottom"]))
    if outfit["top"] != "none":
        out["top"] = (outfit["top"], top_pieces(r, skin, outfit["top"], rngs["top"]))
    if outfit["shoes"] != "none":
        out["shoes"] = (outfit["shoes"], shoe_pieces(r, skin, outfit["shoes"]))
    if outfit["hair"] != "none":
        # hair cards with volume (hair_pieces, a cap and curtain, stays for reconstruction)
        out["hair"] = (outfit["hair"], [hair_card_piece(r, skin, outfit["hair"],
                                                        rngs["hair"])])
    return out
