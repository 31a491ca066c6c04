"""Jobs in worker processes: a crash, a leak or a hang takes down one job, never the server.

One supervisor thread per worker process hands it WorkItems from a shared FIFO queue and
follows the job: it forwards the worker's events, relays cancellation, enforces the job time
limit, and when the process dies (segfault, out of memory, killed) reports that job as failed
and starts a replacement at once (so the replacement preloads its body model before the next
job arrives).
"""

from __future__ import annotations

import logging
import queue
import signal
import socket
import subprocess
import sys
import threading
import time
from multiprocessing.connection import Connection
from typing import Callable

from protocol import ErrorCode

from .job_process import Task
from .jobs import WorkItem

log = logging.getLogger("doppel.server")

POLL_INTERVAL = 0.05    # seconds between checks of cancel / time limit / liveness
CANCEL_GRACE = 5.0      # seconds a job gets to honour a cancel before its process is killed

Emit = Callable[[tuple], None]


def describe_exit(exitcode: int | None) -> str:
    """"killed by SIGKILL" for -9, "exit status 3" for 3."""
    if exitcode is None:
        return "still running"
    if exitcode < 0:
        try:
            name = signal.Signals(-exitcode).name
        except ValueError:
            name = f"signal {-exitcode}"
        return f"killed by {name}"
    return f"exit status {exitcode}"


class _Worker:
    """One worker process and the parent's end of its connection (a socketpair)."""

    def __init__(self, index: int, preload: tuple[str, ...], log_level: int):
        ours, theirs = socket.socketpair()
        self.proc = subprocess.Popen(
            [sys.executable, "-c", f"from backend.server.job_process import main; "
             f"main({theirs.fileno()})"], pass_fds=[theirs.fileno()], stdin=subprocess.DEVNULL)
        theirs.close()
        self.conn = Connection(ours.detach())
        self.conn.send({"sys_path": list(sys.path), "preload": list(preload),
                        "log_level": log_level})
        self.index = index

    @property
    def pid(self) -> int:
        return self.proc.pid

    def alive(self) -> bool:
        return self.proc.poll() is None

    @property
    def exitcode(self) -> int | None:
        return self.proc.poll()

    def join(self, timeout: float) -> None:
        try:
            self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            pass

    def cancel(self) -> None:
        if self.alive():
            self.proc.send_signal(signal.SIGUSR1)

    def kill(self) -> None:
        if self.alive():
            self.proc.kill()
        self.join(5)
        self.conn.close()

    def close(self, timeout: float = 2.0) -> None:
        try:
            self.conn.send(None)
        except (BrokenPipeError, OSError):
            pass
        self.join(timeout)
        self.kill()


class ProcessPool:
    """``count`` worker processes; ``emit`` receives the events described in events.py.

    ``time_limit``: seconds one job may run before its process is killed (None: no limit).
    ``results_root``: where workers save finished avatars (None: the caller stores them).
    """

    def __init__(self, count: int, emit: Emit, results_root: str | None = None,
                 preload: tuple[str, ...] = (), time_limit: float | None = None):
        self._emit = emit
        self._results_root = results_root
        self._preload = tuple(preload)
        self.time_limit = time_limit
        self._log_level = logging.getLogger().getEffectiveLevel()
        self._queue: queue.Queue[WorkItem | None] = queue.Queue()
        self._workers: list[_Worker | None] = [None] * max(1, count)
        self._lock = threading.Lock()     # guards self._workers against stop()
        self._stopping = False
        self.running = self.done = 0      # jobs, for the `cluster` reply
        self._threads = [threading.Thread(target=self._supervise, args=(i,),
                                          name=f"doppel-supervisor-{i}", daemon=True)
                         for i in range(len(self._workers))]
        for t in self._threads:
            t.start()

    def submit(self, item: WorkItem) -> None:
        self._queue.put(item)

    def pids(self) -> list[int]:
        """Process ids of the live workers (tests and benchmarks use them)."""
        with self._lock:
            return [w.pid for w in self._workers if w is not None and w.alive()]

    def stop(self, timeout: float = 5.0) -> None:
        """Let each worker finish (cancelled jobs stop at their next progress report), then
        end the processes; any still busy after ``timeout`` seconds are killed."""
        self._stopping = True
        for _ in self._threads:
            self._queue.put(None)
        deadline = time.monotonic() + timeout
        for t in self._threads:
            t.join(max(0.0, deadline - time.monotonic()))
        with self._lock:
            for i, w in enumerate(self._workers):
                if w is not None:
                    w.kill()
                    self._workers[i] = None

    # --- one supervisor thread per worker process ---------------------------------------------

    def _spawn(self, index: int) -> _Worker | None:
        with self._lock:
            if self._stopping:
                return None
            try:
                worker = _Worker(index, self._preload, self._log_level)
            except OSError as exc:     # no such interpreter, out of processes / memory
                log.error("could not start worker process %d: %s", index, exc)
                return None
            self._workers[index] = worker
        log.info("worker process %d started (pid %d)", index, worker.pid)
        return worker

    def _supervise(self, index: int) -> None:
        worker = self._spawn(index)    # eagerly: the body model loads before the first job
        while True:
            item = self._queue.get()
            if item is None:
                break
            if item.cancel_event.is_set():
                continue    # cancelled while queued: the socket thread already told the client
            if worker is None or not worker.alive():
                worker = self._spawn(index)
                if worker is None:
                    if self._stopping:
                        break
                    self._fail(item, ErrorCode.JOB_FAILED, "the server could not start a "
                               "worker process for this job; see the server log")
                    continue
            if not self._follow(worker, item):
                worker.kill()
                worker = self._spawn(index)
        with self._lock:
            if self._workers[index] is not None:
                self._workers[index].close()
                self._workers[index] = None

    def _follow(self, worker: _Worker, item: WorkItem) -> bool:
        """Run ``item`` on ``worker`` until it ends; False when the process must be replaced."""
        task = Task(item.job_id, item.job_kind, item.fn_spec, item.submit_id, dict(item.params),
                    dict(item.inputs), self._results_root)
        start = time.monotonic()
        cancelled_at: float | None = None
        with self._lock:
            self.running += 1
        try:
            worker.conn.send(task)
            while True:
                if worker.conn.poll(POLL_INTERVAL):
                    event = worker.conn.recv()
                    if event[0] == "ready":
                        continue
                    if event[0] == "done":    # counted first: a client may ask right after
                        with self._lock:
                            self.done += 1
                    self._emit(event[:4])
                    if event[0] in ("done", "failed"):
                        return event[4:] != ("retire",)    # the process is exiting
                    continue
                if not worker.alive():
                    raise EOFError
                now = time.monotonic()
                if item.cancel_event.is_set() and cancelled_at is None:
                    worker.cancel()              # the job stops at its next progress report
                    cancelled_at = now
                if cancelled_at is not None and now - cancelled_at > CANCEL_GRACE:
                    log.warning("job %s ignored its cancel for %.0f s; killing worker pid %d",
                                item.job_id, CANCEL_GRACE, worker.pid)
                    self._fail(item, ErrorCode.CANCELLED, f"job {item.job_id} "
                               f"({item.job_kind}) was cancelled (its process was stopped)")
                    return False
                if cancelled_at is None and self.time_limit is not None \
                        and now - start > self.time_limit:
                    log.warning("job %s (%s) exceeded its time limit of %g s; killing worker "
                                "pid %d", item.job_id, item.job_kind, self.time_limit, worker.pid)
                    self._fail(item, ErrorCode.JOB_FAILED, f"job {item.job_kind} exceeded the "
                               f"server's time limit of {self.time_limit:g} s and was stopped; "
                               f"try smaller inputs, or raise --job-time-limit")
                    return False
        except (EOFError, BrokenPipeError, ConnectionResetError, OSError):
            worker.join(2)
            how = describe_exit(worker.exitcode)
            if self._stopping:
                self._fail(item, ErrorCode.CANCELLED, f"job {item.job_id} was stopped because "
                           f"the server is shutting down")
                return False
            log.error("worker process pid %d %s while running job %s (%s); starting a "
                      "replacement", worker.pid, how, item.job_id, item.job_kind)
            hint = (" (often: out of memory)" if worker.exitcode == -signal.SIGKILL
                    else "")
            self._fail(item, ErrorCode.JOB_FAILED, f"the worker process running job "
                       f"{item.job_kind} crashed: {how}{hint}. The server started a "
                       f"replacement worker; submit the job again, with smaller inputs if it "
                       f"ran out of memory")
            return False
        finally:
            with self._lock:
                self.running -= 1

    def _fail(self, item: WorkItem, code: str, message: str) -> None:
        self._emit(("failed", item.job_id, code, message))
