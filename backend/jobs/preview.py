"""Job kind `preview`: turntable thumbnails of an avatar, rendered as Gaussian splats.

params: {"avatar": avatar description, "views": int (8), "size": int pixels (256),
         "gaussians": int (default: about one per pixel)}; inputs hold the avatar's arrays
under ``avatar/`` (protocol.avatar_to_parts). The job returns the same avatar with the thumbnails in
``metadata["preview"]``: {"views", "size", "azimuths_deg", "png_base64": [RGBA PNG, ...]},
first view from the front, turning counter-clockwise seen from above. Jobs return avatars, so
the pictures travel in its metadata (JSON, hence base64).
"""

from __future__ import annotations

import base64
from typing import Any, Mapping

from protocol import ProtocolError, RiggedAvatar, avatar_from_parts, avatar_to_parts

from ..errors import JobInputError
from .base import JobContext

MAX_PIXELS = 8 * 512 * 512     # ~0.6 MB of base64 PNG, well inside the 1 MiB JSON header
LIMITS = {"views": (1, 36, 8), "size": (16, 1024, 256), "gaussians": (1000, 500_000, None)}


def preview_request(avatar: RiggedAvatar, **options: int) -> tuple[dict, dict]:
    """(params, inputs) for this job."""
    desc, arrays = avatar_to_parts(avatar, prefix="avatar/")
    return {"avatar": desc, **options}, arrays


def _option(params: Mapping[str, Any], name: str) -> int | None:
    lo, hi, default = LIMITS[name]
    value = params.get(name, default)
    if value is None:
        return None
    if type(value) is not int or not lo <= value <= hi:
        raise JobInputError(f"preview option '{name}' must be a whole number in {lo}..{hi}, "
                            f"got {value!r}")
    return value


def run(params: Mapping[str, Any], inputs: Mapping, ctx: JobContext) -> RiggedAvatar:
    extra = sorted(set(params) - {"avatar", *LIMITS})
    if extra or "avatar" not in params:
        raise JobInputError(f"the preview job takes 'avatar' and optionally "
                            f"{', '.join(LIMITS)} (unknown: {', '.join(extra) or '-'})")
    views, size, count = (_option(params, k) for k in ("views", "size", "gaussians"))
    if views * size * size > MAX_PIXELS:
        raise JobInputError(f"{views} views of {size} px are too many pixels for thumbnails "
                            f"(they travel in the avatar's 1 MiB description); ask for at "
                            f"most {MAX_PIXELS} pixels in all, e.g. 8 views of 512 px")
    ctx.progress("read avatar", 0.05)
    try:
        avatar = avatar_from_parts(params["avatar"], dict(inputs))
    except ProtocolError as exc:
        raise JobInputError(f"the avatar to preview is not valid: {exc.message}") from None
    from ..imageio.png import png_bytes
    from ..render.preview import render_turntable   # torch: only when run
    ctx.progress("render", 0.2)
    images = render_turntable(avatar, views=views, size=size, count=count)
    avatar.metadata = {**avatar.metadata, "preview": {
        "views": views, "size": size, "azimuths_deg": [360.0 * i / views for i in range(views)],
        "png_base64": [base64.b64encode(png_bytes(im)).decode("ascii") for im in images]}}
    ctx.progress("done", 1.0)
    return avatar
