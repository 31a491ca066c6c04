"""CurveZMQ keys for a client: the server's public key and this client's pair, given as z85
text or as the .key / .key_secret files `doppel keys init` makes (zmq certificate format)."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence




@dataclass(frozen=True)
class CurveKeys:
    """z85-encoded (40 ASCII bytes each) keys of a CURVE client."""

    server_public: bytes
    public: bytes
    secret: bytes


KeySource = str | bytes | os.PathLike | None


def _z85(value: Any) -> bytes | None:
    raw = value.encode("ascii", "replace") if isinstance(value, str) else value
    return raw if isinstance(raw, bytes) and len(raw) == 40 else None


def _read_key_file(path: KeySource, what: str, secret: bool) -> tuple[bytes, bytes | None]:
    import zmq.auth
    file = Path(os.fspath(path)).expanduser()
    if not file.is_file():
        raise ValueError(f"{what} file {file} not found; `doppel keys init` on the server makes "
                         f"server.key and client.key_secret: copy them to this machine")
    try:
        public, sec = zmq.auth.load_certificate(file)
    except (ValueError, OSError) as exc:
        raise ValueError(f"{file} is not a CurveZMQ key file ({exc})") from None
    if secret and not sec:
        raise ValueError(f"{file} holds only a public key; the client needs its "
                         f".key_secret file (e.g. client.key_secret)")
    return public, sec


def load_curve_keys(server_key: KeySource,
                    client_key: KeySource | Sequence[KeySource]) -> CurveKeys:
    """``server_key``: z85 text or a path to the server's public .key file. ``client_key``:
    a path to this client's .key_secret file, or a (public, secret) pair of z85 texts.
    Raises ValueError with a sentence saying what is missing."""
    server = _z85(server_key) or _read_key_file(server_key, "server public key", False)[0]
    if client_key is None or client_key == "":
        raise ValueError("a CURVE server needs a client key pair too: pass the "
                         "client.key_secret file made by `doppel keys init`")
    if isinstance(client_key, (tuple, list)):
        public, secret = (_z85(k) for k in client_key)
        if public is None or secret is None:
            raise ValueError("client keys must be two 40-character z85 texts")
    else:
        public, secret = _read_key_file(client_key, "client key", True)
    return CurveKeys(server, public, secret)
