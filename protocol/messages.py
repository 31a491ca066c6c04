"""The message schema: which kinds exist in each direction and what fields they carry.

``validate_request`` runs on everything a server receives, ``validate_reply`` on everything a
client receives; both raise ProtocolError with a stable code before any field is used.
"""

from __future__ import annotations

from typing import Any, Callable

from .codec import Message
from .constants import JOB_STATES, MAX_STRING_CHARS, ErrorCode
from .errors import ProtocolError

Check = Callable[[Any], bool]


def _str(v: Any) -> bool:
    return isinstance(v, str) and len(v) <= MAX_STRING_CHARS


def _opt_str(v: Any) -> bool:
    return v is None or _str(v)


def _int(v: Any) -> bool:
    return type(v) is int


def _num(v: Any) -> bool:
    return type(v) in (int, float)


def _fraction(v: Any) -> bool:
    return _num(v) and 0.0 <= v <= 1.0


def _dict(v: Any) -> bool:
    return isinstance(v, dict)


def _list_of(check: Check) -> Check:
    return lambda v: isinstance(v, list) and all(check(x) for x in v)


def _node(v: Any) -> bool:
    return (isinstance(v, dict) and _str(v.get("address")) and _num(v.get("cpus"))
            and _num(v.get("gpus")) and _int(v.get("running")) and _int(v.get("done")))


def _job(v: Any) -> bool:
    return (isinstance(v, dict) and _str(v.get("job_id")) and _str(v.get("job_kind"))
            and v.get("state") in JOB_STATES)


# kind -> {field: (check, required, what the type should be)}
Schema = dict[str, dict[str, tuple[Check, bool, str]]]

def _token(v: Any) -> bool:
    return isinstance(v, str) and len(v) <= 256


# ``token``: the owner token a server hands out in its hello reply (servers without CURVE);
# a client sends it with every later request, and may offer an earlier one in hello to stay
# the owner of its jobs across reconnects. CURVE servers own jobs by the client's key instead.
_TOKEN = (_token, False, "a token string from the server's hello reply")

REQUESTS: Schema = {
    "hello": {"client": (_str, True, "a string"),
              "versions": (_list_of(_int), True, "a list of integers"),
              "token": _TOKEN},
    "submit": {"job_kind": (_str, True, "a string"),
               "params": (_dict, True, "an object"),
               "request_key": (_opt_str, False, "a string"), "token": _TOKEN},
    "cancel": {"job_id": (_str, True, "a string"), "token": _TOKEN},
    "status": {"job_id": (_opt_str, False, "a string"), "token": _TOKEN},
    "fetch": {"job_id": (_str, True, "a string"), "token": _TOKEN},
    "ping": {},
    "cluster": {},     # what the server computes on: engine and nodes (`doppel status`)
}

# Requests that act on jobs: they need an owner (a token, or a CURVE key).
OWNED_KINDS = ("submit", "cancel", "status", "fetch")

REPLIES: Schema = {
    "hello": {"version": (_int, True, "an integer"),
              "server_version": (_str, True, "a string"),
              "job_kinds": (_list_of(_str), True, "a list of strings"),
              "body_models": (_list_of(_str), True, "a list of strings"),
              "device": (_str, True, "a string"),
              "token": (_token, False, "a token string")},
    "accepted": {"job_id": (_str, True, "a string"), "job_kind": (_str, True, "a string")},
    "progress": {"job_id": (_str, True, "a string"), "stage": (_str, True, "a string"),
                 "fraction": (_fraction, True, "a number from 0 to 1")},
    "result": {"job_id": (_str, True, "a string"), "result": (_dict, True, "an object")},
    "error": {"code": (_str, True, "a string"), "message": (_str, True, "a string"),
              "job_id": (_opt_str, False, "a string")},
    "status": {"jobs": (_list_of(_job), True, "a list of job records")},
    "pong": {"time": (_num, True, "a number")},
    "cluster": {"server_version": (_str, True, "a string"),
                "engine": (lambda v: v in ("local", "ray"), True, "'local' or 'ray'"),
                "nodes": (_list_of(_node), True, "a list of node records (address, cpus, "
                          "gpus, running, done)")},
}

# Only these kinds may carry binary frames.
ARRAY_KINDS = {"submit", "result"}


def _validate(msg: Message, schema: Schema, side: str) -> Message:
    spec = schema.get(msg.kind)
    if spec is None:
        raise ProtocolError(ErrorCode.UNKNOWN_KIND,
                            f"unknown {side} kind {msg.kind!r}; expected one of "
                            f"{', '.join(sorted(schema))}")
    missing = [k for k, (_, req, _) in spec.items() if req and k not in msg.fields]
    if missing:
        raise ProtocolError(ErrorCode.MISSING_FIELD,
                            f"'{msg.kind}' message lacks field(s) {', '.join(missing)}")
    extra = sorted(set(msg.fields) - set(spec))
    if extra:
        raise ProtocolError(ErrorCode.EXTRA_FIELD,
                            f"'{msg.kind}' message has unknown field(s) {', '.join(extra)}")
    for name, value in msg.fields.items():
        check, _, what = spec[name]
        if not check(value):
            raise ProtocolError(ErrorCode.BAD_TYPE,
                                f"field '{name}' of '{msg.kind}' must be {what}, got {value!r:.80}")
    if msg.arrays and msg.kind not in ARRAY_KINDS:
        raise ProtocolError(ErrorCode.BAD_ARRAY, f"'{msg.kind}' messages carry no arrays")
    return msg


def validate_request(msg: Message) -> Message:
    """Check a client -> server message."""
    return _validate(msg, REQUESTS, "request")


def validate_reply(msg: Message) -> Message:
    """Check a server -> client message."""
    return _validate(msg, REPLIES, "reply")


def error_message(err: ProtocolError, re: str | None = None) -> Message:
    """The reply that carries a ProtocolError back to a client."""
    fields = {"code": err.code, "message": err.message, "job_id": err.job_id}
    return Message("error", fields, re=re)
