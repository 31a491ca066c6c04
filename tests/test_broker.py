"""A broker with remote workers on loopback: one address for clients, workers that come and
go, and every result delivered exactly once."""

from __future__ import annotations

import collections
import logging
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from backend.security.curve import init_keys
from backend.server.remote_worker import RemoteWorker
from protocol import ErrorCode, ProtocolError, avatar_from_message
from protocol.client import Client
from server_fixtures import running_server

TESTS = Path(__file__).resolve().parent
REPO = TESTS.parent
HEARTBEAT = 1.0          # seconds; a worker silent for 3 of them is dropped


def start_worker(address: str, name: str, log: Path, extra: list[str] = ()) -> subprocess.Popen:
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(TESTS), str(REPO)]))
    with open(log, "wb") as err:
        return subprocess.Popen(
            [sys.executable, "-c", "import sys; from backend.cli import main; "
             "sys.exit(main(sys.argv[1:]))", "worker", "--connect", address, "--name", name,
             "--job", "nap=server_jobs:nap", "--job", "fast=server_jobs:fast",
             "--heartbeat", str(HEARTBEAT), *extra],
            cwd=REPO, env=env, stdout=subprocess.DEVNULL, stderr=err)


def busy_worker_name(pool) -> str:
    """Name of a worker the broker has a job on (read from the test thread while the socket
    thread changes the dicts: retry when one changes under us)."""
    for _ in range(100):
        try:
            busy = sorted(pool.workers[i].name for i, _ in list(pool.running.values())
                          if i in pool.workers)
        except (RuntimeError, KeyError):
            continue
        if busy:
            return busy[0]
        time.sleep(0.005)
    return "w0"


def wait_for_kinds(client: Client, kinds: set[str], timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if kinds <= set(client.hello()["job_kinds"]):
            return
        time.sleep(0.2)
    raise AssertionError(f"no worker offering {kinds} registered within {timeout} s")


@pytest.mark.slow
def test_sixty_jobs_four_clients_one_worker_killed_all_delivered_once(tmp_path, caplog):
    caplog.set_level(logging.INFO)
    with running_server(tmp_path / "results", jobs={}, broker=True,
                        heartbeat=HEARTBEAT) as broker:
        workers = [start_worker(broker.address, f"w{i}", tmp_path / f"w{i}.log")
                   for i in range(3)]
        try:
            with Client(broker.address, timeout=5.0) as probe:
                wait_for_kinds(probe, {"nap"})
                deadline = time.monotonic() + 30      # all three registered and idle
                while len(broker.pool.workers) < 3 and time.monotonic() < deadline:
                    time.sleep(0.1)
                assert len(broker.pool.workers) == 3, list(broker.pool.workers)
            results: dict[str, list] = collections.defaultdict(list)
            errors: list = []
            lock = threading.Lock()
            done_count = [0]

            def run_client(c_index: int) -> None:
                with Client(broker.address, timeout=5.0) as c:
                    jobs = {c.submit("nap", {"n": c_index * 100 + i, "seconds": 0.1}): i
                            for i in range(15)}
                    deadline = time.monotonic() + 90
                    seen = 0
                    while seen < len(jobs) and time.monotonic() < deadline:
                        for msg in c.poll(timeout=0.2):
                            job_id = msg.fields.get("job_id")
                            if job_id not in jobs or msg.kind not in ("result", "error"):
                                continue
                            with lock:
                                if msg.kind == "error":
                                    errors.append(msg.fields)
                                results[job_id].append(msg)
                                done_count[0] += 1
                            seen += 1
                    time.sleep(1.0)                    # a duplicate would arrive now
                    for msg in c.poll(timeout=0.0):
                        if msg.fields.get("job_id") in jobs and msg.kind in ("result", "error"):
                            with lock:
                                results[msg.fields["job_id"]].append(msg)

            threads = [threading.Thread(target=run_client, args=(i,)) for i in range(4)]
            for t in threads:
                t.start()
            deadline = time.monotonic() + 60
            while done_count[0] < 15 and time.monotonic() < deadline:
                time.sleep(0.02)
            # Midway: SIGKILL a worker the broker has a job running on.
            victim = busy_worker_name(broker.pool)
            workers[int(victim[1:])].send_signal(signal.SIGKILL)
            for t in threads:
                t.join(120)
            assert not errors, errors
            assert any(f"losing worker {victim}" in r.getMessage() for r in caplog.records), \
                "the killed worker's job was never requeued"
            assert len(results) == 60
            assert all(len(msgs) == 1 and msgs[0].kind == "result" for msgs in results.values())
            ns = sorted(avatar_from_message(m).metadata["n"] for (m,) in results.values())
            assert ns == sorted(c * 100 + i for c in range(4) for i in range(15))
            assert len(broker.pool.workers) == 2            # the dead one was dropped
        finally:
            for w in workers:
                if w.poll() is None:
                    w.send_signal(signal.SIGTERM)
            for w in workers:
                try:
                    w.wait(10)
                except subprocess.TimeoutExpired:
                    w.kill()


def _worker_thread(address: str, stop: threading.Event, **options) -> threading.Thread:
    worker = RemoteWorker(address, jobs={"fast": "server_jobs:fast"}, heartbeat=HEARTBEAT,
                          backoff=(0.2, 1.0), **options)
    thread = threading.Thread(target=worker.run, args=(stop,), daemon=True)
    thread.worker = worker
    thread.start()
    return thread


def test_workers_authenticate_like_clients(tmp_path):
    keys = tmp_path / "keys"
    init_keys(keys)
    stop = threading.Event()
    with running_server(tmp_path / "results", jobs={}, broker=True, heartbeat=HEARTBEAT,
                        bind="tcp://127.0.0.2:*", keys=keys) as broker:
        stranger = _worker_thread(broker.address, stop, name="stranger")
        # A client key gets through CURVE but is not on allowed_workers/: its worker frames
        # are refused, so it cannot take jobs (and their inputs) from the broker.
        impostor = _worker_thread(broker.address, stop, name="impostor",
                                  server_key=keys / "server.key",
                                  client_key=keys / "client.key_secret")
        try:
            with Client(broker.address, timeout=5.0, server_key=keys / "server.key",
                        client_key=keys / "client.key_secret") as c:
                time.sleep(1.5)
                assert c.hello()["job_kinds"] == []        # neither worker got in
                with pytest.raises(ProtocolError) as exc:
                    c.submit("fast", {})
                assert exc.value.code == ErrorCode.UNKNOWN_JOB_KIND
                assert "doppel worker --connect" in exc.value.message
                trusted = _worker_thread(broker.address, stop, name="trusted",
                                         server_key=keys / "server.key",
                                         client_key=keys / "worker.key_secret")
                wait_for_kinds(c, {"fast"}, timeout=30)
                assert c.run_job("fast", {"n": 7}, timeout=30).metadata["n"] == 7
                assert [w.name for w in broker.pool.workers.values()] == ["trusted"]
        finally:
            stop.set()
            stranger.join(10)
            impostor.join(10)
    trusted.join(10)


def test_a_worker_reconnects_after_the_broker_restarts(tmp_path):
    import socket
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        address = f"tcp://127.0.0.1:{s.getsockname()[1]}"
    stop = threading.Event()
    worker = None
    try:
        for round_ in range(2):
            with running_server(tmp_path / "results", jobs={}, broker=True, bind=address,
                                heartbeat=HEARTBEAT) as broker, \
                    Client(address, timeout=5.0) as c:
                if worker is None:
                    worker = _worker_thread(address, stop, name="stayer")
                wait_for_kinds(c, {"fast"}, timeout=30)
                assert c.run_job("fast", {"n": round_}, timeout=30).metadata["n"] == round_
        assert worker.worker.registrations >= 2
    finally:
        stop.set()
        if worker is not None:
            worker.join(10)


def test_jobs_go_to_the_least_recently_used_worker(tmp_path):
    stop = threading.Event()
    with running_server(tmp_path / "results", jobs={}, broker=True,
                        heartbeat=HEARTBEAT) as broker:
        threads = [_worker_thread(broker.address, stop, name=f"lru{i}") for i in range(2)]
        try:
            with Client(broker.address, timeout=5.0) as c:
                deadline = time.monotonic() + 30
                while len(broker.pool.workers) < 2 and time.monotonic() < deadline:
                    time.sleep(0.1)
                pids = [c.run_job("fast", {"n": i}, timeout=30).metadata["pid"]
                        for i in range(6)]
            assert len(set(pids)) == 2
            assert pids[0::2] == [pids[0]] * 3 and pids[1::2] == [pids[1]] * 3, pids
        finally:
            stop.set()
            for t in threads:
                t.join(10)
