"""The inside of one worker process: receive a job over a pipe, run it, send events back.

Runs in a fresh interpreter (``python -c``, not multiprocessing: that would re-run the
server's ``__main__`` in every worker), so it shares no state with the server. It imports
only what the job needs: test job kinds start in well under a second, the real ones import
torch once and keep their body model cached for every later job.

Pipe messages (pickled by multiprocessing between our own two processes; nothing from a
socket is ever unpickled):
    server -> worker: setup dict, then Task | None (stop); SIGUSR1 cancels the running job
    worker -> server: ("ready", pid) | ("progress", job_id, stage, fraction)
                      | ("done", job_id, [frame bytes]) | ("failed", job_id, code, message)
                      | ("failed", job_id, code, message, "retire"): replace this process
"""

from __future__ import annotations

import importlib
import logging
import os
import signal
import sys
import time
from dataclasses import dataclass
from typing import Any, Callable, Mapping

import numpy as np

from protocol import ErrorCode, ProtocolError, RiggedAvatar, avatar_message, encode

from ..errors import JobCancelled, JobInputError
from ..jobs.base import JobContext

log = logging.getLogger("doppel.worker")

PROGRESS_INTERVAL = 0.05   # seconds between forwarded progress events of one stage


@dataclass
class Task:
    job_id: str
    job_kind: str
    fn_spec: str                       # "module:function"
    submit_id: str                     # `re` of the result message
    params: Mapping[str, Any]
    inputs: Mapping[str, np.ndarray]
    results_root: str | None           # save the avatar there (None: the caller stores it)


def job_spec(fn: Any) -> str:
    """A job function as "module:function", the form a worker process can import."""
    if isinstance(fn, str):
        if fn.count(":") != 1:
            raise ValueError(f"job spec {fn!r} must look like 'package.module:function'")
        return fn
    name = getattr(fn, "__qualname__", "")
    if not callable(fn) or "<" in name or not getattr(fn, "__module__", None):
        raise ValueError(f"job {fn!r} must be a module-level function so a worker process can "
                         f"import it; pass 'module:function'")
    return f"{fn.__module__}:{name}"


def resolve_job(spec: str) -> Callable:
    module, func = spec.split(":")
    return getattr(importlib.import_module(module), func)


def _input_error(exc: BaseException) -> bool:
    return isinstance(exc, JobInputError)


def run_task(task: Task, send: Callable[[tuple], None], is_cancelled: Callable[[], bool]) -> bool:
    """Run one job, ending with exactly one "done" or "failed" event through ``send``.
    Returns False when this process should not run another job (it ran out of memory)."""
    job_id, kind = task.job_id, task.job_kind
    last = {"stage": None, "time": 0.0}

    def report(stage: str, fraction: float) -> None:
        now = time.monotonic()
        if stage == last["stage"] and fraction < 1.0 and now - last["time"] < PROGRESS_INTERVAL:
            return   # a job reporting per frame must not flood the client
        last.update(stage=stage, time=now)
        send(("progress", job_id, str(stage)[:200], float(fraction)))

    ctx = JobContext(job_id, report=report, is_cancelled=is_cancelled)
    start = time.monotonic()
    try:
        report("started", 0.0)
        avatar = resolve_job(task.fn_spec)(task.params, task.inputs, ctx)
        if not isinstance(avatar, RiggedAvatar):
            raise TypeError(f"the job returned {type(avatar).__name__}, not a RiggedAvatar")
        frames = encode(avatar_message(avatar, job_id, re=task.submit_id))   # validates
        if task.results_root is not None:
            from .store import ResultStore
            ResultStore(task.results_root).save(job_id, kind, avatar)
    except JobCancelled:
        send(("failed", job_id, ErrorCode.CANCELLED, f"job {job_id} ({kind}) was cancelled"))
        return True
    except MemoryError as exc:
        # Half-built allocations may linger: end this process, the server starts a fresh one.
        log.error("job %s (%s) ran out of memory: %s", job_id, kind, exc)
        send(("failed", job_id, ErrorCode.JOB_FAILED, f"job {kind} ran out of memory ({exc}); "
              f"its worker process was replaced. Try smaller inputs", "retire"))
        return False
    except ProtocolError as exc:
        log.error("job %s (%s) produced an invalid avatar: %s", job_id, kind, exc)
        send(("failed", job_id, ErrorCode.JOB_FAILED, f"job {kind} produced an invalid result "
              f"({exc.message}); this is a bug, please report it with the server log"))
        return True
    except Exception as exc:   # noqa: BLE001 - a job bug must not end the worker
        if _input_error(exc):
            log.info("job %s (%s) rejected its input: %s", job_id, kind, exc)
            send(("failed", job_id, getattr(exc, "code", ErrorCode.BAD_INPUT), str(exc)))
            return True
        log.exception("job %s (%s) failed", job_id, kind)
        send(("failed", job_id, ErrorCode.JOB_FAILED,
              f"job {kind} failed: {type(exc).__name__}: {exc}"))
        return True
    log.info("job %s (%s) done in %.2f s", job_id, kind, time.monotonic() - start)
    send(("done", job_id, [bytes(memoryview(f).cast("B")) for f in frames]))
    return True


def preload_models(names: tuple[str, ...]) -> None:
    for name in names:
        try:
            from ..bodies import get_body_model
            get_body_model(name)
            log.info("body model %s loaded in worker %d", name, os.getpid())
        except Exception as exc:   # noqa: BLE001 - the job that needs it reports it properly
            log.warning("could not preload body model %s: %s", name, exc)


_cancelled = False


def _on_cancel(signum: int, frame: Any) -> None:
    global _cancelled
    _cancelled = True


def _die_with_parent() -> None:
    # Linux: if the server is killed, take the running job with it.
    try:
        import ctypes
        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)   # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


def main(fd: int) -> None:
    """Entry point of a worker process (``python -c``; see process_pool.py): the first
    message on the connection is the setup (sys.path, preload, log level); then tasks until
    told to stop or the server goes away (EOF). SIGUSR1 cancels the running job."""
    global _cancelled
    from multiprocessing.connection import Connection
    _die_with_parent()
    signal.signal(signal.SIGINT, signal.SIG_IGN)    # Ctrl-C is the server's to handle
    signal.signal(signal.SIGUSR1, _on_cancel)
    conn = Connection(fd)
    setup = conn.recv()
    sys.path[:] = setup["sys_path"]                 # test job kinds live on the parent's path
    logging.basicConfig(level=setup["log_level"], stream=sys.stderr,
                        format="%(asctime)s %(levelname)s %(name)s[%(process)d]: %(message)s")
    preload_models(tuple(setup["preload"]))
    conn.send(("ready", os.getpid()))
    while True:
        try:
            task = conn.recv()
        except (EOFError, OSError):
            return
        if task is None:
            return
        _cancelled = False
        try:
            if not run_task(task, conn.send, lambda: _cancelled):
                return
        except (BrokenPipeError, EOFError, OSError):
            return     # the server is gone
