"""Issue 18, point 1: a job belongs to whoever submitted it (CURVE key, or the owner token of
a loopback server), never to a routing id or to whoever knows its job id."""

from __future__ import annotations

import logging
import shutil
import time

import pytest
import zmq.auth

from backend.security.curve import create_pair, init_keys
from protocol import ErrorCode, ProtocolError
from protocol.client import Client
from sec_helpers import ask, drain, hello_token, raw_socket
from server_fixtures import running_server
from server_jobs import TEST_JOBS


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    with running_server(tmp_path_factory.mktemp("results"), jobs=TEST_JOBS) as srv:
        yield srv


def _wait_done(client: Client, job_id: str, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while client.status(job_id)[0]["state"] != "done":
        assert time.monotonic() < deadline, "the job did not finish"
        time.sleep(0.05)


def test_another_client_cannot_read_fetch_or_cancel_a_job_by_its_id(server):
    with Client(server.address) as a, Client(server.address) as b:
        done = a.submit("echo", {"secret": "photo of A"})
        running = a.submit("slow", {"seconds": 20})
        _wait_done(a, done)
        for job_id in (done, running):
            for call in (b.status, b.fetch, b.cancel):
                with pytest.raises(ProtocolError) as exc:
                    call(job_id)
                assert exc.value.code == ErrorCode.NOT_FOUND, (call, exc.value)
        assert b.status() == []
        # A's jobs are untouched by B's attempts.
        assert a.status(running)[0]["state"] in ("queued", "running")
        assert a.fetch(done).metadata["params"] == {"secret": "photo of A"}
        a.cancel(running)


def test_job_requests_without_a_valid_token_are_refused(server):
    sock = raw_socket(server.address)
    try:
        no_token = ask(sock, "submit", {"job_kind": "fast", "params": {}})
        forged = ask(sock, "status", {"token": "0" * 32 + "." + "0" * 64})
        assert no_token["fields"]["code"] == ErrorCode.NO_OWNER
        assert forged["fields"]["code"] == ErrorCode.NO_OWNER
        token = hello_token(sock)
        ok = ask(sock, "status", {"token": token})
        assert ok["kind"] == "status" and ok["fields"]["jobs"] == []
    finally:
        sock.close()


def test_a_token_is_worth_nothing_on_another_server(server, tmp_path):
    with Client(server.address) as a:
        a.hello()
        with running_server(tmp_path, jobs=TEST_JOBS) as other:
            sock = raw_socket(other.address)
            try:
                reply = ask(sock, "status", {"token": a.token})
                assert reply["fields"]["code"] == ErrorCode.NO_OWNER
            finally:
                sock.close()


def test_reusing_a_routing_id_gets_neither_job_list_nor_pushes(server):
    """ROUTER_HANDOVER is off: a second connection presenting a live peer's routing id is
    ignored by libzmq; the first keeps its place and its job's events."""
    victim = raw_socket(server.address, identity=b"victim-id")
    thief = None
    try:
        token = hello_token(victim)
        accepted = ask(victim, "submit", {"job_kind": "nap", "params": {"seconds": 1.0},
                                          "token": token})
        assert accepted["kind"] == "accepted"
        job_id = accepted["fields"]["job_id"]
        thief = raw_socket(server.address, identity=b"victim-id")
        time.sleep(0.3)
        stolen = ask(thief, "status", {}, wait_ms=1500)
        assert stolen is None or stolen["kind"] == "error", stolen
        events = drain(victim, wait_ms=5000)
        assert any(e["kind"] == "result" and e["fields"]["job_id"] == job_id for e in events)
        assert all(job_id not in str(e) for e in drain(thief, 300))
    finally:
        victim.close()
        if thief is not None:
            thief.close()


def test_job_ids_are_not_logged_beside_client_names(server, caplog):
    caplog.set_level(logging.DEBUG, logger="doppel.server")
    with Client(server.address, client_name="alice-laptop") as c:
        job_id = c.run_job("fast", {"n": 1}, timeout=30) and c.status()[-1]["job_id"]
    lines = [r.getMessage() for r in caplog.records]
    assert any(job_id in ln for ln in lines)                 # ids are logged...
    assert not any(job_id in ln and "alice" in ln for ln in lines)   # ...never with names


# --- with CURVE -------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def curve(tmp_path_factory):
    keys = tmp_path_factory.mktemp("keys")
    init_keys(keys)
    other_pub, other_sec = create_pair(keys, "other")
    shutil.copy(other_pub, keys / "allowed_clients" / "other.key")
    with running_server(tmp_path_factory.mktemp("results"), jobs=TEST_JOBS,
                        bind="tcp://127.0.0.2:*", keys=keys) as srv:
        yield srv, keys, other_sec


def test_with_curve_jobs_belong_to_the_key(curve):
    srv, keys, other_sec = curve
    server_key = keys / "server.key"
    with Client(srv.address, server_key=server_key, client_key=keys / "client.key_secret") as a, \
            Client(srv.address, server_key=server_key, client_key=other_sec) as b:
        job_id = a.submit("echo", {"who": "a"})
        _wait_done(a, job_id)
        with pytest.raises(ProtocolError) as exc:
            b.fetch(job_id)
        assert exc.value.code == ErrorCode.NOT_FOUND
        assert job_id not in [r["job_id"] for r in b.status()]
        # The same key on a new connection (a reconnect) still owns it, with no token at all.
        with Client(srv.address, server_key=server_key,
                    client_key=keys / "client.key_secret") as again:
            assert again.fetch(job_id).metadata["params"] == {"who": "a"}
            assert again.token is None


def test_with_curve_a_stolen_routing_id_under_another_key_gets_nothing(curve):
    srv, keys, other_sec = curve
    server_pub, _ = zmq.auth.load_certificate(keys / "server.key")
    a_keys = (server_pub, *zmq.auth.load_certificate(keys / "client.key_secret"))
    b_keys = (server_pub, *zmq.auth.load_certificate(other_sec))
    victim = raw_socket(srv.address, identity=b"curve-victim", curve=a_keys)
    thief = None
    try:
        accepted = ask(victim, "submit", {"job_kind": "nap", "params": {"seconds": 1.0}})
        assert accepted["kind"] == "accepted", accepted
        job_id = accepted["fields"]["job_id"]
        thief = raw_socket(srv.address, identity=b"curve-victim", curve=b_keys)
        time.sleep(0.3)
        stolen = ask(thief, "status", {}, wait_ms=1500)
        assert stolen is None or job_id not in str(stolen)
        events = drain(victim, wait_ms=5000)
        assert any(e["kind"] == "result" and e["fields"]["job_id"] == job_id for e in events)
        assert all(job_id not in str(e) for e in drain(thief, 300))
    finally:
        victim.close()
        if thief is not None:
            thief.close()


def test_the_client_recovers_from_a_token_the_server_does_not_know(server):
    stale = "f" * 32 + "." + "0" * 64
    with Client(server.address, token=stale) as c:
        job_id = c.submit("fast", {"n": 2})           # refused once, new hello, sent again
        assert c.token != stale
        assert [r["job_id"] for r in c.status()] == [job_id]
