"""Follow one server job without ever blocking: a Blender timer or modal operator calls
:meth:`JobWatch.step` a few times a second and reads the state. bpy-free.

Only non-blocking client calls are used (``Client.send`` / ``Client.poll(0)``), so a dead or
slow server can never freeze Blender's UI; silence is detected by deadlines instead.
"""

from __future__ import annotations

import importlib
import time
from typing import Any, Mapping

import numpy as np

from ..deps import protocol

ErrorCode = protocol.ErrorCode
ProtocolError = protocol.ProtocolError

ACTIVE = ("submitting", "queued", "running", "cancelling")


def new_client(address: str, timeout: float, client_name: str = "blender",
               identity: bytes | None = None, server_key: str | None = None,
               client_key: str | None = None, token: str | None = None):
    """A protocol.client.Client (imported on first use: it needs pyzmq, which an installed
    extension gets from its bundled wheels). Keep the client's ``token`` (its owner token,
    from the server's hello) and pass it back as ``token`` to be the same owner across
    restarts (job list and request keys are per owner). ``identity`` is ignored (kept for old
    callers). ``server_key`` / ``client_key``: CurveZMQ key files for a server on another
    machine (None: plain loopback; with keys, jobs belong to the client key)."""
    client_mod = importlib.import_module(protocol.__name__ + ".client")
    return client_mod.Client(address, timeout=timeout, client_name=client_name,
                             identity=identity, server_key=server_key, client_key=client_key,
                             token=token)


class JobWatch:
    """One job's life: submitting -> queued/running -> done | failed | cancelled.

    ``reply_timeout``: seconds of silence after which the server is asked for the job's
    status, and after which an unanswered request means the server is unreachable.
    After ``done``, ``avatar`` holds the RiggedAvatar; after ``failed``, ``error`` holds the
    ProtocolError (code + message for the user).
    """

    def __init__(self, client: Any, kind: str, params: Mapping[str, Any] | None = None,
                 inputs: Mapping[str, np.ndarray] | None = None, reply_timeout: float = 5.0,
                 request_key: str | None = None):
        self.client = client
        self.kind = kind
        self.reply_timeout = float(reply_timeout)
        self.state = "submitting"
        self.stage = "submitting"
        self.fraction = 0.0
        self.job_id: str | None = None
        self.stages: list[str] = []     # distinct progress stages, in the order they came
        self.avatar = None
        self.error: ProtocolError | None = None
        self._waiting_for: str | None = None      # id of the request we await a reply to
        self._last_heard = time.monotonic()
        fields: dict[str, Any] = {"job_kind": kind, "params": dict(params or {})}
        if request_key is not None:
            # The server answers a repeated key with the first job (resuming a batch).
            fields["request_key"] = request_key
        try:
            self._waiting_for = client.send("submit", fields, dict(inputs or {}))
        except ProtocolError as exc:
            self._fail(exc)

    @property
    def active(self) -> bool:
        return self.state in ACTIVE

    def step(self, now: float | None = None) -> bool:
        """Handle every message that has arrived; returns True while the job is active."""
        if not self.active:
            return False
        try:
            for msg in self.client.poll(0.0):
                self._handle(msg)
        except ProtocolError as exc:
            self._fail(exc)
        now = time.monotonic() if now is None else now
        if self.active and now - self._last_heard > self.reply_timeout:
            self._on_silence()
        return self.active

    def cancel(self) -> None:
        """Ask the server to stop the job; the state becomes ``cancelled`` at once (a late
        result is ignored)."""
        if not self.active:
            return
        if self.job_id is not None:
            try:
                self.client.send("cancel", {"job_id": self.job_id})
            except ProtocolError:
                pass  # the server is gone: nothing left to stop
        self.state = "cancelled"
        self.stage = "cancelled"

    # --- internals ----------------------------------------------------------------------

    def _fail(self, exc: ProtocolError) -> None:
        self.error = exc
        self.state = "failed"

    def _handle(self, msg: Any) -> None:
        fields = msg.fields
        ours = (msg.re is not None and msg.re == self._waiting_for) or (
            self.job_id is not None and fields.get("job_id") == self.job_id)
        if not ours:
            return
        self._last_heard = time.monotonic()
        if msg.re is not None and msg.re == self._waiting_for:
            self._waiting_for = None
        kind = msg.kind
        if kind == "accepted":
            self.job_id = fields["job_id"]
            self.state = "queued"
        elif kind == "progress":
            self.state, self.stage, self.fraction = "running", fields["stage"], fields["fraction"]
            if not self.stages or self.stages[-1] != self.stage:
                self.stages.append(self.stage)
        elif kind == "result":
            self.avatar = protocol.avatar_from_message(msg)
            self.state, self.stage, self.fraction = "done", "done", 1.0
        elif kind == "error":
            self._fail(ProtocolError(fields["code"], fields["message"], self.job_id))
        elif kind == "status":
            self._on_status(fields["jobs"])

    def _on_status(self, jobs: list[dict]) -> None:
        record = next((j for j in jobs if j.get("job_id") == self.job_id), None)
        if record is None:
            self._fail(ProtocolError(ErrorCode.NOT_FOUND, f"the server no longer knows job "
                                     f"{self.job_id}; submit it again", self.job_id))
        elif record["state"] == "done":
            # The result event was missed (e.g. after a reconnect): fetch it from disk.
            self._waiting_for = self.client.send("fetch", {"job_id": self.job_id})
        elif record["state"] in ("failed", "cancelled"):
            self._fail(ProtocolError(record.get("code") or ErrorCode.JOB_FAILED,
                                     record.get("message") or f"the job {record['state']}",
                                     self.job_id))

    def _on_silence(self) -> None:
        if self._waiting_for is not None or self.job_id is None:
            self._fail(ProtocolError(
                ErrorCode.UNREACHABLE,
                f"cannot reach server at {self.client.address} (no answer within "
                f"{self.reply_timeout:g} s); start it with `doppel serve` or check the address "
                f"in the Doppel preferences"))
            return
        # A long stage may send no progress for a while: ask whether the job still exists.
        self._waiting_for = self.client.send("status", {"job_id": self.job_id})
        self._last_heard = time.monotonic()


class HelloWatch:
    """Non-blocking ``hello``: ``step()`` until ``done``; then ``info`` (server capabilities:
    version, server_version, job_kinds, body_models, device) or ``error``. A ``cluster`` request
    rides along: ``nodes`` is the server's node count (None from a server that predates it)."""

    def __init__(self, client: Any, reply_timeout: float = 3.0, client_name: str = "blender"):
        self.client = client
        self.deadline = time.monotonic() + float(reply_timeout)
        self.reply_timeout = float(reply_timeout)
        self.info: dict[str, Any] | None = None
        self.error: ProtocolError | None = None
        self.nodes: int | None = None
        self._cluster_id: str | None = None
        try:
            self._id = client.send("hello", {"client": client_name,
                                             "versions": list(protocol.SUPPORTED_VERSIONS)})
            self._cluster_id = client.send("cluster", {})
        except ProtocolError as exc:
            self.error, self._id = exc, None

    @property
    def done(self) -> bool:
        return (self.info is not None and self._cluster_id is None) or self.error is not None

    def step(self, now: float | None = None) -> bool:
        """Returns True while still waiting."""
        if self.done:
            return False
        try:
            for msg in self.client.poll(0.0):
                if msg.re == self._cluster_id and msg.re is not None:
                    if msg.kind == "cluster":
                        self.nodes = len(msg.fields["nodes"])
                    self._cluster_id = None
                    continue
                if msg.re != self._id:
                    continue
                if msg.kind == "error":
                    self.error = ProtocolError(msg.fields["code"], msg.fields["message"])
                else:
                    fields = dict(msg.fields)
                    token = fields.pop("token", None)
                    if token and getattr(self.client, "token", None) is None:
                        self.client.token = token      # the owner token for later jobs
                    self.info = fields
        except ProtocolError as exc:
            self.error = exc
        if not self.done and (time.monotonic() if now is None else now) > self.deadline:
            self.error = ProtocolError(
                ErrorCode.UNREACHABLE,
                f"cannot reach server at {self.client.address} (no answer within "
                f"{self.reply_timeout:g} s); start it with `doppel serve` or check the address")
        return not self.done
