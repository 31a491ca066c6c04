"""The attributes a user can set on a generated avatar, their valid values, and how a seed
fills in the ones left out.

Every attribute is drawn from the seed in a fixed order whether or not the user gave it, so
fixing one attribute never changes the others that the same seed picks.
"""

from __future__ import annotations

from typing import Any, Mapping

import numpy as np

from ..errors import JobInputError
from ..garments.textures import COLORS, HAIR_COLORS

TOPS = ("tshirt", "longsleeve", "tank", "jacket", "dress", "none")
BOTTOMS = ("shorts", "trousers", "skirt", "none")
SHOES = ("sneakers", "boots", "none")
HAIRS = ("short", "buzz", "bob", "long", "long_curly", "ponytail", "bun", "afro", "none")
TOP_PATTERNS = ("plain", "stripes", "checks")
BOTTOM_PATTERNS = ("plain", "denim", "checks")
SKIN_TONES = ("very_light", "light", "light_medium", "medium", "tan", "olive", "brown",
              "dark_brown", "dark", "very_dark")
GENDERS = ("female", "male")
AGES = ("adult", "child", "teen", "elderly", "any")
POSES = ("a", "t", "relaxed", "walk", "contrapposto")          # posing.STANDING_POSES
EXPRESSIONS = ("neutral", "smile", "grin", "surprise", "sad", "angry", "wink")
NUMERIC = ("height", "weight", "muscle", "proportions")   # Anny phenotypes, 0..1

CHOICES: dict[str, tuple[str, ...]] = {
    "top": TOPS, "top_color": tuple(COLORS), "top_pattern": TOP_PATTERNS,
    "bottom": BOTTOMS, "bottom_color": tuple(COLORS), "bottom_pattern": BOTTOM_PATTERNS,
    "shoes": SHOES, "shoes_color": tuple(COLORS), "hair": HAIRS,
    "hair_color": tuple(HAIR_COLORS), "skin_tone": SKIN_TONES, "gender": GENDERS, "age": AGES,
    "pose": POSES, "expression": EXPRESSIONS,
}
VALID_ATTRIBUTES = tuple(CHOICES) + NUMERIC

# What the seed picks from, weighted: everyday clothes, people who look like a crowd.
_TOP_W = {"female": (3, 2, 2, 2, 3, 0), "male": (4, 3, 1, 3, 0, 0)}
_BOTTOM_W = {"female": (2, 4, 3, 0), "male": (2, 6, 0, 0)}
_HAIR_W = {"female": (2, 0, 4, 6, 3, 4, 2, 1, 0), "male": (10, 4, 1, 1, 1, 1, 0, 1, 1)}
_TOP_COLORS = ("white", "black", "grey", "navy", "blue", "light_blue", "red", "maroon", "green",
               "olive", "beige", "pink", "purple", "orange", "yellow", "teal", "charcoal")
_BOTTOM_COLORS = ("black", "charcoal", "navy", "denim", "khaki", "beige", "brown", "grey",
                  "olive", "blue")
_SHOE_COLORS = ("white", "black", "brown", "tan", "grey", "navy", "red")
_ACCENTS = ("white", "black", "navy", "red", "beige", "grey")
_AGE_W = (6, 2, 1.5, 2.5, 0)                 # a street crowd: mostly adults
_POSE_W = (2, 1, 4, 2, 2)
_EXPRESSION_W = (4, 3, 2, 1, 1, 0.5, 0.5)
GREY_WHEN_ELDERLY = 0.65                     # share of elderly people with grey hair


def _pick(rng: np.random.Generator, values, weights=None):
    w = None if weights is None else np.asarray(weights, float) / float(sum(weights))
    return values[int(rng.choice(len(values), p=w))]


def check_attributes(attrs: Mapping[str, Any]) -> dict[str, Any]:
    """Reject unknown names and values with a message that lists the valid ones."""
    if not isinstance(attrs, Mapping):
        raise JobInputError("'attributes' must be an object of name: value pairs")
    out: dict[str, Any] = {}
    for key, value in attrs.items():
        if key not in VALID_ATTRIBUTES:
            raise JobInputError(f"unknown attribute {key!r}; valid attributes: "
                                f"{', '.join(VALID_ATTRIBUTES)}", code="bad_attribute")
        if key in NUMERIC:
            try:
                num = float(value)
            except (TypeError, ValueError):
                num = float("nan")
            if not 0.0 <= num <= 1.0:
                raise JobInputError(f"attribute {key!r} must be a number from 0 to 1, got "
                                    f"{value!r}", code="bad_attribute")
            out[key] = num
            continue
        if value not in CHOICES[key]:
            raise JobInputError(f"attribute {key!r} has no value {value!r}; valid values: "
                                f"{', '.join(CHOICES[key])}", code="bad_attribute")
        out[key] = value
    return out


def resolve_outfit(seed: int, attrs: Mapping[str, Any]) -> dict[str, Any]:
    """Every choice attribute filled in: the user's value where given, else the seed's."""
    given = check_attributes(attrs)
    rng = np.random.default_rng([int(seed), 2])
    drawn: dict[str, Any] = {}
    drawn["gender"] = _pick(rng, GENDERS)
    g = given.get("gender", drawn["gender"])
    drawn["skin_tone"] = _pick(rng, SKIN_TONES)
    drawn["top"] = _pick(rng, TOPS, _TOP_W[g])
    drawn["top_color"] = _pick(rng, _TOP_COLORS)
    drawn["top_pattern"] = _pick(rng, TOP_PATTERNS, (6, 2, 2))
    drawn["bottom"] = _pick(rng, BOTTOMS, _BOTTOM_W[g])
    drawn["bottom_color"] = _pick(rng, _BOTTOM_COLORS)
    drawn["bottom_pattern"] = _pick(rng, BOTTOM_PATTERNS, (5, 3, 1))
    drawn["shoes"] = _pick(rng, SHOES, (3, 2, 0))
    drawn["shoes_color"] = _pick(rng, _SHOE_COLORS)
    drawn["hair"] = _pick(rng, HAIRS, _HAIR_W[g])
    drawn["hair_color"] = _pick(rng, tuple(HAIR_COLORS), (3, 4, 3, 1, 2, 1))
    accents = [_pick(rng, _ACCENTS) for _ in range(2)]
    # drawn after everything above, so adding them kept the outfits older seeds picked
    drawn["age"] = _pick(rng, AGES, _AGE_W)
    drawn["pose"] = _pick(rng, POSES, _POSE_W)
    drawn["expression"] = _pick(rng, EXPRESSIONS, _EXPRESSION_W)
    greying = float(rng.random()) < GREY_WHEN_ELDERLY
    if greying and given.get("age", drawn["age"]) == "elderly":
        drawn["hair_color"] = "grey"
    out = {**drawn, **given}
    if out["top"] == "dress" and "bottom" not in given:
        out["bottom"] = "none"                  # a dress is top and bottom in one
    if out["bottom_color"] == "denim" and "bottom_pattern" not in given:
        out["bottom_pattern"] = "denim"
    # the accent of a pattern must differ from its base colour
    out["top_accent"] = accents[0] if accents[0] != out["top_color"] else "grey"
    out["bottom_accent"] = accents[1] if accents[1] != out["bottom_color"] else "grey"
    return out
