"""Broker benchmark: jobs/s through `doppel serve --broker` with 1, 2 and 3 `doppel worker`
processes, latency of a small request (ping) while jobs run, and the broker's memory after
10,000 requests. Everything on loopback; every process is stopped at the end.

    .venv/bin/python benchmarks/broker.py [--json] [--jobs N] [--job-seconds S] [--requests N]

The job sleeps ``--job-seconds`` (default 0.05) and returns a tiny avatar: it stands in for
GPU work, so the scaling ratio measures the broker's dispatching, not this machine's cores.
Times in seconds unless marked ms; memory in MiB (RSS from /proc).
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(REPO))

from protocol import ProtocolError  # noqa: E402
from protocol.client import Client  # noqa: E402

PYTHONPATH = os.pathsep.join([str(HERE), str(REPO / "tests"), str(REPO)])
CLI = "import sys; from backend.cli import main; sys.exit(main(sys.argv[1:]))"


def sleep_job(params, inputs, ctx):
    """The benchmark's job kind (imported by workers as broker:sleep_job)."""
    from avatar_samples import tiny_avatar
    time.sleep(float(params.get("seconds", 0.05)))
    return tiny_avatar("Bench", extras=False, metadata={"n": params.get("n")})


def free_address() -> str:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return f"tcp://127.0.0.1:{s.getsockname()[1]}"


def rss_mib(pid: int) -> float:
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def spawn(args: list[str], log: Path) -> subprocess.Popen:
    env = dict(os.environ, PYTHONPATH=PYTHONPATH)
    with open(log, "wb") as err:
        return subprocess.Popen([sys.executable, "-c", CLI, *args], cwd=REPO, env=env,
                                stdout=subprocess.DEVNULL, stderr=err)


def wait_workers(client: Client, broker_log: Path, count: int, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        text = broker_log.read_text(errors="replace")
        if "sleep" in client.hello()["job_kinds"] and f"; {count} workers" in text:
            return
        time.sleep(0.2)
    raise RuntimeError(f"{count} workers did not register within {timeout} s; see {broker_log}")


def run_jobs(address: str, jobs: int, seconds: float, clients: int = 4) -> float:
    """Submit ``jobs`` from ``clients`` concurrent clients; returns the wall time until all
    results arrived."""
    per = [jobs // clients + (i < jobs % clients) for i in range(clients)]
    failures: list[str] = []

    def one(count: int, base: int) -> None:
        with Client(address, timeout=30.0) as c:
            ids = {c.submit("sleep", {"n": base + i, "seconds": seconds}) for i in range(count)}
            deadline = time.monotonic() + 300
            while ids and time.monotonic() < deadline:
                for msg in c.poll(timeout=0.5):
                    if msg.kind in ("result", "error") and msg.fields.get("job_id") in ids:
                        ids.discard(msg.fields["job_id"])
                        if msg.kind == "error":
                            failures.append(msg.fields["message"])
            if ids:
                failures.append(f"{len(ids)} jobs never finished")

    start = time.perf_counter()
    threads = [threading.Thread(target=one, args=(n, 1000 * i)) for i, n in enumerate(per)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if failures:
        raise RuntimeError(f"jobs failed: {failures[:3]}")
    return time.perf_counter() - start


def ping_latencies(address: str, count: int) -> list[float]:
    with Client(address, timeout=10.0) as c:
        return [c.ping() for _ in range(count)]


def bench(args: argparse.Namespace) -> dict:
    out: dict = {"job_seconds": args.job_seconds, "jobs": args.jobs}
    procs: list[subprocess.Popen] = []
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        address = free_address()
        broker_log = tmp / "broker.log"
        broker = spawn(["serve", "--broker", "--bind", address, "--results", str(tmp / "res"),
                        "--max-queued", "10000"], broker_log)
        procs.append(broker)
        try:
            with Client(address, timeout=2.0, retries=20, backoff=(0.2, 1.0)) as c:
                c.hello()
                rates = {}
                for n in (1, 2, 3):
                    procs.append(spawn(["worker", "--connect", address, "--name", f"w{n}",
                                        "--job", "sleep=broker:sleep_job"], tmp / f"w{n}.log"))
                    wait_workers(c, broker_log, n)
                    run_jobs(address, 6, 0.0)                       # warm up the new worker
                    rates[n] = args.jobs / run_jobs(address, args.jobs, args.job_seconds)
                out["jobs_per_s"] = {str(n): round(r, 2) for n, r in rates.items()}
                out["scaling_2_vs_1"] = round(rates[2] / rates[1], 2)
                out["scaling_3_vs_1"] = round(rates[3] / rates[1], 2)
                out["ideal_jobs_per_s_1_worker"] = round(1 / args.job_seconds, 2)

                # Latency of a small request while the three workers are kept busy.
                load = threading.Thread(target=run_jobs,
                                        args=(address, args.jobs * 2, args.job_seconds))
                load.start()
                time.sleep(0.3)
                lat = sorted(ping_latencies(address, args.pings))
                load.join()
                out["ping_under_load_ms"] = {
                    "p50": round(1000 * statistics.median(lat), 3),
                    "p99": round(1000 * lat[min(len(lat) - 1, int(0.99 * len(lat)))], 3),
                    "count": len(lat)}

                # Memory: 10,000 requests (every 10th a real job, the rest ping/status).
                out["broker_rss_mib_before"] = round(rss_mib(broker.pid), 1)
                jobs = args.requests // 10
                start = time.perf_counter()
                run_jobs(address, jobs, 0.0)
                for i in range(args.requests - 2 * jobs):
                    c.ping() if i % 2 else c.status()
                out["requests"] = args.requests
                out["requests_s"] = round(time.perf_counter() - start, 2)
                out["broker_rss_mib_after"] = round(rss_mib(broker.pid), 1)
                out["worker_rss_mib_after"] = [round(rss_mib(p.pid), 1) for p in procs[1:]]
        finally:
            for p in reversed(procs):
                if p.poll() is None:
                    p.send_signal(signal.SIGTERM)
            for p in procs:
                try:
                    p.wait(15)
                except subprocess.TimeoutExpired:
                    p.kill()
    return out


def print_table(r: dict) -> None:
    print(f"broker benchmark (job = {r['job_seconds'] * 1000:.0f} ms sleep + tiny avatar, "
          f"{r['jobs']} jobs from 4 clients per run)")
    print(f"{'workers':>8} {'jobs/s':>9} {'vs 1':>6}")
    base = r["jobs_per_s"]["1"]
    for n, rate in r["jobs_per_s"].items():
        print(f"{n:>8} {rate:>9.2f} {rate / base:>6.2f}")
    print(f"(one worker's ideal: {r['ideal_jobs_per_s_1_worker']} jobs/s)")
    p = r["ping_under_load_ms"]
    print(f"ping under load: p50 {p['p50']:.2f} ms, p99 {p['p99']:.2f} ms ({p['count']} pings)")
    print(f"broker RSS: {r['broker_rss_mib_before']} MiB before, {r['broker_rss_mib_after']} "
          f"MiB after {r['requests']} requests ({r['requests_s']} s); workers "
          f"{r['worker_rss_mib_after']} MiB")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--json", action="store_true", help="print JSON instead of a table")
    ap.add_argument("--jobs", type=int, default=60, help="jobs per throughput run")
    ap.add_argument("--job-seconds", type=float, default=0.05)
    ap.add_argument("--pings", type=int, default=500)
    ap.add_argument("--requests", type=int, default=10_000)
    args = ap.parse_args()
    try:
        result = bench(args)
    except (ProtocolError, RuntimeError) as exc:
        print(f"benchmark failed: {exc}", file=sys.stderr)
        return 1
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        print_table(result)
    return 0


if __name__ == "__main__":
    sys.exit(main())
