"""Job kinds for the Ray tests ("ray_jobs:where" etc.), importable by Ray actors through the
server's sys.path. They tell the test where they run through progress stages."""

from __future__ import annotations

import time

from server_jobs import slow


def where(params, inputs, ctx):
    """Names its GPU ids ("gpus [0]" on a GPU actor), then waits like slow."""
    import ray
    ctx.progress(f"gpus {list(ray.get_gpu_ids())}", 0.01)
    return slow(params, inputs, ctx)


def stubborn(params, inputs, ctx):
    """Reports once, then ignores cancellation: only killing its actor stops it."""
    ctx.progress("not listening", 0.1)
    time.sleep(params.get("seconds", 60.0))
    return slow({"seconds": 0}, inputs, ctx)
