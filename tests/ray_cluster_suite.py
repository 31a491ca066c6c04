"""`doppel serve --ray` on a real two-node Ray cluster (head: 1 CPU; second node: 1 CPU and a
declared GPU), through the normal client. No mocks.

Not collected by itself (no test_ prefix): Ray binds the machine's network address, so
tests/test_ray_cluster.py runs this file inside a private network namespace that has only
loopback (`unshare -n`). One cluster and one server serve the whole module; the node-killing
test runs last.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from protocol import ProtocolError, avatar_message, encode
from protocol.client import Client

REPO = Path(__file__).resolve().parents[1]
IN_NETNS = os.environ.get("DOPPEL_RAY_NETNS") == "1"
pytestmark = pytest.mark.skipif(not IN_NETNS, reason="run by tests/test_ray_cluster.py inside "
                                "a private network namespace")
JOBS = ["--job", "slow=server_jobs:slow", "--job", "where=ray_jobs:where",
        "--job", "stubborn=ray_jobs:stubborn"]


@pytest.fixture(scope="module")
def cluster():
    from ray.cluster_utils import Cluster
    c = Cluster(initialize_head=True, connect=False,
                head_node_args={"num_cpus": 1, "include_dashboard": False})
    # Its own address, like a second machine: the server's driver attaches to the head's
    # raylet (a driver whose local raylet dies exits with it).
    gpu_node = c.add_node(num_cpus=1, num_gpus=1, node_ip_address="127.0.0.2")
    c.wait_for_nodes()
    yield c, gpu_node
    c.shutdown()


@pytest.fixture(scope="module")
def server(cluster, tmp_path_factory):
    """Address of `doppel serve --ray` on the cluster; its log is printed when a test fails."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        address = f"tcp://127.0.0.1:{s.getsockname()[1]}"
    results = tmp_path_factory.mktemp("ray-results")
    log = results / "serve.log"
    with open(log, "wb") as err:
        proc = subprocess.Popen([sys.executable, "-m", "backend", "--bind", address,
                                 "--ray", cluster[0].address, "--results", str(results), *JOBS],
                                cwd=REPO, stdout=subprocess.DEVNULL, stderr=err)
    try:
        deadline = time.monotonic() + 60
        with Client(address, timeout=1.0) as client:
            while time.monotonic() < deadline:
                assert proc.poll() is None, log.read_text()[-6000:]
                try:
                    client.ping()
                    break
                except ProtocolError:
                    pass
        wait_for_actors(address, 2)
        yield address, log
    finally:
        proc.terminate()
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            proc.kill()


def status_json(address: str, capsys) -> dict:
    from backend.cli import main
    capsys.readouterr()
    assert main(["status", "--server", address, "--json"]) == 0
    return json.loads(capsys.readouterr().out)


def wait_for(client: Client, job_id: str, pred, timeout: float):
    """The first event of ``job_id`` for which ``pred(msg)`` holds; events of other jobs
    wait in ``client.seen`` for their turn."""
    seen = client.__dict__.setdefault("seen", [])
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        seen.extend(client.poll(0.05))
        for msg in seen:
            if msg.fields.get("job_id") == job_id and pred(msg):
                seen.remove(msg)
                return msg
    raise AssertionError(f"no matching event for job {job_id} within {timeout} s")


def wait_for_actors(address: str, nodes: int, timeout: float = 120) -> None:
    """Until ``nodes`` nodes each have an actor with its models loaded."""
    deadline = time.monotonic() + timeout
    with Client(address, timeout=10.0) as client:
        while time.monotonic() < deadline:
            info = client.cluster()["nodes"]
            if len(info) == nodes and all(n["actors"] >= 1 for n in info):
                return
            time.sleep(0.2)
    raise AssertionError(f"the nodes' actors were not ready within {timeout} s: {info}")


def wire(avatar) -> list[bytes]:
    """The avatar as it travels, minus the message's random id."""
    msg = avatar_message(avatar, "x" * 32)
    msg.id = "fixed"
    return [bytes(memoryview(f).cast("B")) for f in encode(msg)]


def test_real_jobs_match_local_results_and_spread_over_both_nodes(server, shared_data,
                                                                  capsys):
    address, log = server
    photo = np.frombuffer((shared_data / "photos/single/ryota.png").read_bytes(), np.uint8)
    with Client(address, timeout=30.0) as client:
        assert client.hello()["device"].startswith("ray cluster at")
        body = client.run_job("body", {"name": "RayBody"}, timeout=120)
        gen = client.run_job("generate", {"seed": 3, "name": "RayGen"}, timeout=120)
        person = client.run_job("reconstruct", {"name": "Ryota", "quality": "fast"},
                                {"photo": photo}, timeout=180)
    from backend.jobs import JobContext, get_job
    assert wire(body) == wire(get_job("body")({"name": "RayBody"}, {}, JobContext("t")))
    assert wire(gen) == wire(get_job("generate")({"seed": 3, "name": "RayGen"}, {},
                                                 JobContext("t")))
    assert person.name == "Ryota" and len(person.layers) > 0
    info = status_json(address, capsys)
    assert info["engine"] == "ray" and len(info["nodes"]) == 2, info
    gpu = [n for n in info["nodes"] if n["gpus"] >= 1]
    assert len(gpu) == 1 and gpu[0]["done"] >= 1, info          # reconstruct: the GPU node
    assert all(n["done"] >= 1 and n["running"] == 0 for n in info["nodes"]), info


def test_cancel_stops_the_running_job_within_two_seconds(server, tmp_path, capsys):
    address, log = server
    exited = tmp_path / "exited"
    with Client(address, timeout=10.0) as client:
        job = client.submit("slow", {"seconds": 60, "exited": str(exited)})
        wait_for(client, job, lambda m: m.kind == "progress" and m.fields["stage"] == "waiting",
                 60)
        start = time.monotonic()
        client.cancel(job)
        err = wait_for(client, job, lambda m: m.kind == "error", 5)
        assert err.fields["code"] == "cancelled"
        while not exited.exists() and time.monotonic() - start < 2:
            time.sleep(0.02)
        assert exited.exists() and time.monotonic() - start < 2   # the job's code stopped

        # A job that never looks at its cancel flag: its actor is killed instead.
        job = client.submit("stubborn", {"seconds": 60})
        wait_for(client, job, lambda m: m.kind == "progress" and m.fields["stage"] ==
                 "not listening", 60)
        start = time.monotonic()
        client.cancel(job)
        err = wait_for(client, job, lambda m: m.kind == "error", 5)
        assert err.fields["code"] == "cancelled" and time.monotonic() - start < 2
    assert all(n["running"] == 0 for n in status_json(address, capsys)["nodes"])


def test_a_node_dying_mid_job_retries_elsewhere_and_the_server_keeps_serving(server, cluster):
    address, log = server
    c, gpu_node = cluster
    wait_for_actors(address, 2)     # the cancel test's killed actor has been replaced
    with Client(address, timeout=30.0) as a:
        jobs = [a.submit("where", {"seconds": 3}) for _ in range(2)]
        stages = {}
        for job in jobs:   # one on each node; find the one on the GPU node
            msg = wait_for(a, job, lambda m: m.kind == "progress" and
                           m.fields["stage"].startswith("gpus"), 120)
            stages[job] = msg.fields["stage"]
        assert set(stages.values()) == {"gpus []", "gpus [0]"}, stages
        on_gpu = next(j for j, s in stages.items() if s == "gpus [0]")

        served, stop = [], threading.Event()

        def second_client() -> None:   # pings and cheap jobs all through the node loss
            with Client(address, timeout=30.0) as b:
                while not stop.is_set():
                    b.ping()
                    served.append(b.run_job("body", {"name": "Meanwhile"}, timeout=60).name)
                    time.sleep(0.2)

        thread = threading.Thread(target=second_client)
        thread.start()
        c.remove_node(gpu_node)             # its raylet and the actor die mid-job
        outcome = {}
        try:
            for job in jobs:
                outcome[job] = wait_for(a, job, lambda m: m.kind in ("result", "error"), 120)
        except AssertionError as exc:
            lines = [ln for ln in log.read_text().splitlines() if "(body)" not in ln]
            raise AssertionError(f"{exc}\nserver log:\n" + "\n".join(lines[-60:])) from None
        finally:
            stop.set()
            thread.join(90)
    moved = outcome[on_gpu]
    assert moved.kind == "result" or "lost its Ray actor" in moved.fields["message"], \
        moved.fields
    assert all(m.kind == "result" for j, m in outcome.items() if j != on_gpu)
    assert served and set(served) == {"Meanwhile"}
    assert "retrying it on another actor" in log.read_text()
