"""The add-on's non-blocking job follower (io.job_watch) against a real server on loopback:
what a Blender timer sees while a job runs, without Blender."""

from __future__ import annotations

import socket
import time

import pytest

from blender_addon.io.job_watch import HelloWatch, JobWatch, new_client
from backend.jobs.base import JobContext
from protocol import ErrorCode
from server_fixtures import running_server


def slow_job(params, inputs, ctx: JobContext):
    for i in range(200):
        ctx.progress("waiting", i / 200)
        time.sleep(0.05)
    raise AssertionError("the slow job should have been cancelled")


def free_port_address() -> str:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return f"tcp://127.0.0.1:{s.getsockname()[1]}"


def drive(watch, limit: float = 60.0) -> list[float]:
    """Step like a Blender timer (every 20 ms) until done; returns each step's duration."""
    durations, deadline = [], time.monotonic() + limit
    while True:
        start = time.perf_counter()
        active = watch.step()
        durations.append(time.perf_counter() - start)
        if not active or time.monotonic() > deadline:
            return durations
        time.sleep(0.02)


def test_body_job_reports_progress_and_delivers_the_avatar(live_server):
    client = new_client(live_server, timeout=5.0)
    watch = JobWatch(client, "body", {"params": {"height": 0.7}})
    drive(watch, limit=120)
    client.close()
    assert watch.state == "done", watch.error
    assert watch.job_id and watch.fraction == 1.0
    assert watch.avatar.skeleton.bone_count == 104
    assert watch.avatar.metadata["params"]["height"] == pytest.approx(0.7)
    # The body job's own stages arrived, in order.
    stages = watch.stages
    assert stages.index("load body model") < stages.index("build rest body") < stages.index(
        "texture"), stages


def test_timer_steps_stay_short_while_a_job_runs(live_server):
    client = new_client(live_server, timeout=5.0)
    watch = JobWatch(client, "body", {})
    durations = drive(watch)
    client.close()
    assert watch.state == "done"
    # Blender's UI must stay responsive: every step (including decoding the result) is short.
    assert max(durations) < 0.05, f"slowest step {max(durations) * 1000:.1f} ms"


def test_server_errors_reach_the_user(live_server):
    client = new_client(live_server, timeout=5.0)
    watch = JobWatch(client, "no_such_kind", {})
    drive(watch, limit=10)
    client.close()
    assert watch.state == "failed"
    assert watch.error.code == ErrorCode.UNKNOWN_JOB_KIND
    assert "body" in watch.error.message          # tells the user which kinds exist


def test_cancel_stops_a_running_job(tmp_path):
    with running_server(tmp_path, jobs={"slow": slow_job}) as server:
        client = new_client(server.address, timeout=5.0)
        watch = JobWatch(client, "slow", {})
        deadline = time.monotonic() + 20
        while watch.state != "running" and time.monotonic() < deadline:
            watch.step()
            time.sleep(0.02)
        assert watch.state == "running"
        watch.cancel()
        assert watch.state == "cancelled" and not watch.active
        # The server really stopped it.
        for _ in range(100):
            state = client.status(watch.job_id)[0]["state"]
            if state == "cancelled":
                break
            time.sleep(0.05)
        client.close()
        assert state == "cancelled"


def test_dead_server_is_reported_within_a_few_seconds():
    address = free_port_address()
    client = new_client(address, timeout=1.0)
    start = time.monotonic()
    hello = HelloWatch(client, reply_timeout=1.0)
    drive(hello, limit=10)
    watch = JobWatch(client, "body", {}, reply_timeout=1.0)
    drive(watch, limit=10)
    client.close()
    assert time.monotonic() - start < 5.0
    for err in (hello.error, watch.error):
        assert err.code == ErrorCode.UNREACHABLE
        assert f"cannot reach server at {address}" in err.message


def test_hello_reports_server_capabilities(live_server):
    client = new_client(live_server, timeout=5.0)
    hello = HelloWatch(client, reply_timeout=5.0)
    drive(hello, limit=10)
    client.close()
    assert hello.error is None
    assert "body" in hello.info["job_kinds"] and hello.info["device"]
    assert hello.nodes == 1     # a local-engine server is one node
