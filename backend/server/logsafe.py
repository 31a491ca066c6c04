"""Log hygiene: text from peers is escaped before it reaches a log line, and repeated
warnings (one per refused connection, one per unread reply) are throttled.
"""

from __future__ import annotations

import time
from collections import OrderedDict


def printable(text: object, limit: int = 80) -> str:
    """``text`` cut to ``limit`` characters, with newlines and every other control or
    unprintable character escaped (``\\n``, ``\\x1b``), so a peer cannot forge log lines."""
    s = str(text)[:limit]
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in s)


class Throttle:
    """At most one log line per key every ``interval`` seconds. ``allow(key)`` returns None
    while a key is quiet, else how many lines were held back since the last one (0 or more).
    Remembers at most ``keys`` keys (oldest forgotten first), so it is bounded too."""

    def __init__(self, interval: float = 60.0, keys: int = 1024):
        self.interval = interval
        self.keys = keys
        self._seen: OrderedDict[object, list] = OrderedDict()   # key -> [next_time, held]

    def allow(self, key: object) -> int | None:
        now = time.monotonic()
        entry = self._seen.get(key)
        if entry is not None and now < entry[0]:
            entry[1] += 1
            return None
        held = entry[1] if entry is not None else 0
        self._seen[key] = [now + self.interval, 0]
        self._seen.move_to_end(key)
        while len(self._seen) > self.keys:
            self._seen.popitem(last=False)
        return held


def held_note(held: int) -> str:
    return f" ({held} more like it since the last report)" if held else ""
