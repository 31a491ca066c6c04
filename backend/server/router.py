"""The server: one ROUTER socket, answered from one thread; jobs run in worker processes
(process_pool.py) or, as a broker, on remote `doppel worker`s (broker.py).

The socket thread never runs a job, so hello / ping / status / cancel stay fast while a slow
job runs. Every inbound message is size-checked, decoded and validated before use; any
problem becomes an ``error`` reply with a stable code and the loop goes on.
"""

from __future__ import annotations

import json
import logging
import threading
import time
import uuid
from pathlib import Path
from typing import Any, Mapping, Sequence

import zmq

from protocol import (DEFAULT_ADDRESS, SUPPORTED_VERSIONS, ErrorCode, Message, ProtocolError,
                      avatar_message, decode, encode, error_message, validate_request)
from protocol.constants import MAX_HEADER_BYTES

from .. import __version__
from ..jobs import JOB_KINDS, JobFn
from .address import check_bind_address
from .events import Outbox
from .job_process import job_spec
from .jobs import JobRecord, JobTable, WorkItem
from .limits import Limits, check_fields, check_frames
from .records import RecordStore, cleanup
from .store import ResultStore, check_job_id

log = logging.getLogger("doppel.server")

MAX_QUEUED_JOBS = 64            # queued + running; more submits get BUSY
JOB_TIME_LIMIT = 6 * 3600.0     # seconds; generous: a big reconstruction on a slow GPU
KEEP_RESULTS = 7 * 86400.0      # seconds finished jobs stay fetchable
CLEANUP_INTERVAL = 3600.0       # seconds between sweeps for old results
SIGNAL_CHECK_MS = 250           # main-thread poll timeout, so Ctrl-C / SIGTERM act promptly
RECV_BATCH = 64                 # client messages handled before looking at worker events again


class Server:
    """A Doppel server. ``serve_forever()`` blocks; ``start()`` runs it on a thread and
    returns the bound address (bind ``tcp://127.0.0.1:*`` for a free port).

    ``jobs``: job kind -> job function or "module:function" (default: backend.jobs.JOB_KINDS);
    functions must be importable by a worker process (module level). ``keys``: a folder made
    by `doppel keys init`; required for a non-loopback ``bind``. ``workers``: worker
    processes. ``preload``: body models each worker process loads at start.
    ``job_time_limit``: seconds (None: none). ``max_queued``: queued + running jobs before
    `busy`. ``keep_results``: seconds finished jobs stay on disk. ``broker``: dispatch jobs
    to `doppel worker` processes that connect to the same address instead of running them.
    """

    def __init__(self, bind: str = DEFAULT_ADDRESS, results_dir: Any = None, workers: int = 1,
                 jobs: Mapping[str, JobFn | str] | None = None, keys: Any = None,
                 preload: Sequence[str] = ("anny",), device: str | None = None,
                 job_time_limit: float | None = JOB_TIME_LIMIT,
                 max_queued: int = MAX_QUEUED_JOBS, keep_results: float = KEEP_RESULTS,
                 limits: Limits | None = None, broker: bool = False,
                 heartbeat: float = 1.0, liveness: int = 3):
        self.keys = Path(keys) if keys is not None else None
        check_bind_address(bind, secured=self.keys is not None)
        self.bind_address = bind
        self.address: str | None = None          # the bound endpoint, once listening
        self.store = ResultStore(results_dir)
        self.table = JobTable(disk=RecordStore(self.store.root))
        default = {} if broker else JOB_KINDS
        self.job_specs: dict[str, str] = {k: job_spec(v) for k, v in
                                          (default if jobs is None else jobs).items()}
        self.workers = max(1, int(workers))
        self.preload = tuple(preload)
        self.job_time_limit = job_time_limit
        self.max_queued = int(max_queued)
        self.keep_results = float(keep_results)
        self.limits = limits or Limits()
        self.is_broker = bool(broker)
        self.heartbeat, self.liveness = float(heartbeat), int(liveness)
        if device is None:
            if broker:
                device = "broker"
            else:
                from .device import describe_device
                device = describe_device()
        self.device = device
        self._ctx = zmq.Context()
        self._wake_address = f"inproc://doppel-wake-{uuid.uuid4().hex}"
        self._outbox: Outbox | None = None
        self.pool: Any = None                    # ProcessPool, or WorkerBroker as a broker
        self._thread: threading.Thread | None = None
        self._ready = threading.Event()
        self._start_error: BaseException | None = None
        self._router: zmq.Socket | None = None
        self._next_cleanup = 0.0

    # --- life cycle ---------------------------------------------------------------------------

    def start(self, timeout: float = 30.0) -> str:
        """Serve on a background thread; returns the bound address once listening."""
        self._thread = threading.Thread(target=self._serve_thread, name="doppel-server",
                                        daemon=True)
        self._thread.start()
        if not self._ready.wait(timeout):
            raise RuntimeError(f"the server did not start listening within {timeout:g} s")
        if self._start_error is not None:
            raise self._start_error
        return self.address

    def _serve_thread(self) -> None:
        try:
            self.serve_forever()
        except BaseException as exc:   # noqa: BLE001 - handed to start()'s caller
            if not self._ready.is_set():
                self._start_error = exc
                self._ready.set()
            else:
                log.exception("the server loop stopped")

    def stop(self, timeout: float = 10.0) -> None:
        """Stop serving (from any thread); running jobs are asked to cancel."""
        if self._outbox is not None:
            self._outbox.put(("stop",))
        if self._thread is not None:
            self._thread.join(timeout)

    def __enter__(self) -> "Server":
        self.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.stop()

    def _make_router(self) -> tuple[zmq.Socket, zmq.Socket | None, Any]:
        router = self._ctx.socket(zmq.ROUTER)
        router.setsockopt(zmq.LINGER, 0)
        router.setsockopt(zmq.ROUTER_HANDOVER, 1)    # a reconnecting identity takes over
        router.setsockopt(zmq.ROUTER_MANDATORY, 1)   # learn when a client is gone
        router.setsockopt(zmq.MAXMSGSIZE, self.limits.message_bytes)   # per frame, hard
        auth, monitor = None, None
        if self.keys is not None:
            from ..security.curve import secure_server_socket, watch_handshakes
            try:
                auth = secure_server_socket(self._ctx, router, self.keys)
            except Exception:
                router.close(linger=0)
                raise
            monitor = watch_handshakes(router)
        return router, monitor, auth

    def serve_forever(self) -> None:
        router, monitor, auth = self._make_router()
        self._router = router     # touched only by this (the socket) thread
        wake = self._ctx.socket(zmq.PULL)
        wake.setsockopt(zmq.LINGER, 0)
        try:
            wake.bind(self._wake_address)
            try:
                router.bind(self.bind_address)
            except zmq.ZMQError as exc:
                hint = " (is another doppel server running?)" if exc.errno == zmq.EADDRINUSE \
                    else ""
                raise OSError(f"cannot listen on {self.bind_address}: {exc}{hint}") from None
            self.address = router.getsockopt(zmq.LAST_ENDPOINT).decode()
            self._outbox = Outbox(self._ctx, self._wake_address)
            self._cleanup()
            interrupted = self.table.restore()
            if interrupted:
                log.warning("%d jobs were interrupted by the last shutdown; their clients get "
                            "an error when they ask", interrupted)
            self.pool = self._make_executor()
            log.info("listening on %s (%s, device %s, jobs %s, results in %s%s)", self.address,
                     "broker" if self.is_broker else f"{self.workers} worker processes",
                     self.device, ", ".join(sorted(self.job_specs)) or "from workers",
                     self.store.root, ", CURVE" if self.keys else "")
            self._ready.set()
            self._loop(router, wake, monitor)
        finally:
            self._shutdown(router, wake, monitor, auth)

    def _make_executor(self) -> Any:
        if self.is_broker:
            from .broker import WorkerBroker
            return WorkerBroker(self._send, self._on_worker_event, self.store,
                                heartbeat=self.heartbeat, liveness=self.liveness)
        from .process_pool import ProcessPool
        return ProcessPool(self.workers, self._outbox.put, str(self.store.root),
                           preload=self.preload, time_limit=self.job_time_limit)

    def _shutdown(self, router: zmq.Socket, wake: zmq.Socket, monitor: Any, auth: Any) -> None:
        for rec in self.table.active():
            rec.cancel_event.set()
        if self.pool is not None:
            self.pool.stop()
        if self._outbox is not None:
            self._outbox.close()
        if monitor is not None:
            router.disable_monitor()
            monitor.close(linger=0)
        router.close(linger=0)
        wake.close(linger=0)
        if auth is not None:
            auth.stop()
        self._ctx.term()
        if self._ready.is_set():
            log.info("server stopped")

    def _cleanup(self) -> None:
        self._next_cleanup = time.monotonic() + CLEANUP_INTERVAL
        self.table.forget(cleanup(self.table.disk, self.store, self.keep_results))

    # --- the loop -----------------------------------------------------------------------------

    def _loop(self, router: zmq.Socket, wake: zmq.Socket, monitor: Any) -> None:
        poller = zmq.Poller()
        poller.register(router, zmq.POLLIN)
        poller.register(wake, zmq.POLLIN)
        if monitor is not None:
            from ..security.curve import log_handshake_event
            poller.register(monitor, zmq.POLLIN)
        # Python runs signal handlers (Ctrl-C, SIGTERM) only on the main thread, and only
        # between bytecodes: when the kernel delivers the signal to another thread, zmq_poll
        # is not interrupted, so on the main thread wake up now and then to let them run.
        on_main = threading.current_thread() is threading.main_thread()
        timeout_ms = SIGNAL_CHECK_MS if on_main else 1000
        if self.is_broker:
            timeout_ms = min(timeout_ms, int(self.heartbeat * 500))
        while True:
            ready = dict(poller.poll(timeout_ms))
            if ready.get(router):
                for _ in range(RECV_BATCH):
                    try:
                        frames = router.recv_multipart(zmq.NOBLOCK, copy=False)
                    except zmq.Again:
                        break
                    self._on_message(frames)
            if monitor is not None and ready.get(monitor):
                log_handshake_event(monitor)
            if ready.get(wake):
                while True:
                    try:
                        wake.recv(zmq.NOBLOCK)
                    except zmq.Again:
                        break
                for event in self._outbox.drain():
                    if event[0] == "stop":
                        return
                    self._on_worker_event(event)
            if self.is_broker:
                self.pool.tick()
            if time.monotonic() > self._next_cleanup:
                self._cleanup()

    def _send(self, identity: bytes, frames: list) -> bool:
        try:
            self._router.send_multipart([identity, *frames], flags=zmq.NOBLOCK, copy=False)
            return True
        except zmq.Again:
            log.warning("peer %s is not reading; dropped a message", _who(identity))
        except zmq.ZMQError as exc:
            if exc.errno != zmq.EHOSTUNREACH:
                raise
            log.debug("peer %s is gone; dropped a message", _who(identity))
        return False

    def _on_message(self, frames: list) -> None:
        identity, body = frames[0].bytes, frames[1:]
        if self.is_broker and self.pool.is_worker_message(body):
            self.pool.on_message(identity, body)
            return
        msg_id = None
        try:
            check_frames(body, self.limits)
            try:
                msg = decode(body)
            except RecursionError:
                raise ProtocolError(ErrorCode.BAD_FRAME, "the message header is nested too "
                                    "deeply to be a Doppel request") from None
            msg_id = msg.id
            validate_request(msg)
            check_fields(msg, self.limits)
            reply = getattr(self, f"_on_{msg.kind}")(identity, msg)
        except ProtocolError as err:
            msg_id = msg_id or _message_id_of(body)
            log.info("client %s: %s", _who(identity), err)
            reply = error_message(err, re=msg_id)
        except Exception as exc:   # noqa: BLE001 - one bad request must not stop the server
            log.exception("client %s: internal error", _who(identity))
            reply = error_message(ProtocolError(
                ErrorCode.INTERNAL, f"internal server error ({type(exc).__name__}: {exc}); "
                f"see the server log"), re=msg_id)
        self._send(identity, reply if isinstance(reply, list) else encode(reply))

    # --- requests -----------------------------------------------------------------------------

    def job_kinds(self) -> list[str]:
        kinds = set(self.job_specs)
        if self.is_broker and self.pool is not None:
            kinds |= self.pool.known_kinds()
        return sorted(kinds)

    def _on_hello(self, identity: bytes, msg: Message) -> Message:
        common = set(msg.fields["versions"]) & set(SUPPORTED_VERSIONS)
        if not common:
            raise ProtocolError(ErrorCode.BAD_VERSION,
                                f"the client speaks protocol versions {msg.fields['versions']} "
                                f"and this server {list(SUPPORTED_VERSIONS)}: update the older "
                                f"of the add-on and the server")
        from ..bodies import available_body_models
        log.info("hello from %s (%s)", _who(identity), msg.fields["client"][:80])
        return Message("hello", {"version": max(common), "server_version": __version__,
                                 "job_kinds": self.job_kinds(),
                                 "body_models": available_body_models(),
                                 "device": self.device}, re=msg.id)

    def _on_ping(self, identity: bytes, msg: Message) -> Message:
        return Message("pong", {"time": time.time()}, re=msg.id)

    def _on_submit(self, identity: bytes, msg: Message) -> Message:
        kind, key = msg.fields["job_kind"], msg.fields.get("request_key")
        if key is not None:
            earlier = self.table.by_key(identity, key)
            if earlier is not None:
                return _accepted(earlier, msg.id)
        kinds = self.job_kinds()
        if kind not in kinds:
            where = (f"workers of this broker run {', '.join(kinds) or 'nothing yet'} (start "
                     f"one with `doppel worker --connect {self.address}`)"
                     if self.is_broker else f"this server runs {', '.join(kinds)}")
            raise ProtocolError(ErrorCode.UNKNOWN_JOB_KIND,
                                f"unknown job kind {kind!r:.60}; {where}")
        if self.table.active_count() >= self.max_queued:
            raise ProtocolError(ErrorCode.BUSY, f"the server is busy: {self.max_queued} jobs "
                                f"are queued or running; try again when some have finished")
        rec = JobRecord(uuid.uuid4().hex, kind, identity, msg.id, request_key=key)
        self.table.add(rec)
        self.pool.submit(WorkItem(rec.job_id, kind, msg.id, self.job_specs.get(kind, ""),
                                  msg.fields["params"], msg.arrays, rec.cancel_event))
        log.info("job %s (%s) queued for client %s", rec.job_id, kind, _who(identity))
        return _accepted(rec, msg.id)

    def _on_cancel(self, identity: bytes, msg: Message) -> Message:
        job_id = check_job_id(msg.fields["job_id"])
        rec = self.table.get(job_id)
        if rec is None:
            return self._status_reply([self._stored_record(job_id)], msg.id)
        if not rec.terminal:
            rec.cancel_event.set()
            if self.is_broker:
                self.pool.cancel(job_id)
            log.info("job %s cancel requested by %s", job_id, _who(identity))
            if rec.state == "queued":   # never started: it ends now, the worker will skip it
                self._finish(rec, "cancelled", ErrorCode.CANCELLED,
                             f"job {job_id} ({rec.job_kind}) was cancelled before it started")
        return self._status_reply([rec], msg.id)

    def _on_status(self, identity: bytes, msg: Message) -> Message:
        job_id = msg.fields.get("job_id")
        if job_id is None:
            return self._status_reply(self.table.owned_by(identity), msg.id)
        rec = self.table.get(check_job_id(job_id))
        return self._status_reply([rec if rec is not None else self._stored_record(job_id)],
                                  msg.id)

    def _on_fetch(self, identity: bytes, msg: Message) -> list:
        job_id = check_job_id(msg.fields["job_id"])
        rec = self.table.get(job_id)
        record = rec.as_dict() if rec is not None else self.table.stored(job_id)
        if record is not None and record["state"] in ("queued", "running"):
            raise ProtocolError(ErrorCode.NOT_READY,
                                f"job {job_id} is still {record['state']} ({record['stage']}, "
                                f"{record['fraction']:.0%}); wait for its result event", job_id)
        if record is not None and record["state"] != "done":
            raise ProtocolError(record.get("code") or ErrorCode.JOB_FAILED,
                                record.get("message") or f"job {job_id} {record['state']}",
                                job_id)
        avatar = self.store.load(job_id)
        return encode(avatar_message(avatar, job_id, re=msg.id))

    def _stored_record(self, job_id: str) -> dict:
        record = self.table.stored(job_id) or self.store.record(job_id)
        if record is None:
            raise ProtocolError(ErrorCode.NOT_FOUND, f"this server knows no job {job_id} (it "
                                f"may have been deleted after the server's keep time)", job_id)
        return record

    def _status_reply(self, records: list, re: str) -> Message:
        jobs = [r.as_dict() if isinstance(r, JobRecord) else r for r in records]
        return Message("status", {"jobs": jobs}, re=re)

    # --- worker events ------------------------------------------------------------------------

    def _on_worker_event(self, event: tuple) -> None:
        kind, job_id = event[0], event[1]
        rec = self.table.get(job_id)
        if rec is None or rec.terminal:
            return   # e.g. a job cancelled while queued that had already been picked up
        if kind == "progress":
            rec.state, rec.stage, rec.fraction = "running", event[2], event[3]
            out = Message("progress", {"job_id": job_id, "stage": rec.stage,
                                       "fraction": rec.fraction}, re=rec.submit_id)
            self._send(rec.owner, encode(out))
        elif kind == "started":
            rec.state = "running"
        elif kind == "done":
            self.table.finish(rec, "done")
            self._send(rec.owner, event[2])
        elif kind == "failed":
            state = "cancelled" if event[2] == ErrorCode.CANCELLED else "failed"
            self._finish(rec, state, event[2], event[3])

    def _finish(self, rec: JobRecord, state: str, code: str, text: str) -> None:
        self.table.finish(rec, state, code, text)
        err = error_message(ProtocolError(code, text, rec.job_id), re=rec.submit_id)
        self._send(rec.owner, encode(err))


def _accepted(rec: JobRecord, re: str) -> Message:
    return Message("accepted", {"job_id": rec.job_id, "job_kind": rec.job_kind}, re=re)


def _who(identity: bytes) -> str:
    text = identity.decode("ascii", "replace")
    return text if text.isprintable() and identity.isascii() else identity.hex()


def _message_id_of(frames: list) -> str | None:
    """Best-effort id of a message that failed validation, so the error reply can name it."""
    try:
        raw = frames[0].bytes
        if len(raw) > MAX_HEADER_BYTES:
            return None
        mid = json.loads(raw).get("id")
        return mid if isinstance(mid, str) and len(mid) <= 128 else None
    except Exception:   # noqa: BLE001 - garbage stays garbage
        return None
