"""The Doppel client: one DEALER socket to a server, replies matched to requests by message id.

Pure pyzmq + protocol (no torch), so the Blender add-on uses it as is. Two ways to use it:

* blocking calls (``hello``, ``submit``, ``status``, ``cluster``, ``fetch``, ``ping``,
  ``run_job``) for the CLI and scripts; each gives up after ``timeout`` seconds with
  ``ProtocolError(UNREACHABLE)``;
* non-blocking ``send`` + ``poll`` for UIs (a Blender timer calls ``poll()`` and handles
  ``accepted`` / ``progress`` / ``result`` / ``error`` messages as they come).

Remote servers use CurveZMQ: pass ``server_key`` (the server's public key) and ``client_key``
(this client's key pair), as z85 text or as the .key / .key_secret files `doppel keys init`
makes. ``retries`` > 0 makes blocking requests survive a restarting server: after a timeout
the socket is rebuilt and the request sent again after a back-off (submits carry a request
key, so a retry never makes a second job); ``on_event(text)`` hears about each retry.

Ownership: a server without CURVE hands out an owner token in its hello reply; this client
says hello by itself before its first job request and sends the token with every later one
(``client.token``; pass ``token=`` to a new Client to stay the owner of earlier jobs). With
CURVE the server knows the client by its key and jobs belong to the key.

All times are seconds (``time.monotonic``). Never pickles: frames go through protocol.decode.
"""

from __future__ import annotations

import logging
import math
import os
import time
import uuid
from collections import deque
from typing import Any, Callable, Mapping, Sequence

import numpy as np
import zmq

from .avatar import RiggedAvatar
from .avatar_codec import avatar_from_message
from .codec import Message, decode, encode
from .curve_keys import KeySource, load_curve_keys
from .constants import DEFAULT_ADDRESS, MAX_MESSAGE_BYTES, SUPPORTED_VERSIONS, ErrorCode
from .errors import ProtocolError
from .messages import OWNED_KINDS, validate_reply

log = logging.getLogger("doppel.client")

ProgressFn = Callable[[str, float], None]
MAX_INBOX = 10_000       # unclaimed messages kept (oldest dropped first)
MAX_POLL_BATCH = 1000    # poll() returns at most this many messages (the rest stay queued)


def new_identity() -> bytes:
    """A fresh routing id. Routing ids only address replies: jobs belong to the owner token
    (or CURVE key), so keeping a routing id gives no access to anything."""
    return b"doppel-" + uuid.uuid4().hex.encode("ascii")


class Client:
    """A connection to one Doppel server.

    Not thread-safe: use one Client per thread (Blender: the main thread only).
    ``timeout``: seconds a blocking request waits for its reply before raising
    ``ProtocolError(UNREACHABLE)``. ``identity``: ignored (kept for old callers): the server
    names each connection itself, with an id no peer can claim, and jobs belong to the owner
    token, not to a routing id. ``token``: an owner token from an earlier Client's ``token``
    (to see and fetch that client's jobs from a new connection or process).
    ``server_key`` / ``client_key``: CurveZMQ keys (see the module docstring; default
    $DOPPEL_SERVER_KEY / $DOPPEL_CLIENT_KEY). ``retries``: resends of an unanswered blocking
    request, ``backoff`` (first, most) seconds apart, each announced to ``on_event(text)``.
    """

    def __init__(self, address: str = DEFAULT_ADDRESS, timeout: float = 5.0,
                 identity: bytes | None = None, client_name: str = "doppel-client",
                 context: zmq.Context | None = None, server_key: KeySource = None,
                 client_key: KeySource | Sequence[KeySource] = None, retries: int = 0,
                 backoff: tuple[float, float] = (0.5, 8.0),
                 on_event: Callable[[str], None] | None = None, token: str | None = None):
        if timeout <= 0:
            raise ValueError("timeout must be positive (seconds)")
        if retries < 0 or not 0 < backoff[0] <= backoff[1]:
            raise ValueError("retries must be >= 0 and backoff (first, most) seconds, 0 < first "
                             "<= most")
        # $DOPPEL_SERVER_KEY / $DOPPEL_CLIENT_KEY: key files for the CLI's --server.
        server_key = server_key or os.environ.get("DOPPEL_SERVER_KEY") or None
        client_key = client_key or os.environ.get("DOPPEL_CLIENT_KEY") or None
        if client_key and not server_key:
            raise ValueError("a client key pair works only with the server's public key: pass "
                             "server_key (the server.key file) too")
        self.curve = load_curve_keys(server_key, client_key) if server_key else None
        self.retries = int(retries)
        self.backoff = (float(backoff[0]), float(backoff[1]))
        self.on_event = on_event
        if identity is not None and not (0 < len(identity) <= 255 and identity[0] != 0):
            raise ValueError("identity must be 1..255 bytes and must not start with a zero byte")
        self.address = address
        self.timeout = float(timeout)
        self.identity = identity
        self.token = token
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
        # No ROUTING_ID: the server gives the connection an id starting with a zero byte,
        # which no peer may choose, so no one can take this connection's place.
        sock.setsockopt(zmq.MAXMSGSIZE, MAX_MESSAGE_BYTES)
        sock.setsockopt(zmq.RECONNECT_IVL, 100)      # milliseconds (zmq's unit)
        sock.setsockopt(zmq.RECONNECT_IVL_MAX, 2000)
        if self.curve is not None:
            sock.curve_serverkey = self.curve.server_public
            sock.curve_publickey = self.curve.public
            sock.curve_secretkey = self.curve.secret
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
        msg = Message(kind, self._with_token(kind, fields), dict(arrays or {}))
        self._send_message(msg)
        return msg.id

    def _with_token(self, kind: str, fields: Mapping[str, Any] | None) -> dict[str, Any]:
        """``fields`` plus the owner token for job requests (saying hello first if there is
        none yet and the server is not a CURVE server)."""
        out = dict(fields or {})
        if kind in OWNED_KINDS:
            if self.token is None and self.curve is None:
                self.hello()
            if self.token is not None:
                out["token"] = self.token
        return out

    def _send_message(self, msg: Message) -> None:
        try:
            self.socket.send_multipart(encode(msg), flags=zmq.NOBLOCK, copy=False)
        except zmq.Again:
            raise self._unreachable("its send queue is full") from None

    def _tell(self, text: str) -> None:
        log.warning("%s", text)
        if self.on_event is not None:
            self.on_event(text)

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
        ProtocolError with the server's code. Silence for ``timeout`` seconds resets the socket
        (so the stale request is never delivered later) and, while ``self.retries`` allow,
        sends the request again after a back-off (0.5 s, 1 s, 2 s ... up to 8 s); then raises
        UNREACHABLE."""
        try:
            return self._request(kind, fields, arrays, timeout)
        except ProtocolError as exc:
            if exc.code != ErrorCode.NO_OWNER or kind not in OWNED_KINDS or self.curve:
                raise
            self.token = None              # e.g. a server with a new secret: ask for a token
            return self._request(kind, fields, arrays, timeout)

    def _request(self, kind: str, fields: Mapping[str, Any] | None,
                 arrays: Mapping[str, np.ndarray] | None, timeout: float | None) -> Message:
        wait = self.timeout if timeout is None else timeout
        msg = Message(kind, self._with_token(kind, fields), dict(arrays or {}))
        attempts = 1 + self.retries
        for attempt in range(attempts):
            self._send_message(msg)
            reply = self._wait_for(lambda m: m.re == msg.id, wait)
            if reply is not None:
                break
            self.reconnect()
            if attempt + 1 < attempts:
                delay = min(self.backoff[1], self.backoff[0] * 2 ** attempt)
                self._tell(f"no answer from the server at {self.address} within {wait:g} s; "
                           f"retrying {kind} in {delay:g} s (attempt {attempt + 2} of "
                           f"{attempts})")
                time.sleep(delay)
        else:
            raise self._unreachable(f"no answer within {wait:g} s"
                                    + (f", {attempts} attempts" if attempts > 1 else ""))
        if attempt > 0:
            self._tell(f"the server at {self.address} answered again")
        if reply.kind == "error":
            f = reply.fields
            raise ProtocolError(f["code"], f["message"], f.get("job_id"))
        return reply

    # --- the protocol's requests ---------------------------------------------------------------

    def hello(self) -> dict[str, Any]:
        """Server capabilities: version, server_version, job_kinds, body_models, device."""
        fields: dict[str, Any] = {"client": self.client_name,
                                  "versions": list(SUPPORTED_VERSIONS)}
        if self.token is not None:
            fields["token"] = self.token     # stay the owner of earlier jobs
        reply = self.request("hello", fields)
        if reply.fields.get("token"):
            self.token = reply.fields["token"]
        return {k: v for k, v in reply.fields.items() if k != "token"}

    def submit(self, kind: str, params: Mapping[str, Any] | None = None,
               inputs: Mapping[str, np.ndarray] | None = None,
               request_key: str | None = None) -> str:
        """Queue a job; returns its job id. Submitting again with the same ``request_key``
        returns the first job's id instead of starting a second job (without one, a fresh
        key is made, so the client's own retries never start a job twice)."""
        fields: dict[str, Any] = {"job_kind": kind, "params": dict(params or {}),
                                  "request_key": request_key or uuid.uuid4().hex}
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

    def cluster(self) -> dict[str, Any]:
        """What the server computes on: server_version, engine ("local" or "ray") and nodes
        (address, cpus, gpus, running, done; a Ray node also has node_id)."""
        return dict(self.request("cluster", {}).fields)

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
                timeout: float | None = None, request_key: str | None = None) -> RiggedAvatar:
        """Submit a job and wait for its avatar, calling ``on_progress(stage, fraction)``.

        ``timeout``: overall limit in seconds (None: no limit while the server stays alive).
        During silence longer than ``self.timeout`` the job's status is asked, so a dead
        server or a forgotten job raises instead of waiting forever.
        """
        job_id = self.submit(kind, params, inputs, request_key=request_key)
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
