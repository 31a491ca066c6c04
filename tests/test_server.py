"""The server on a real loopback ZeroMQ socket, driven by the real client.

Test job kinds ("slow", "boom", "echo", ...) come from tests/server_jobs.py and run in worker
processes like the real ones; the body job is the real one.
"""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path

import numpy as np
import pytest
import zmq

import backend
from avatar_samples import assert_avatars_equal, tiny_avatar
from backend.jobs import JOB_KINDS
from protocol import ErrorCode, Message, ProtocolError, encode
from protocol.client import Client
from protocol.constants import MAX_HEADER_BYTES
from server_fixtures import running_server
from server_jobs import TEST_JOBS as _TEST_ONLY

TEST_JOBS = {**JOB_KINDS, **_TEST_ONLY}


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    with running_server(tmp_path_factory.mktemp("results"), jobs=TEST_JOBS,
                        preload=("anny",)) as srv:
        yield srv


@pytest.fixture
def client(server):
    with Client(server.address, timeout=5.0) as c:
        yield c


def wait_for(client: Client, job_id: str, kinds: tuple[str, ...], timeout: float = 10.0,
             stage: str | None = None):
    """Poll until a message of one of ``kinds`` about ``job_id`` arrives (a progress message
    only if its stage starts with ``stage``); others are skipped."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for msg in client.poll(timeout=0.2):
            if msg.kind in kinds and msg.fields.get("job_id") == job_id and (
                    stage is None or msg.kind != "progress"
                    or msg.fields["stage"].startswith(stage)):
                return msg
    raise AssertionError(f"no {kinds} for job {job_id} within {timeout} s")


def wait_file(path: Path, timeout: float = 5.0) -> bool:
    deadline = time.monotonic() + timeout
    while not path.exists() and time.monotonic() < deadline:
        time.sleep(0.02)
    return path.exists()


# --- capabilities and the body job ------------------------------------------------------------

def test_hello_reports_capabilities(client):
    info = client.hello()
    assert info["version"] == 1
    assert info["server_version"] == backend.__version__
    assert "body" in info["job_kinds"] and "slow" in info["job_kinds"]
    assert "anny" in info["body_models"]
    assert info["device"] == "cpu" or info["device"].startswith("cuda:0 (")


def test_body_job_streams_progress_and_returns_the_real_avatar(client, anny_avatar):
    progress: list[tuple[str, float]] = []
    avatar = client.run_job("body", {"name": "TestBody"}, on_progress=lambda s, f:
                            progress.append((s, f)), timeout=120)
    assert avatar.skeleton.bone_count == 104
    fractions = [f for _, f in progress]
    assert len(progress) >= 3 and fractions == sorted(fractions) and fractions[-1] == 1.0
    assert {"build rest body", "done"} <= {s for s, _ in progress}
    # What crossed the wire is bit-identical to what the job makes in-process.
    assert_avatars_equal(avatar, anny_avatar)
    body = avatar.layer("body")
    assert np.allclose(body.skin_weights.sum(1), 1.0, atol=1e-4)


def test_binary_inputs_reach_the_job(client):
    image = np.arange(4 * 5 * 3, dtype=np.uint8).reshape(4, 5, 3)
    points = np.linspace(0, 1, 6, dtype=np.float64).reshape(2, 3)
    avatar = client.run_job("echo", {"x": 1}, {"image": image, "points": points}, timeout=30)
    seen = avatar.metadata["inputs"]
    assert seen["image"] == {"dtype": "uint8", "shape": [4, 5, 3], "sum": float(image.sum())}
    assert seen["points"] == {"dtype": "float64", "shape": [2, 3], "sum": float(points.sum())}
    assert avatar.metadata["params"] == {"x": 1}


# --- slow jobs: the socket stays responsive, cancel stops the work ----------------------------

def test_server_answers_while_a_job_runs_and_cancel_stops_it(client, tmp_path):
    exited = tmp_path / "exited"
    job_id = client.submit("slow", {"seconds": 30, "exited": str(exited)})
    try:
        first = wait_for(client, job_id, ("progress",))
        assert first.fields["stage"] in ("started", "waiting")
        wait_for(client, job_id, ("progress",), stage="waiting")
        # The worker is busy; hello, ping and status still come back promptly.
        assert client.ping() < 1.0
        assert client.hello()["version"] == 1
        assert client.status(job_id)[0]["state"] == "running"
        with pytest.raises(ProtocolError) as exc:
            client.fetch(job_id)
        assert exc.value.code == ErrorCode.NOT_READY
    finally:
        client.cancel(job_id)
    end = wait_for(client, job_id, ("error", "result"))
    assert end.kind == "error" and end.fields["code"] == ErrorCode.CANCELLED
    assert wait_file(exited), "the job function kept running after cancel"
    record = client.status(job_id)[0]
    assert record["state"] == "cancelled" and record["code"] == ErrorCode.CANCELLED
    with pytest.raises(ProtocolError) as exc:
        client.fetch(job_id)
    assert exc.value.code == ErrorCode.CANCELLED


def test_cancel_of_a_queued_job_ends_it_before_it_starts(client, tmp_path):
    running = client.submit("slow", {"seconds": 30, "exited": str(tmp_path / "first")})
    wait_for(client, running, ("progress",), stage="waiting")   # occupies the only worker
    queued = client.submit("pid", {"seconds": 30})
    try:
        assert client.cancel(queued)["state"] == "cancelled"
        end = wait_for(client, queued, ("error",))
        assert end.fields["code"] == ErrorCode.CANCELLED
    finally:
        client.cancel(running)
    wait_for(client, running, ("error",))
    assert wait_file(tmp_path / "first")
    time.sleep(0.3)   # give the freed worker the chance to (wrongly) pick up the queued job
    assert client.status(queued)[0]["stage"] == "queued"   # no progress: it never ran


def test_run_job_timeout_cancels_the_job(client):
    with pytest.raises(ProtocolError) as exc:
        client.run_job("slow", {"seconds": 30}, timeout=0.5)
    job_id = exc.value.job_id
    assert exc.value.code == ErrorCode.JOB_FAILED and "0.5 s" in exc.value.message
    assert wait_for(client, job_id, ("error",)).fields["code"] == ErrorCode.CANCELLED


# --- results on disk, reconnecting clients -----------------------------------------------------

def test_fetch_after_reconnect_with_a_new_socket(server):
    with Client(server.address) as first:
        job_id = first.submit("echo", {"n": 7})
        wait_for(first, job_id, ("result",))
        token = first.token
    with Client(server.address, token=token) as again:     # the owner token, not a socket id
        records = again.status()
        assert [r["job_id"] for r in records] == [job_id] and records[0]["state"] == "done"
        assert again.fetch(job_id).metadata["params"] == {"n": 7}
    # Another client neither sees the job in its list nor fetches it by its id.
    with Client(server.address) as other:
        assert job_id not in [r["job_id"] for r in other.status()]
        with pytest.raises(ProtocolError) as exc:
            other.fetch(job_id)
        assert exc.value.code == ErrorCode.NOT_FOUND


def test_results_survive_a_server_restart(tmp_path):
    with running_server(tmp_path, jobs=TEST_JOBS) as srv, Client(srv.address) as c:
        job_id = c.submit("echo", {"keep": True})
        expected = tiny_avatar("Echo", metadata={"inputs": {}, "params": {"keep": True}})
        wait_for(c, job_id, ("result",))
        token = c.token
    with running_server(tmp_path, jobs=TEST_JOBS) as srv, Client(srv.address, token=token) as c:
        assert c.status(job_id)[0]["state"] == "done"
        assert c.status(job_id)[0]["job_kind"] == "echo"
        assert_avatars_equal(c.fetch(job_id), expected)


def test_status_lists_only_the_clients_own_jobs(server):
    with Client(server.address) as a, Client(server.address) as b:
        ja = a.submit("echo", {})
        jb = b.submit("echo", {})
        wait_for(a, ja, ("result",))
        wait_for(b, jb, ("result",))
        assert [r["job_id"] for r in a.status()] == [ja]
        assert [r["job_id"] for r in b.status()] == [jb]


def test_request_key_makes_submit_idempotent(client):
    first = client.submit("echo", {}, request_key="button-press-1")
    second = client.submit("echo", {}, request_key="button-press-1")
    third = client.submit("echo", {}, request_key="button-press-2")
    assert first == second != third
    wait_for(client, first, ("result",))
    wait_for(client, third, ("result",))
    assert len([r for r in client.status() if r["job_id"] == first]) == 1


@pytest.mark.parametrize("job_id", ["../../etc/passwd", "0" * 31 + "/", "A" * 32, "0" * 32])
def test_unknown_or_path_like_job_ids_are_not_found(client, job_id):
    for call in (client.fetch, client.status, client.cancel):
        with pytest.raises(ProtocolError) as exc:
            call(job_id)
        assert exc.value.code == ErrorCode.NOT_FOUND


# --- failures are reported, the server keeps serving -------------------------------------------

def test_job_errors_carry_their_codes(client):
    with pytest.raises(ProtocolError) as exc:
        client.run_job("body", {"params": {"height": 99.0}}, timeout=60)
    assert exc.value.code == ErrorCode.BAD_PARAMS and "height" in exc.value.message
    with pytest.raises(ProtocolError) as exc:
        client.run_job("boom", {}, timeout=10)
    assert exc.value.code == ErrorCode.JOB_FAILED
    assert "RuntimeError" in exc.value.message and "flux capacitor" in exc.value.message
    with pytest.raises(ProtocolError) as exc:
        client.submit("teleport", {})
    assert exc.value.code == ErrorCode.UNKNOWN_JOB_KIND and "body" in exc.value.message
    assert client.ping() < 1.0


def _header(**over) -> bytes:
    h = {"v": 1, "kind": "ping", "id": "m1", "re": None, "fields": {}, "arrays": []}
    h.update(over)
    return json.dumps(h).encode()


GARBAGE = {
    "not json": ([b"\x80\x04\x95garbage"], ErrorCode.BAD_FRAME),
    "json list": ([b"[1, 2]"], ErrorCode.BAD_FRAME),
    "wrong version": ([_header(v=99)], ErrorCode.BAD_VERSION),
    "unknown kind": ([_header(kind="launch")], ErrorCode.UNKNOWN_KIND),
    "reply kind sent as request": ([_header(kind="pong", fields={"time": 1})],
                                   ErrorCode.UNKNOWN_KIND),
    "missing field": ([_header(kind="fetch")], ErrorCode.MISSING_FIELD),
    "extra field": ([_header(fields={"sneaky": 1})], ErrorCode.EXTRA_FIELD),
    "wrong type": ([_header(kind="submit", fields={"job_kind": 5, "params": {}})],
                   ErrorCode.BAD_TYPE),
    "array size mismatch": ([_header(kind="submit", fields={"job_kind": "echo", "params": {}},
                                     arrays=[{"name": "a", "dtype": "float32", "shape": [4],
                                              "nbytes": 16}]), b"\0" * 12], ErrorCode.BAD_ARRAY),
    "object dtype": ([_header(kind="submit", fields={"job_kind": "echo", "params": {}},
                              arrays=[{"name": "a", "dtype": "object", "shape": [1],
                                       "nbytes": 8}]), b"\0" * 8], ErrorCode.BAD_ARRAY),
    "arrays on ping": ([_header(arrays=[{"name": "a", "dtype": "uint8", "shape": [1],
                                         "nbytes": 1}]), b"x"], ErrorCode.BAD_ARRAY),
    "over-size header": ([b" " * (MAX_HEADER_BYTES + 1)], ErrorCode.TOO_LARGE),
    "empty frame": ([b""], ErrorCode.BAD_FRAME),
}


def test_garbage_is_answered_with_errors_and_the_server_keeps_serving(server, client):
    ctx = zmq.Context.instance()
    raw = ctx.socket(zmq.DEALER)
    raw.setsockopt(zmq.LINGER, 0)
    raw.connect(server.address)
    try:
        for name, (frames, code) in GARBAGE.items():
            raw.send_multipart(frames)
            assert raw.poll(5000), f"{name}: no reply"
            header = json.loads(raw.recv_multipart()[0])
            assert header["kind"] == "error", name
            assert header["fields"]["code"] == code, (name, header["fields"])
            assert header["fields"]["message"], name
            if frames[0].startswith(b"{"):
                assert header["re"] == "m1", name    # the error names the bad request
        # A well-formed request on the same socket, and the regular client, still work.
        raw.send_multipart(encode(Message("ping", id="after")))
        assert raw.poll(5000)
        assert json.loads(raw.recv_multipart()[0])["re"] == "after"
    finally:
        raw.close()
    assert client.hello()["version"] == 1


def test_hello_with_no_common_version_is_refused(client):
    with pytest.raises(ProtocolError) as exc:
        client.request("hello", {"client": "future", "versions": [7, 8]})
    assert exc.value.code == ErrorCode.BAD_VERSION and "update" in exc.value.message


# --- a dying server, bind safety, polling ------------------------------------------------------

def test_run_job_raises_when_the_server_dies_mid_job(tmp_path):
    errors: list[ProtocolError] = []
    with running_server(tmp_path, jobs=_TEST_ONLY) as srv:
        client = Client(srv.address, timeout=1.0)
        progress = threading.Event()

        def run() -> None:
            try:
                client.run_job("slow", {"seconds": 30}, on_progress=lambda s, f:
                               progress.set() if s == "waiting" else None)
            except ProtocolError as exc:
                errors.append(exc)

        waiter = threading.Thread(target=run, daemon=True)
        waiter.start()
        assert progress.wait(10)
    # The server is gone now; the waiting client notices within about two timeouts.
    waiter.join(10)
    assert not waiter.is_alive(), "run_job kept waiting for a dead server"
    client.close()
    assert [e.code for e in errors] == [ErrorCode.UNREACHABLE]


def test_poll_never_blocks_and_delivers_replies(client):
    start = time.monotonic()
    assert client.poll() == []
    assert time.monotonic() - start < 0.1
    msg_id = client.send("ping")
    replies = []
    deadline = time.monotonic() + 5
    while not replies and time.monotonic() < deadline:
        replies = client.poll(timeout=0.5)
    assert [(m.kind, m.re) for m in replies] == [("pong", msg_id)]
