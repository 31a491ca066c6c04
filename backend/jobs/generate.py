"""Job kind `generate`: a layered, dressed Anny avatar from a seed and optional attributes.

params: {"seed": int (default 0), "attributes": {name: value} (optional), "name": str}
Attributes and their values: backend.generate.CHOICES (+ numeric 0..1 phenotypes NUMERIC).
"""

from __future__ import annotations

from typing import Any, Mapping

from protocol import RiggedAvatar

from ..errors import JobInputError
from ..generate import generate_avatar
from .base import JobContext, avatar_name, reject_unknown_options

ALLOWED = {"seed", "attributes", "name"}


def run(params: Mapping[str, Any], inputs: Mapping, ctx: JobContext) -> RiggedAvatar:
    reject_unknown_options(params, ALLOWED, "generate")
    seed = params.get("seed", 0)
    if type(seed) is not int or not 0 <= seed < 2**63:
        raise JobInputError(f"'seed' must be a non-negative integer, got {seed!r}")
    name = avatar_name(params, f"Doppel_{seed}")
    attrs = params.get("attributes") or {}
    if not isinstance(attrs, dict):
        raise JobInputError("'attributes' must be an object of name: value pairs")
    ctx.progress("start", 0.0)
    avatar = generate_avatar(seed, attrs, name, progress=ctx.progress)
    avatar.metadata["warnings"] = list(ctx.warnings)
    return avatar
