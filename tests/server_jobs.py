"""Job kinds for server tests, in a plain module so worker processes can import them
("server_jobs:slow" etc.; tests/ is on sys.path under pytest and is passed on to spawned
workers). Jobs signal the test through progress stages and marker files, never through
shared memory: they run in another process.
"""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

from avatar_samples import tiny_avatar


def slow(params, inputs, ctx):
    """Reports progress every 10 ms for params["seconds"] (default 30), then a tiny avatar.
    Touches params["exited"] (a path) when it stops, however it stops."""
    try:
        deadline = time.monotonic() + params.get("seconds", 30.0)
        step = 0
        while time.monotonic() < deadline:
            ctx.progress("waiting", min(0.99, step / 3000))
            step += 1
            time.sleep(0.01)
        return tiny_avatar("Slow")
    finally:
        if "exited" in params:
            Path(params["exited"]).touch()


def boom(params, inputs, ctx):
    ctx.progress("about to fail", 0.5)
    raise RuntimeError("the flux capacitor is unplugged")


def echo(params, inputs, ctx):
    """A tiny avatar whose metadata describes the inputs it received."""
    seen = {name: {"dtype": a.dtype.name, "shape": list(a.shape), "sum": float(a.sum())}
            for name, a in inputs.items()}
    return tiny_avatar("Echo", metadata={"inputs": seen, "params": dict(params)})


def fast(params, inputs, ctx):
    """The cheapest real job: a tiny avatar tagged with params["n"] and the worker's pid."""
    return tiny_avatar("Fast", metadata={"n": params.get("n"), "pid": os.getpid()})


def nap(params, inputs, ctx):
    """Like fast, after sleeping params["seconds"] (default 0.05): a job that takes a moment."""
    time.sleep(params.get("seconds", 0.05))
    return fast(params, inputs, ctx)


def pid(params, inputs, ctx):
    """Tells its process id through a progress stage ("pid 1234"), then waits like slow."""
    ctx.progress(f"pid {os.getpid()}", 0.1)
    return slow(params, inputs, ctx)


def crash(params, inputs, ctx):
    """Dies the way a broken native extension does."""
    ctx.progress("about to crash", 0.5)
    os.kill(os.getpid(), signal.SIGSEGV)
    time.sleep(10)


def oom(params, inputs, ctx):
    """Runs out of memory for real: caps its own address space, then allocates past it."""
    import resource

    import numpy as np
    with open("/proc/self/statm") as f:
        used = int(f.read().split()[0]) * resource.getpagesize()
    resource.setrlimit(resource.RLIMIT_AS, (used + (256 << 20), resource.RLIM_INFINITY))
    ctx.progress(f"pid {os.getpid()}", 0.5)
    return np.ones(1 << 30, np.float64)      # 8 GiB


def hog(params, inputs, ctx):
    """Ignores cancel and time limits: never reports progress, just sleeps."""
    time.sleep(params.get("seconds", 60.0))
    return tiny_avatar("Hog")


TEST_JOBS = {name: f"server_jobs:{name}" for name in
             ("slow", "boom", "echo", "fast", "nap", "pid", "crash", "oom", "hog")}
