"""protocol.messages: every request and reply kind validates, and every schema violation gets
its stable code, also after a trip through the wire codec."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from protocol import (ErrorCode, Message, ProtocolError, decode, encode, error_message,
                      validate_reply, validate_request)
from protocol.constants import MAX_STRING_CHARS
from protocol.messages import ARRAY_KINDS, REPLIES, REQUESTS

JOB = {"job_id": "a" * 32, "job_kind": "body", "state": "running", "stage": "x",
       "fraction": 0.5}

VALID_REQUESTS = {
    "hello": {"client": "blender 5.0", "versions": [1]},
    "submit": {"job_kind": "body", "params": {"params": {"height": 0.5}},
               "request_key": "k1"},
    "cancel": {"job_id": "a" * 32},
    "status": {"job_id": None},
    "fetch": {"job_id": "a" * 32},
    "ping": {},
    "cluster": {},
}
NODE = {"address": "10.0.0.7", "node_id": "ab12", "cpus": 16.0, "gpus": 1.0, "running": 1,
        "done": 12}
VALID_REPLIES = {
    "hello": {"version": 1, "server_version": "0.1.0", "job_kinds": ["body"],
              "body_models": ["anny"], "device": "cpu"},
    "accepted": {"job_id": "a" * 32, "job_kind": "body"},
    "progress": {"job_id": "a" * 32, "stage": "fit", "fraction": 0.25},
    "result": {"job_id": "a" * 32, "result": {"type": "avatar"}},
    "error": {"code": "bad_params", "message": "height must be a number", "job_id": None},
    "status": {"jobs": [JOB]},
    "pong": {"time": 12.5},
    "cluster": {"server_version": "0.1.0", "engine": "ray", "nodes": [NODE]},
}
SIDES = [(validate_request, REQUESTS, VALID_REQUESTS), (validate_reply, REPLIES, VALID_REPLIES)]


def through_wire(msg: Message) -> Message:
    return decode([bytes(memoryview(f).cast("B")) for f in encode(msg)])


def code_of(validate, msg: Message) -> str:
    with pytest.raises(ProtocolError) as exc:
        validate(through_wire(msg))
    assert exc.value.message
    return exc.value.code


def test_the_examples_cover_every_kind():
    assert set(VALID_REQUESTS) == set(REQUESTS) and set(VALID_REPLIES) == set(REPLIES)


@pytest.mark.parametrize("validate, schema, valid", SIDES)
def test_every_valid_message_passes(validate, schema, valid):
    for kind, fields in valid.items():
        msg = through_wire(Message(kind, fields))
        assert validate(msg) is msg and msg.fields == fields


@pytest.mark.parametrize("validate, schema, valid", SIDES)
def test_unknown_kinds_are_refused(validate, schema, valid):
    for kind in ("launch", "", "HELLO", "hello "):
        assert code_of(validate, Message(kind, {})) == ErrorCode.UNKNOWN_KIND


def test_replies_are_not_requests_and_vice_versa():
    assert code_of(validate_request, Message("pong", {"time": 1.0})) == ErrorCode.UNKNOWN_KIND
    assert code_of(validate_reply, Message("submit", VALID_REQUESTS["submit"])) == \
        ErrorCode.UNKNOWN_KIND


def _cases(schema, valid, pick):
    return [(kind, name) for kind, spec in schema.items() for name, entry in spec.items()
            if pick(entry)]


@pytest.mark.parametrize("validate, schema, valid", SIDES)
def test_each_missing_required_field_is_named(validate, schema, valid):
    cases = _cases(schema, valid, lambda entry: entry[1])
    assert cases
    for kind, name in cases:
        fields = {k: v for k, v in valid[kind].items() if k != name}
        with pytest.raises(ProtocolError) as exc:
            validate(through_wire(Message(kind, fields)))
        assert exc.value.code == ErrorCode.MISSING_FIELD and name in exc.value.message


@pytest.mark.parametrize("validate, schema, valid", SIDES)
def test_extra_fields_are_refused(validate, schema, valid):
    for kind, fields in valid.items():
        assert code_of(validate, Message(kind, {**fields, "surprise": 1})) == \
            ErrorCode.EXTRA_FIELD


WRONG_VALUES = (12345, "text", [1.5], {"a": 1}, None, -1.0, True, [])


@pytest.mark.parametrize("validate, schema, valid", SIDES)
def test_each_field_with_a_wrong_type_is_refused(validate, schema, valid):
    for kind, spec in schema.items():
        for name, (check, _, what) in spec.items():
            wrong = next(v for v in WRONG_VALUES if not check(v))
            with pytest.raises(ProtocolError) as exc:
                validate(through_wire(Message(kind, {**valid[kind], name: wrong})))
            assert exc.value.code == ErrorCode.BAD_TYPE, (kind, name)
            assert name in exc.value.message and what in exc.value.message


@pytest.mark.parametrize("kind, fields", [
    ("progress", {**VALID_REPLIES["progress"], "fraction": 1.5}),
    ("progress", {**VALID_REPLIES["progress"], "fraction": -0.1}),
    ("progress", {**VALID_REPLIES["progress"], "fraction": "half"}),
    ("hello", {**VALID_REPLIES["hello"], "version": True}),        # bool is not an int
    ("hello", {**VALID_REPLIES["hello"], "job_kinds": ["body", 3]}),
    ("status", {"jobs": [{**JOB, "state": "exploded"}]}),
    ("status", {"jobs": [{**JOB, "job_id": 5}]}),
    ("status", {"jobs": [JOB, "not a record"]}),
    ("error", {"code": "x", "message": "m" * (MAX_STRING_CHARS + 1)}),
    ("cluster", {**VALID_REPLIES["cluster"], "engine": "slurm"}),
    ("cluster", {**VALID_REPLIES["cluster"], "nodes": [{**NODE, "running": 1.5}]}),
    ("cluster", {**VALID_REPLIES["cluster"], "nodes": [{**NODE, "gpus": None}]}),
])
def test_value_checks_inside_reply_fields(kind, fields):
    assert code_of(validate_reply, Message(kind, fields)) == ErrorCode.BAD_TYPE


def test_request_value_checks():
    assert code_of(validate_request, Message("hello", {"client": "c", "versions": [True]})) == \
        ErrorCode.BAD_TYPE
    assert code_of(validate_request, Message("hello", {"client": "c", "versions": "1"})) == \
        ErrorCode.BAD_TYPE
    assert code_of(validate_request, Message("cancel", {"job_id": "x" * (MAX_STRING_CHARS + 1)})
                   ) == ErrorCode.BAD_TYPE


def test_only_submit_and_result_carry_arrays():
    arr = {"image": np.zeros((2, 2, 3), np.uint8)}
    for validate, schema, valid in SIDES:
        for kind, fields in valid.items():
            msg = Message(kind, fields, arr)
            if kind in ARRAY_KINDS:
                assert validate(through_wire(msg)).arrays["image"].shape == (2, 2, 3)
            else:
                assert code_of(validate, msg) == ErrorCode.BAD_ARRAY, kind


@settings(max_examples=60, deadline=None)
@given(code=st.sampled_from([v for k, v in vars(ErrorCode).items() if not k.startswith("_")]),
       text=st.text(min_size=1, max_size=200), job_id=st.none() | st.text(max_size=32),
       re=st.none() | st.text(max_size=32))
def test_protocol_errors_travel_as_valid_error_replies(code, text, job_id, re):
    msg = through_wire(error_message(ProtocolError(code, text, job_id), re=re))
    validate_reply(msg)
    assert (msg.kind, msg.re) == ("error", re)
    assert msg.fields == {"code": code, "message": text, "job_id": job_id}
