"""Size limits: a too-large request gets an error (or, past the socket's hard limit, nothing)
and the server's memory stays flat however many of them arrive."""

from __future__ import annotations

import json

import numpy as np
import pytest
import zmq

from backend.server.limits import Limits
from protocol import ErrorCode, Message, ProtocolError, encode
from protocol.client import Client
from server_fixtures import rss_bytes, running_server
from server_jobs import TEST_JOBS

MiB = 1 << 20
LIMITS = Limits(message_bytes=4 * MiB, array_bytes=1 * MiB, params_depth=8)


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    with running_server(tmp_path_factory.mktemp("results"), jobs=TEST_JOBS,
                        limits=LIMITS) as srv:
        yield srv



def raw_socket(address: str) -> zmq.Socket:
    sock = zmq.Context.instance().socket(zmq.DEALER)
    sock.setsockopt(zmq.LINGER, 0)
    sock.connect(address)
    return sock


def reply_code(sock: zmq.Socket, wait_ms: int = 5000) -> str | None:
    if not sock.poll(wait_ms):
        return None
    header = json.loads(sock.recv_multipart()[0])
    assert header["kind"] == "error"
    return header["fields"]["code"]


def test_over_size_fields_get_errors_that_say_the_limit(server):
    with Client(server.address, timeout=5.0) as c:
        big = np.zeros(2 * MiB, np.uint8)
        with pytest.raises(ProtocolError) as exc:
            c.submit("echo", {}, {"photo": big})
        assert exc.value.code == ErrorCode.TOO_LARGE and "downscale" in exc.value.message
        deep: dict = {}
        for _ in range(12):
            deep = {"x": deep}
        with pytest.raises(ProtocolError) as exc:
            c.submit("echo", deep)
        assert exc.value.code == ErrorCode.TOO_LARGE and "nested" in exc.value.message
        with pytest.raises(ProtocolError) as exc:
            c.submit("echo", {}, request_key="k" * 500)
        assert exc.value.code == ErrorCode.TOO_LARGE
        parts = {f"a{i}": np.zeros(MiB - 64, np.uint8) for i in range(5)}   # each fine, not all
        with pytest.raises(ProtocolError) as exc:
            c.submit("echo", {}, parts)
        assert exc.value.code == ErrorCode.TOO_LARGE and "at most" in exc.value.message
        assert c.run_job("echo", {"ok": 1}, timeout=30).metadata["params"] == {"ok": 1}


def test_json_nested_too_deep_for_the_parser_is_a_bad_frame(server):
    sock = raw_socket(server.address)
    try:
        sock.send(b"[" * 200_000 + b"]" * 200_000)
        assert reply_code(sock) in (ErrorCode.BAD_FRAME, ErrorCode.TOO_LARGE)
    finally:
        sock.close()


def test_a_frame_over_the_socket_limit_is_dropped_unanswered(server):
    sock = raw_socket(server.address)
    try:
        sock.send(b"{" + b" " * (5 * MiB))
        assert reply_code(sock, 1000) is None
    finally:
        sock.close()
    with Client(server.address, timeout=5.0) as c:
        assert c.ping() < 1.0


def test_memory_stays_flat_under_over_size_requests(server):
    sock = raw_socket(server.address)
    big = np.ones(MiB + 1, np.uint8)
    frames = encode(Message("submit", {"job_kind": "echo", "params": {}}, {"photo": big}))
    header = b" " * (MiB + 1)           # over the protocol's 1 MiB header limit

    def burst(n: int) -> None:
        for i in range(n):
            sock.send_multipart(frames if i % 2 else [header], copy=False)
        for _ in range(n):
            assert reply_code(sock) == ErrorCode.TOO_LARGE

    try:
        burst(50)                       # warm up allocator pools
        before = rss_bytes()
        for _ in range(6):
            burst(50)                   # 300 more requests, ~300 MiB in total
        grown = rss_bytes() - before
    finally:
        sock.close()
    assert grown < 40 * MiB, f"RSS grew by {grown / MiB:.1f} MiB"
