"""Job records (owned by the socket thread) and the work items handed to executors.

Only the socket thread reads or changes a JobRecord. Executors learn about cancellation
through the record's ``cancel_event`` (thread-safe) and report back through events, so the
order of events a client sees is the order the socket thread handled them. Records are
written to disk when a job is queued and when it ends (records.py), so a restarted server
still answers status and fetch, and still recognises request keys.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass, field
from typing import Any, Mapping

import numpy as np

from protocol import ErrorCode

from .records import RecordStore

log = logging.getLogger("doppel.server")

TERMINAL = ("done", "failed", "cancelled")


@dataclass
class JobRecord:
    job_id: str
    job_kind: str
    owner: bytes                   # authenticated owner (owners.py), never a routing id
    submit_id: str                 # message id of the submit: `re` of the job's events
    request_key: str | None = None
    created: float = field(default_factory=time.time)   # unix seconds
    finished: float | None = None
    state: str = "queued"          # one of protocol.JOB_STATES
    stage: str = "queued"
    fraction: float = 0.0
    code: str | None = None        # error code once failed / cancelled
    message: str | None = None
    cancel_event: threading.Event = field(default_factory=threading.Event)
    route: bytes = b""             # routing id its events go to (the owner's latest)
    input_bytes: int = 0           # held in memory while queued / running
    item: "WorkItem | None" = None  # the queued work, whose inputs are freed when it ends

    def release_inputs(self) -> None:
        """Drop the job's inputs (executors hold the same WorkItem, so memory goes now)."""
        if self.item is not None:
            self.item.inputs = {}
            self.item.params = {}
            self.item = None
        self.input_bytes = 0

    @property
    def terminal(self) -> bool:
        return self.state in TERMINAL

    def as_dict(self) -> dict[str, Any]:
        """The record a `status` reply carries."""
        d = {"job_id": self.job_id, "job_kind": self.job_kind, "state": self.state,
             "stage": self.stage, "fraction": self.fraction, "created": self.created}
        if self.code is not None:
            d.update(code=self.code, message=self.message)
        return d

    def to_disk(self) -> dict[str, Any]:
        d = self.as_dict()
        d.update(owner=self.owner.hex(), submit_id=self.submit_id,
                 request_key=self.request_key, finished=self.finished)
        return d

    @classmethod
    def from_disk(cls, d: dict[str, Any]) -> "JobRecord":
        rec = cls(str(d["job_id"]), str(d.get("job_kind") or "unknown"),
                  bytes.fromhex(d.get("owner") or ""), str(d.get("submit_id") or ""),
                  request_key=d.get("request_key"), created=float(d.get("created") or 0.0),
                  finished=d.get("finished"), state=str(d.get("state") or "failed"),
                  stage=str(d.get("stage") or ""), fraction=float(d.get("fraction") or 0.0),
                  code=d.get("code"), message=d.get("message"))
        return rec


class JobTable:
    """Records by job id, by owner and by (owner, request key). Socket thread only.

    Keeps at most ``max_finished`` finished records in memory; older ones stay on disk.
    """

    def __init__(self, max_finished: int = 1000, disk: RecordStore | None = None):
        self._records: dict[str, JobRecord] = {}    # insertion order = submit order
        self._keys: dict[tuple[bytes, str], str] = {}
        self.max_finished = max_finished
        self.disk = disk

    def restore(self) -> int:
        """Load the records of an earlier run; jobs it left unfinished are marked failed
        (their worker processes died with it). Returns how many were interrupted."""
        if self.disk is None:
            return 0
        interrupted = 0
        for d in self.disk.all():
            try:
                rec = JobRecord.from_disk(d)
            except (KeyError, TypeError, ValueError):
                continue
            if not rec.terminal:
                rec.state, rec.code, rec.finished = "failed", ErrorCode.JOB_FAILED, time.time()
                rec.message = (f"job {rec.job_id} ({rec.job_kind}) was interrupted by a server "
                               f"restart before it finished; submit it again")
                self.disk.save(rec.to_disk())
                interrupted += 1
            self._insert(rec)
        self._prune()
        return interrupted

    def _insert(self, rec: JobRecord) -> None:
        self._records[rec.job_id] = rec
        if rec.request_key is not None:
            self._keys[(rec.owner, rec.request_key)] = rec.job_id

    def add(self, rec: JobRecord) -> None:
        self._insert(rec)
        self.save(rec)
        self._prune()

    def save(self, rec: JobRecord) -> None:
        if self.disk is not None:
            try:
                self.disk.save(rec.to_disk())
            except OSError as exc:
                log.warning("could not save the record of job %s: %s", rec.job_id, exc)

    def finish(self, rec: JobRecord, state: str, code: str | None = None,
               message: str | None = None) -> None:
        rec.state, rec.code, rec.message, rec.finished = state, code, message, time.time()
        rec.release_inputs()
        if state == "done":
            rec.stage, rec.fraction = "done", 1.0
        self.save(rec)

    def forget(self, job_ids: list[str]) -> None:
        """Drop finished records (deleted from disk after the keep time)."""
        for job_id in job_ids:
            rec = self._records.get(job_id)
            if rec is not None and rec.terminal:
                del self._records[job_id]
                if rec.request_key is not None:
                    self._keys.pop((rec.owner, rec.request_key), None)

    def get(self, job_id: str) -> JobRecord | None:
        return self._records.get(job_id)

    def stored(self, job_id: str) -> dict[str, Any] | None:
        """The status record of a job no longer held in memory, from disk."""
        if self.disk is None:
            return None
        d = self.disk.load(job_id)
        if d is None:
            return None
        try:
            return JobRecord.from_disk(d).as_dict()
        except (KeyError, TypeError, ValueError):
            return None

    def by_key(self, owner: bytes, key: str) -> JobRecord | None:
        job_id = self._keys.get((owner, key))
        return None if job_id is None else self._records.get(job_id)

    def owned_by(self, owner: bytes) -> list[JobRecord]:
        return [r for r in self._records.values() if r.owner == owner]

    def active_count(self) -> int:
        return sum(not r.terminal for r in self._records.values())

    def usage(self, owner: bytes) -> tuple[int, int, int]:
        """(active jobs of ``owner``, their input bytes, input bytes of all active jobs)."""
        jobs = mine = total = 0
        for r in self._records.values():
            if not r.terminal:
                total += r.input_bytes
                if r.owner == owner:
                    jobs += 1
                    mine += r.input_bytes
        return jobs, mine, total

    def active(self) -> list[JobRecord]:
        return [r for r in self._records.values() if not r.terminal]

    def _prune(self) -> None:
        # Forget the oldest finished records; they stay answerable from disk.
        finished = [r for r in self._records.values() if r.terminal]
        for rec in finished[:max(0, len(finished) - self.max_finished)]:
            del self._records[rec.job_id]
            if rec.request_key is not None:
                self._keys.pop((rec.owner, rec.request_key), None)


@dataclass
class WorkItem:
    job_id: str
    job_kind: str
    submit_id: str
    fn_spec: str                    # "module:function"
    params: Mapping[str, Any]
    inputs: Mapping[str, np.ndarray]
    cancel_event: threading.Event
