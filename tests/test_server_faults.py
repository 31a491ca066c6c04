"""Faults a user would otherwise feel: crashing and hanging jobs, a full queue, a restart.

Jobs run in worker processes (tests/server_jobs.py kinds); crashes are real signals.
"""

from __future__ import annotations

import os
import signal
import time

import pytest

from protocol import ErrorCode, ProtocolError
from protocol.client import Client
from server_fixtures import running_server
from server_jobs import TEST_JOBS


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    with running_server(tmp_path_factory.mktemp("results"), jobs=TEST_JOBS,
                        job_time_limit=3.0) as srv:
        yield srv


@pytest.fixture
def client(server):
    with Client(server.address, timeout=5.0) as c:
        yield c


def stage_of(client: Client, job_id: str, prefix: str, timeout: float = 15.0) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for msg in client.poll(timeout=0.2):
            if msg.kind == "progress" and msg.fields["job_id"] == job_id \
                    and msg.fields["stage"].startswith(prefix):
                return msg.fields["stage"]
    raise AssertionError(f"job {job_id} never reported stage {prefix!r}")


def end_of(client: Client, job_id: str, timeout: float = 15.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for msg in client.poll(timeout=0.2):
            if msg.kind in ("result", "error") and msg.fields.get("job_id") == job_id:
                return msg
    raise AssertionError(f"job {job_id} did not end within {timeout} s")


def test_sigkill_of_a_worker_fails_only_its_job(server, client):
    job_id = client.submit("pid", {"seconds": 30})
    pid = int(stage_of(client, job_id, "pid ").split()[1])
    assert pid in server.pool.pids() and pid != os.getpid()
    os.kill(pid, signal.SIGKILL)
    end = end_of(client, job_id)
    assert end.kind == "error" and end.fields["code"] == ErrorCode.JOB_FAILED
    assert "crashed" in end.fields["message"] and "SIGKILL" in end.fields["message"]
    assert client.status(job_id)[0]["state"] == "failed"
    # A replacement worker runs the next job.
    avatar = client.run_job("fast", {"n": 1}, timeout=30)
    assert avatar.metadata["n"] == 1 and avatar.metadata["pid"] != pid


def test_a_segfaulting_job_is_reported_and_the_server_keeps_serving(client):
    with pytest.raises(ProtocolError) as exc:
        client.run_job("crash", {}, timeout=30)
    assert exc.value.code == ErrorCode.JOB_FAILED and "SIGSEGV" in exc.value.message
    assert client.ping() < 1.0
    assert client.run_job("fast", {"n": 2}, timeout=30).metadata["n"] == 2


def test_a_job_out_of_memory_is_reported_and_its_process_replaced(client):
    stages: list[str] = []
    with pytest.raises(ProtocolError) as exc:
        client.run_job("oom", {}, on_progress=lambda s, f: stages.append(s), timeout=30)
    assert exc.value.code == ErrorCode.JOB_FAILED
    assert "ran out of memory" in exc.value.message and "smaller inputs" in exc.value.message
    pid = int(next(s for s in stages if s.startswith("pid ")).split()[1])
    # The capped process is not reused.
    assert client.run_job("fast", {"n": 6}, timeout=30).metadata["pid"] != pid


def test_a_job_over_the_time_limit_is_stopped_and_reported(client):
    start = time.monotonic()
    with pytest.raises(ProtocolError) as exc:
        client.run_job("hog", {"seconds": 60}, timeout=30)
    assert time.monotonic() - start < 10
    assert exc.value.code == ErrorCode.JOB_FAILED and "time limit of 3 s" in exc.value.message
    assert client.run_job("fast", {"n": 3}, timeout=30).metadata["n"] == 3


def test_a_job_ignoring_cancel_is_stopped_anyway(client):
    job_id = client.submit("hog", {"seconds": 60})
    time.sleep(0.3)
    client.cancel(job_id)
    end = end_of(client, job_id, timeout=10)
    assert end.fields["code"] == ErrorCode.CANCELLED


def test_a_full_queue_answers_busy(tmp_path):
    with running_server(tmp_path, jobs=TEST_JOBS, max_queued=2) as srv, \
            Client(srv.address, timeout=5.0) as c:
        jobs = [c.submit("slow", {"seconds": 30}) for _ in range(2)]
        with pytest.raises(ProtocolError) as exc:
            c.submit("fast", {})
        assert exc.value.code == ErrorCode.BUSY and "try again" in exc.value.message
        for job_id in jobs:
            c.cancel(job_id)
        assert c.run_job("fast", {"n": 4}, timeout=30).metadata["n"] == 4


def test_jobs_survive_a_restart_and_old_ones_are_cleaned_up(tmp_path):
    with running_server(tmp_path, jobs=TEST_JOBS) as srv, Client(srv.address) as c:
        done = c.submit("fast", {"n": 5}, request_key="press-1")
        failed = c.submit("boom", {})
        c.run_job("fast", {"n": 0}, timeout=30)              # the queue has drained
        running = c.submit("slow", {"seconds": 30})
        stage_of(c, running, "waiting")
        token = c.token                  # jobs belong to the owner token, not a socket id
    with running_server(tmp_path, jobs=TEST_JOBS) as srv, \
            Client(srv.address, token=token) as c:
        states = {r["job_id"]: r["state"] for r in c.status()}
        assert states[done] == "done" and states[failed] == "failed"
        assert states[running] == "failed"
        assert "restart" in c.status(running)[0]["message"]
        with pytest.raises(ProtocolError) as exc:
            c.fetch(failed)
        assert "flux capacitor" in exc.value.message
        assert c.fetch(done).metadata["n"] == 5
        # The same request after the restart still maps to the first job.
        assert c.submit("fast", {"n": 5}, request_key="press-1") == done
    old = time.time() - 3600
    for path in tmp_path.rglob("*"):
        if path.is_file():
            os.utime(path, (old, old))
    with running_server(tmp_path, jobs=TEST_JOBS, keep_results=60.0) as srv, \
            Client(srv.address) as c:
        for job_id in (done, failed):
            with pytest.raises(ProtocolError) as exc:
                c.status(job_id)
            assert exc.value.code == ErrorCode.NOT_FOUND
    assert not list(tmp_path.glob("*.doppel"))
