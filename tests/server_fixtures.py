"""A real Doppel server on a free loopback port, for tests that talk to one.

``live_server`` (session-wide, production job kinds) yields the address; ``running_server``
starts one with extra job kinds or its own results folder. Jobs run in worker processes, so
test job kinds must be module-level functions (or "module:function" strings) of a module
the worker can import, such as tests/server_jobs.py.
"""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import Any, Iterator, Mapping

import pytest

from backend.server import Server

LOOPBACK_ANY_PORT = "tcp://127.0.0.1:*"


@contextlib.contextmanager
def running_server(results_dir: Path, jobs: Mapping | None = None, workers: int = 1,
                   **options: Any) -> Iterator[Server]:
    """A started Server (``.address`` is its endpoint), stopped on exit. ``options`` go to
    Server (bind, keys, job_time_limit, max_queued, limits, ray, ...). Body models are
    preloaded only for the production job kinds (jobs=None)."""
    options.setdefault("preload", ("anny",) if jobs is None else ())
    options.setdefault("device", None if jobs is None else "cpu")
    server = Server(options.pop("bind", LOOPBACK_ANY_PORT), results_dir=results_dir,
                    workers=workers, jobs=jobs, **options)
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def live_server(tmp_path_factory) -> Iterator[str]:
    """Address (tcp://127.0.0.1:PORT) of a server running the real job kinds."""
    with running_server(tmp_path_factory.mktemp("server-results")) as server:
        yield server.address


def rss_bytes() -> int:
    """This process's resident memory, bytes (Linux)."""
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    raise RuntimeError("no VmRSS")
