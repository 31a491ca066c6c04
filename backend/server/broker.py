"""The broker side of remote workers (ZeroMQ guide: Paranoid Pirate / Majordomo).

`doppel serve --broker` answers clients exactly like a server but runs no jobs: `doppel
worker --connect ADDR` processes connect to the same ROUTER address, register the job kinds
they run, heartbeat, and get jobs least-recently-used first. A worker that stays silent for
``liveness`` heartbeats is dropped and its job requeued once (a second loss fails the job).
Worker frames start with WORKER_PROTOCOL, which no client header (JSON, "{...") can.

Worker wire format, after the routing id:
    worker -> broker: [P, READY, json{"name", "kinds", "instance"}] | [P, HEARTBEAT]
                      | [P, PROGRESS, job_id, json[stage, fraction]]
                      | [P, DONE, job_id, *result message frames]
                      | [P, FAILED, job_id, json[code, message]]
                      | [P, DISCONNECT]
    broker -> worker: [P, JOB, job_id, *submit message frames] | [P, CANCEL, job_id]
                      | [P, HEARTBEAT] | [P, DISCONNECT]
"""

from __future__ import annotations

import json
import logging
import time
from collections import OrderedDict, deque
from dataclasses import dataclass
from typing import Any, Callable

from protocol import (ErrorCode, Message, ProtocolError, avatar_from_message, decode, encode,
                      validate_reply)

from .jobs import WorkItem
from .logsafe import printable
from .store import ResultStore

log = logging.getLogger("doppel.broker")

WORKER_PROTOCOL = b"DPW1"
READY, HEARTBEAT, JOB, PROGRESS, DONE, FAILED, CANCEL, DISCONNECT = (
    b"ready", b"hb", b"job", b"progress", b"done", b"failed", b"cancel", b"disconnect")
MAX_KINDS = 64


@dataclass
class RemoteWorkerState:
    identity: bytes
    name: str
    kinds: frozenset[str]
    expiry: float                    # time.monotonic() after which it counts as gone
    job_id: str | None = None
    instance: str = ""               # differs when the worker process was restarted


def _text(frame: Any, limit: int = 200) -> str:
    return bytes(frame.buffer if hasattr(frame, "buffer") else frame)[:limit].decode(
        "utf-8", "replace")


class WorkerBroker:
    """Executor of a broker Server. Socket thread only: ``send(identity, frames)`` writes to
    the shared ROUTER, ``emit(event)`` reports job events (see events.py) to the server."""

    def __init__(self, send: Callable[[bytes, list], bool], emit: Callable[[tuple], None],
                 store: ResultStore, heartbeat: float = 1.0, liveness: int = 3):
        self._send, self._emit, self.store = send, emit, store
        self.heartbeat, self.liveness = float(heartbeat), int(liveness)
        self.workers: dict[bytes, RemoteWorkerState] = {}
        self.idle: OrderedDict[bytes, None] = OrderedDict()   # first = idle the longest
        self.pending: deque[WorkItem] = deque()
        self.running: dict[str, tuple[bytes, WorkItem]] = {}
        self.requeued: set[str] = set()
        self._kinds_seen: set[str] = set()
        self._next_heartbeat = 0.0

    @staticmethod
    def is_worker_message(body: list) -> bool:
        return len(body) >= 2 and _text(body[0], 8) == WORKER_PROTOCOL.decode()

    def known_kinds(self) -> set[str]:
        """Kinds any worker has offered since the broker started (jobs of a kind whose
        workers are all away wait in the queue for them to come back)."""
        return set(self._kinds_seen)

    def pids(self) -> list[int]:
        return []

    # --- from the server ----------------------------------------------------------------------

    def submit(self, item: WorkItem) -> None:
        self.pending.append(item)
        self._dispatch()

    def cancel(self, job_id: str) -> None:
        if job_id in self.running:
            identity, _ = self.running[job_id]
            self._send(identity, [WORKER_PROTOCOL, CANCEL, job_id.encode()])
        # A queued item is skipped at dispatch: its cancel_event is set.

    def stop(self, timeout: float = 0.0) -> None:
        for identity in list(self.workers):
            self._send(identity, [WORKER_PROTOCOL, DISCONNECT])
        self.workers.clear()
        self.idle.clear()

    def tick(self) -> None:
        """Heartbeats out, silent workers dropped, queued jobs dispatched."""
        now = time.monotonic()
        if now >= self._next_heartbeat:
            self._next_heartbeat = now + self.heartbeat
            for identity in list(self.workers):
                self._send(identity, [WORKER_PROTOCOL, HEARTBEAT])
        for worker in list(self.workers.values()):
            if worker.expiry < now:
                self._drop(worker, f"sent nothing for {self.heartbeat * self.liveness:g} s")
        self._dispatch()

    # --- from workers -------------------------------------------------------------------------

    def on_message(self, identity: bytes, body: list) -> None:
        command = _text(body[1], 16).encode()
        worker = self.workers.get(identity)
        if command == READY:
            if identity[:1] == b"\0":
                # libzmq names a connection that lost its routing id to a newer one (handover)
                # with a generated id starting with a zero byte: a stale copy of a worker that
                # reconnected. Real workers always set their own id.
                return
            self._register(identity, body)
            return
        if worker is None:   # e.g. dropped while it was unreachable: make it register again
            self._send(identity, [WORKER_PROTOCOL, DISCONNECT])
            return
        worker.expiry = time.monotonic() + self.heartbeat * self.liveness
        try:
            if command == HEARTBEAT:
                return
            if command == DISCONNECT:
                self._drop(worker, "disconnected")
            elif command in (PROGRESS, DONE, FAILED) and len(body) >= 3:
                self._on_job_event(worker, command, _text(body[2], 64), body[3:])
            else:
                log.warning("worker %s sent an unknown command %r", worker.name, command[:16])
        except (ValueError, TypeError, IndexError, ProtocolError) as exc:
            log.warning("worker %s sent a malformed %s message: %s", worker.name,
                        command.decode(errors="replace"), exc)

    def _register(self, identity: bytes, body: list) -> None:
        try:
            info = json.loads(_text(body[2], 65536)) if len(body) > 2 else {}
            kinds = frozenset(k for k in info.get("kinds", [])[:MAX_KINDS]
                              if isinstance(k, str) and len(k) <= 100)
            name = printable(info.get("name", identity.hex()), 100)   # goes into log lines
            instance = str(info.get("instance", ""))[:64]
        except (ValueError, AttributeError, TypeError):
            log.warning("a worker sent an unreadable registration; ignored")
            return
        old = self.workers.get(identity)
        expiry = time.monotonic() + self.heartbeat * self.liveness
        if old is not None and old.instance == instance and instance:
            # The same process reconnected (it missed heartbeats): it still runs its job.
            old.kinds, old.expiry = kinds, expiry
            log.info("worker %s reconnected", name)
            self._dispatch()
            return
        if old is not None:
            self._drop(old, "was restarted")
        self.workers[identity] = RemoteWorkerState(identity, name, kinds, expiry,
                                                   instance=instance)
        self.idle[identity] = None
        self._kinds_seen |= kinds
        log.info("worker %s registered (%s); %d workers", name, ", ".join(sorted(kinds)),
                 len(self.workers))
        self._dispatch()

    def _on_job_event(self, worker: RemoteWorkerState, command: bytes, job_id: str,
                      rest: list) -> None:
        owner, item = self.running.get(job_id, (None, None))
        if owner != worker.identity:
            log.info("ignored a late %s for job %s from worker %s (the job moved on)",
                     command.decode(), job_id, worker.name)
            return
        if command == PROGRESS:
            stage, fraction = json.loads(_text(rest[0], 4096))
            self._emit(("progress", job_id, str(stage)[:200], min(1.0, max(0.0, float(fraction)))))
            return
        if command == DONE:
            try:
                avatar = avatar_from_message(validate_reply(decode(rest)))
                self.store.save(job_id, item.job_kind, avatar)
                event: tuple = ("done", job_id, rest)
            except (ProtocolError, OSError) as exc:
                event = ("failed", job_id, ErrorCode.JOB_FAILED, f"worker {worker.name} sent "
                         f"a result that could not be used ({exc}); see the worker's log")
        else:
            code, message = json.loads(_text(rest[0], 65536))
            event = ("failed", job_id, str(code)[:64], str(message)[:4096])
        self._release(worker, job_id)
        self._emit(event)
        self._dispatch()

    # --- bookkeeping --------------------------------------------------------------------------

    def _release(self, worker: RemoteWorkerState, job_id: str) -> None:
        self.running.pop(job_id, None)
        self.requeued.discard(job_id)
        worker.job_id = None
        self.idle[worker.identity] = None      # to the back: least recently used goes first

    def _drop(self, worker: RemoteWorkerState, why: str) -> None:
        self.workers.pop(worker.identity, None)
        self.idle.pop(worker.identity, None)
        log.warning("worker %s %s; dropped it (%d left)", worker.name, why, len(self.workers))
        job_id = worker.job_id
        if job_id is None or job_id not in self.running:
            return
        _, item = self.running.pop(job_id)
        if item.cancel_event.is_set():
            self._emit(("failed", job_id, ErrorCode.CANCELLED, f"job {job_id} was cancelled"))
        elif job_id in self.requeued:
            self.requeued.discard(job_id)
            self._emit(("failed", job_id, ErrorCode.JOB_FAILED, f"job {item.job_kind} lost its "
                        f"worker twice (last: {worker.name}, which {why}); submit it again"))
        else:
            self.requeued.add(job_id)
            self.pending.appendleft(item)
            log.warning("job %s (%s) requeued after losing worker %s", job_id, item.job_kind,
                        worker.name)

    def _dispatch(self) -> None:
        skipped: list[WorkItem] = []
        while self.pending and self.idle:
            item = self.pending.popleft()
            if item.cancel_event.is_set():
                continue
            identity = next((i for i in self.idle if item.job_kind in self.workers[i].kinds),
                            None)
            if identity is None:
                skipped.append(item)      # no idle worker runs this kind; keep its place
                continue
            worker = self.workers[identity]
            del self.idle[identity]
            worker.job_id = item.job_id
            self.running[item.job_id] = (identity, item)
            job = Message("submit", {"job_kind": item.job_kind, "params": dict(item.params)},
                          dict(item.inputs), id=item.submit_id)
            if self._send(identity, [WORKER_PROTOCOL, JOB, item.job_id.encode(), *encode(job)]):
                self._emit(("started", item.job_id))
            else:
                self._drop(worker, "is unreachable")
        self.pending.extendleft(reversed(skipped))
