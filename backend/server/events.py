"""The one-way channel from worker threads to the socket thread.

ZeroMQ sockets must stay on their own thread, so workers never touch the ROUTER socket:
they put events (plain tuples) on a thread-safe queue and nudge the socket thread through an
inproc PUSH -> PULL pair that its poller watches. The nudge carries no data; the queue does.

Events (first element names the kind):
    ("progress", job_id, stage, fraction)
    ("done", job_id, frames)              # encoded `result` message, ready to send
    ("failed", job_id, code, message)     # code "cancelled" when the job was stopped
    ("stop",)
"""

from __future__ import annotations

import queue
import threading
from typing import Any

import zmq


class Outbox:
    """Many threads put; the socket thread drains after its PULL socket turns readable."""

    def __init__(self, ctx: zmq.Context, wake_address: str):
        self._events: queue.SimpleQueue[tuple[Any, ...]] = queue.SimpleQueue()
        self._lock = threading.Lock()   # serialises the shared PUSH socket (a full barrier)
        self._push = ctx.socket(zmq.PUSH)
        self._push.setsockopt(zmq.LINGER, 0)
        self._push.connect(wake_address)

    def put(self, event: tuple[Any, ...]) -> None:
        self._events.put(event)
        with self._lock:
            if self._push is None:
                return
            try:
                self._push.send(b"", zmq.NOBLOCK)
            except zmq.Again:
                pass   # the pipe is full of earlier nudges: the socket thread will wake anyway

    def drain(self) -> list[tuple[Any, ...]]:
        out = []
        while True:
            try:
                out.append(self._events.get_nowait())
            except queue.Empty:
                return out

    def drain_after_wake(self, wake: zmq.Socket) -> list[tuple[Any, ...]]:
        """Swallow every pending nudge on the socket thread's PULL socket ``wake``, then take
        the queued events. Nudges go first so that one arriving later belongs to an event put
        after this drain: it wakes the poller again, and no event waits unseen."""
        while True:
            try:
                wake.recv(zmq.NOBLOCK)
            except zmq.Again:
                break
        return self.drain()

    def close(self) -> None:
        with self._lock:
            if self._push is not None:
                self._push.close(linger=0)
                self._push = None
