"""Generated people: seeded, attribute-controlled, layered Anny avatars (body, top, bottom,
shoes, hair as separate meshes on one skeleton) and moving layers between them."""

from .assemble import generate_avatar
from .attributes import CHOICES, NUMERIC, VALID_ATTRIBUTES

__all__ = ["generate_avatar", "CHOICES", "NUMERIC", "VALID_ATTRIBUTES"]
