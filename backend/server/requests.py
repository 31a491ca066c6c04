"""What the server does with each request kind (hello, ping, submit, cancel, status, fetch).

A mixin of Server (router.py): these run on the socket thread with the sending Peer (its
routing id and, once authenticated, its owner) and a validated Message, and return the reply
(a Message, or already-encoded frames for a result).

Jobs belong to their owner (owners.py): status, fetch and cancel of another owner's job answer
exactly as for a job that does not exist, so job ids are worth nothing to anyone else.
"""

from __future__ import annotations

import logging
import time
import uuid
from dataclasses import dataclass

from protocol import (SUPPORTED_VERSIONS, ErrorCode, Message, ProtocolError, avatar_message,
                      encode)

from .. import __version__
from .jobs import JobRecord, WorkItem
from .limits import budget_check
from .logsafe import printable
from .store import check_job_id


@dataclass(frozen=True)
class Peer:
    route: bytes                 # routing id: where replies go; proves nothing
    owner: bytes | None          # authenticated owner, None before hello (no CURVE)

log = logging.getLogger("doppel.server")


class RequestHandlers:
    """``_on_<kind>(identity, msg)`` for every request kind; needs the Server's table,
    store, pool, job_kinds(), max_queued, address and _finish()."""

    def job_kinds(self) -> list[str]:
        return sorted(self.job_specs)

    def _on_hello(self, peer: Peer, msg: Message) -> Message:
        common = set(msg.fields["versions"]) & set(SUPPORTED_VERSIONS)
        if not common:
            raise ProtocolError(ErrorCode.BAD_VERSION,
                                f"the client speaks protocol versions {msg.fields['versions']} "
                                f"and this server {list(SUPPORTED_VERSIONS)}: update the older "
                                f"of the add-on and the server")
        from ..bodies import available_body_models
        log.info("hello from %s (%s)", who(peer.route), printable(msg.fields["client"]))
        fields = {"version": max(common), "server_version": __version__,
                  "job_kinds": self.job_kinds(), "body_models": available_body_models(),
                  "device": self.device}
        if self.keys is None:        # CURVE servers own jobs by key; others hand out tokens
            fields["token"] = self.owners.issue(msg.fields.get("token"))
        return Message("hello", fields, re=msg.id)

    def _on_ping(self, peer: Peer, msg: Message) -> Message:
        return Message("pong", {"time": time.time()}, re=msg.id)

    def _on_submit(self, peer: Peer, msg: Message) -> Message:
        kind, key = msg.fields["job_kind"], msg.fields.get("request_key")
        if key is not None:
            earlier = self.table.by_key(peer.owner, key)
            if earlier is not None:
                return _accepted(earlier, msg.id)
        kinds = self.job_kinds()
        if kind not in kinds:
            raise ProtocolError(ErrorCode.UNKNOWN_JOB_KIND, f"unknown job kind {kind!r:.60}; "
                                f"this server runs {', '.join(kinds)}")
        if self.table.active_count() >= self.max_queued:
            raise ProtocolError(ErrorCode.BUSY, f"the server is busy: {self.max_queued} jobs "
                                f"are queued or running; try again when some have finished")
        size = sum(int(a.nbytes) for a in msg.arrays.values())
        budget_check(self.limits, *self.table.usage(peer.owner), size)
        rec = JobRecord(uuid.uuid4().hex, kind, peer.owner, msg.id, request_key=key,
                        route=peer.route, input_bytes=size)
        rec.item = WorkItem(rec.job_id, kind, msg.id, self.job_specs.get(kind, ""),
                            msg.fields["params"], msg.arrays, rec.cancel_event)
        self.table.add(rec)
        self.pool.submit(rec.item)
        log.info("job %s (%s) queued", rec.job_id, kind)     # no client name beside a job id
        return _accepted(rec, msg.id)

    def _owned(self, peer: Peer, job_id: str) -> JobRecord | None:
        """The live record of ``peer``'s job ``job_id``; NOT_FOUND for anyone else's."""
        rec = self.table.get(job_id)
        if rec is not None and rec.owner != peer.owner:
            raise _not_found(job_id)
        return rec

    def _owned_stored(self, peer: Peer, job_id: str) -> dict:
        """The on-disk record of ``peer``'s job; NOT_FOUND for anyone else's or none."""
        d = self.table.disk.load(job_id) if self.table.disk is not None else None
        if d is None or bytes.fromhex(str(d.get("owner") or "")) != peer.owner:
            raise _not_found(job_id)
        record = self.table.stored(job_id)
        if record is None:
            raise _not_found(job_id)
        return record

    def _on_cancel(self, peer: Peer, msg: Message) -> Message:
        job_id = check_job_id(msg.fields["job_id"])
        rec = self._owned(peer, job_id)
        if rec is None:
            return self._status_reply([self._owned_stored(peer, job_id)], msg.id)
        if not rec.terminal:
            rec.cancel_event.set()
            log.info("job %s cancel requested", job_id)
            if rec.state == "queued":   # never started: it ends now, the worker will skip it
                self._finish(rec, "cancelled", ErrorCode.CANCELLED,
                             f"job {job_id} ({rec.job_kind}) was cancelled before it started")
        return self._status_reply([rec], msg.id)

    def _on_status(self, peer: Peer, msg: Message) -> Message:
        job_id = msg.fields.get("job_id")
        if job_id is None:
            return self._status_reply(self.table.owned_by(peer.owner), msg.id)
        rec = self._owned(peer, check_job_id(job_id))
        return self._status_reply([rec if rec is not None else
                                   self._owned_stored(peer, job_id)], msg.id)

    def _on_fetch(self, peer: Peer, msg: Message) -> list:
        job_id = check_job_id(msg.fields["job_id"])
        if self.backed_up(peer.route):
            raise ProtocolError(ErrorCode.BUSY, "earlier replies to you are still waiting to "
                                "be read; read them before fetching more", job_id)
        rec = self._owned(peer, job_id)
        record = rec.as_dict() if rec is not None else self._owned_stored(peer, job_id)
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

    def _status_reply(self, records: list, re: str) -> Message:
        jobs = [r.as_dict() if isinstance(r, JobRecord) else r for r in records]
        return Message("status", {"jobs": jobs}, re=re)


def _not_found(job_id: str) -> ProtocolError:
    return ProtocolError(ErrorCode.NOT_FOUND, f"this server knows no job {job_id} of yours (it "
                         f"may have been deleted after the server's keep time)", job_id)


def _accepted(rec: JobRecord, re: str) -> Message:
    return Message("accepted", {"job_id": rec.job_id, "job_kind": rec.job_kind}, re=re)


def who(identity: bytes) -> str:
    text = identity.decode("ascii", "replace")
    return text if text.isprintable() and identity.isascii() else identity.hex()
