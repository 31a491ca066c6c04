"""Pieces the subcommands share: run a job in-process or on a server, write avatar files."""

from __future__ import annotations

import logging
import sys
from pathlib import Path
from typing import Any, Mapping

import numpy as np

from protocol import FILE_SUFFIX, ProtocolError, RiggedAvatar, safe_child, save_avatar
from protocol.names import safe_stem  # noqa: F401 - the one safe_stem, re-exported

log = logging.getLogger("doppel.cli")


def fail(message: str) -> int:
    print(f"doppel: error: {message}", file=sys.stderr)
    return 1


def parse_assignments(items: list[str]) -> dict[str, float]:
    """["height=0.7", ...] -> {"height": 0.7}; exits with a message on bad input."""
    out: dict[str, float] = {}
    for item in items:
        name, sep, value = item.partition("=")
        try:
            if not sep or not name:
                raise ValueError
            out[name.strip()] = float(value)
        except ValueError:
            raise SystemExit(fail(f"--set expects NAME=NUMBER, got {item!r}"))
    return out


def write_avatar_file(avatar: RiggedAvatar, out_dir: str | Path, stem: str) -> Path:
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    return save_avatar(avatar, safe_child(out, stem, FILE_SUFFIX))


def _print_progress(stage: str, fraction: float) -> None:
    print(f"  {fraction * 100:5.1f}%  {stage}", file=sys.stderr)


def run_job(kind: str, params: Mapping[str, Any], inputs: Mapping[str, np.ndarray],
            server: str | None = None, quiet: bool = False) -> RiggedAvatar | None:
    """Run one job and return its avatar, or print the error and return None."""
    report = (lambda s, f: None) if quiet else _print_progress
    if server:
        from protocol.client import Client
        try:
            # Retries ride out a restarting server (each is logged); request keys keep them
            # from starting a job twice.
            with Client(server, retries=2) as client:
                return client.run_job(kind, dict(params), dict(inputs), on_progress=report)
        except ProtocolError as exc:
            fail(exc.message)
            return None
    from ..errors import JobInputError
    from ..jobs import JobContext, get_job
    try:
        return get_job(kind)(params, inputs, JobContext("local", report=report))
    except JobInputError as exc:
        fail(str(exc))
        return None
