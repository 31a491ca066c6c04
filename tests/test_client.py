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


# --- retries: a restarting server, a lost reply ------------------------------------------------

def test_retries_ride_out_a_server_that_starts_late(tmp_path):
    from server_fixtures import running_server
    from server_jobs import TEST_JOBS
    address = f"tcp://127.0.0.1:{free_port()}"
    heard: list[str] = []
    started, finished = threading.Event(), threading.Event()

    def start_late() -> None:
        time.sleep(1.5)
        with running_server(tmp_path, jobs=TEST_JOBS, bind=address):
            started.set()
            finished.wait(20)

    thread = threading.Thread(target=start_late, daemon=True)
    thread.start()
    try:
        with Client(address, timeout=0.5, retries=6, backoff=(0.2, 1.0),
                    on_event=heard.append) as c:
            avatar = c.run_job("fast", {"n": 9}, timeout=30)
        assert avatar.metadata["n"] == 9
        assert started.is_set()
        assert any("retrying" in h for h in heard) and "answered again" in heard[-1]
    finally:
        finished.set()
        thread.join(15)


def _lossy_proxy(server_address: str, stop: threading.Event, dropped: list) -> str:
    """A ROUTER->DEALER relay to ``server_address`` that swallows the first `accepted` reply
    (a reply lost on the network); returns its address."""
    ctx = zmq.Context.instance()
    front = ctx.socket(zmq.ROUTER)
    front.setsockopt(zmq.ROUTER_HANDOVER, 1)
    front.setsockopt(zmq.LINGER, 0)
    port = front.bind_to_random_port("tcp://127.0.0.1")
    back = ctx.socket(zmq.DEALER)
    back.setsockopt(zmq.LINGER, 0)
    back.connect(server_address)

    def relay() -> None:
        peer = None
        poller = zmq.Poller()
        poller.register(front, zmq.POLLIN)
        poller.register(back, zmq.POLLIN)
        try:
            while not stop.is_set():
                ready = dict(poller.poll(100))
                if front in ready:
                    peer, *body = front.recv_multipart()
                    back.send_multipart(body)
                if back in ready:
                    body = back.recv_multipart()
                    if b'"kind":"accepted"' in body[0] and not dropped:
                        dropped.append(body[0])
                        continue
                    front.send_multipart([peer, *body])
        finally:
            front.close()
            back.close()

    threading.Thread(target=relay, daemon=True).start()
    return f"tcp://127.0.0.1:{port}"


def test_a_retried_submit_never_makes_a_second_job(tmp_path):
    from server_fixtures import running_server
    from server_jobs import TEST_JOBS
    stop, dropped = threading.Event(), []
    with running_server(tmp_path, jobs=TEST_JOBS) as server:
        try:
            address = _lossy_proxy(server.address, stop, dropped)
            with Client(address, timeout=1.0, retries=2, backoff=(0.1, 0.1)) as c:
                job_id = c.submit("fast", {"n": 1})
                assert dropped, "the proxy did not drop the first reply"
                assert [r["job_id"] for r in c.status()] == [job_id]
        finally:
            stop.set()
