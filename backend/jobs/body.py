"""Job kind `body`: a body model in rest pose for given shape parameters.

params: {"body_model": "anny" (default), "name": str (optional), "params": {name: value}}
"""

from __future__ import annotations

from typing import Any, Mapping

from protocol import RiggedAvatar

from .. import __version__
from ..avatar_build import avatar_from_rest_body
from ..bodies import DEFAULT_BODY_MODEL, get_body_model
from ..errors import JobInputError
from ..textures.skin import skin_texture_png
from .base import JobContext, avatar_name, reject_unknown_options

ALLOWED = {"body_model", "name", "params"}


def run(params: Mapping[str, Any], inputs: Mapping, ctx: JobContext) -> RiggedAvatar:
    reject_unknown_options(params, ALLOWED, "body")
    shape = params.get("params", {})
    if not isinstance(shape, dict):
        raise JobInputError("'params' must be an object of shape parameters")
    name = avatar_name(params, "Body")
    ctx.progress("load body model", 0.05)
    model = get_body_model(params.get("body_model", DEFAULT_BODY_MODEL))
    shape = model.check_params(shape)
    ctx.progress("build rest body", 0.4)
    rest = model.rest_body(shape)
    ctx.progress("texture", 0.8)
    texture = skin_texture_png()
    meta = {"body_model": model.name, "params": shape, "producer": "doppel.body",
            "doppel_version": __version__, "warnings": list(ctx.warnings) + list(rest.warnings)}
    meta.update({k: v for k, v in rest.metadata.items() if k not in meta})
    avatar = avatar_from_rest_body(rest, name, meta, texture=texture)
    ctx.progress("done", 1.0)
    return avatar
