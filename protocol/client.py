"""The Doppel client: one DEALER socket to a server, replies matched to requests by message id.

Pure pyzmq + protocol (no torch), so the Blender add-on uses it as is. Two ways to use it:

* blocking calls (``hello``, ``submit``, ``status``, ``fetch``, ``ping``, ``run_job``) for the
  CLI and scripts; each gives up after ``timeout`` seconds with ``ProtocolError(UNREACHABLE)``;
* non-blocking ``send`` + ``poll`` for UIs (a Blender timer calls ``poll()`` and handles
  ``accepted`` / ``progress`` / ``result`` / ``error`` messages as they come).

All times are seconds (``time.monotonic``). Never pickles: frames go through protocol.decode.
"""

from __future__ import annotations

import logging
import math
import time
import uuid
from collections import deque
from typing import Any, Callable, Mapping

import numpy as np
import zmq

from .avatar import RiggedAvatar
from .avatar_codec import avatar_from_message
from .codec import Message, decode, encode
from .constants import DEFAULT_ADDRESS, MAX_MESSAGE_BYTES, SUPPORTED_VERSIONS, ErrorCode
from .errors import ProtocolError
from .messages import validate_reply

log = logging.getLogger("doppel.client")

ProgressFn = Callable[[str, float], None]
MAX_INBOX = 10_000       # unclaimed messages kept (oldest dropped first)
MAX_POLL_BATCH = 1000    # poll() returns at most this many messages (the rest stay queued)


def new_identity() -> bytes:
    """A fresh routing id. Keep it (e.g. in preferences) to stay the same client across
    reconnects: the server lists jobs per routing id."""
    return b"doppel-" + uuid.uuid4().hex.encode("ascii")


class Client:
    """A connection to one Doppel server.

    Not thread-safe: use one Client per thread (Blender: the main thread only).
    ``timeout``: seconds a blocking request waits for its reply before raising
    ``ProtocolError(UNREACHABLE)``. ``identity``: routing id (bytes, 1..255, not starting with a
    zero byte); the same identity on a new socket takes over the old one's place on the server.
    """

    def __init__(self, address: str = DEFAULT_ADDRESS, timeout: float = 5.0,
                 identity: bytes | None = None, client_name: str = "doppel-client",
                 context: zmq.Context | None = None):
        if timeout <= 0:
            raise ValueError("timeout must be positive (seconds)")
        if identity is not None and not (0 < len(identity) <= 255 and identity[0] != 0):
            raise ValueError("identity must be 1..255 bytes and must not start with a zero byte")
        self.address = address
        self.timeout = float(timeout)
        self.identity = identity or new_identity()
        self.client_name = client_name
        self._ctx = context or zmq.Context.instance()
        # Received but not yet claimed; bounded so events nobody polls cannot pile up forever.
        self._inbox: deque[Message] = deque(maxlen=MAX_INBOX)
        self._socket: zmq.Socket | None = None
        self._connect()

    # --- socket life cycle ----------------------------------------------------------------

    def _connect(self) -> None:
        sock = self._ctx.socket(zmq.DEALER)
        sock.setsockopt(zmq.LINGER, 0)               # close never waits on a dead server
        sock.setsockopt(zmq.ROUTING_ID, self.identity)
        sock.setsockopt(zmq.MAXMSGSIZE, MAX_MESSAGE_BYTES)
        sock.setsockopt(zmq.RECONNECT_IVL, 100)      # milliseconds (zmq's unit)
        sock.setsockopt(zmq.RECONNECT_IVL_MAX, 2000)
        try:
            sock.connect(self.address)
        except zmq.ZMQError as exc:
            sock.close()
            raise ProtocolError(ErrorCode.UNREACHABLE, f"cannot connect to {self.address!r}: "
                                f"{exc}; addresses look like tcp://127.0.0.1:5557") from None
        self._socket = sock

    def reconnect(self) -> None:
        """Drop the socket (and anything still queued on it) and open a fresh one with the
        same identity: the lazy-pirate recovery after a request went unanswered."""
        if self._socket is not None:
            self._socket.close(linger=0)
        self._socket = None
        self._connect()

    def close(self) -> None:
        if self._socket is not None:
            self._socket.close(linger=0)
            self._socket = None

    def __enter__(self) -> "Client":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    @property
    def socket(self) -> zmq.Socket:
        if self._socket is None:
            raise ProtocolError(ErrorCode.UNREACHABLE, "the client is closed")
        return self._socket

    # --- sending and receiving --------------------------------------------------------------

    def send(self, kind: str, fields: Mapping[str, Any] | None = None,
             arrays: Mapping[str, np.ndarray] | None = None) -> str:
        """Queue one request without waiting; returns its message id (replies carry it in
        ``re`` and come back through :meth:`poll`)."""
        msg = Message(kind, dict(fields or {}), dict(arrays or {}))
        try:
            self.socket.send_multipart(encode(msg), flags=zmq.NOBLOCK, copy=False)
        except zmq.Again:
            raise self._unreachable("its send queue is full") from None
        return msg.id

    def _unreachable(self, why: str) -> ProtocolError:
        return ProtocolError(ErrorCode.UNREACHABLE,
                             f"cannot reach server at {self.address} ({why}); is `doppel serve` "
                             f"running there?")

    def _receive(self, wait: float) -> Message | None:
        """One validated message from the socket, waiting at most ``wait`` seconds.
        Malformed messages are logged and skipped."""
        sock = self.socket
        if not sock.poll(max(0, math.ceil(wait * 1000)), zmq.POLLIN):   # zmq counts ms
            return None
        frames = sock.recv_multipart(copy=False)
        try:
            return validate_reply(decode(frames))
        except ProtocolError as exc:
            log.warning("ignoring a malformed message from %s: %s", self.address, exc)
            return None

    def poll(self, timeout: float = 0.0) -> list[Message]:
        """Every message that has arrived (waiting up to ``timeout`` seconds for the first),
        including unsolicited ``progress`` / ``result`` / ``error`` events of submitted jobs.
        Never blocks longer than ``timeout``."""
        out = list(self._inbox)
        self._inbox.clear()
        msg = self._receive(0.0 if out else timeout)
        while msg is not None:
            out.append(msg)
            if len(out) >= MAX_POLL_BATCH:
                break
            msg = self._receive(0.0)
        return out

    def _wait_for(self, match: Callable[[Message], bool], wait: float) -> Message | None:
        """The first message (inbox first, then socket) for which ``match`` is true, within
        ``wait`` seconds; others stay in the inbox for later callers."""
        for i, msg in enumerate(self._inbox):
            if match(msg):
                del self._inbox[i]
                return msg
        deadline = time.monotonic() + wait
        while True:
            left = deadline - time.monotonic()
            msg = self._receive(max(0.0, left))
            if msg is not None:
                if match(msg):
                    return msg
                self._inbox.append(msg)
            if left <= 0:      # even while unrelated messages keep streaming in
                return None

    def request(self, kind: str, fields: Mapping[str, Any] | None = None,
                arrays: Mapping[str, np.ndarray] | None = None,
                timeout: float | None = None) -> Message:
        """Send one request and return its reply. A server ``error`` reply is raised as
        ProtocolError with the server's code; silence for ``timeout`` seconds raises
        UNREACHABLE (and resets the socket so the stale request is never delivered later)."""
        wait = self.timeout if timeout is None else timeout
        msg_id = self.send(kind, fields, arrays)
        reply = self._wait_for(lambda m: m.re == msg_id, wait)
        if reply is None:
            self.reconnect()
            raise self._unreachable(f"no answer within {wait:g} s")
        if reply.kind == "error":
            f = reply.fields
            raise ProtocolError(f["code"], f["message"], f.get("job_id"))
        return reply

    # --- the protocol's requests ---------------------------------------------------------------

    def hello(self) -> dict[str, Any]:
        """Server capabilities: version, server_version, job_kinds, body_models, device."""
        reply = self.request("hello", {"client": self.client_name,
                                       "versions": list(SUPPORTED_VERSIONS)})
        return dict(reply.fields)

    def submit(self, kind: str, params: Mapping[str, Any] | None = None,
               inputs: Mapping[str, np.ndarray] | None = None,
               request_key: str | None = None) -> str:
        """Queue a job; returns its job id. Submitting again with the same ``request_key``
        returns the first job's id instead of starting a second job."""
        fields: dict[str, Any] = {"job_kind": kind, "params": dict(params or {})}
        if request_key is not None:
            fields["request_key"] = request_key
        return self.request("submit", fields, inputs).fields["job_id"]

    def cancel(self, job_id: str) -> dict[str, Any]:
        """Ask the server to stop a job; returns its record. A running job ends at its next
        progress report with an ``error`` event of code ``cancelled``."""
        return self.request("cancel", {"job_id": job_id}).fields["jobs"][0]

    def status(self, job_id: str | None = None) -> list[dict[str, Any]]:
        """Job records (job_id, job_kind, state, stage, fraction, ...) of this client, or of
        one job."""
        fields = {} if job_id is None else {"job_id": job_id}
        return list(self.request("status", fields).fields["jobs"])

    def fetch(self, job_id: str) -> RiggedAvatar:
        """The finished result of a job (kept on the server's disk, so this works after a
        reconnect). Raises NOT_READY while the job runs."""
        return avatar_from_message(self.request("fetch", {"job_id": job_id}))

    def ping(self) -> float:
        """Round-trip time in seconds."""
        start = time.perf_counter()
        self.request("ping")
        return time.perf_counter() - start

    def run_job(self, kind: str, params: Mapping[str, Any] | None = None,
                inputs: Mapping[str, np.ndarray] | None = None,
                on_progress: ProgressFn | None = None,
                timeout: float | None = None) -> RiggedAvatar:
        """Submit a job and wait for its avatar, calling ``on_progress(stage, fraction)``.

        ``timeout``: overall limit in seconds (None: no limit while the server stays alive).
        During silence longer than ``self.timeout`` the job's status is asked, so a dead
        server or a forgotten job raises instead of waiting forever.
        """
        job_id = self.submit(kind, params, inputs)
        deadline = None if timeout is None else time.monotonic() + timeout
        is_ours = lambda m: (m.kind in ("progress", "result", "error")   # noqa: E731
                             and m.fields.get("job_id") == job_id)
        while True:
            wait = self.timeout
            if deadline is not None:
                wait = min(wait, deadline - time.monotonic())
                if wait <= 0:
                    self._try_cancel(job_id)
                    raise ProtocolError(ErrorCode.JOB_FAILED, f"job {job_id} did not finish "
                                        f"within {timeout:g} s and was cancelled", job_id)
            msg = self._wait_for(is_ours, wait)
            if msg is None:
                avatar = self._check_silent_job(job_id)
                if avatar is not None:
                    return avatar
                continue
            if msg.kind == "progress":
                if on_progress is not None:
                    on_progress(msg.fields["stage"], float(msg.fields["fraction"]))
            elif msg.kind == "result":
                return avatar_from_message(msg)
            else:
                raise ProtocolError(msg.fields["code"], msg.fields["message"], job_id)

    def _check_silent_job(self, job_id: str) -> RiggedAvatar | None:
        # Heartbeat: UNREACHABLE if the server is gone, NOT_FOUND if it forgot the job.
        record = self.status(job_id)[0]
        state = record["state"]
        if state == "done":
            return self.fetch(job_id)
        if state in ("failed", "cancelled"):
            raise ProtocolError(record.get("code") or ErrorCode.JOB_FAILED,
                                record.get("message") or f"job {job_id} {state}", job_id)
        return None

    def _try_cancel(self, job_id: str) -> None:
        try:
            self.cancel(job_id)
        except ProtocolError as exc:
            log.warning("could not cancel job %s: %s", job_id, exc)
