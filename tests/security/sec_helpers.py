"""Shared pieces of the security suite: raw sockets that speak the protocol by hand (as an
attacker would), RSS of this process (the server runs on a thread of it), hostile files."""

from __future__ import annotations

import json
import struct
import time
from pathlib import Path
from typing import Any

import numpy as np
import zmq

from protocol import Message, encode
from protocol.avatar_codec import FILE_MAGIC, FILE_VERSION
from server_fixtures import rss_bytes  # noqa: F401  (the security tests take it from here)

MiB = 1 << 20



def raw_socket(address: str, identity: bytes | None = None, curve: tuple | None = None,
               rcvhwm: int | None = None) -> zmq.Socket:
    sock = zmq.Context.instance().socket(zmq.DEALER)
    sock.setsockopt(zmq.LINGER, 0)
    if identity is not None:
        sock.setsockopt(zmq.ROUTING_ID, identity)
    if rcvhwm is not None:
        sock.setsockopt(zmq.RCVHWM, rcvhwm)
    if curve is not None:
        server_public, public, secret = curve
        sock.curve_serverkey, sock.curve_publickey, sock.curve_secretkey = \
            server_public, public, secret
    sock.connect(address)
    return sock


def ask(sock: zmq.Socket, kind: str, fields: dict | None = None, arrays: dict | None = None,
        wait_ms: int = 5000) -> dict | None:
    """Send one request, return the reply header (or None on silence). Unrelated messages
    (job events) are skipped."""
    msg = Message(kind, dict(fields or {}), dict(arrays or {}))
    sock.send_multipart(encode(msg), copy=False)
    deadline = time.monotonic() + wait_ms / 1000
    while True:
        left = int((deadline - time.monotonic()) * 1000)
        if left <= 0 or not sock.poll(left):
            return None
        header = json.loads(sock.recv_multipart()[0])
        if header.get("re") == msg.id:
            return header


def hello_token(sock: zmq.Socket) -> str:
    reply = ask(sock, "hello", {"client": "attacker", "versions": [1]})
    assert reply is not None and reply["kind"] == "hello", reply
    return reply["fields"]["token"]


def drain(sock: zmq.Socket, wait_ms: int = 300) -> list[dict]:
    out = []
    while sock.poll(wait_ms):
        out.append(json.loads(sock.recv_multipart()[0]))
        wait_ms = 50
    return out


# --- hostile files -------------------------------------------------------------------------

def doppel_file(header: Any, frames: list[bytes] = ()) -> bytes:
    """A .doppel container around a hand-made header (any JSON text or bytes)."""
    head = header if isinstance(header, bytes) else json.dumps(header).encode()
    parts = [head, *frames]
    out = bytearray(FILE_MAGIC + struct.pack("<II", FILE_VERSION, len(parts)))
    for p in parts:
        out += struct.pack("<Q", len(p)) + p
    return bytes(out)


def nested_metadata_doppel(depth: int = 100_000) -> bytes:
    fields = '{"job_id": "file", "result": {"type": "avatar", "avatar": {"metadata": ' + \
        "[" * depth + "]" * depth + "}}}"
    head = ('{"v": 1, "kind": "result", "id": "x", "re": null, "fields": ' + fields +
            ', "arrays": []}').encode()
    return doppel_file(head)


def huge_shape_doppel() -> bytes:
    return doppel_file({"v": 1, "kind": "result", "id": "x", "re": None,
                        "fields": {"job_id": "file", "result": {"type": "avatar"}},
                        "arrays": [{"name": "a", "dtype": "float32",
                                    "shape": [0, 2 ** 62, 2 ** 62], "nbytes": 0}]}, [b""])


def nested_bvh(depth: int = 5000) -> str:
    lines = ["HIERARCHY", "ROOT Hips", "{", "OFFSET 0 0 0", "CHANNELS 3 Xrotation Yrotation "
             "Zrotation"]
    for i in range(depth):
        lines += [f"JOINT j{i}", "{", "OFFSET 0 1 0", "CHANNELS 0"]
    lines += ["}"] * (depth + 1)
    lines += ["MOTION", "Frames: 1", "Frame Time: 0.0333", "0 0 0"]
    return "\n".join(lines) + "\n"


def simple_bvh(channels: str = "3 Xrotation Yrotation Zrotation", frame_time: str = "0.0333",
               frames: int = 2, values_per_frame: int = 3) -> str:
    rows = [" ".join(["0"] * values_per_frame)] * frames
    return "\n".join(["HIERARCHY", "ROOT Hips", "{", "OFFSET 0 0 0", f"CHANNELS {channels}",
                      "JOINT Head", "{", "OFFSET 0 1.7 0", "End Site", "{", "OFFSET 0 0.1 0",
                      "}", "}", "}", "MOTION", f"Frames: {frames}", f"Frame Time: {frame_time}",
                      *rows]) + "\n"


def wide_long_bvh(joints: int = 2001, frames: int = 20_000) -> str:
    """Joints with no channels, so a tiny file describes a huge rotation array."""
    lines = ["HIERARCHY", "ROOT Hips", "{", "OFFSET 0 0 0", "CHANNELS 1 Xrotation"]
    for i in range(joints - 1):
        lines += [f"JOINT j{i}", "{", "OFFSET 0 0.01 0", "}"]
    lines += ["}", "MOTION", f"Frames: {frames}", "Frame Time: 0.0333"]
    lines += ["0"] * frames
    return "\n".join(lines) + "\n"


def _npy_member(zf, name: str, array_header: dict, data_bytes: int) -> None:
    with zf.open(name, "w", force_zip64=True) as fh:
        np.lib.format.write_array_header_1_0(fh, array_header)
        chunk = bytes(1 << 20)
        left = data_bytes
        while left > 0:
            fh.write(chunk[:min(left, len(chunk))])
            left -= len(chunk)


def million_frame_npz(path: Path, frames: int = 1_000_000) -> Path:
    """A small compressed .npz (int8 zeros, streamed: never in memory here) whose 'poses'
    really holds ``frames`` frames of SMPL-H."""
    import zipfile
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        _npy_member(zf, "poses.npy", {"descr": "|i1", "fortran_order": False,
                                      "shape": (frames, 156)}, frames * 156)
        _npy_member(zf, "trans.npy", {"descr": "|i1", "fortran_order": False,
                                      "shape": (frames, 3)}, frames * 3)
        np.save(zf.open("mocap_framerate.npy", "w"), np.array(120.0))
    return path
