"""Job kind `reconstruct`: one photo -> a rigged, clothed, textured avatar posed as in the
photo, with the camera that took it.

params: {"name": str (optional, default "Person"), "quality": "fast" | "default" | "high",
         "body_model": "anny" (default) | "smpl" | "smplh" | "smplx" (when the user's SMPL-family
         model files are installed; otherwise the registry's "model files not found at ..." error),
         "max_people": int 1..32 (default 8): people to reconstruct from a group photo}
inputs: {"photo": (N,) uint8 array holding the PNG/JPEG/WebP file's bytes}

Result: the avatar of the leftmost person; with several people, the others (left to right)
are its ``companions``, all in one world and seen by one camera (the photo's). A photo of one
person gives one avatar, as before. Clients that know no companions get the first person.
"""

from __future__ import annotations

from typing import Any, Mapping

import numpy as np

from protocol import RiggedAvatar

from ..bodies import DEFAULT_BODY_MODEL
from ..errors import JobInputError
from .base import JobContext, avatar_name

ALLOWED = {"name", "quality", "body_model", "max_people"}


def run(params: Mapping[str, Any], inputs: Mapping[str, np.ndarray],
        ctx: JobContext) -> RiggedAvatar:
    extra = sorted(set(params) - ALLOWED)
    if extra:
        raise JobInputError(f"unknown reconstruct option(s) {', '.join(extra)}; valid: "
                            f"{', '.join(sorted(ALLOWED))}")
    name = avatar_name(params, "Person")
    photo = inputs.get("photo")
    if photo is None:
        raise JobInputError("the reconstruct job needs a photo: send the image file's bytes "
                            "as the input named 'photo'", code="bad_input")
    data = np.asarray(photo)
    if data.dtype != np.uint8 or data.ndim != 1:
        raise JobInputError("input 'photo' must be the image file's bytes (1-D uint8 array)",
                            code="bad_input")
    # torch + mediapipe: imported only when needed
    from ..fit.people import MAX_PEOPLE, reconstruct_people
    group = reconstruct_people(data.tobytes(), name, params.get("quality", "default"),
                               progress=ctx.progress,
                               body_model=params.get("body_model", DEFAULT_BODY_MODEL),
                               max_people=params.get("max_people", MAX_PEOPLE))
    for result in group.people:
        result.avatar.metadata["warnings"] = list(ctx.warnings) + result.warnings
    lead = group.people[0]
    if ctx.debug is not None and "segmentation" in lead.debug:
        from ..fit.segmentation import overlay_png
        ctx.debug["segmentation_png"] = overlay_png(lead.debug["photo"].rgb,
                                                   lead.debug["segmentation"])
    first, *others = group.avatars
    for other in others:
        other.source_image = None        # the same photo: carried once, by the first
    first.companions = others
    return first
