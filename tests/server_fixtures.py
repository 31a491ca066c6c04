"""A real Doppel server on a free loopback port, for tests that talk to one.

``live_server`` (session-wide, production job kinds) yields the address; ``running_server``
starts one with extra job kinds or its own results folder.
"""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import Iterator, Mapping

import pytest

from backend.server import Server

LOOPBACK_ANY_PORT = "tcp://127.0.0.1:*"


@contextlib.contextmanager
def running_server(results_dir: Path, jobs: Mapping | None = None,
                   workers: int = 1) -> Iterator[Server]:
    """A started Server (``.address`` is its endpoint), stopped on exit."""
    server = Server(LOOPBACK_ANY_PORT, results_dir=results_dir, workers=workers, jobs=jobs)
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
