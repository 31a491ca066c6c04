"""protocol.client against servers that do not answer: it never waits longer than told."""

from __future__ import annotations

import socket
import threading
import time

import pytest
import zmq

from protocol import ErrorCode, Message, ProtocolError, encode
from protocol.client import Client


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_dead_server_is_reported_within_the_timeout():
    address = f"tcp://127.0.0.1:{free_port()}"
    with Client(address, timeout=1.0) as c:
        start = time.monotonic()
        with pytest.raises(ProtocolError) as exc:
            c.hello()
        assert time.monotonic() - start < 3.0
        # The unanswered request was dropped with the old socket; the client still works.
        assert c.poll() == []
    assert exc.value.code == ErrorCode.UNREACHABLE
    assert f"cannot reach server at {address}" in exc.value.message


def test_a_backlog_of_unrelated_events_does_not_extend_the_timeout():
    """A peer that answers a request with a flood of progress events (far more than the
    client can read within its timeout) but never with the reply itself."""
    ctx = zmq.Context.instance()
    router = ctx.socket(zmq.ROUTER)
    router.setsockopt(zmq.LINGER, 0)
    router.setsockopt(zmq.SNDHWM, 0)            # queue the whole flood, drop nothing
    port = router.bind_to_random_port("tcp://127.0.0.1")
    stop = threading.Event()
    event = encode(Message("progress", {"job_id": "f" * 32, "stage": "noise", "fraction": 0.5}))

    def flood() -> None:
        if not router.poll(5000):
            return
        peer = router.recv_multipart()[0]
        for i in range(200_000):
            if i % 1000 == 0 and stop.is_set():
                return
            router.send_multipart([peer, *event])

    thread = threading.Thread(target=flood, daemon=True)
    thread.start()
    try:
        with Client(f"tcp://127.0.0.1:{port}", timeout=1.0) as c:
            start = time.monotonic()
            with pytest.raises(ProtocolError) as exc:
                c.hello()
            assert time.monotonic() - start < 2.5
            assert exc.value.code == ErrorCode.UNREACHABLE
            # The unrelated events were kept for poll(), not lost.
            assert {m.kind for m in c.poll()} == {"progress"}
    finally:
        stop.set()
        thread.join(10)
        router.close()
