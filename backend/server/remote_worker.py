"""`doppel worker`: connect to a broker, register, heartbeat, run the jobs it hands out.

Jobs run in a worker process of its own (process_pool.py), so a crashing job costs one job,
not the worker's registration. When the broker falls silent for ``liveness`` heartbeats the
worker rebuilds its socket and registers again, waiting 1 s, 2 s, 4 s ... up to 32 s between
attempts (Paranoid Pirate); with keys it authenticates exactly like a client.
"""

from __future__ import annotations

import json
import logging
import socket
import threading
import time
import uuid
from typing import Any, Mapping, Sequence

import zmq

from protocol import decode, validate_request

from .broker import (CANCEL, DISCONNECT, DONE, FAILED, HEARTBEAT, JOB, PROGRESS, READY,
                     WORKER_PROTOCOL)
from .events import Outbox
from .job_process import job_spec
from .jobs import WorkItem

log = logging.getLogger("doppel.worker")

SIGNAL_CHECK = 0.25     # seconds: the main thread's poll timeout, so Ctrl-C acts promptly


class RemoteWorker:
    """One remote worker. ``run(stop)`` blocks until ``stop`` is set (or Ctrl-C).

    ``jobs``: kind -> "module:function" (default backend.jobs.JOB_KINDS). ``server_key`` /
    ``client_key``: as for protocol.client.Client. Times are seconds.
    """

    def __init__(self, connect: str, jobs: Mapping[str, Any] | None = None,
                 name: str | None = None, server_key: Any = None, client_key: Any = None,
                 heartbeat: float = 1.0, liveness: int = 3,
                 backoff: tuple[float, float] = (1.0, 32.0), preload: Sequence[str] = (),
                 job_time_limit: float | None = None):
        from ..jobs import JOB_KINDS
        self.connect = connect
        self.jobs = {k: job_spec(v) for k, v in (JOB_KINDS if jobs is None else jobs).items()}
        self.name = name or f"{socket.gethostname()}-{uuid.uuid4().hex[:6]}"
        self.curve = None
        if server_key:
            from protocol.client import load_curve_keys
            self.curve = load_curve_keys(server_key, client_key)
        self.heartbeat, self.liveness = float(heartbeat), int(liveness)
        self.backoff = backoff
        self.preload = tuple(preload)
        self.job_time_limit = job_time_limit
        self.identity = f"worker-{self.name}".encode()[:200]
        self.instance = uuid.uuid4().hex     # tells the broker a reconnect from a restart
        self._running: dict[str, WorkItem] = {}
        self.registrations = 0     # how often it (re)registered; tests read it

    def _socket(self, ctx: zmq.Context) -> zmq.Socket:
        sock = ctx.socket(zmq.DEALER)
        sock.setsockopt(zmq.LINGER, 0)
        sock.setsockopt(zmq.ROUTING_ID, self.identity)
        if self.curve is not None:
            sock.curve_serverkey = self.curve.server_public
            sock.curve_publickey = self.curve.public
            sock.curve_secretkey = self.curve.secret
        sock.connect(self.connect)
        info = {"name": self.name, "kinds": sorted(self.jobs), "instance": self.instance}
        sock.send_multipart([WORKER_PROTOCOL, READY, json.dumps(info).encode()])
        self.registrations += 1
        return sock

    def run(self, stop: threading.Event | None = None) -> None:
        from .process_pool import ProcessPool
        stop = stop or threading.Event()
        ctx = zmq.Context()
        wake_address = f"inproc://doppel-worker-wake-{uuid.uuid4().hex}"
        wake = ctx.socket(zmq.PULL)
        wake.bind(wake_address)
        outbox = Outbox(ctx, wake_address)
        pool = ProcessPool(1, outbox.put, results_root=None, preload=self.preload,
                           time_limit=self.job_time_limit)
        sock = self._socket(ctx)
        log.info("worker %s connecting to %s (jobs %s)", self.name, self.connect,
                 ", ".join(sorted(self.jobs)))
        last_heard = next_beat = time.monotonic()
        delay = self.backoff[0]
        warned_not_broker = False
        try:
            while not stop.is_set():
                poller = zmq.Poller()
                poller.register(sock, zmq.POLLIN)
                poller.register(wake, zmq.POLLIN)
                ready = dict(poller.poll(int(min(SIGNAL_CHECK, self.heartbeat / 2) * 1000)))
                now = time.monotonic()
                if ready.get(sock):
                    frames = sock.recv_multipart(copy=False)
                    if frames[0].bytes != WORKER_PROTOCOL:
                        if not warned_not_broker:
                            log.error("%s answered like a plain server, not a broker: start "
                                      "it with `doppel serve --broker`", self.connect)
                            warned_not_broker = True
                    else:
                        last_heard, delay = now, self.backoff[0]
                        if self._on_broker(frames, pool, sock) == DISCONNECT:
                            sock.close(linger=0)
                            sock = self._socket(ctx)
                if ready.get(wake):
                    for event in outbox.drain_after_wake(wake):
                        self._forward(sock, event)
                if now >= next_beat:
                    next_beat = now + self.heartbeat
                    try:
                        sock.send_multipart([WORKER_PROTOCOL, HEARTBEAT], zmq.NOBLOCK)
                    except zmq.Again:
                        pass   # not connected (yet): the liveness check below handles it
                if now - last_heard > self.heartbeat * self.liveness:
                    log.warning("no heartbeat from the broker at %s for %.1f s; reconnecting in "
                                "%g s", self.connect, now - last_heard, delay)
                    sock.close(linger=0)
                    if stop.wait(delay):
                        break
                    delay = min(delay * 2, self.backoff[1])
                    sock = self._socket(ctx)
                    last_heard = time.monotonic()
        finally:
            try:
                sock.send_multipart([WORKER_PROTOCOL, DISCONNECT], zmq.NOBLOCK)
            except zmq.ZMQError:
                pass
            for item in self._running.values():
                item.cancel_event.set()
            pool.stop(timeout=2.0)
            outbox.close()
            sock.close(linger=0)
            wake.close(linger=0)
            ctx.term()
            log.info("worker %s stopped", self.name)

    def _on_broker(self, frames: list, pool: Any, sock: zmq.Socket) -> bytes:
        command = frames[1].bytes if len(frames) > 1 else b""
        if command == JOB and len(frames) >= 4:
            job_id = frames[2].bytes.decode("ascii", "replace")
            try:
                msg = validate_request(decode(frames[3:]))
                kind = msg.fields["job_kind"]
                if kind not in self.jobs:
                    raise ValueError(f"this worker does not run {kind!r}")
            except Exception as exc:   # noqa: BLE001 - answer the broker, keep working
                self._forward(sock, ("failed", job_id, "job_failed",
                                     f"worker {self.name} could not take the job: {exc}"))
                return command
            item = WorkItem(job_id, kind, msg.id, self.jobs[kind], msg.fields["params"],
                            msg.arrays, threading.Event())
            self._running[job_id] = item
            pool.submit(item)
        elif command == CANCEL and len(frames) >= 3:
            item = self._running.get(frames[2].bytes.decode("ascii", "replace"))
            if item is not None:
                item.cancel_event.set()
        return command

    def _forward(self, sock: zmq.Socket, event: tuple) -> None:
        kind, job_id = event[0], event[1]
        if kind == "progress":
            frames = [PROGRESS, job_id.encode(), json.dumps([event[2], event[3]]).encode()]
        elif kind == "done":
            frames = [DONE, job_id.encode(), *event[2]]
        elif kind == "failed":
            frames = [FAILED, job_id.encode(), json.dumps([event[2], event[3]]).encode()]
        else:
            return
        if kind in ("done", "failed"):
            self._running.pop(job_id, None)
        try:
            sock.send_multipart([WORKER_PROTOCOL, *frames], zmq.NOBLOCK)
        except zmq.Again:
            log.warning("could not send %s of job %s to the broker (not reachable)", kind, job_id)
