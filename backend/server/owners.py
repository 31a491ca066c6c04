"""Who owns a job: the authenticated identity of the client that submitted it.

* With CURVE, the client's public key (the ZAP User-Id libzmq attaches to every frame it
  received over an authenticated connection): ``b"key:" + z85``.
* Without CURVE (loopback only), an owner token the server hands out in its hello reply:
  ``<nonce>.<HMAC-SHA256(server secret, nonce)>``. The owner is ``b"tok:" + nonce``. Tokens
  are checked without any table (memory stays flat however many hellos arrive) and survive a
  restart: the secret lives in ``RESULTS/owner.secret`` (0600).

Routing ids are never owners: a peer chooses its own routing id, so it proves nothing.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
from pathlib import Path

SECRET_FILE = "owner.secret"


def _load_or_create_secret(root: Path) -> bytes:
    path = root / SECRET_FILE
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        data = path.read_bytes()
        if len(data) >= 32:
            return data[:32]
        path.unlink()          # a torn write from a crash: make a new one
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    secret = secrets.token_bytes(32)
    with os.fdopen(fd, "wb") as fh:
        fh.write(secret)
        fh.flush()
        os.fsync(fh.fileno())
    return secret


class Owners:
    def __init__(self, root: Path):
        self._secret = _load_or_create_secret(Path(root))

    def _mac(self, nonce: str) -> str:
        return hmac.new(self._secret, nonce.encode("ascii"), hashlib.sha256).hexdigest()

    def issue(self, offered: object = None) -> str:
        """The token for a hello: the offered one if this server issued it, else a new one."""
        if self.owner_of(offered) is not None:
            return offered    # type: ignore[return-value]
        nonce = secrets.token_hex(16)
        return f"{nonce}.{self._mac(nonce)}"

    def owner_of(self, token: object) -> bytes | None:
        """The owner a token stands for, or None when this server never issued it."""
        if not isinstance(token, str) or len(token) != 32 + 1 + 64:
            return None
        nonce, _, mac = token.partition(".")
        try:
            bytes.fromhex(nonce)
        except ValueError:
            return None
        if not hmac.compare_digest(mac, self._mac(nonce)):
            return None
        return b"tok:" + nonce.encode("ascii")


def curve_owner(user_id: str | None) -> bytes | None:
    return None if not user_id else b"key:" + user_id.encode("ascii", "replace")
