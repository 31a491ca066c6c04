"""Every limit the server applies, in one place (documented in SECURITY.md).

Three layers: the ROUTER socket's MAXMSGSIZE (libzmq drops a peer that sends a frame larger
than that, before Python sees a byte: memory stays bounded even against a hostile client),
per-field checks, which answer a too-large or too-deep request with an error, and budgets on
what waits in memory (queued jobs and their inputs per client and in all, replies queued for
a peer), which answer ``busy``.

Worst case held in memory for queued inputs: ``total_input_bytes`` (plus one request being
read, ``message_bytes``); replies waiting for one peer: ``send_hwm`` messages.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from protocol import ErrorCode, Message, ProtocolError
from protocol.constants import MAX_ARRAYS


MAX_QUEUED_JOBS = 64        # queued + running jobs of all clients (Server's max_queued, --max-queued)
MAX_ROUTES = 10_000         # routing ids remembered with the owner last seen on them


@dataclass(frozen=True)
class Limits:
    """Bytes unless noted. ``message_bytes`` is also the socket's MAXMSGSIZE."""

    message_bytes: int = 64 << 20                # all frames of one request together
    array_bytes: int = 64 << 20                  # one input array (a 4k x 4k RGBA photo: 64 MiB)
    params_depth: int = 16                       # nesting of lists / objects in params
    params_items: int = 10_000                   # values in params, all levels together
    request_key_chars: int = 128
    versions: int = 16                           # entries in hello's version list
    # Budgets (answered `busy`):
    client_jobs: int = 32                        # queued + running jobs of one owner
    client_input_bytes: int = 256 << 20          # input bytes of one owner's queued jobs
    total_input_bytes: int = 1 << 30             # input bytes of all queued jobs together
    send_hwm: int = 16                           # replies queued for one peer (zmq SNDHWM)
    deferred_reply_bytes: int = 64 << 10         # larger replies (results) are never deferred
    deferred_replies: int = 4096                 # small replies waiting for one peer
    deferred_total_bytes: int = 32 << 20         # small replies waiting, all peers together


def budget_check(limits: Limits, owner_jobs: int, owner_bytes: int, all_bytes: int,
                 new_bytes: int) -> None:
    """Raise BUSY when one more job of ``new_bytes`` inputs would break a budget."""
    if owner_jobs + 1 > limits.client_jobs:
        raise ProtocolError(ErrorCode.BUSY, f"you have {owner_jobs} jobs queued or running; "
                            f"this server runs at most {limits.client_jobs} per client: wait "
                            f"for one to finish")
    if owner_bytes + new_bytes > limits.client_input_bytes:
        raise ProtocolError(ErrorCode.BUSY, f"your queued jobs hold {owner_bytes} bytes of "
                            f"inputs; this server keeps at most {limits.client_input_bytes} "
                            f"per client: wait for some to finish")
    if all_bytes + new_bytes > limits.total_input_bytes:
        raise ProtocolError(ErrorCode.BUSY, "the server is busy: its queued inputs are at "
                            "their memory budget; try again when some jobs have finished")


def check_frames(frames: list, limits: Limits) -> None:
    """Refuse a request by its frame sizes alone, before any parsing."""
    if len(frames) > MAX_ARRAYS + 1:
        raise ProtocolError(ErrorCode.TOO_LARGE, f"a request has at most {MAX_ARRAYS} arrays; "
                            f"this one has {len(frames) - 1} frames")
    total = sum(f.buffer.nbytes if hasattr(f, "buffer") else len(f) for f in frames)
    if total > limits.message_bytes:
        raise ProtocolError(ErrorCode.TOO_LARGE, f"the request is {total} bytes; this server "
                            f"accepts at most {limits.message_bytes}: send smaller inputs")


def _count_items(value: Any, depth: int, limits: Limits, seen: list[int]) -> None:
    if depth > limits.params_depth:
        raise ProtocolError(ErrorCode.TOO_LARGE, f"job parameters are nested more than "
                            f"{limits.params_depth} levels deep")
    seen[0] += 1
    if seen[0] > limits.params_items:
        raise ProtocolError(ErrorCode.TOO_LARGE, f"job parameters hold more than "
                            f"{limits.params_items} values")
    if isinstance(value, dict):
        for v in value.values():
            _count_items(v, depth + 1, limits, seen)
    elif isinstance(value, list):
        for v in value:
            _count_items(v, depth + 1, limits, seen)


def check_fields(msg: Message, limits: Limits) -> None:
    """Per-field limits of a request that passed protocol validation."""
    f = msg.fields
    if msg.kind == "submit":
        _count_items(f["params"], 0, limits, [0])
        key = f.get("request_key")
        if key is not None and len(key) > limits.request_key_chars:
            raise ProtocolError(ErrorCode.TOO_LARGE, f"request_key is longer than "
                                f"{limits.request_key_chars} characters")
        for name, arr in msg.arrays.items():
            if arr.nbytes > limits.array_bytes:
                raise ProtocolError(ErrorCode.TOO_LARGE, f"input '{name:.60}' is {arr.nbytes} "
                                    f"bytes; this server accepts at most {limits.array_bytes} "
                                    f"per input: downscale it")
    elif msg.kind == "hello" and len(f["versions"]) > limits.versions:
        raise ProtocolError(ErrorCode.TOO_LARGE, f"hello lists more than {limits.versions} "
                            f"protocol versions")
