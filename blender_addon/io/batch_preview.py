"""Batch thumbnails, the bpy-free part: once a photo's avatar has arrived (and been imported),
ask the server's ``preview`` job for a small splat render of it, without blocking.

Why a separate job and client: the reconstruct job's params stay as they are, and a preview
that fails or is slow only loses the thumbnail. Previews run one at a time on their own client
(socket), because a JobWatch drains every message its client receives and would eat another
job's replies if two watches shared one.
"""

from __future__ import annotations

import base64
import binascii
import dataclasses
from typing import Any

from ..deps import protocol
from .job_watch import JobWatch

THUMB_VIEWS = 1      # front view only: the row shows one icon
THUMB_SIZE = 96      # pixels; the job's cost is ~size^2 Gaussians, so keep it small


def preview_request(avatar: Any, views: int = THUMB_VIEWS, size: int = THUMB_SIZE
                    ) -> tuple[dict, dict]:
    """(params, inputs) of the server's ``preview`` job for ``avatar`` (a RiggedAvatar); of
    a group photo's avatars, the first person's stands for the photo."""
    if getattr(avatar, "companions", None):
        avatar = dataclasses.replace(avatar, companions=[])
    desc, arrays = protocol.avatar_to_parts(avatar, prefix="avatar/")
    return {"avatar": desc, "views": views, "size": size}, arrays


def preview_pngs(avatar: Any) -> list[bytes]:
    """The PNG files (RGBA, first view from the front) in a ``preview`` job's result; [] when
    it holds none or they are not base64."""
    meta = (avatar.metadata or {}).get("preview") or {}
    try:
        return [base64.b64decode(s, validate=True) for s in meta.get("png_base64", ())]
    except (binascii.Error, TypeError, ValueError):
        return []


class PreviewQueue:
    """Preview jobs for finished batch items, one at a time, stepped alongside the batch.

    ``request(item, avatar)`` queues one; ``step()`` returns the (item, png bytes) pairs that
    arrived during the step. A failed preview goes to ``failures`` (sha256 -> message) and
    nothing else happens: the avatar is already imported.
    """

    def __init__(self, client: Any, reply_timeout: float = 5.0, views: int = THUMB_VIEWS,
                 size: int = THUMB_SIZE):
        self.client, self.reply_timeout = client, reply_timeout
        self.views, self.size = views, size
        self.waiting: list[tuple[Any, Any]] = []      # (item, avatar) not yet submitted
        self.current: tuple[Any, JobWatch] | None = None
        self.failures: dict[str, str] = {}

    @property
    def active(self) -> bool:
        return self.current is not None or bool(self.waiting)

    def request(self, item: Any, avatar: Any) -> None:
        self.waiting.append((item, avatar))

    def step(self) -> list[tuple[Any, bytes]]:
        if self.current is None and not self._submit_next():
            return []
        item, watch = self.current
        if watch.step():
            return []
        self.current = None
        pngs = preview_pngs(watch.avatar) if watch.state == "done" else []
        if pngs:
            return [(item, pngs[0])]
        self.failures[item.sha256] = (watch.error.message if watch.error else
                                      f"preview job {watch.state} without a picture")
        return []

    def cancel(self) -> None:
        if self.current is not None:
            self.current[1].cancel()
        self.current, self.waiting = None, []

    def _submit_next(self) -> bool:
        while self.waiting:
            item, avatar = self.waiting.pop(0)
            try:
                params, inputs = preview_request(avatar, self.views, self.size)
            except protocol.ProtocolError as exc:   # an avatar the codec refuses: no thumbnail
                self.failures[item.sha256] = exc.message
                continue
            self.current = (item, JobWatch(self.client, "preview", params, inputs,
                                           reply_timeout=self.reply_timeout))
            return True
        return False
