"""Job kind `transfer`: avatar B wearing avatar A's layer of one role, refitted to B's body.

params: {"layer": role, "from": avatar description, "to": avatar description}; inputs hold
both avatars' arrays under the ``from/`` and ``to/`` prefixes (protocol.avatar_to_parts).
"""

from __future__ import annotations

from typing import Any, Mapping

from protocol import ProtocolError, RiggedAvatar, avatar_from_parts, avatar_to_parts

from ..errors import JobInputError
from ..generate.transfer import transfer_layer
from .base import JobContext

ALLOWED = {"layer", "from", "to"}


def transfer_request(source: RiggedAvatar, role: str, target: RiggedAvatar
                     ) -> tuple[dict, dict]:
    """(params, inputs) for this job."""
    src_desc, src_arrays = avatar_to_parts(source, prefix="from/")
    dst_desc, dst_arrays = avatar_to_parts(target, prefix="to/")
    return {"layer": role, "from": src_desc, "to": dst_desc}, {**src_arrays, **dst_arrays}


def run(params: Mapping[str, Any], inputs: Mapping, ctx: JobContext) -> RiggedAvatar:
    extra = sorted(set(params) - ALLOWED)
    missing = sorted(ALLOWED - set(params))
    if extra or missing:
        raise JobInputError(f"the transfer job takes exactly {', '.join(sorted(ALLOWED))} "
                            f"(unknown: {', '.join(extra) or '-'}; missing: "
                            f"{', '.join(missing) or '-'})")
    ctx.progress("read avatars", 0.05)
    avatars = []
    for which in ("from", "to"):
        try:
            avatars.append(avatar_from_parts(params[which], dict(inputs)))
        except ProtocolError as exc:
            raise JobInputError(f"the '{which}' avatar is not valid: {exc.message}") from None
    ctx.progress("refit", 0.3)
    out = transfer_layer(avatars[0], str(params["layer"]), avatars[1])
    ctx.progress("done", 1.0)
    return out
