"""Fixtures shared by the whole suite: where the real data lives, one Anny avatar per session."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = REPO.parent / "shared" / "data"

# Tests never write into the user's caches or Blender config.
os.environ.setdefault("DOPPEL_RESULTS_DIR", str(REPO / ".pytest_cache" / "doppel-results"))


@pytest.fixture(scope="session")
def shared_data() -> Path:
    if not SHARED_DATA.is_dir():
        pytest.skip(f"real test data not found at {SHARED_DATA}")
    return SHARED_DATA


@pytest.fixture(scope="session")
def anny_avatar():
    """The default Anny body (rest pose) made by the real `body` job."""
    from backend.jobs import JobContext, get_job
    return get_job("body")({"name": "TestBody"}, {}, JobContext("test"))


@pytest.fixture(scope="session")
def anny_avatar_file(anny_avatar, tmp_path_factory) -> Path:
    from protocol import save_avatar
    return save_avatar(anny_avatar, tmp_path_factory.mktemp("avatar") / "TestBody.doppel")


# --- live server (owned by the server tests; other tests reuse it) ---------------------------
# `live_server` yields the address of a real server (tests/server_fixtures.py).
from server_fixtures import live_server  # noqa: E402,F401
# --- end live server --------------------------------------------------------------------------
