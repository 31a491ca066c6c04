"""Job records (owned by the socket thread) and the worker threads that run jobs.

Only the socket thread reads or changes a JobRecord. Workers learn about cancellation through
the record's ``cancel_event`` (thread-safe) and report back through the Outbox, so the order
of events a client sees is the order the socket thread handled them.
"""

from __future__ import annotations

import importlib
import logging
import queue
import threading
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping

import numpy as np

from protocol import ErrorCode, ProtocolError, RiggedAvatar, avatar_message, encode

from ..bodies import JobInputError
from ..jobs import JobCancelled, JobContext, JobFn
from .events import Outbox
from .store import ResultStore

log = logging.getLogger("doppel.server")

TERMINAL = ("done", "failed", "cancelled")
PROGRESS_INTERVAL = 0.05   # seconds between forwarded progress events of one job


@dataclass
class JobRecord:
    job_id: str
    job_kind: str
    owner: bytes                   # routing id of the submitting client
    submit_id: str                 # message id of the submit: `re` of the job's events
    request_key: str | None = None
    created: float = field(default_factory=time.time)   # unix seconds
    state: str = "queued"          # one of protocol.JOB_STATES
    stage: str = "queued"
    fraction: float = 0.0
    code: str | None = None        # error code once failed / cancelled
    message: str | None = None
    cancel_event: threading.Event = field(default_factory=threading.Event)

    @property
    def terminal(self) -> bool:
        return self.state in TERMINAL

    def as_dict(self) -> dict[str, Any]:
        d = {"job_id": self.job_id, "job_kind": self.job_kind, "state": self.state,
             "stage": self.stage, "fraction": self.fraction, "created": self.created}
        if self.code is not None:
            d.update(code=self.code, message=self.message)
        return d


class JobTable:
    """Records by job id, by owner and by (owner, request key). Socket thread only."""

    def __init__(self, max_finished: int = 1000):
        self._records: dict[str, JobRecord] = {}    # insertion order = submit order
        self._keys: dict[tuple[bytes, str], str] = {}
        self.max_finished = max_finished

    def add(self, rec: JobRecord) -> None:
        self._records[rec.job_id] = rec
        if rec.request_key is not None:
            self._keys[(rec.owner, rec.request_key)] = rec.job_id
        self._prune()

    def get(self, job_id: str) -> JobRecord | None:
        return self._records.get(job_id)

    def by_key(self, owner: bytes, key: str) -> JobRecord | None:
        job_id = self._keys.get((owner, key))
        return None if job_id is None else self._records.get(job_id)

    def owned_by(self, owner: bytes) -> list[JobRecord]:
        return [r for r in self._records.values() if r.owner == owner]

    def active_count(self) -> int:
        return sum(not r.terminal for r in self._records.values())

    def active(self) -> list[JobRecord]:
        return [r for r in self._records.values() if not r.terminal]

    def _prune(self) -> None:
        # Forget the oldest finished records; their results stay fetchable from disk.
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
    fn_spec: JobFn | str            # a callable or "module:function"
    params: Mapping[str, Any]
    inputs: Mapping[str, np.ndarray]
    cancel_event: threading.Event


def resolve_job(spec: JobFn | str) -> JobFn:
    if callable(spec):
        return spec
    module, func = spec.split(":")
    return getattr(importlib.import_module(module), func)


class WorkerPool:
    """``count`` threads taking WorkItems off a FIFO queue and running them to an event."""

    def __init__(self, count: int, outbox: Outbox, store: ResultStore):
        self._queue: queue.Queue[WorkItem | None] = queue.Queue()
        self._outbox = outbox
        self._store = store
        self._threads = [threading.Thread(target=self._work, name=f"doppel-worker-{i}",
                                          daemon=True) for i in range(max(1, count))]
        for t in self._threads:
            t.start()

    def submit(self, item: WorkItem) -> None:
        self._queue.put(item)

    def stop(self, timeout: float = 5.0) -> None:
        """Let each worker finish its current job (cancelled jobs stop at their next progress
        report) and exit; gives up waiting after ``timeout`` seconds."""
        for _ in self._threads:
            self._queue.put(None)
        deadline = time.monotonic() + timeout
        for t in self._threads:
            t.join(max(0.0, deadline - time.monotonic()))
            if t.is_alive():
                log.warning("%s is still running a job; leaving it behind", t.name)

    def _work(self) -> None:
        while True:
            item = self._queue.get()
            if item is None:
                return
            if item.cancel_event.is_set():
                continue     # cancelled while queued: the socket thread already told the client
            self._run(item)

    def _run(self, item: WorkItem) -> None:
        job_id, kind = item.job_id, item.job_kind
        report = _throttled_reporter(self._outbox, job_id)
        ctx = JobContext(job_id, report=report, is_cancelled=item.cancel_event.is_set)
        start = time.monotonic()
        log.info("job %s (%s) started", job_id, kind)
        try:
            report("started", 0.0)
            avatar = resolve_job(item.fn_spec)(item.params, item.inputs, ctx)
            if not isinstance(avatar, RiggedAvatar):
                raise TypeError(f"the job returned {type(avatar).__name__}, not a RiggedAvatar")
            frames = encode(avatar_message(avatar, job_id, re=item.submit_id))  # validates
            self._store.save(job_id, kind, avatar)
        except JobCancelled:
            log.info("job %s (%s) cancelled after %.2f s", job_id, kind, time.monotonic() - start)
            self._outbox.put(("failed", job_id, ErrorCode.CANCELLED,
                              f"job {job_id} ({kind}) was cancelled"))
            return
        except JobInputError as exc:
            log.info("job %s (%s) rejected its input: %s", job_id, kind, exc)
            self._outbox.put(("failed", job_id, exc.code, str(exc)))
            return
        except ProtocolError as exc:
            log.error("job %s (%s) produced an invalid avatar: %s", job_id, kind, exc)
            self._outbox.put(("failed", job_id, ErrorCode.JOB_FAILED,
                              f"job {kind} produced an invalid result ({exc.message}); "
                              f"this is a bug, please report it with the server log"))
            return
        except Exception as exc:   # noqa: BLE001 - a job bug must not kill the worker
            log.exception("job %s (%s) failed", job_id, kind)
            self._outbox.put(("failed", job_id, ErrorCode.JOB_FAILED,
                              f"job {kind} failed: {type(exc).__name__}: {exc}"))
            return
        log.info("job %s (%s) done in %.2f s", job_id, kind, time.monotonic() - start)
        self._outbox.put(("done", job_id, frames))


def _throttled_reporter(outbox: Outbox, job_id: str) -> Callable[[str, float], None]:
    """Forward a progress report unless one for the same stage went out < 50 ms ago
    (a job reporting per frame must not flood the client)."""
    last = {"stage": None, "time": 0.0}

    def report(stage: str, fraction: float) -> None:
        now = time.monotonic()
        if stage == last["stage"] and fraction < 1.0 and now - last["time"] < PROGRESS_INTERVAL:
            return
        last.update(stage=stage, time=now)
        outbox.put(("progress", job_id, str(stage)[:200], float(fraction)))

    return report
