"""The server: one ROUTER socket, answered from one thread; jobs run in worker processes
(process_pool.py) or, with ``ray``, in actors on a Ray cluster (ray_engine.py). What each
request does is in requests.py (and cluster_info.py).

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
from collections import OrderedDict
from pathlib import Path
from typing import Any, Mapping, Sequence

import zmq

from protocol import (DEFAULT_ADDRESS, ErrorCode, Message, ProtocolError, decode, encode,
                      error_message, validate_request)
from protocol.constants import MAX_HEADER_BYTES
from protocol.messages import OWNED_KINDS

from ..jobs import JOB_KINDS, JobFn
from .address import check_bind_address
from .cluster_info import ClusterRequests
from .events import Outbox
from .job_process import job_spec
from .jobs import JobRecord, JobTable
from .limits import MAX_QUEUED_JOBS, MAX_ROUTES, Limits, check_fields, check_frames
from .logsafe import Throttle, held_note, printable
from .owners import Owners, curve_owner
from .records import RecordStore, cleanup
from .requests import Peer, RequestHandlers, who
from .sender import PeerSender
from .store import ResultStore

log = logging.getLogger("doppel.server")

JOB_TIME_LIMIT = 6 * 3600.0     # seconds; generous: a big reconstruction on a slow GPU
KEEP_RESULTS = 7 * 86400.0      # seconds finished jobs stay fetchable
CLEANUP_INTERVAL = 3600.0       # seconds between sweeps for old results
SIGNAL_CHECK_MS = 250           # main-thread poll timeout, so Ctrl-C / SIGTERM act promptly
RECV_BATCH = 64                 # client messages handled before looking at worker events again
DEFERRED_POLL_MS = 5            # loop period while small replies wait for a full send queue


class Server(RequestHandlers, ClusterRequests):
    """A Doppel server. ``serve_forever()`` blocks; ``start()`` runs it on a thread and
    returns the bound address (bind ``tcp://127.0.0.1:*`` for a free port).

    ``jobs``: job kind -> job function or "module:function" (default: backend.jobs.JOB_KINDS);
    functions must be importable by a worker process (module level). ``keys``: a folder made
    by `doppel keys init`; required for a non-loopback ``bind``. ``workers``: worker
    processes. ``preload``: body models each worker process loads at start.
    ``job_time_limit``: seconds (None: none). ``max_queued``: queued + running jobs before
    `busy`. ``keep_results``: seconds finished jobs stay on disk. ``ray``: run jobs on the
    Ray cluster at this address ("HOST:PORT" or "auto"; ``workers`` is then actors per CPU
    node) instead of in local worker processes.
    """

    def __init__(self, bind: str = DEFAULT_ADDRESS, results_dir: Any = None, workers: int = 1,
                 jobs: Mapping[str, JobFn | str] | None = None, keys: Any = None,
                 preload: Sequence[str] = ("anny",), device: str | None = None,
                 job_time_limit: float | None = JOB_TIME_LIMIT,
                 max_queued: int = MAX_QUEUED_JOBS, keep_results: float = KEEP_RESULTS,
                 limits: Limits | None = None, ray: str | None = None):
        self.keys = Path(keys) if keys is not None else None
        check_bind_address(bind, secured=self.keys is not None)
        self.bind_address = bind
        self.address: str | None = None          # the bound endpoint, once listening
        self.store = ResultStore(results_dir)
        self.owners = Owners(self.store.root)
        self.table = JobTable(disk=RecordStore(self.store.root))
        # route -> the owner last authenticated on it: job events go only to a route whose
        # latest authenticated sender is the job's owner.
        self._route_owner: OrderedDict[bytes, bytes] = OrderedDict()
        self.job_specs: dict[str, str] = {k: job_spec(v) for k, v in
                                          (JOB_KINDS if jobs is None else jobs).items()}
        self.workers = max(1, int(workers))
        self.preload = tuple(preload)
        self.job_time_limit = job_time_limit
        self.max_queued = int(max_queued)
        self.keep_results = float(keep_results)
        self.limits = limits or Limits()
        # Replies never block the socket thread; a peer that leaves loses its route's owner.
        self._warned = Throttle(60.0)
        self._sender = PeerSender(self.limits, on_gone=lambda r: self._route_owner.pop(r, None))
        self.ray_address = ray
        if device is None:
            if ray is not None:
                device = f"ray cluster at {ray}"    # the nodes' GPUs: `doppel status`
            else:
                from .device import describe_device
                device = describe_device()
        self.device = device
        self._ctx = zmq.Context()
        self._wake_address = f"inproc://doppel-wake-{uuid.uuid4().hex}"
        self._outbox: Outbox | None = None
        self.pool: Any = None                    # ProcessPool, or RayEngine with ray
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
        # No handover: a peer that presents another live peer's routing id is ignored, never
        # given its place (and its replies).
        router.setsockopt(zmq.ROUTER_HANDOVER, 0)
        router.setsockopt(zmq.SNDHWM, self.limits.send_hwm)   # replies queued per peer
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
        self._router = self._sender.router = router   # touched only by this (socket) thread
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
            from .store import sweep_parts
            swept = sweep_parts(self.store.root) + sweep_parts(self.table.disk.root)
            if swept:
                log.info("removed %d half-written files left by an earlier crash", swept)
            self._cleanup()
            interrupted = self.table.restore()
            if interrupted:
                log.warning("%d jobs were interrupted by the last shutdown; their clients get "
                            "an error when they ask", interrupted)
            self.pool = self._make_executor()
            log.info("listening on %s (%s, device %s, jobs %s, results in %s%s)", self.address,
                     f"Ray cluster at {self.ray_address}" if self.ray_address
                     else f"{self.workers} worker processes",
                     self.device, ", ".join(sorted(self.job_specs)),
                     self.store.root, ", CURVE" if self.keys else "")
            self._ready.set()
            self._loop(router, wake, monitor)
        finally:
            self._shutdown(router, wake, monitor, auth)

    def _make_executor(self) -> Any:
        if self.ray_address is not None:
            from .ray_engine import RayEngine
            return RayEngine(self.ray_address, self._outbox.put, self.store, self.workers,
                             preload=self.preload, time_limit=self.job_time_limit)
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
        while True:
            ready = dict(poller.poll(DEFERRED_POLL_MS if self._sender.pending else timeout_ms))
            if self._sender.pending:
                self._sender.flush()
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
                for event in self._outbox.drain_after_wake(wake):
                    if event[0] == "stop":
                        return
                    self._on_worker_event(event)
            if time.monotonic() > self._next_cleanup:
                self._cleanup()

    def _send(self, identity: bytes, frames: list) -> bool:
        return self._sender.send(identity, frames)

    def backed_up(self, route: bytes) -> bool:
        return self._sender.backed_up(route)

    def _push(self, rec: JobRecord, frames: list) -> None:
        """Send a job event to its owner's latest route, never to a route that someone
        else authenticated on last (or nobody did since it last failed)."""
        if rec.route and self._route_owner.get(rec.route) == rec.owner:
            self._send(rec.route, frames)

    def _peer(self, route: bytes, body: list, msg: Message) -> Peer:
        """Who sent ``msg``: its CURVE key, or the owner its token stands for."""
        if self.keys is not None:
            owner = curve_owner(_user_id(body[0]))
        else:
            owner = self.owners.owner_of(msg.fields.get("token"))
        if owner is None and msg.kind in OWNED_KINDS:
            raise ProtocolError(ErrorCode.NO_OWNER, "this request needs the owner token from "
                                "the server's hello reply (say hello first; Doppel clients do "
                                "this by themselves)")
        if owner is not None and msg.kind in OWNED_KINDS:
            self._route_owner[route] = owner
            self._route_owner.move_to_end(route)
            while len(self._route_owner) > MAX_ROUTES:
                self._route_owner.popitem(last=False)
            for rec in self.table.active():        # events follow the owner's reconnects
                if rec.owner == owner:
                    rec.route = route
        return Peer(route, owner)

    def _on_message(self, frames: list) -> None:
        identity, body = frames[0].bytes, frames[1:]
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
            peer = self._peer(identity, body, msg)
            reply = getattr(self, f"_on_{msg.kind}")(peer, msg)
        except ProtocolError as err:
            msg_id = msg_id or _message_id_of(body)
            held = self._warned.allow(("refused", identity, err.code))
            if held is not None:
                log.info("client %s: %s%s", who(identity), printable(err, 300),
                         held_note(held))
            reply = error_message(err, re=msg_id)
        except Exception as exc:   # noqa: BLE001 - one bad request must not stop the server
            log.exception("client %s: internal error", who(identity))
            reply = error_message(ProtocolError(
                ErrorCode.INTERNAL, f"internal server error ({type(exc).__name__}: {exc}); "
                f"see the server log"), re=msg_id)
        self._send(identity, reply if isinstance(reply, list) else encode(reply))

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
            self._push(rec, encode(out))
        elif kind == "started":
            rec.state = "running"
        elif kind == "done":
            self.table.finish(rec, "done")
            self._push(rec, event[2])
        elif kind == "failed":
            state = "cancelled" if event[2] == ErrorCode.CANCELLED else "failed"
            self._finish(rec, state, event[2], event[3])

    def _finish(self, rec: JobRecord, state: str, code: str, text: str) -> None:
        self.table.finish(rec, state, code, text)
        err = error_message(ProtocolError(code, text, rec.job_id), re=rec.submit_id)
        self._push(rec, encode(err))


def _user_id(frame: Any) -> str | None:
    """The ZAP User-Id libzmq attached to a received frame (the client's CURVE key)."""
    try:
        user = frame.get("User-Id")
    except (zmq.ZMQError, AttributeError, UnicodeDecodeError):
        return None
    return user or None


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
