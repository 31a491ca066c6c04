"""The avatar format: exact round trips through parts, messages and .doppel files; broken
avatars and corrupt files are refused with BAD_FILE, never with another exception."""

from __future__ import annotations

import struct

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from avatar_samples import assert_avatars_equal, tiny_avatar
from protocol import (ErrorCode, Message, ProtocolError, avatar_from_bytes, avatar_from_message,
                      avatar_from_parts, avatar_message, avatar_to_parts, decode, encode,
                      load_avatar, save_avatar)
from protocol.avatar_codec import FILE_MAGIC


def over_wire(msg: Message) -> Message:
    return decode([bytes(memoryview(f).cast("B")) for f in encode(msg)])


def file_bytes(avatar, tmp_path) -> bytes:
    return save_avatar(avatar, tmp_path / "a.doppel").read_bytes()


def bad_file_code(data: bytes) -> str:
    with pytest.raises(ProtocolError) as exc:
        avatar_from_bytes(data)
    assert exc.value.message
    return exc.value.code


# --- round trips ------------------------------------------------------------------------------

@settings(max_examples=40, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(bones=st.integers(1, 8), seed=st.integers(0, 2**31), extras=st.booleans(),
       name=st.text(min_size=1, max_size=30))
def test_synthetic_avatars_round_trip_exactly(tmp_path, bones, seed, extras, name):
    av = tiny_avatar(name, bones=bones, seed=seed, extras=extras)
    desc, arrays = avatar_to_parts(av)
    assert_avatars_equal(avatar_from_parts(desc, arrays), av)
    msg = over_wire(avatar_message(av, job_id="j1", re="r1"))
    assert (msg.kind, msg.re, msg.fields["job_id"]) == ("result", "r1", "j1")
    assert_avatars_equal(avatar_from_message(msg), av)
    assert_avatars_equal(load_avatar(save_avatar(av, tmp_path / "x.doppel")), av)


def test_the_real_anny_body_round_trips_exactly(anny_avatar, tmp_path):
    assert anny_avatar.skeleton.bone_count == 104
    body = anny_avatar.layer("body")
    assert body.vertices.shape[0] > 10_000 and body.texture and body.uvs is not None
    assert_avatars_equal(avatar_from_message(over_wire(avatar_message(anny_avatar, "j"))),
                         anny_avatar)
    path = save_avatar(anny_avatar, tmp_path / "anny.doppel")
    assert_avatars_equal(load_avatar(path), anny_avatar)
    assert not list(tmp_path.glob("*.part"))      # the atomic write left nothing behind


def test_save_replaces_an_existing_file(tmp_path):
    path = tmp_path / "same.doppel"
    save_avatar(tiny_avatar("First"), path)
    save_avatar(tiny_avatar("Second", bones=5), path)
    assert load_avatar(path).name == "Second" and load_avatar(path).skeleton.bone_count == 5


# --- corrupt and truncated files --------------------------------------------------------------

def test_wrong_magic_version_and_trailing_bytes_are_bad_files(tmp_path):
    good = file_bytes(tiny_avatar(), tmp_path)
    assert bad_file_code(b"") == ErrorCode.BAD_FILE
    assert bad_file_code(b"PK\x03\x04" + good[4:]) == ErrorCode.BAD_FILE     # e.g. a zip
    assert bad_file_code(good[:8] + struct.pack("<I", 99) + good[12:]) == ErrorCode.BAD_FILE
    assert bad_file_code(good + b"\0") == ErrorCode.BAD_FILE
    assert bad_file_code(good[:8] + struct.pack("<II", 1, 10**9) + good[16:]) == \
        ErrorCode.BAD_FILE                          # absurd frame count
    with pytest.raises(ProtocolError) as exc:
        load_avatar(tmp_path / "missing.doppel")
    assert exc.value.code == ErrorCode.BAD_FILE and "cannot read" in exc.value.message


@pytest.fixture(scope="module")
def good_file(tmp_path_factory) -> bytes:
    return file_bytes(tiny_avatar(), tmp_path_factory.mktemp("good"))


@settings(max_examples=150, deadline=None)
@given(data=st.data())
def test_every_truncation_is_a_bad_file(good_file, data):
    cut = data.draw(st.integers(0, len(good_file) - 1))
    assert bad_file_code(good_file[:cut]) == ErrorCode.BAD_FILE


@settings(max_examples=200, deadline=None)
@given(data=st.data())
def test_flipped_bytes_give_a_valid_avatar_or_bad_file_never_a_crash(good_file, data):
    pos = data.draw(st.integers(len(FILE_MAGIC), len(good_file) - 1))
    value = data.draw(st.integers(0, 255))
    corrupt = good_file[:pos] + bytes([value]) + good_file[pos + 1:]
    try:
        avatar_from_bytes(corrupt)          # a flip inside array data can stay valid
    except ProtocolError as exc:
        assert exc.code == ErrorCode.BAD_FILE


# --- inconsistent avatars ---------------------------------------------------------------------

def _tamper(change) -> str:
    desc, arrays = avatar_to_parts(tiny_avatar())
    arrays = {k: v.copy() for k, v in arrays.items()}
    change(desc, arrays)
    msg = over_wire(Message("result", {"job_id": "j", "result": {"type": "avatar",
                                                                   "avatar": desc}}, arrays))
    with pytest.raises(ProtocolError) as exc:
        avatar_from_message(msg)
    return exc.value.code


def _set(key, fn):
    return lambda desc, arrays: arrays.__setitem__(key, fn(arrays[key]))


@pytest.mark.parametrize("name, change", [
    ("parent after child", _set("avatar/skeleton/parents", lambda p: np.array([-1, 2, 0], p.dtype))),
    ("parent out of range", _set("avatar/skeleton/parents", lambda p: p * 0 + 9)),
    ("face index out of range", _set("avatar/layers/0/faces", lambda f: f + 100)),
    ("negative face index", _set("avatar/layers/0/faces", lambda f: f - 100)),
    ("skin index out of range", _set("avatar/layers/0/skin_indices", lambda s: s + 50)),
    ("negative weights", _set("avatar/layers/0/skin_weights", lambda w: -w)),
    ("NaN vertex", _set("avatar/layers/0/vertices", lambda v: v * np.nan)),
    ("inf matrix", _set("avatar/skeleton/matrices", lambda m: np.full_like(m, np.inf))),
    ("heads wrong shape", _set("avatar/skeleton/heads", lambda h: h[:, :2].copy())),
    ("weights wrong shape", _set("avatar/layers/1/skin_weights", lambda w: w[:-1].copy())),
    ("uvs wrong shape", _set("avatar/layers/0/uvs", lambda u: u[:, :2].copy())),
    ("pentagon faces", _set("avatar/layers/0/faces", lambda f: np.zeros((2, 5), np.int32))),
    ("pose wrong shape", _set("avatar/pose/rotations", lambda r: r[:, :3].copy())),
    ("missing array", lambda d, a: a.pop("avatar/layers/0/vertices")),
    ("unknown role", lambda d, a: d["layers"][0].__setitem__("role", "cape")),
    ("duplicate bone names", lambda d, a: d["skeleton"].__setitem__("names", ["a", "a", "b"])),
    ("bone names not strings", lambda d, a: d["skeleton"].__setitem__("names", [1, 2, 3])),
    ("no layers", lambda d, a: d.__setitem__("layers", [])),
    ("no skeleton", lambda d, a: d.pop("skeleton")),
    ("bad base colour", lambda d, a: d["layers"][0].__setitem__("base_color", [1, 2])),
    ("bad camera", lambda d, a: d["camera"].__setitem__("fx", -5.0)),
    ("metadata not an object", lambda d, a: d.__setitem__("metadata", [1])),
    ("array reference not a string", lambda d, a: d["layers"][0].__setitem__("vertices", 3)),
])
def test_inconsistent_avatars_are_bad_files(name, change):
    assert _tamper(change) == ErrorCode.BAD_FILE


def test_a_result_that_is_not_an_avatar_is_refused():
    msg = Message("result", {"job_id": "j", "result": {"type": "motion"}})
    with pytest.raises(ProtocolError) as exc:
        avatar_from_message(msg)
    assert exc.value.code == ErrorCode.BAD_FILE


def test_saving_an_invalid_avatar_fails_before_writing(tmp_path):
    av = tiny_avatar()
    av.layers[0].faces = av.layers[0].faces + 1000
    with pytest.raises(ProtocolError) as exc:
        save_avatar(av, tmp_path / "bad.doppel")
    assert exc.value.code == ErrorCode.BAD_FILE
    assert list(tmp_path.iterdir()) == []         # neither the file nor a .part left over
