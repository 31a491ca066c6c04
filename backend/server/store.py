"""Finished results on disk, by job id, so a client that reconnects (or a restarted server)
can still fetch them.

Layout: ``ROOT/<job_id>.doppel`` (the avatar, written atomically with protocol.save_avatar)
and ``ROOT/<job_id>.json`` (job kind and finish time). Paths are built only from job ids that
match the server's own format (32 lowercase hex digits), never from other client strings.

Results hold people's photos: the folder is 0700 and every file 0600, written to a ``.part``
file, fsynced, then renamed; ``.part`` files a crash left behind are swept at start.
"""

from __future__ import annotations

import json
import os
import re
import time
from pathlib import Path
from typing import Any

from protocol import ErrorCode, ProtocolError, RiggedAvatar, load_avatar, save_avatar

JOB_ID = re.compile(r"[0-9a-f]{32}")


def default_results_dir() -> Path:
    """$DOPPEL_RESULTS_DIR, else ~/.cache/doppel/results."""
    env = os.environ.get("DOPPEL_RESULTS_DIR")
    return Path(env) if env else Path.home() / ".cache" / "doppel" / "results"


def check_job_id(job_id: str) -> str:
    """Return ``job_id`` if it has the server's format, else raise NOT_FOUND."""
    if not isinstance(job_id, str) or not JOB_ID.fullmatch(job_id):
        raise ProtocolError(ErrorCode.NOT_FOUND, f"there is no job {job_id!r:.60}: job ids are "
                            f"32 hexadecimal digits as returned by submit", job_id=None)
    return job_id


def write_private(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` atomically: a 0600 ``.part`` file, fsynced, renamed."""
    tmp = path.with_name(path.name + ".part")
    tmp.unlink(missing_ok=True)
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def make_private_dir(path: Path) -> None:
    """Create ``path`` (0700) or tighten an existing one we own to 0700."""
    path.mkdir(parents=True, exist_ok=True, mode=0o700)
    try:
        if path.stat().st_mode & 0o077:
            os.chmod(path, 0o700)
    except OSError:
        pass       # not ours (e.g. a shared mount): leave it as the operator set it


def sweep_parts(folder: Path) -> int:
    """Delete ``*.part`` files a crash left in ``folder``; returns how many."""
    removed = 0
    for part in folder.glob("*.part"):
        try:
            part.unlink()
            removed += 1
        except OSError:
            pass
    return removed


class ResultStore:
    def __init__(self, root: str | os.PathLike | None = None):
        self.root = Path(root) if root is not None else default_results_dir()
        try:
            make_private_dir(self.root)
        except OSError as exc:
            raise OSError(f"cannot create the results folder {self.root}: "
                          f"{exc.strerror or exc}; choose another with --results DIR") from None

    def _path(self, job_id: str, suffix: str) -> Path:
        return self.root / f"{check_job_id(job_id)}{suffix}"

    def save(self, job_id: str, job_kind: str, avatar: RiggedAvatar) -> Path:
        path = save_avatar(avatar, self._path(job_id, ".doppel"), mode=0o600)
        write_private(self._path(job_id, ".json"),
                      json.dumps({"job_id": job_id, "job_kind": job_kind,
                                  "finished": time.time()}).encode())
        return path

    def has(self, job_id: str) -> bool:
        return self._path(job_id, ".doppel").is_file()

    def record(self, job_id: str) -> dict[str, Any] | None:
        """A status record for a stored result, or None when there is none."""
        if not self.has(job_id):
            return None
        try:
            kind = json.loads(self._path(job_id, ".json").read_text()).get("job_kind")
        except (OSError, ValueError, AttributeError):
            kind = None
        return {"job_id": job_id, "job_kind": kind if isinstance(kind, str) else "unknown",
                "state": "done", "stage": "done", "fraction": 1.0}

    def delete(self, job_id: str) -> None:
        for suffix in (".doppel", ".json"):
            self._path(job_id, suffix).unlink(missing_ok=True)

    def delete_older_than(self, cutoff: float) -> int:
        """Delete results written before ``cutoff`` (unix seconds); returns how many."""
        removed = 0
        for path in self.root.glob("*.doppel"):
            try:
                if JOB_ID.fullmatch(path.stem) and path.stat().st_mtime < cutoff:
                    self.delete(path.stem)
                    removed += 1
            except OSError:
                pass   # deleted meanwhile
        return removed

    def load(self, job_id: str) -> RiggedAvatar:
        path = self._path(job_id, ".doppel")
        if not path.is_file():
            raise ProtocolError(ErrorCode.NOT_FOUND, f"no stored result for job {job_id}; it "
                                f"never finished here or its result was deleted", job_id)
        return load_avatar(path)
