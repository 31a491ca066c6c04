"""Batch import, the bpy-free part: which photos of a folder to send, one job at a time on one
client, per-photo state, and where each avatar goes in the grid.

Resuming: photos already imported (same sha256 of the file) are skipped, and every submit
carries ``request_key = "<run key>:<sha256>:<attempt>"``, so after Blender restarts with the
same client identity and run key the server hands back the job it already ran or is running
instead of starting it again.
"""

from __future__ import annotations

import hashlib
import math
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterable

import numpy as np

from .job_watch import JobWatch

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".webp", ".bmp")
STATES = ("pending", "running", "done", "skipped", "failed", "cancelled")
GRID_SPACING = 1.5       # metres between avatars in the batch grid


@dataclass
class BatchItem:
    path: str
    sha256: str
    state: str = "pending"       # one of STATES
    message: str = ""
    attempt: int = 0
    job_id: str = ""

    @property
    def finished(self) -> bool:
        return self.state in ("done", "skipped", "failed")


def file_sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def plan_batch(folder, imported: Iterable[str] = ()) -> list[BatchItem]:
    """Every visible file of ``folder`` (sorted by name) as a BatchItem: files that are not
    images are ``failed`` with a reason, photos whose hash is in ``imported`` are ``skipped``."""
    folder = Path(folder)
    if not folder.is_dir():
        raise FileNotFoundError(f"photo folder {folder} does not exist")
    files = sorted(p for p in folder.iterdir() if p.is_file() and not p.name.startswith("."))
    return plan_files(files, imported)


def plan_files(paths: Iterable, imported: Iterable[str] = ()) -> list[BatchItem]:
    """Chosen photo files as BatchItems, in the given order (same rules as plan_batch)."""
    done = set(imported)
    items = []
    for path in map(Path, paths):
        if not path.is_file():
            raise FileNotFoundError(f"photo {path} does not exist")
        item = BatchItem(str(path), file_sha256(path))
        if path.suffix.lower() not in IMAGE_SUFFIXES:
            item.state = "failed"
            item.message = (f"{path.name} is not a photo (expected "
                            f"{', '.join(IMAGE_SUFFIXES)})")
        elif item.sha256 in done:
            item.state, item.message = "skipped", "already imported"
        items.append(item)
    return items


def grid_position(index: int, count: int, spacing: float = GRID_SPACING) -> tuple[float, float]:
    """(x, y) metres of the index-th of ``count`` avatars in a square-ish grid (rows go back
    along +Y)."""
    cols = max(1, math.ceil(math.sqrt(count)))
    return (index % cols) * spacing, (index // cols) * spacing


class BatchRunner:
    """Runs the pending items one job at a time. ``step()`` returns the (item, avatar) pairs
    that finished during the step, for the caller to import; failures only update the item
    (the batch goes on)."""

    def __init__(self, client: Any, items: list[BatchItem], kind: str,
                 params: Callable[[BatchItem], dict], run_key: str | None = None,
                 reply_timeout: float = 5.0):
        self.client, self.items, self.kind, self.params = client, items, kind, params
        self.run_key = run_key or uuid.uuid4().hex
        self.reply_timeout = reply_timeout
        self.current: BatchItem | None = None
        self.watch: JobWatch | None = None
        self.cancelled = False

    @property
    def active(self) -> bool:
        return not self.cancelled and (self.watch is not None or any(
            i.state == "pending" for i in self.items))

    @property
    def fraction(self) -> float:
        todo = [i for i in self.items if i.state != "skipped"] or self.items
        done = sum(1 for i in todo if i.finished)
        part = self.watch.fraction if self.watch is not None else 0.0
        return min(1.0, (done + part) / max(1, len(todo)))

    def step(self) -> list[tuple[BatchItem, Any]]:
        if self.cancelled:
            return []
        if self.watch is None and not self._start_next():
            return []
        finished = []
        if not self.watch.step():
            item, watch = self.current, self.watch
            self.current, self.watch = None, None
            item.job_id = watch.job_id or item.job_id
            if watch.state == "done":
                item.state, item.message = "done", ""
                finished.append((item, watch.avatar))
            else:
                item.state = "failed"
                item.message = watch.error.message if watch.error else f"job {watch.state}"
                item.attempt += 1            # a later run submits it afresh
        elif self.watch.job_id:
            self.current.job_id = self.watch.job_id
        return finished

    def cancel(self) -> None:
        """Stop the running job on the server; pending items stay pending (resumable)."""
        if self.watch is not None:
            self.watch.cancel()
            self.current.state, self.current.message = "pending", "cancelled"
            self.current.attempt += 1
        self.current, self.watch, self.cancelled = None, None, True

    def _start_next(self) -> bool:
        item = next((i for i in self.items if i.state == "pending"), None)
        if item is None:
            return False
        photo = np.frombuffer(Path(item.path).read_bytes(), dtype=np.uint8)
        item.state, item.message = "running", ""
        self.current = item
        self.watch = JobWatch(self.client, self.kind, self.params(item), {"photo": photo},
                              reply_timeout=self.reply_timeout,
                              request_key=f"{self.run_key}:{item.sha256}:{item.attempt}")
        return True
