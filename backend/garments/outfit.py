"""What a person wears, as garment types and measurements on their own body.

Reconstruction recognises an Outfit in a photo (backend/fit/outfit.py) and fits the garment
templates it names; measurements are relative to the body (fractions along a limb, heights
below a landmark) so they carry over to any body and any pose.
"""

from __future__ import annotations

from dataclasses import dataclass, field

TOPS = ("none", "tank", "tshirt", "longsleeve")
BOTTOMS = ("none", "shorts", "trousers", "skirt", "dress")
OUTERWEAR = ("none", "jacket", "coat")
SHOES = ("none", "sneakers", "boots")
HAIR = ("none", "short", "long", "bun")

# Segmentation labels of a photo (backend/fit/segmentation.py), in this order.
SEGMENT_LABELS = ("background", "skin", "face", "hair", "upper", "lower", "outerwear", "shoes")


@dataclass
class Outfit:
    top: str = "tshirt"
    bottom: str = "trousers"         # "dress": one garment from the chest down, no separate top
    outerwear: str = "none"
    shoes: str = "sneakers"
    hair: str = "short"
    sleeve: float = 0.3              # top/outerwear sleeve end: 0 shoulder .. 1 wrist
    bottom_hem: float = 0.97         # trouser/skirt/dress hem: 0 hip joint .. 1 ankle (leg_s)
    outerwear_hem: float = 0.1       # coat/jacket hem, same scale (negative: above the hips)
    outerwear_open: bool = False     # a coat worn open below the waist (its flaps part)
    hair_length: float = 0.0         # metres the hair falls below the skull base (long hair)
    colours: dict[str, tuple[int, int, int]] = field(default_factory=dict)  # sRGB per label
    confidence: dict[str, float] = field(default_factory=dict)  # 0..1 per decision above
    unrecognised: list[str] = field(default_factory=list)       # labels left to offset layers

    def __post_init__(self) -> None:
        for name, value, allowed in (("top", self.top, TOPS), ("bottom", self.bottom, BOTTOMS),
                                     ("outerwear", self.outerwear, OUTERWEAR),
                                     ("shoes", self.shoes, SHOES), ("hair", self.hair, HAIR)):
            if value not in allowed:
                raise ValueError(f"unknown {name} {value!r}; expected one of {allowed}")
