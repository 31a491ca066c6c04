"""Replies to peers without ever blocking the server's socket thread.

A peer's send queue is small (the send high-water mark, limits.py): when it is full (the peer
is slow or reads nothing) a small reply waits in a bounded per-peer queue and goes out in order
on later loop turns; a large one (a result) is dropped and the peer counts as backed up, so it
gets no more results until it reads. A peer that reads nothing for ``max_age`` seconds loses
its waiting replies.
"""

from __future__ import annotations

import logging
import time
from collections import OrderedDict, deque
from typing import Callable

import zmq

from .limits import Limits
from .logsafe import Throttle, held_note
from .requests import who

log = logging.getLogger("doppel.server")

MAX_AGE = 30.0          # seconds a waiting reply is kept for a peer that reads nothing


class PeerSender:
    def __init__(self, limits: Limits, on_gone: Callable[[bytes], None],
                 max_age: float = MAX_AGE):
        self.router: zmq.Socket | None = None     # set once the server has bound its socket
        self.limits = limits
        self.on_gone = on_gone                    # a peer left: forget what it was
        self.max_age = max_age
        self._backed_up: set[bytes] = set()       # routes whose last send found a full queue
        self._waiting: OrderedDict[bytes, deque] = OrderedDict()
        self._waiting_bytes = 0
        self._warned = Throttle(60.0)

    @property
    def pending(self) -> bool:
        """True while some replies wait for their peer's queue."""
        return bool(self._waiting)

    def backed_up(self, route: bytes) -> bool:
        return route in self._backed_up or route in self._waiting

    def send(self, identity: bytes, frames: list) -> bool:
        """Send now, or queue a small reply; False when the message was dropped."""
        if identity in self._waiting:                 # keep the order of replies
            return self._wait(identity, frames)
        try:
            self.router.send_multipart([identity, *frames], flags=zmq.NOBLOCK, copy=False)
            self._backed_up.discard(identity)
            return True
        except zmq.Again:
            return self._wait(identity, frames)
        except zmq.ZMQError as exc:
            if exc.errno != zmq.EHOSTUNREACH:
                raise
            self.forget(identity)
            log.debug("peer %s is gone; dropped a message", who(identity))
        return False

    def forget(self, identity: bytes) -> None:
        """The peer is gone: its id may be taken by anyone."""
        self._backed_up.discard(identity)
        for _, frames in self._waiting.pop(identity, ()):
            self._waiting_bytes -= frame_bytes(frames)
        self.on_gone(identity)

    def flush(self) -> None:
        """Send what waits, in order, as far as each peer's queue allows."""
        stale = time.monotonic() - self.max_age
        for identity in list(self._waiting):
            queue = self._waiting[identity]
            while queue:
                try:
                    self.router.send_multipart([identity, *queue[0][1]], flags=zmq.NOBLOCK,
                                               copy=False)
                except zmq.Again:
                    if queue[0][0] < stale:     # reads nothing: give up on its replies
                        self.forget(identity)
                        self._backed_up.add(identity)
                        log.warning("peer %s read nothing for %g s; dropped its waiting "
                                    "replies", who(identity), self.max_age)
                    break
                except zmq.ZMQError as exc:
                    if exc.errno != zmq.EHOSTUNREACH:
                        raise
                    self.forget(identity)
                    break
                self._waiting_bytes -= frame_bytes(queue.popleft()[1])
            else:
                self._waiting.pop(identity, None)

    def _wait(self, identity: bytes, frames: list) -> bool:
        size, lim = frame_bytes(frames), self.limits
        queue = self._waiting.get(identity)
        fits = size <= lim.deferred_reply_bytes and \
            self._waiting_bytes + size <= lim.deferred_total_bytes and \
            (queue is None or len(queue) < lim.deferred_replies)
        if fits:
            if queue is None:
                queue = self._waiting[identity] = deque()
            queue.append((time.monotonic(), frames))
            self._waiting_bytes += size
            return True
        self._backed_up.add(identity)
        held = self._warned.allow(("unread", identity))
        if held is not None:
            log.warning("peer %s is not reading; dropped a message%s", who(identity),
                        held_note(held))
        return False


def frame_bytes(frames: list) -> int:
    return sum(f.buffer.nbytes if hasattr(f, "buffer") else len(memoryview(f).cast("B"))
               for f in frames)
