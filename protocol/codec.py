"""Message <-> ZeroMQ multipart frames.

Frame 0 is a small JSON header::

    {"v": 1, "kind": "submit", "id": "...", "re": null,
     "fields": {...},
     "arrays": [{"name": "image", "dtype": "uint8", "shape": [h, w, 3], "nbytes": n}, ...]}

followed by one raw little-endian frame per declared array, in order. No pickle: arrays are
rebuilt with ``numpy.frombuffer`` from a whitelisted dtype and a checked byte length.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass, field
from typing import Any, Sequence

import numpy as np

from .constants import (ALLOWED_DTYPES, MAX_ARRAYS, MAX_HEADER_BYTES, MAX_MESSAGE_BYTES,
                        MAX_NDIM, PROTOCOL_VERSION, SUPPORTED_VERSIONS, ErrorCode)
from .errors import ProtocolError

HEADER_KEYS = {"v", "kind", "id", "re", "fields", "arrays"}
MAX_JSON_DEPTH = 64          # nesting of lists / objects anywhere in a header
MAX_DIM = 1 << 40            # one array dimension; the byte count is checked exactly too


@dataclass
class Message:
    """One protocol message: a kind, JSON fields and named numpy arrays."""

    kind: str
    fields: dict[str, Any] = field(default_factory=dict)
    arrays: dict[str, np.ndarray] = field(default_factory=dict)
    id: str = field(default_factory=lambda: uuid.uuid4().hex)
    re: str | None = None          # id of the message this one answers
    version: int = PROTOCOL_VERSION


def _frame_bytes(frame: Any) -> memoryview:
    # zmq.Frame exposes .buffer; bytes/bytearray/memoryview work directly.
    buf = getattr(frame, "buffer", frame)
    return memoryview(buf).cast("B")


def encode(msg: Message) -> list:
    """Message -> [header bytes, array buffers...]. Arrays are sent without copying
    when already contiguous little-endian."""
    decl, bufs = [], []
    for name, arr in msg.arrays.items():
        a = np.asarray(arr)
        if a.dtype.name not in ALLOWED_DTYPES:
            raise ProtocolError(ErrorCode.BAD_ARRAY,
                                f"array '{name}' has dtype {a.dtype}, which cannot be sent; "
                                f"use one of {', '.join(ALLOWED_DTYPES)}")
        # asarray, not ascontiguousarray: the latter turns 0-d arrays into shape (1,).
        a = np.asarray(a, dtype=a.dtype.newbyteorder("<"), order="C")
        decl.append({"name": name, "dtype": a.dtype.name, "shape": list(a.shape),
                     "nbytes": int(a.nbytes)})
        bufs.append(memoryview(a).cast("B") if a.nbytes else b"")
    header = {"v": msg.version, "kind": msg.kind, "id": msg.id, "re": msg.re,
              "fields": msg.fields, "arrays": decl}
    data = json.dumps(header, separators=(",", ":"), allow_nan=False).encode("utf-8")
    return [data, *bufs]


def _fail(code: str, text: str) -> ProtocolError:
    return ProtocolError(code, text)


def decode_header(raw: Any) -> dict:
    """Parse and structurally check frame 0. Raises ProtocolError."""
    buf = _frame_bytes(raw)
    if len(buf) > MAX_HEADER_BYTES:
        raise _fail(ErrorCode.TOO_LARGE, f"message header is {len(buf)} bytes; the limit is "
                    f"{MAX_HEADER_BYTES}")
    try:
        header = json.loads(bytes(buf).decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        raise _fail(ErrorCode.BAD_FRAME, "the first frame is not a JSON header; is the client a "
                    "Doppel client speaking protocol version 1?") from None
    except RecursionError:
        raise _fail(ErrorCode.BAD_FRAME, "the message header is nested too deeply to be a "
                    "Doppel message") from None
    check_depth(header)
    if not isinstance(header, dict):
        raise _fail(ErrorCode.BAD_FRAME, "the message header must be a JSON object")
    version = header.get("v")
    if type(version) is not int or version not in SUPPORTED_VERSIONS:
        raise _fail(ErrorCode.BAD_VERSION, f"protocol version {version!r} is not supported; this "
                    f"side speaks {list(SUPPORTED_VERSIONS)}: update the add-on or the server")
    missing = {"kind", "id", "fields", "arrays"} - header.keys()
    if missing:
        raise _fail(ErrorCode.MISSING_FIELD, f"message header lacks {sorted(missing)}")
    extra = header.keys() - HEADER_KEYS
    if extra:
        raise _fail(ErrorCode.EXTRA_FIELD, f"message header has unknown keys {sorted(extra)}")
    if not isinstance(header["kind"], str) or not isinstance(header["id"], str) \
            or not (header.get("re") is None or isinstance(header["re"], str)):
        raise _fail(ErrorCode.BAD_TYPE, "header 'kind', 'id' and 're' must be strings")
    if len(header["id"]) > 128:
        raise _fail(ErrorCode.BAD_TYPE, "message id is longer than 128 characters")
    if not isinstance(header["fields"], dict) or not isinstance(header["arrays"], list):
        raise _fail(ErrorCode.BAD_TYPE, "header 'fields' must be an object and 'arrays' a list")
    if len(header["arrays"]) > MAX_ARRAYS:
        raise _fail(ErrorCode.TOO_LARGE, f"{len(header['arrays'])} arrays declared; the limit is "
                    f"{MAX_ARRAYS}")
    return header


def check_depth(value: Any, limit: int = MAX_JSON_DEPTH) -> None:
    """Raise ProtocolError(BAD_FRAME) when lists / objects in ``value`` nest deeper than
    ``limit``. Iterative, so it never overflows the stack itself."""
    stack = [(value, 0)]
    while stack:
        v, depth = stack.pop()
        if isinstance(v, dict):
            items = v.values()
        elif isinstance(v, list):
            items = v
        else:
            continue
        if depth >= limit:
            raise _fail(ErrorCode.BAD_FRAME, f"the message header nests lists or objects more "
                        f"than {limit} levels deep")
        stack.extend((x, depth + 1) for x in items)


def _check_decl(d: Any) -> tuple[str, np.dtype, tuple[int, ...], int]:
    if not isinstance(d, dict) or set(d) != {"name", "dtype", "shape", "nbytes"}:
        raise _fail(ErrorCode.BAD_ARRAY, "each array declaration needs exactly name, dtype, shape "
                    "and nbytes")
    name, dtype, shape, nbytes = d["name"], d["dtype"], d["shape"], d["nbytes"]
    if not isinstance(name, str) or not name or len(name) > 256:
        raise _fail(ErrorCode.BAD_ARRAY, "array name must be a non-empty string")
    if dtype not in ALLOWED_DTYPES:
        raise _fail(ErrorCode.BAD_ARRAY, f"array '{name}' has dtype {dtype!r}; allowed: "
                    f"{', '.join(ALLOWED_DTYPES)}")
    if (not isinstance(shape, list) or len(shape) > MAX_NDIM
            or not all(type(s) is int and 0 <= s <= MAX_DIM for s in shape)):
        raise _fail(ErrorCode.BAD_ARRAY, f"array '{name:.60}' has an invalid shape {shape!r:.80}")
    dt = np.dtype(dtype).newbyteorder("<")
    count = 1
    for s in shape:            # Python ints: exact, no float rounding, no overflow
        count *= s
    if any(s == 0 for s in shape) and any(s > MAX_MESSAGE_BYTES for s in shape):
        raise _fail(ErrorCode.BAD_ARRAY, f"array '{name:.60}' has an invalid empty shape "
                    f"{shape!r:.80}")
    expected = count * dt.itemsize
    if type(nbytes) is not int or nbytes != expected:
        raise _fail(ErrorCode.BAD_ARRAY, f"array '{name}' declares {nbytes!r} bytes but "
                    f"{dtype}{shape} needs {expected}")
    return name, dt, tuple(shape), expected


def decode(frames: Sequence[Any]) -> Message:
    """[header, array frames...] -> Message, checking every declaration against its frame.

    Raises ProtocolError with a stable code; never executes anything from the wire.
    """
    if not frames:
        raise _fail(ErrorCode.BAD_FRAME, "empty message")
    total = sum(len(_frame_bytes(f)) for f in frames)
    if total > MAX_MESSAGE_BYTES:
        raise _fail(ErrorCode.TOO_LARGE, f"message is {total} bytes; the limit is "
                    f"{MAX_MESSAGE_BYTES}")
    header = decode_header(frames[0])
    decls = header["arrays"]
    if len(decls) != len(frames) - 1:
        raise _fail(ErrorCode.BAD_ARRAY, f"header declares {len(decls)} arrays but "
                    f"{len(frames) - 1} data frames arrived")
    arrays: dict[str, np.ndarray] = {}
    for d, frame in zip(decls, frames[1:]):
        name, dt, shape, nbytes = _check_decl(d)
        buf = _frame_bytes(frame)
        if len(buf) != nbytes:
            raise _fail(ErrorCode.BAD_ARRAY, f"array '{name}' frame has {len(buf)} bytes, "
                        f"declared {nbytes}")
        if name in arrays:
            raise _fail(ErrorCode.BAD_ARRAY, f"array '{name}' is declared twice")
        try:
            arrays[name] = np.frombuffer(buf, dtype=dt).reshape(shape) if nbytes else \
                np.zeros(shape, dtype=dt)
        except (ValueError, MemoryError):
            raise _fail(ErrorCode.BAD_ARRAY, f"array '{name:.60}' with shape {shape!r:.80} "
                        f"cannot be built") from None
    return Message(kind=header["kind"], fields=header["fields"], arrays=arrays,
                   id=header["id"], re=header.get("re"), version=header["v"])
