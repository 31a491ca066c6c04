"""The inside of one Ray actor: the Ray counterpart of a worker process (job_process.py).

An actor lives on one Ray node, loads its body model once and then runs one job at a time
with the same ``run_task`` as a local worker process, so a job behaves (and its result
encodes) byte for byte the same on either engine. Events are the ones of job_process.py;
``run`` streams them back as a Ray generator, so progress reaches the server while the job
runs. The actor is threaded (max_concurrency=2) only so ``cancel`` can arrive while ``run``
is busy.

This module imports no Ray: ray_engine.py wraps the class with ``ray.remote`` when a server
starts with ``--ray``.
"""

from __future__ import annotations

import logging
import os
import queue
import sys
import threading
from typing import Iterator

from .job_process import Task, preload_models, run_task

log = logging.getLogger("doppel.worker")


class JobActor:
    def __init__(self, sys_path: list[str], preload: tuple[str, ...], log_level: int):
        # Test job kinds live on the server's path; a studio node has the package installed.
        sys.path.extend(p for p in sys_path if p not in sys.path)
        logging.basicConfig(level=log_level, stream=sys.stderr,
                            format="%(asctime)s %(levelname)s %(name)s[%(process)d]: "
                                   "%(message)s")
        preload_models(tuple(preload))
        self._cancel: dict[str, threading.Event] = {}

    def ready(self) -> int:
        """Answered once the body model is loaded: the engine sends no job before."""
        return os.getpid()

    def run(self, task: Task) -> Iterator[tuple]:
        """Run one job on a thread of its own and yield its events as they happen; the last
        is "done" or "failed" (a "failed" ending in "retire" asks for a fresh actor)."""
        events: queue.SimpleQueue = queue.SimpleQueue()
        cancel = threading.Event()
        self._cancel[task.job_id] = cancel

        def work() -> None:
            try:
                run_task(task, events.put, cancel.is_set)
            finally:
                events.put(None)

        threading.Thread(target=work, name=f"job-{task.job_id[:8]}", daemon=True).start()
        try:
            while (event := events.get()) is not None:
                yield event
        finally:
            self._cancel.pop(task.job_id, None)

    def cancel(self, job_id: str) -> None:
        """The running job stops at its next progress report (JobCancelled)."""
        event = self._cancel.get(job_id)
        if event is not None:
            event.set()
