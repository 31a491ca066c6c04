"""Protocol benchmark: avatar encode/decode, loopback round trip, bulk throughput against raw
pyzmq, and Blender import time of the Anny avatar.

    .venv/bin/python benchmarks/protocol.py [--json] [--pings N] [--repeats N]

Goals (issue 2): round trip <= 2 ms, protocol throughput >= 0.7x raw pyzmq, import <= 0.5 s.
All times are wall-clock medians; sizes in bytes; MB = 1e6 bytes.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import zmq

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from benchmarks._timing import median_time  # noqa: E402
from protocol import (Message, ProtocolError, avatar_from_message, avatar_message,  # noqa: E402
                      decode, encode, load_avatar, save_avatar, validate_request)
from protocol.client import Client  # noqa: E402

GOALS = {"roundtrip_ms": 2.0, "ratio_vs_raw": 0.7, "import_s": 0.5}
PAYLOAD_BYTES = 30_000_000


def frame_bytes(frames) -> int:
    return sum(memoryview(f).cast("B").nbytes for f in frames)


def anny_avatar():
    from backend.jobs import JobContext, get_job
    return get_job("body")({"name": "Bench"}, {}, JobContext("bench"))


# --- 1. the avatar format -----------------------------------------------------------------------

def bench_avatar_format(avatar, repeats: int) -> dict:
    frames = encode(avatar_message(avatar, "bench"))
    wire = [bytes(memoryview(f).cast("B")) for f in frames]
    out = {"avatar_bytes": frame_bytes(frames),
           "encode_ms": 1e3 * median_time(lambda: encode(avatar_message(avatar, "b")), repeats),
           "decode_ms": 1e3 * median_time(lambda: avatar_from_message(decode(wire)), repeats)}
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "bench.doppel"
        out["save_ms"] = 1e3 * median_time(lambda: save_avatar(avatar, path), repeats)
        out["file_bytes"] = path.stat().st_size
        out["load_ms"] = 1e3 * median_time(lambda: load_avatar(path), repeats)
    return out


# --- 2. a real server in its own process --------------------------------------------------------

def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(results: str) -> tuple[subprocess.Popen, str]:
    address = f"tcp://127.0.0.1:{free_port()}"
    log = open(Path(results) / "server.log", "wb")
    proc = subprocess.Popen([sys.executable, "-m", "backend", "--bind", address,
                             "--results", results], cwd=REPO, stderr=log)
    deadline = time.monotonic() + 120
    with Client(address, timeout=1.0) as c:
        while True:
            try:
                c.hello()
                return proc, address
            except ProtocolError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    proc.kill()
                    tail = (Path(results) / "server.log").read_text(errors="replace")[-2000:]
                    raise RuntimeError(f"the server at {address} did not come up:\n{tail}") \
                        from None


def bench_server(pings: int) -> dict:
    with tempfile.TemporaryDirectory() as results:
        proc, address = start_server(results)
        try:
            with Client(address, timeout=30.0) as c:
                for _ in range(20):    # warm up connection and caches
                    c.ping()
                rtts = sorted(c.ping() for _ in range(pings))
                c.run_job("body", {}, timeout=120)            # loads Anny in the server
                start = time.perf_counter()
                avatar = c.run_job("body", {"name": "Warm"}, timeout=120)
                body_s = time.perf_counter() - start
                job_id = c.status()[-1]["job_id"]
                fetch_s = median_time(lambda: c.fetch(job_id), 5)
        finally:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
    assert avatar.skeleton.bone_count == 104
    return {"roundtrip_ms": 1e3 * statistics.median(rtts),
            "roundtrip_p95_ms": 1e3 * rtts[int(0.95 * (len(rtts) - 1))],
            "body_job_ms": 1e3 * body_s, "fetch_ms": 1e3 * fetch_s}


# --- 3. bulk throughput: protocol vs raw pyzmq ---------------------------------------------------

def bench_throughput(repeats: int) -> dict:
    ctx = zmq.Context()
    router, dealer = ctx.socket(zmq.ROUTER), ctx.socket(zmq.DEALER)
    for s in (router, dealer):
        s.setsockopt(zmq.LINGER, 0)
    port = router.bind_to_random_port("tcp://127.0.0.1")
    dealer.connect(f"tcp://127.0.0.1:{port}")
    payload = np.random.default_rng(0).random(PAYLOAD_BYTES // 4, dtype=np.float32)
    raw_bytes = payload.tobytes()

    def raw_once() -> None:
        dealer.send(raw_bytes, copy=False)
        frames = router.recv_multipart(copy=False)
        assert len(frames[1]) == len(raw_bytes)

    def protocol_once() -> None:
        msg = Message("submit", {"job_kind": "bench", "params": {}}, {"payload": payload})
        dealer.send_multipart(encode(msg), copy=False)
        frames = router.recv_multipart(copy=False)
        back = validate_request(decode(frames[1:]))
        assert back.arrays["payload"].shape == payload.shape

    raw_once(), protocol_once()           # connect and warm up
    raw_t, proto_t = [], []
    for _ in range(repeats):               # interleaved, so both see the same machine load
        raw_t.append(median_time(raw_once, 1))
        proto_t.append(median_time(protocol_once, 1))
    router.close(), dealer.close(), ctx.term()
    raw_s, proto_s = statistics.median(raw_t), statistics.median(proto_t)
    return {"payload_mb": len(raw_bytes) / 1e6, "raw_mb_s": len(raw_bytes) / 1e6 / raw_s,
            "protocol_mb_s": len(raw_bytes) / 1e6 / proto_s, "ratio_vs_raw": raw_s / proto_s}


# --- 4. Blender import --------------------------------------------------------------------------

def bench_import(avatar, repeats: int) -> dict:
    try:
        import bpy
        from blender_addon.blender.builder import build_avatar
    except ImportError as exc:
        print(f"importer not available ({exc})", file=sys.stderr)
        return {"import_s": None, "import_first_s": None}
    times = []
    for _ in range(repeats + 1):
        bpy.ops.wm.read_factory_settings(use_empty=True)
        start = time.perf_counter()
        built = build_avatar(avatar, bpy.context)
        times.append(time.perf_counter() - start)
        assert len(built.armature.data.bones) == avatar.skeleton.bone_count
    return {"import_first_s": times[0], "import_s": statistics.median(times[1:])}


# --- report -------------------------------------------------------------------------------------

def fmt(value, unit: str = "", digits: int = 2) -> str:
    return "n/a" if value is None else f"{value:,.{digits}f}{unit}"


def print_table(r: dict) -> None:
    def goal(key: str, better: str) -> str:
        v, g = r.get(key), GOALS[key]
        if v is None:
            return "(not measured)"
        ok = v <= g if better == "low" else v >= g
        return f"goal {'<=' if better == 'low' else '>='} {g}: {'ok' if ok else 'MISSED'}"

    rows = [
        ("Anny avatar message size", fmt(r["avatar_bytes"] / 1e6, " MB"), ""),
        ("Anny .doppel file size", fmt(r["file_bytes"] / 1e6, " MB"), ""),
        ("avatar encode", fmt(r["encode_ms"], " ms"), ""),
        ("avatar decode + validate", fmt(r["decode_ms"], " ms"), ""),
        ("avatar file save / load", f"{fmt(r['save_ms'])} / {fmt(r['load_ms'], ' ms')}", ""),
        ("ping round trip, median", fmt(r.get("roundtrip_ms"), " ms", 3),
         goal("roundtrip_ms", "low")),
        ("ping round trip, p95", fmt(r.get("roundtrip_p95_ms"), " ms", 3), ""),
        ("body job via server (warm)", fmt(r.get("body_job_ms"), " ms", 1), ""),
        ("fetch Anny result", fmt(r.get("fetch_ms"), " ms", 1), ""),
        (f"{r['payload_mb']:.0f} MB raw pyzmq", fmt(r["raw_mb_s"], " MB/s", 0), ""),
        (f"{r['payload_mb']:.0f} MB through protocol", fmt(r["protocol_mb_s"], " MB/s", 0), ""),
        ("protocol / raw throughput", fmt(r["ratio_vs_raw"], "x"), goal("ratio_vs_raw", "high")),
        ("Blender import (first)", fmt(r["import_first_s"], " s", 3), ""),
        ("Blender import, median", fmt(r["import_s"], " s", 3), goal("import_s", "low")),
    ]
    width = max(len(name) for name, _, _ in rows)
    for name, value, note in rows:
        print(f"{name:<{width}}  {value:>16}  {note}")


@contextlib.contextmanager
def stdout_to_stderr():
    """Send file descriptor 1 to stderr (catches C-level and Python prints alike)."""
    sys.stdout.flush()
    saved = os.dup(1)
    os.dup2(2, 1)
    try:
        yield
    finally:
        sys.stdout.flush()
        os.dup2(saved, 1)
        os.close(saved)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.add_argument("--pings", type=int, default=500, help="round trips timed (default 500)")
    p.add_argument("--repeats", type=int, default=10, help="repeats of the bulk timings")
    p.add_argument("--no-server", action="store_true", help="skip the server process part")
    p.add_argument("--no-blender", action="store_true", help="skip the Blender import part")
    args = p.parse_args(argv)

    r: dict = {}
    with stdout_to_stderr():     # libraries' banners (warp, Blender) must not mix with results
        avatar = anny_avatar()
        r.update(bench_avatar_format(avatar, args.repeats))
        if args.no_server:
            r.update(roundtrip_ms=None, roundtrip_p95_ms=None, body_job_ms=None, fetch_ms=None)
        else:
            r.update(bench_server(args.pings))
        r.update(bench_throughput(args.repeats))
        if args.no_blender:
            r.update(import_s=None, import_first_s=None)
        else:
            r.update(bench_import(avatar, max(3, args.repeats // 2)))
    r["goals"] = GOALS
    r["cpu_count"] = os.cpu_count()
    if args.json:
        print(json.dumps(r))
    else:
        print_table(r)
    return 0


if __name__ == "__main__":
    sys.exit(main())
