"""protocol.codec: Message <-> frames round-trips exactly; every malformed message gets its
stable error code; nothing from the wire is ever unpickled."""

from __future__ import annotations

import json
import pickle
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from protocol import ErrorCode, Message, ProtocolError, decode, encode
from protocol.constants import ALLOWED_DTYPES, MAX_ARRAYS, MAX_HEADER_BYTES, MAX_MESSAGE_BYTES

PROTOCOL_DIR = Path(__file__).resolve().parents[1] / "protocol"


def wire(frames: list) -> list[bytes]:
    """What the other side receives: plain bytes per frame."""
    return [bytes(memoryview(f).cast("B")) for f in frames]


def header(**over) -> dict:
    h = {"v": 1, "kind": "submit", "id": "abc", "re": None, "fields": {}, "arrays": []}
    h.update(over)
    return h


def raw(h: dict, *data: bytes) -> list[bytes]:
    return [json.dumps(h).encode(), *data]


def code_of(frames) -> str:
    with pytest.raises(ProtocolError) as exc:
        decode(frames)
    assert exc.value.message    # always a sentence for people
    return exc.value.code


# --- round trips ------------------------------------------------------------------------------

json_scalars = st.none() | st.booleans() | st.integers(-2**53, 2**53) | \
    st.floats(allow_nan=False, allow_infinity=False) | st.text(max_size=20)
json_values = st.recursive(json_scalars, lambda kids: st.lists(kids, max_size=4) |
                           st.dictionaries(st.text(max_size=8), kids, max_size=4), max_leaves=12)
any_array = st.sampled_from(ALLOWED_DTYPES).flatmap(
    lambda dt: hnp.arrays(np.dtype(dt), hnp.array_shapes(min_dims=0, max_dims=4, min_side=0,
                                                         max_side=5)))


@settings(max_examples=150, deadline=None)
@given(kind=st.text(min_size=1, max_size=20),
       fields=st.dictionaries(st.text(max_size=10), json_values, max_size=5),
       arrays=st.dictionaries(st.text(min_size=1, max_size=12), any_array, max_size=4),
       re=st.none() | st.text(max_size=40))
def test_every_allowed_dtype_and_shape_round_trips_exactly(kind, fields, arrays, re):
    msg = Message(kind, fields, arrays, re=re)
    back = decode(wire(encode(msg)))
    assert (back.kind, back.fields, back.id, back.re, back.version) == \
        (kind, fields, msg.id, re, 1)
    assert list(back.arrays) == list(arrays)
    for name, a in arrays.items():
        b = back.arrays[name]
        assert b.dtype == a.dtype.newbyteorder("<") and b.shape == a.shape
        assert b.tobytes() == np.ascontiguousarray(a).tobytes()    # bit-exact (NaN payloads too)


def test_big_endian_and_strided_arrays_arrive_as_little_endian_values():
    big = np.arange(12, dtype=">f8").reshape(3, 4)
    strided = np.arange(40, dtype=np.int16).reshape(5, 8)[::2, 1::3]
    back = decode(wire(encode(Message("x", arrays={"big": big, "strided": strided}))))
    assert back.arrays["big"].dtype == np.dtype("<f8")
    assert np.array_equal(back.arrays["big"], big)
    assert np.array_equal(back.arrays["strided"], strided)


def test_contiguous_arrays_are_sent_without_copying():
    a = np.arange(1000, dtype=np.float32)
    frames = encode(Message("x", arrays={"a": a}))
    assert np.shares_memory(np.frombuffer(frames[1], dtype=np.float32), a)


def test_values_that_json_cannot_carry_are_refused_on_encode():
    with pytest.raises(ValueError):
        encode(Message("x", {"f": float("nan")}))


# --- malformed input: every failure has its code ----------------------------------------------

def test_header_failures_have_stable_codes():
    assert code_of([]) == ErrorCode.BAD_FRAME
    assert code_of([b"\xff\xfe not utf8"]) == ErrorCode.BAD_FRAME
    assert code_of([b"{not json"]) == ErrorCode.BAD_FRAME
    assert code_of([b'"a string"']) == ErrorCode.BAD_FRAME
    assert code_of(raw(header(v=2))) == ErrorCode.BAD_VERSION
    assert code_of(raw(header(v="1"))) == ErrorCode.BAD_VERSION
    assert code_of(raw(header(v=True))) == ErrorCode.BAD_VERSION
    no_v = header()
    del no_v["v"]
    assert code_of(raw(no_v)) == ErrorCode.BAD_VERSION
    for key in ("kind", "id", "fields", "arrays"):
        h = header()
        del h[key]
        assert code_of(raw(h)) == ErrorCode.MISSING_FIELD, key
    assert code_of(raw(header(extra=1))) == ErrorCode.EXTRA_FIELD
    assert code_of(raw(header(kind=3))) == ErrorCode.BAD_TYPE
    assert code_of(raw(header(id=None))) == ErrorCode.BAD_TYPE
    assert code_of(raw(header(re=5))) == ErrorCode.BAD_TYPE
    assert code_of(raw(header(id="x" * 129))) == ErrorCode.BAD_TYPE
    assert code_of(raw(header(fields=[]))) == ErrorCode.BAD_TYPE
    assert code_of(raw(header(arrays={}))) == ErrorCode.BAD_TYPE


def test_oversize_header_and_message_are_too_large():
    assert code_of([b" " * (MAX_HEADER_BYTES + 1)]) == ErrorCode.TOO_LARGE
    decls = [{"name": f"a{i}", "dtype": "uint8", "shape": [0], "nbytes": 0}
             for i in range(MAX_ARRAYS + 1)]
    assert code_of(raw(header(arrays=decls), *[b""] * len(decls))) == ErrorCode.TOO_LARGE
    # np.zeros maps lazily-zeroed pages: the size check must reject it before reading it.
    huge = np.zeros(MAX_MESSAGE_BYTES, dtype=np.uint8)
    decl = [{"name": "a", "dtype": "uint8", "shape": [huge.size], "nbytes": huge.size}]
    assert code_of(raw(header(arrays=decl), memoryview(huge), b"x")) == ErrorCode.TOO_LARGE


def decl(**over) -> dict:
    d = {"name": "a", "dtype": "float32", "shape": [2, 2], "nbytes": 16}
    d.update(over)
    return d


@pytest.mark.parametrize("bad, data", [
    (decl(nbytes=12), b"\0" * 12),                       # declaration inconsistent
    (decl(), b"\0" * 12),                                # frame shorter than declared
    (decl(), b"\0" * 20),                                # frame longer than declared
    (decl(dtype="object", nbytes=32), b"\0" * 32),       # never an object array
    (decl(dtype="complex64", nbytes=32), b"\0" * 32),
    (decl(dtype=">f4"), b"\0" * 16),                     # byte order is fixed, not declared
    (decl(dtype="O"), b"\0" * 16),
    (decl(shape=[-2, -2]), b"\0" * 16),
    (decl(shape=[2.0, 2]), b"\0" * 16),
    (decl(shape=[1] * 9, nbytes=4), b"\0" * 4),          # too many dimensions
    (decl(name=""), b"\0" * 16),
    (decl(name=7), b"\0" * 16),
    (decl(nbytes="16"), b"\0" * 16),
    ({"name": "a", "dtype": "float32", "shape": [4]}, b"\0" * 16),   # missing nbytes
    ({**decl(), "offset": 0}, b"\0" * 16),
    ("a", b"\0" * 16),
])
def test_array_declarations_are_checked_against_frames(bad, data):
    assert code_of(raw(header(arrays=[bad]), data)) == ErrorCode.BAD_ARRAY


def test_frame_count_and_duplicate_names_are_checked():
    assert code_of(raw(header(arrays=[decl()]))) == ErrorCode.BAD_ARRAY
    assert code_of(raw(header(arrays=[]), b"stray")) == ErrorCode.BAD_ARRAY
    assert code_of(raw(header(arrays=[decl(), decl()]), b"\0" * 16, b"\0" * 16)) == \
        ErrorCode.BAD_ARRAY


def test_encode_refuses_dtypes_the_wire_cannot_carry():
    for bad in (np.array([1, "a"], dtype=object), np.zeros(2, np.complex64),
                np.array(["ab"]), np.zeros(2, dtype=[("x", "f4")])):
        with pytest.raises(ProtocolError) as exc:
            encode(Message("x", arrays={"a": bad}))
        assert exc.value.code == ErrorCode.BAD_ARRAY


# --- no pickle --------------------------------------------------------------------------------

UNPICKLED = []


def _canary() -> str:
    UNPICKLED.append(True)
    return "unpickled!"


class Canary:
    def __reduce__(self):
        return (_canary, ())


def test_a_pickle_payload_stays_bytes_and_is_never_unpickled():
    payload = pickle.dumps({"evil": Canary()})
    pickle_decl = {"name": "p", "dtype": "uint8", "shape": [len(payload)],
                   "nbytes": len(payload)}
    msg = decode(raw(header(arrays=[pickle_decl]), payload))
    assert msg.arrays["p"].dtype == np.uint8 and msg.arrays["p"].tobytes() == payload
    # The payload also travels through a full avatar file load without being run.
    from protocol import avatar_from_bytes
    with pytest.raises(ProtocolError):
        avatar_from_bytes(b"DOPPELAV" + payload)
    assert UNPICKLED == []
    pickle.loads(payload)            # the canary works: unpickling would have been noticed
    assert UNPICKLED == [True]


def test_protocol_package_never_imports_pickle():
    for path in PROTOCOL_DIR.glob("*.py"):
        text = path.read_text()
        for banned in ("import pickle", "allow_pickle=True", "np.load(", "marshal"):
            assert banned not in text, f"{path.name} uses {banned}"


def test_decoded_arrays_are_read_only_views_of_the_frames():
    frames = wire(encode(Message("x", arrays={"a": np.arange(4, dtype=np.int32)})))
    a = decode(frames).arrays["a"]
    assert not a.flags.writeable           # a job cannot scribble over a received buffer
