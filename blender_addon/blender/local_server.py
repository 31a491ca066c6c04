"""A Doppel server started from Blender as a child process ("Start local server"): the
command from the preferences plus ``--bind <address>``, output logged to a file, stopped by
"Stop", by unregistering the add-on, and when Blender exits."""

from __future__ import annotations

import atexit
import shlex
import subprocess
import tempfile
from pathlib import Path

_process: subprocess.Popen | None = None
_log_path: Path | None = None


def default_log_path() -> Path:
    return Path(tempfile.gettempdir()) / "doppel-server.log"


def start(command: str, address: str, log_path: Path | None = None) -> subprocess.Popen:
    """Start ``command --bind address`` (e.g. ``doppel serve``). Raises ValueError for an
    empty command and OSError when it cannot be run."""
    global _process, _log_path
    if running():
        return _process
    argv = shlex.split(command)
    if not argv:
        raise ValueError("the server command is empty; set it in the Doppel preferences, "
                         "e.g. /path/to/.venv/bin/doppel serve")
    _log_path = Path(log_path or default_log_path())
    _log_path.parent.mkdir(parents=True, exist_ok=True)
    with open(_log_path, "ab") as log:
        _process = subprocess.Popen([*argv, "--bind", address], stdout=log,
                                    stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    return _process


def running() -> bool:
    return _process is not None and _process.poll() is None


def log_path() -> Path | None:
    return _log_path


def stop(timeout: float = 5.0) -> None:
    """Terminate the server we started (SIGTERM, then kill after ``timeout`` seconds)."""
    global _process
    proc, _process = _process, None
    if proc is None or proc.poll() is not None:
        return
    proc.terminate()
    try:
        proc.wait(timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout)


atexit.register(stop)
