"""Issue 18, point 2: memory has a budget. Queued jobs and their inputs are capped per
client and in all, cancelled inputs are freed at once, and results nobody reads cannot pile
up in the server."""

from __future__ import annotations

import gc
import json
import time

import numpy as np
import pytest

from avatar_samples import tiny_avatar
from backend.server.limits import Limits
from protocol import ErrorCode, Message, ProtocolError, encode
from protocol.client import Client
from sec_helpers import MiB, ask, hello_token, raw_socket, rss_bytes
from server_fixtures import running_server
from server_jobs import TEST_JOBS

LIMITS = Limits(message_bytes=16 * MiB, array_bytes=16 * MiB, client_jobs=4,
                client_input_bytes=40 * MiB, total_input_bytes=64 * MiB)


@pytest.fixture()
def server(tmp_path):
    # One worker, kept busy by a hog so everything else stays queued (inputs held in memory).
    with running_server(tmp_path, jobs=TEST_JOBS, limits=LIMITS) as srv:
        yield srv


def test_defaults_are_the_documented_ones():
    d = Limits()
    assert d.message_bytes == 64 * MiB
    assert d.client_jobs < 64                       # one client cannot fill the whole queue
    assert d.client_input_bytes < d.total_input_bytes <= 1 << 30
    assert d.send_hwm <= 128


def test_one_client_cannot_fill_the_queue(server):
    with Client(server.address) as a, Client(server.address) as b:
        a.submit("hog", {"seconds": 30})
        for _ in range(LIMITS.client_jobs - 1):
            a.submit("fast", {})
        with pytest.raises(ProtocolError) as exc:
            a.submit("fast", {})
        assert exc.value.code == ErrorCode.BUSY and "per client" in exc.value.message
        assert b.submit("fast", {})                      # others still get in


def test_queued_input_bytes_are_budgeted_and_rss_stays_bounded(server):
    photo = np.ones(10 * MiB, np.uint8)
    with Client(server.address, timeout=20) as a, Client(server.address, timeout=20) as b:
        a.submit("hog", {"seconds": 30})
        gc.collect()
        before = rss_bytes()
        accepted = refused = 0
        for i in range(20):                               # 200 MiB offered by one client
            try:
                a.submit("echo", {}, {"photo": photo})
                accepted += 1
            except ProtocolError as exc:
                assert exc.code == ErrorCode.BUSY
                refused += 1
        assert accepted == 3 and refused == 17            # 4 jobs / 40 MiB per client
        # A second client fills the global budget (64 MiB), then is refused with `busy`.
        b_accepted = 0
        for _ in range(5):
            try:
                b.submit("echo", {}, {"photo": photo})
                b_accepted += 1
            except ProtocolError as exc:
                assert exc.code == ErrorCode.BUSY
                assert "budget" in exc.message or "per client" in exc.message
        assert b_accepted == 3                            # 30 + 30 MiB <= 64 MiB < 70 MiB
        gc.collect()
        grown = rss_bytes() - before
    print(f"queued inputs: RSS +{grown / MiB:.0f} MiB after 230 MiB offered")
    # 60 MiB of inputs may be held; 230 MiB were offered.
    assert grown < 120 * MiB, f"RSS grew by {grown / MiB:.0f} MiB"


def test_cancel_frees_queued_inputs_at_once(server):
    photo = np.ones(10 * MiB, np.uint8)
    with Client(server.address, timeout=20) as a:
        a.submit("hog", {"seconds": 30})
        ids = [a.submit("echo", {}, {"photo": photo}) for _ in range(3)]
        held = [server.table.get(j).item for j in ids]
        assert all(item.inputs for item in held)
        for job_id in ids:
            assert a.cancel(job_id)["state"] == "cancelled"
        # The executor's queue still holds the WorkItems, but not their inputs.
        assert all(item.inputs == {} for item in held)
        assert server.table.usage(server.table.get(ids[0]).owner)[1] == 0
        # The budget is free again.
        a.submit("echo", {}, {"photo": photo})


def test_unread_results_do_not_pile_up(tmp_path):
    """400 fetches of a 2 MB result from a peer that never reads: the server's send queue
    for that peer is capped (send_hwm) and further fetches are refused while it is full."""
    with running_server(tmp_path, jobs=TEST_JOBS) as srv, Client(srv.address) as c:
        job_id = c.submit("fast", {})
        deadline = time.monotonic() + 30
        while c.status(job_id)[0]["state"] != "done":
            assert time.monotonic() < deadline
            time.sleep(0.05)
        big = tiny_avatar("Big")
        big.source_image = b"\x89PNG" + bytes(2 * MiB)
        srv.store.save(job_id, "fast", big)
        sock = raw_socket(srv.address, rcvhwm=1)
        try:
            hello_token(sock)
            gc.collect()
            before = rss_bytes()
            for _ in range(400):
                sock.send_multipart(encode(Message("fetch", {"job_id": job_id,
                                                             "token": c.token})), copy=False)
            time.sleep(3.0)                     # the server answers all 400 meanwhile
            probe = raw_socket(srv.address)
            assert ask(probe, "ping")["kind"] == "pong"
            probe.close()
            gc.collect()
            grown = rss_bytes() - before
            kinds: dict[str, int] = {}
            while sock.poll(500):
                header = json.loads(sock.recv_multipart()[0])
                key = header["fields"].get("code", header["kind"])
                kinds[key] = kinds.get(key, 0) + 1
        finally:
            sock.close()
    print(f"400 unread fetches of 2 MB: RSS +{grown / MiB:.0f} MiB; replies {kinds}")
    # Before the fix: +840 MB, every fetch answered with 2 MB. Now at most send_hwm results
    # wait for the peer; the other fetches are answered `busy`.
    assert kinds.get("result", 0) <= Limits().send_hwm + 2
    assert kinds.get(ErrorCode.BUSY, 0) >= 300
    assert grown < 100 * MiB, f"RSS grew by {grown / MiB:.0f} MiB"
