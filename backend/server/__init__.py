"""The Doppel ZeroMQ server: a ROUTER socket loop (router.py), job records (jobs.py, records.py),
jobs run in worker processes (process_pool.py, job_process.py) or, with --ray, in Ray actors
(ray_engine.py, ray_actor.py, ray_cluster.py), finished results on disk (store.py), and the
`cluster` request behind `doppel status` (cluster_info.py).

Attributes are imported lazily: a worker process imports backend.server.job_process without
pulling in torch or the socket loop.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "Server": ".router",
    "ResultStore": ".store",
    "default_results_dir": ".store",
    "check_bind_address": ".address",
}

__all__ = list(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(_EXPORTS[name], __name__), name)
