"""What each garment is made of: the MeshLayer.material hint (protocol LAYER_MATERIALS) the
Blender importer turns into a matte fabric shader (weave, twill, knit, leather grain)."""

from __future__ import annotations

# style -> fabric; a denim pattern makes any bottom denim
STYLE_FABRIC = {"longsleeve": "knit", "jacket": "denim", "boots": "leather",
                "sneakers": "cotton"}
ROLE_FABRIC = {"top": "cotton", "bottom": "cotton", "outerwear": "cotton", "shoes": "leather",
               "hair": "hair_cards"}


def fabric_for(role: str, style: str, pattern: str | None = None) -> str | None:
    if role == "bottom" and pattern == "denim":
        return "denim"
    if role == "hair":
        return ROLE_FABRIC["hair"]
    return STYLE_FABRIC.get(style, ROLE_FABRIC.get(role))
