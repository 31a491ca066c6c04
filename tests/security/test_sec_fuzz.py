"""Property-based fuzzing (hypothesis) of everything that reads files or names from outside:
the avatar decoder, the BVH and AMASS readers, safe_stem. The only exceptions allowed out are
the clean ones (ProtocolError bad_file, MotionError). Example counts stay modest: the whole
security suite runs in well under two minutes on two cores."""

from __future__ import annotations

import io
import json
import re
import struct
from pathlib import Path

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from avatar_samples import tiny_avatar
from rig.motion.amass import load_smpl_npz
from rig.motion.bvh import load_bvh
from rig.motion.errors import MotionError
from protocol import ErrorCode, ProtocolError, avatar_from_bytes, safe_child, safe_stem
from protocol.avatar_codec import write_avatar
from sec_helpers import doppel_file, simple_bvh

FUZZ = settings(max_examples=150, deadline=None, derandomize=True,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])


def _valid_doppel() -> bytes:
    buf = io.BytesIO()
    write_avatar(tiny_avatar(), buf)
    return buf.getvalue()


VALID = _valid_doppel()


def _frames(data: bytes) -> list[bytes]:
    count = struct.unpack_from("<I", data, 12)[0]
    pos, out = 16, []
    for _ in range(count):
        (n,) = struct.unpack_from("<Q", data, pos)
        out.append(data[pos + 8:pos + 8 + n])
        pos += 8 + n
    return out


FRAMES = _frames(VALID)
HEADER = json.loads(FRAMES[0])


def _decodes_cleanly(data: bytes) -> None:
    try:
        avatar_from_bytes(data)
    except ProtocolError as exc:
        assert exc.code == ErrorCode.BAD_FILE


@FUZZ
@given(st.lists(st.tuples(st.integers(0, len(VALID) - 1), st.integers(0, 255)), max_size=8),
       st.integers(0, len(VALID)))
def test_avatar_bytes_mutated_or_cut(flips, cut):
    data = bytearray(VALID)
    for pos, value in flips:
        data[pos] = value
    _decodes_cleanly(bytes(data[:cut] if cut < len(data) // 2 else data))


JSON = st.recursive(st.none() | st.booleans() | st.integers(-2 ** 70, 2 ** 70)
                    | st.floats(allow_nan=False) | st.text(max_size=20),
                    lambda kids: st.lists(kids, max_size=4)
                    | st.dictionaries(st.text(max_size=10), kids, max_size=4), max_leaves=20)


def _paths(value, prefix=()):
    yield prefix
    if isinstance(value, dict):
        for k, v in value.items():
            yield from _paths(v, prefix + (k,))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            yield from _paths(v, prefix + (i,))


PATHS = [p for p in _paths(HEADER) if p]


@FUZZ
@given(st.sampled_from(PATHS), JSON)
def test_avatar_header_fields_replaced(path, value):
    header = json.loads(FRAMES[0])
    node = header
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = value
    _decodes_cleanly(doppel_file(header, FRAMES[1:]))


@FUZZ
@given(st.lists(st.one_of(st.integers(-3, 2 ** 64), st.sampled_from([0, 2 ** 62, 2 ** 31])),
                max_size=9),
       st.sampled_from(["float32", "uint8", "int64", "bool", "object", "float16"]),
       st.one_of(st.just(0), st.integers(-1, 2 ** 63)), st.booleans())
def test_avatar_array_declarations(shape, dtype, nbytes, empty_frame):
    header = json.loads(FRAMES[0])
    header["arrays"][0].update(shape=shape, dtype=dtype, nbytes=nbytes)
    frames = list(FRAMES[1:])
    if empty_frame:
        frames[0] = b""
    _decodes_cleanly(doppel_file(header, frames))


@settings(max_examples=25, deadline=None, derandomize=True)
@given(st.integers(1, 200_000), st.sampled_from(["[", '{"a":']), st.sampled_from(PATHS))
def test_avatar_header_nested_deeply(depth, opener, path):
    closer = "]" if opener == "[" else "}"
    header = json.loads(FRAMES[0])
    node = header
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = "@@NEST@@"
    text = json.dumps(header).replace('"@@NEST@@"', opener * depth + "0" + closer * depth)
    _decodes_cleanly(doppel_file(text.encode(), FRAMES[1:]))


# --- BVH ----------------------------------------------------------------------------------------

BVH_WORDS = ["HIERARCHY", "ROOT", "JOINT", "End", "Site", "{", "}", "OFFSET", "CHANNELS",
             "Xrotation", "Yrotation", "Zrotation", "Xposition", "MOTION", "Frames:",
             "Frame", "Time:", "0", "1", "-4", "3", "6", "1e308", "nan", "inf", "-0",
             "999999999999", "0.0333", "1e-300", "\n", "\n", "\n", "x"]
VALID_BVH = simple_bvh()


def _reads_cleanly(tmp: Path, text: str) -> None:
    path = tmp / "fuzz.bvh"
    path.write_text(text, encoding="utf-8", errors="surrogatepass" if False else "replace")
    try:
        load_bvh(path)
    except MotionError:
        pass


@FUZZ
@given(st.lists(st.sampled_from(BVH_WORDS), max_size=80))
def test_bvh_token_soup(tmp_path_factory, words):
    _reads_cleanly(tmp_path_factory.mktemp("bvh"), "HIERARCHY\n" + " ".join(words))


@FUZZ
@given(st.lists(st.tuples(st.integers(0, len(VALID_BVH)), st.sampled_from(BVH_WORDS)),
                max_size=6), st.integers(0, len(VALID_BVH)))
def test_bvh_valid_file_mutated(tmp_path_factory, edits, cut):
    text = VALID_BVH
    for pos, word in edits:
        text = text[:pos] + " " + word + " " + text[pos:]
    _reads_cleanly(tmp_path_factory.mktemp("bvh"), text[:cut] if cut % 3 == 0 else text)


# --- AMASS .npz ---------------------------------------------------------------------------------

KEYS = ["poses", "trans", "mocap_framerate", "mocap_frame_rate", "root_orient", "pose_body",
        "pose_jaw", "pose_hand", "gender", "fps"]
ARRAYS = st.one_of(
    st.builds(lambda n, w, dt: np.zeros((n, w), dt), st.integers(0, 5),
              st.sampled_from([0, 1, 3, 63, 66, 72, 90, 156, 165]),
              st.sampled_from([np.float32, np.float64, np.int8, np.uint64, np.bool_,
                               np.complex64])),
    st.builds(np.array, st.floats(allow_nan=True, allow_infinity=True)),
    st.builds(np.array, st.text(max_size=5)),
    st.builds(lambda n: np.full((n, 156), np.nan), st.integers(1, 3)),
    st.builds(lambda d: np.zeros((1,) * d), st.integers(0, 5)),
)


@FUZZ
@given(st.dictionaries(st.sampled_from(KEYS), ARRAYS, max_size=5),
       st.one_of(st.none(), st.floats(allow_nan=True)))
def test_amass_random_archives(tmp_path_factory, arrays, source_fps):
    path = tmp_path_factory.mktemp("npz") / "fuzz.npz"
    np.savez(path, **arrays)
    try:
        load_smpl_npz(path, source_fps=source_fps)
    except MotionError:
        pass


@FUZZ
@given(st.binary(max_size=200), st.integers(0, 400))
def test_amass_corrupt_bytes(tmp_path_factory, noise, at):
    good = tmp_path_factory.mktemp("npz") / "good.npz"
    np.savez(good, poses=np.zeros((2, 156)), trans=np.zeros((2, 3)),
             mocap_framerate=np.array(60.0))
    data = bytearray(good.read_bytes())
    data[at:at + len(noise)] = noise
    bad = good.with_name("bad.npz")
    bad.write_bytes(bytes(data))
    try:
        load_smpl_npz(bad)
    except MotionError:
        pass


# --- names --------------------------------------------------------------------------------------

@FUZZ
@given(st.one_of(st.text(), st.sampled_from(["..", "../../x", "/etc/passwd", "a/../../b",
                                               "C:\\Windows", "con", "NUL.txt", ".", "~",
                                               "\x00", " .. "])))
def test_safe_stem_and_safe_child_stay_inside(tmp_path_factory, name):
    stem = safe_stem(name)
    assert re.fullmatch(r"[A-Za-z0-9._-]{1,100}", stem), stem
    assert ".." not in stem and not stem.startswith(".")
    folder = tmp_path_factory.mktemp("names")
    path = safe_child(folder, name, ".doppel")
    assert path.parent == folder.resolve()
