"""RiggedAvatar <-> (JSON description, named arrays), for messages and for ``.doppel`` files.

A result message carries the avatar description in ``fields["result"]["avatar"]`` and its
arrays under the ``avatar/`` prefix. A ``.doppel`` file holds exactly the frames of such a
message (length-prefixed), so the file and the wire share one decoder and one validator.
"""

from __future__ import annotations

import os
import struct
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np

from .avatar import (Camera, MeshLayer, Pose, RiggedAvatar, Skeleton, SurfaceBinding,
                     validate_avatar)
from .codec import Message, decode, encode
from .constants import MAX_MESSAGE_BYTES, ErrorCode
from .errors import ProtocolError
from .shape_keys_codec import shape_keys_from_parts, shape_keys_to_parts

FILE_MAGIC = b"DOPPELAV"
FILE_VERSION = 1
FILE_SUFFIX = ".doppel"


def _bytes_array(data: bytes) -> np.ndarray:
    return np.frombuffer(data, dtype=np.uint8)


def avatar_to_parts(av: RiggedAvatar, prefix: str = "avatar/") -> tuple[dict, dict]:
    """-> (JSON-able description, {array name: array})."""
    validate_avatar(av)
    arrays: dict[str, np.ndarray] = {}

    def put(name: str, a: Any, dtype: Any) -> str:
        key = prefix + name
        arrays[key] = np.ascontiguousarray(a, dtype=dtype)
        return key

    sk = av.skeleton
    desc: dict[str, Any] = {
        "name": av.name,
        "skeleton": {"names": list(sk.names),
                     "parents": put("skeleton/parents", sk.parents, np.int32),
                     "heads": put("skeleton/heads", sk.heads, np.float32),
                     "tails": put("skeleton/tails", sk.tails, np.float32),
                     "matrices": put("skeleton/matrices", sk.matrices, np.float32)},
        "layers": [],
        "metadata": av.metadata,
    }
    for i, lay in enumerate(av.layers):
        p = f"layers/{i}/"
        d = {"role": lay.role, "name": lay.name, "base_color": [float(c) for c in lay.base_color],
             "vertices": put(p + "vertices", lay.vertices, np.float32),
             "faces": put(p + "faces", lay.faces, np.int32),
             "skin_indices": put(p + "skin_indices", lay.skin_indices, np.int32),
             "skin_weights": put(p + "skin_weights", lay.skin_weights, np.float32),
             "uvs": None if lay.uvs is None else put(p + "uvs", lay.uvs, np.float32),
             "texture": None if lay.texture is None else put(p + "texture",
                                                              _bytes_array(lay.texture), np.uint8)}
        if lay.binding is not None:  # optional; older readers ignore the key
            bd = lay.binding
            d["binding"] = {"triangles": put(p + "binding/triangles", bd.triangles, np.int32),
                            "barycentric": put(p + "binding/barycentric", bd.barycentric,
                                               np.float32),
                            "offsets": put(p + "binding/offsets", bd.offsets, np.float32),
                            "hides": put(p + "binding/hides", bd.hides, np.int32)}
        if lay.material is not None:    # optional; older readers ignore the key
            d["material"] = lay.material
        if lay.shape_keys is not None:  # optional and sparse; older readers ignore the key
            d["shape_keys"] = shape_keys_to_parts(lay.shape_keys, put, p)
        desc["layers"].append(d)
    desc["pose"] = None if av.pose is None else {
        "rotations": put("pose/rotations", av.pose.rotations, np.float32),
        "location": put("pose/location", av.pose.location, np.float32)}
    cam = av.camera
    desc["camera"] = None if cam is None else {
        "fx": float(cam.fx), "fy": float(cam.fy), "cx": float(cam.cx), "cy": float(cam.cy),
        "width": int(cam.width), "height": int(cam.height),
        "world_from_camera": put("camera/world_from_camera", cam.world_from_camera, np.float32)}
    desc["source_image"] = None if av.source_image is None else put(
        "source_image", _bytes_array(av.source_image), np.uint8)
    if av.companions:      # optional; older readers ignore the key (they get this avatar)
        desc["companions"] = []
        for i, other in enumerate(av.companions):
            d, more = avatar_to_parts(other, f"{prefix}companions/{i}/")
            desc["companions"].append(d)
            arrays.update(more)
    return desc, arrays


def avatar_from_parts(desc: Any, arrays: dict[str, np.ndarray]) -> RiggedAvatar:
    """Inverse of :func:`avatar_to_parts`; checks every reference and the avatar itself.
    Raises ProtocolError(BAD_FILE)."""
    try:
        return validate_avatar(_build(desc, arrays))
    except ProtocolError:
        raise
    except (KeyError, TypeError, ValueError, AttributeError, IndexError, OverflowError,
            RecursionError, MemoryError, ZeroDivisionError) as exc:
        raise ProtocolError(ErrorCode.BAD_FILE, f"invalid avatar description: "
                            f"{type(exc).__name__}: {str(exc)[:200]}") from None


def _build(desc: dict, arrays: dict[str, np.ndarray]) -> RiggedAvatar:
    def get(key: str | None, dtype: Any = None) -> np.ndarray | None:
        if key is None:
            return None
        if not isinstance(key, str) or key not in arrays:
            raise ProtocolError(ErrorCode.BAD_FILE, f"invalid avatar: array {key!r} is missing")
        a = arrays[key]
        return a if dtype is None else a.astype(dtype, copy=False)

    def raw(key: str | None) -> bytes | None:
        a = get(key)
        return None if a is None else a.tobytes()

    sk = desc["skeleton"]
    names = sk["names"]
    if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
        raise TypeError("skeleton names must be a list of strings")
    skeleton = Skeleton(names=names, parents=get(sk["parents"], np.int32),
                        heads=get(sk["heads"], np.float32), tails=get(sk["tails"], np.float32),
                        matrices=get(sk["matrices"], np.float32))
    layers = []
    for d in desc["layers"]:
        color = tuple(float(c) for c in d["base_color"])
        bd = d.get("binding")
        binding = None if bd is None else SurfaceBinding(
            triangles=get(bd["triangles"], np.int32),
            barycentric=get(bd["barycentric"], np.float32),
            offsets=get(bd["offsets"], np.float32), hides=get(bd["hides"], np.int32))
        vertices = get(d["vertices"], np.float32)
        layers.append(MeshLayer(
            role=str(d["role"]), name=str(d["name"]),
            vertices=vertices, faces=get(d["faces"], np.int32),
            skin_indices=get(d["skin_indices"], np.int32),
            skin_weights=get(d["skin_weights"], np.float32),
            uvs=get(d["uvs"], np.float32), texture=raw(d["texture"]), base_color=color,
            binding=binding, material=d.get("material"),
            shape_keys=shape_keys_from_parts(d.get("shape_keys"), get, len(vertices))))
    pose = None
    if desc.get("pose") is not None:
        pose = Pose(rotations=get(desc["pose"]["rotations"], np.float32),
                    location=get(desc["pose"]["location"], np.float32))
    camera = None
    if desc.get("camera") is not None:
        c = desc["camera"]
        camera = Camera(fx=float(c["fx"]), fy=float(c["fy"]), cx=float(c["cx"]),
                        cy=float(c["cy"]), width=int(c["width"]), height=int(c["height"]),
                        world_from_camera=get(c["world_from_camera"], np.float32))
    metadata = desc.get("metadata") or {}
    if not isinstance(metadata, dict):
        raise TypeError("metadata must be an object")
    companions = desc.get("companions") or []
    if not isinstance(companions, list) or any(
            isinstance(c, dict) and c.get("companions") for c in companions):
        raise TypeError("companions must be a list of avatars without companions")
    return RiggedAvatar(name=str(desc["name"]), skeleton=skeleton, layers=layers, pose=pose,
                        camera=camera, source_image=raw(desc.get("source_image")),
                        metadata=metadata,
                        companions=[_build(c, arrays) for c in companions])


def avatar_message(av: RiggedAvatar, job_id: str, re: str | None = None) -> Message:
    """The ``result`` message that delivers an avatar."""
    desc, arrays = avatar_to_parts(av)
    return Message("result", {"job_id": job_id, "result": {"type": "avatar", "avatar": desc}},
                   arrays, re=re)


def avatar_from_message(msg: Message) -> RiggedAvatar:
    result = msg.fields.get("result")
    if not isinstance(result, dict) or result.get("type") != "avatar":
        raise ProtocolError(ErrorCode.BAD_FILE, "the result does not hold an avatar")
    return avatar_from_parts(result.get("avatar"), msg.arrays)


# --- single-file form -------------------------------------------------------------------------

def write_avatar(av: RiggedAvatar, fh: BinaryIO) -> None:
    msg = avatar_message(av, job_id="file")
    msg.id = "0" * 32      # a fixed id: the same avatar always gives the same file bytes
    frames = encode(msg)
    fh.write(FILE_MAGIC + struct.pack("<II", FILE_VERSION, len(frames)))
    for f in frames:
        fh.write(struct.pack("<Q", len(memoryview(f).cast("B"))))
        fh.write(f)


def save_avatar(av: RiggedAvatar, path: str | os.PathLike, mode: int = 0o666) -> Path:
    """Write ``av`` to ``path`` atomically (a crash never leaves a half-written file: the
    data is fsynced before the rename). ``mode``: permissions of a new file, before the
    umask (the server passes 0o600: results hold people's photos)."""
    path = Path(path)
    tmp = path.with_name(path.name + ".part")
    try:
        tmp.unlink(missing_ok=True)
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0),
                     mode)
        with os.fdopen(fd, "wb") as fh:
            write_avatar(av, fh)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)    # an invalid avatar or a full disk leaves no debris
        raise
    return path


def load_avatar(path: str | os.PathLike) -> RiggedAvatar:
    """Read a ``.doppel`` file. Raises ProtocolError(BAD_FILE) with a readable reason."""
    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ProtocolError(ErrorCode.BAD_FILE, f"cannot read avatar file {path}: "
                            f"{exc.strerror or exc}") from None
    return avatar_from_bytes(data, str(path))


def avatar_from_bytes(data: bytes, where: str = "avatar data") -> RiggedAvatar:
    head = len(FILE_MAGIC) + 8
    if len(data) < head or data[:len(FILE_MAGIC)] != FILE_MAGIC:
        raise ProtocolError(ErrorCode.BAD_FILE, f"{where} is not a Doppel avatar file "
                            f"(expected a .doppel file written by Doppel)")
    version, count = struct.unpack_from("<II", data, len(FILE_MAGIC))
    if version != FILE_VERSION:
        raise ProtocolError(ErrorCode.BAD_FILE, f"{where} has file version {version}; this "
                            f"Doppel reads version {FILE_VERSION}")
    if len(data) > MAX_MESSAGE_BYTES:
        raise ProtocolError(ErrorCode.BAD_FILE, f"{where} is larger than {MAX_MESSAGE_BYTES} bytes")
    view, pos, frames = memoryview(data), head, []
    for _ in range(count):
        if pos + 8 > len(data):
            raise ProtocolError(ErrorCode.BAD_FILE, f"{where} is truncated")
        (n,) = struct.unpack_from("<Q", data, pos)
        pos += 8
        if pos + n > len(data):
            raise ProtocolError(ErrorCode.BAD_FILE, f"{where} is truncated")
        frames.append(view[pos:pos + n])
        pos += n
    if pos != len(data):
        raise ProtocolError(ErrorCode.BAD_FILE, f"{where} has trailing bytes")
    try:
        msg = decode(frames)
    except ProtocolError as exc:
        raise ProtocolError(ErrorCode.BAD_FILE, f"{where}: {exc.message}") from None
    return avatar_from_message(msg)
