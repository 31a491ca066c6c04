"""Fuzz a live server with 100,000+ malformed, truncated, over-size and wrong-version
messages (a seeded generator, so a failure replays): every one is answered with a proper
error, the server never stops, and a normal job still succeeds afterwards."""

from __future__ import annotations

import json
import random
import time

import pytest
import zmq

from protocol import ErrorCode, decode, validate_reply
from protocol.client import Client
from protocol.constants import MAX_HEADER_BYTES
from server_fixtures import running_server
from server_jobs import TEST_JOBS

MESSAGES = 100_000
BATCH = 500                  # sent back to back, then their replies read (below zmq's HWM)
CODES = {v for k, v in vars(ErrorCode).items() if not k.startswith("_")}
KINDS = ["hello", "submit", "cancel", "status", "fetch", "ping", "cluster", "pong", "result", "",
         "x" * 300]
VALUES = [None, True, 0, -1, 2 ** 70, 1.5, float("1e308"), "", "x" * 5000, [], {}, [1, [2]],
          {"a": {"b": None}}, "../../etc/passwd", "\u0000\ud7ff"]


def valid_header(rng: random.Random) -> dict:
    """A well-formed request the server must still refuse (an unknown job kind or job id), so
    that no mutation of it can turn into a request with a non-error answer."""
    kind = rng.choice(["submit", "cancel", "fetch"])
    fields = {
        "submit": {"job_kind": f"zz-{rng.randrange(1000)}", "params": {}},   # never a real kind
        "cancel": {"job_id": "%032x" % rng.getrandbits(128)},
        "fetch": {"job_id": "%032x" % rng.getrandbits(128)},
    }[kind]
    return {"v": 1, "kind": kind, "id": f"f{rng.getrandbits(32)}", "re": None,
            "fields": fields, "arrays": []}


def broken(rng: random.Random) -> tuple[list[bytes], str]:
    """One invalid message and what it is (for failure messages)."""
    h = valid_header(rng)
    what = rng.randrange(12)
    if what == 0:
        return [rng.randbytes(rng.randrange(0, 64))], "random bytes"
    if what == 1:
        raw = json.dumps(h).encode()
        return [raw[:rng.randrange(0, len(raw))]], "truncated header"
    if what == 2:
        h["v"] = rng.choice([0, 2, 99, -1, "1", 1.0, None, [1]])
        return [json.dumps(h).encode()], "wrong version"
    if what == 3:
        del h[rng.choice(["v", "kind", "id", "fields", "arrays"])]
        return [json.dumps(h).encode()], "missing header key"
    if what == 4:
        h[rng.choice(["kind", "id", "re", "fields", "arrays"])] = rng.choice(VALUES[:8] + [1, {}])
        return [json.dumps(h).encode()], "header key of the wrong type"
    if what == 5:
        h["kind"] = rng.choice(KINDS[6:])
        return [json.dumps(h).encode()], "unknown kind"
    if what == 6:
        h["fields"][f"extra{rng.randrange(9)}"] = rng.choice(VALUES)
        return [json.dumps(h).encode()], "extra field"
    if what == 7:
        h["fields"][rng.choice(list(h["fields"]))] = rng.choice(VALUES[:6] + [[], {}])
        return [json.dumps(h).encode()], "field of the wrong type"
    if what == 8:
        n = rng.randrange(1, 5)
        h["arrays"] = [{"name": f"a{i}", "dtype": rng.choice(["uint8", "float32", "object",
                                                              "<f8", "complex64"]),
                        "shape": [rng.randrange(0, 4)], "nbytes": rng.randrange(0, 20)}
                       for i in range(n)]
        frames = [rng.randbytes(rng.randrange(0, 20)) for _ in range(rng.randrange(0, n + 2))]
        h["kind"] = "submit"
        h["fields"] = {"job_kind": "zz-array", "params": {}}
        return [json.dumps(h).encode(), *frames], "bad arrays"
    if what == 9:
        return [json.dumps(rng.choice(VALUES)).encode()], "JSON that is not an object"
    if what == 10:
        depth = rng.randrange(2000, 20000)
        return [b"[" * depth + b"]" * depth], "deeply nested JSON"
    raw = bytearray(json.dumps(h).encode())
    for _ in range(rng.randrange(1, 4)):
        raw[rng.randrange(len(raw))] = rng.randrange(256)
    if raw == json.dumps(h).encode():
        raw = raw[:-1]
    return [bytes(raw)], "flipped bytes"


def oversize(rng: random.Random) -> tuple[list[bytes], str]:
    return [b" " * (MAX_HEADER_BYTES + 1 + rng.randrange(1000))], "over-size header"


@pytest.mark.slow
def test_a_hundred_thousand_bad_messages_get_errors_and_the_server_survives(tmp_path):
    rng = random.Random(20261123)
    with running_server(tmp_path, jobs=TEST_JOBS) as server:
        sock = zmq.Context.instance().socket(zmq.DEALER)
        sock.setsockopt(zmq.LINGER, 0)
        sock.connect(server.address)
        counts: dict[str, int] = {}
        start = time.monotonic()
        try:
            sent = 0
            while sent < MESSAGES:
                batch = [oversize(rng) if rng.random() < 0.002 else broken(rng)
                         for _ in range(min(BATCH, MESSAGES - sent))]
                for frames, _ in batch:
                    sock.send_multipart(frames)
                for frames, what in batch:
                    assert sock.poll(10_000), f"no reply to {what}: {frames[0][:200]!r}"
                    reply = validate_reply(decode(sock.recv_multipart(copy=False)))
                    assert reply.kind == "error", (what, frames[0][:200], reply.fields)
                    assert reply.fields["code"] in CODES and reply.fields["message"], what
                    assert reply.fields["code"] != ErrorCode.INTERNAL, (what, reply.fields)
                    counts[what] = counts.get(what, 0) + 1
                sent += len(batch)
        finally:
            sock.close()
        elapsed = time.monotonic() - start
        assert sum(counts.values()) == MESSAGES and len(counts) == 13, counts
        with Client(server.address, timeout=10.0) as client:
            assert client.run_job("fast", {"n": 1}, timeout=30).metadata["n"] == 1
        print(f"{MESSAGES} bad messages answered in {elapsed:.1f} s: {counts}")
