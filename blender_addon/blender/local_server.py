"""A Doppel server started from Blender as a child process ("Start local server"): the
command from the preferences plus ``--bind <address>``, output logged to a file, stopped by
"Stop", by unregistering the add-on, and when Blender exits."""

from __future__ import annotations

import atexit
import os
import shlex
import subprocess
import sys
from pathlib import Path

_process: subprocess.Popen | None = None
_log_path: Path | None = None


def default_log_path() -> Path:
    """The user's own cache folder, never a fixed name in the shared temp folder (where
    another user could plant a symlink or read the log): $XDG_CACHE_HOME/doppel, else
    ~/.cache/doppel (%LOCALAPPDATA%\\doppel on Windows, ~/Library/Caches/doppel on macOS)."""
    if sys.platform == "win32" and os.environ.get("LOCALAPPDATA"):
        base = Path(os.environ["LOCALAPPDATA"])
    elif sys.platform == "darwin":
        base = Path.home() / "Library" / "Caches"
    else:
        base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return base / "doppel" / "logs" / "local-server.log"


def _open_log(path: Path):
    """Append to ``path`` (created 0600 in a 0700 folder), refusing to follow a symlink."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    flags = os.O_WRONLY | os.O_CREAT | os.O_APPEND | getattr(os, "O_NOFOLLOW", 0)
    return os.fdopen(os.open(path, flags, 0o600), "ab")


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
    with _open_log(_log_path) as log:
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
