"""Cluster benchmark: 24 real `body` jobs through `doppel serve`, with two local worker processes
vs a two-node Ray cluster on the same machine (one actor per node). Prints throughput (all jobs
submitted at once) and p50 latency of one job at a time; the difference is what Ray adds.

    .venv/bin/python benchmarks/cluster.py [--json] [--jobs N]

Ray binds the machine's network address; run as root and the benchmark re-runs itself in a
private network namespace (`unshare -n`, loopback only), as the tests do. Times in seconds
unless marked ms.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from protocol import ProtocolError  # noqa: E402
from protocol.client import Client  # noqa: E402


def free_address() -> str:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return f"tcp://127.0.0.1:{s.getsockname()[1]}"


def serve(args: list[str], log: Path) -> tuple[subprocess.Popen, str]:
    address = free_address()
    with open(log, "wb") as err:
        proc = subprocess.Popen([sys.executable, "-m", "backend", "--bind", address,
                                 "--results", str(log.parent / "results"), *args],
                                cwd=REPO, stdout=subprocess.DEVNULL, stderr=err)
    return proc, address


def wait_ready(address: str, proc: subprocess.Popen, log: Path, nodes: int | None) -> None:
    """Until the server answers and (Ray) every node has an actor with its model loaded;
    a warm-up job then makes sure local workers have loaded theirs too."""
    deadline = time.monotonic() + 180
    with Client(address, timeout=1.0) as client:
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                raise SystemExit(f"the server exited:\n{log.read_text()[-3000:]}")
            try:
                info = client.cluster()["nodes"]
                if nodes is None or (len(info) == nodes and all(n.get("actors", 0) >= 1
                                                                for n in info)):
                    break
            except ProtocolError:
                pass
            time.sleep(0.2)
    with Client(address, timeout=60.0) as client:
        for n in range(4):
            client.run_job("body", {"name": f"Warm{n}"}, timeout=120)


def measure(address: str, jobs: int) -> dict:
    with Client(address, timeout=60.0) as client:
        lat = []
        for n in range(jobs):
            start = time.perf_counter()
            client.run_job("body", {"name": f"Seq{n}"}, timeout=120)
            lat.append(time.perf_counter() - start)
        start = time.perf_counter()
        ids = {client.submit("body", {"name": f"Par{n}"}) for n in range(jobs)}
        while ids:
            for msg in client.poll(0.05):
                if msg.kind in ("result", "error") and msg.fields.get("job_id") in ids:
                    if msg.kind == "error":
                        raise SystemExit(f"a job failed: {msg.fields['message']}")
                    ids.discard(msg.fields["job_id"])
        wall = time.perf_counter() - start
    return {"jobs": jobs, "throughput_jobs_s": jobs / wall, "p50_ms": statistics.median(lat) * 1e3,
            "p90_ms": sorted(lat)[int(0.9 * (len(lat) - 1))] * 1e3}


def run_local(tmp: Path, jobs: int) -> dict:
    log = tmp / "local.log"
    proc, address = serve(["--workers", "2"], log)
    try:
        wait_ready(address, proc, log, None)
        return measure(address, jobs)
    finally:
        proc.terminate()
        proc.wait(30)


def run_ray(tmp: Path, jobs: int) -> dict:
    from ray.cluster_utils import Cluster
    cluster = Cluster(initialize_head=True, connect=False,
                      head_node_args={"num_cpus": 1, "include_dashboard": False})
    cluster.add_node(num_cpus=1, node_ip_address="127.0.0.2")
    cluster.wait_for_nodes()
    log = tmp / "ray.log"
    proc, address = serve(["--ray", cluster.address], log)
    try:
        wait_ready(address, proc, log, 2)
        return measure(address, jobs)
    finally:
        proc.terminate()
        proc.wait(30)
        cluster.shutdown()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--jobs", type=int, default=24)
    args = parser.parse_args()
    if os.environ.get("DOPPEL_BENCH_NETNS") != "1" and shutil.which("unshare") and \
            subprocess.run(["unshare", "-n", "true"], capture_output=True).returncode == 0:
        env = {**os.environ, "DOPPEL_BENCH_NETNS": "1"}
        raise SystemExit(subprocess.call(["unshare", "-n", "sh", "-c",
                                          'ip link set lo up && exec "$0" "$@"', sys.executable,
                                          *sys.argv], env=env))
    with tempfile.TemporaryDirectory() as tmp:
        local = run_local(Path(tmp), args.jobs)
        ray = run_ray(Path(tmp), args.jobs)
    overhead = ray["p50_ms"] - local["p50_ms"]
    share = ray["throughput_jobs_s"] / local["throughput_jobs_s"]
    if args.json:
        print(json.dumps({"local": local, "ray": ray, "overhead_ms": overhead,
                          "throughput_share": share}, indent=2))
        return
    print(f"{args.jobs} body jobs through doppel serve (2 local workers vs 2 Ray nodes, one "
          f"machine)")
    print(f"{'engine':<8} {'jobs/s':>8} {'p50 ms':>8} {'p90 ms':>8}")
    for name, r in (("local", local), ("ray", ray)):
        print(f"{name:<8} {r['throughput_jobs_s']:>8.1f} {r['p50_ms']:>8.1f} {r['p90_ms']:>8.1f}")
    print(f"Ray adds {overhead:.1f} ms per job (p50; goal < 50) and keeps {share:.0%} of local "
          f"throughput (goal >= 90 %)")


if __name__ == "__main__":
    main()
