"""Job records on disk, so status, fetch and request keys survive a server restart.

Layout: ``RESULTS/jobs/<job_id>.json`` (one small JSON object per job, replaced atomically on
every state change that matters: queued, and finished). Old ones are deleted together with
their results after the server's keep time.
"""

from __future__ import annotations

import json
import logging
import time
from pathlib import Path
from typing import Any, Iterator

from .store import JOB_ID, check_job_id, make_private_dir, write_private

log = logging.getLogger("doppel.server")

RECORD_KEYS = ("job_id", "job_kind", "owner", "submit_id", "request_key", "created",
               "finished", "state", "stage", "fraction", "code", "message")


class RecordStore:
    def __init__(self, results_root: Path):
        self.root = Path(results_root) / "jobs"
        make_private_dir(self.root)

    def _path(self, job_id: str) -> Path:
        return self.root / f"{check_job_id(job_id)}.json"

    def save(self, record: dict[str, Any]) -> None:
        write_private(self._path(record["job_id"]),
                      json.dumps({k: record.get(k) for k in RECORD_KEYS}).encode())

    def load(self, job_id: str) -> dict[str, Any] | None:
        try:
            data = json.loads(self._path(job_id).read_text())
        except (OSError, ValueError):
            return None
        return data if isinstance(data, dict) and data.get("job_id") == job_id else None

    def all(self) -> Iterator[dict[str, Any]]:
        """Every readable record, oldest first."""
        paths = [p for p in self.root.glob("*.json") if JOB_ID.fullmatch(p.stem)]
        records = (self.load(p.stem) for p in paths)
        yield from sorted((r for r in records if r), key=lambda r: r.get("created") or 0.0)

    def delete(self, job_id: str) -> None:
        self._path(job_id).unlink(missing_ok=True)


def cleanup(records: RecordStore, results: Any, keep_seconds: float) -> list[str]:
    """Delete finished jobs (record and result) older than ``keep_seconds``; returns the ids
    of the deleted records."""
    cutoff = time.time() - keep_seconds
    removed: list[str] = []
    for path in list(records.root.glob("*.json")):
        try:
            if not JOB_ID.fullmatch(path.stem) or path.stat().st_mtime >= cutoff:
                continue
            record = records.load(path.stem) or {}
            if record.get("state") in ("queued", "running"):
                continue
            results.delete(path.stem)
            path.unlink(missing_ok=True)
            removed.append(path.stem)
        except OSError as exc:
            log.warning("could not delete old job %s: %s", path.stem, exc)
    orphans = results.delete_older_than(cutoff)
    if removed or orphans:
        log.info("deleted %d finished jobs older than %.1f hours", len(removed) + orphans,
                 keep_seconds / 3600)
    return removed
