"""CurveZMQ (pyzmq's built-in CURVE) for a server reachable beyond loopback.

Key folder layout (``doppel keys init`` makes it; default ~/.config/doppel/keys):

    server.key, server.key_secret      the server's pair (give server.key to clients)
    client.key, client.key_secret      a client pair (give both to one artist's add-on)
    allowed_clients/*.key              public keys the server accepts (the allow-list)

Secret keys are created 0600 (never readable by others, not even for a moment). Jobs run on
this machine or on a Ray cluster behind the server, never on machines that connect to it.
"""

from __future__ import annotations

import ipaddress
import logging
import os
import shutil
import time
from pathlib import Path
from urllib.parse import urlparse

import zmq
import zmq.auth
from zmq.auth.thread import ThreadAuthenticator

log = logging.getLogger("doppel.security")


class KeysError(RuntimeError):
    """Keys missing or unreadable; the message says which command makes them."""


def default_keys_dir() -> Path:
    return Path(os.environ.get("DOPPEL_KEYS_DIR", Path.home() / ".config" / "doppel" / "keys"))


_BANNER = ("#   ZeroMQ CURVE {what} Certificate (made by doppel keys init)\n"
           "#   {note}\n\n")


def _write_cert(path: Path, public: bytes, secret: bytes | None) -> None:
    """A zmq certificate file; a secret one is created with mode 0600 from the start."""
    what = "**Secret**" if secret else "Public"
    note = ("DO NOT PROVIDE THIS FILE TO OTHER USERS nor change its permissions."
            if secret else "Exchange securely, or use a secure mechanism to verify the contents")
    text = (_BANNER.format(what=what, note=note) + "metadata\ncurve\n"
            f'    public-key = "{public.decode("ascii")}"\n')
    if secret:
        text += f'    secret-key = "{secret.decode("ascii")}"\n'
    tmp = path.with_name(path.name + ".part")
    tmp.unlink(missing_ok=True)
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600 if secret else 0o644)
    with os.fdopen(fd, "w", encoding="ascii") as fh:
        fh.write(text)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)


def create_pair(folder: Path, name: str) -> tuple[Path, Path]:
    """``name.key`` (public) and ``name.key_secret`` (0600) in ``folder``."""
    public, secret = zmq.curve_keypair()
    pub_file, sec_file = folder / f"{name}.key", folder / f"{name}.key_secret"
    _write_cert(sec_file, public, secret)
    _write_cert(pub_file, public, None)
    return pub_file, sec_file


def init_keys(folder: Path, force: bool = False) -> dict[str, Path]:
    """Make a server pair and one client pair, and allow that client. Never overwrites keys unless ``force``: replacing a server key locks every
    existing client out."""
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    allowed = folder / "allowed_clients"
    allowed.mkdir(exist_ok=True)
    if (folder / "server.key_secret").exists() and not force:
        raise KeysError(f"keys already exist in {folder}; use --force to replace them "
                        f"(every client will need the new server.key)")
    server_pub, server_sec = create_pair(folder, "server")
    client_pub, client_sec = create_pair(folder, "client")
    shutil.copy(client_pub, allowed / "client.key")
    return {"server_public": server_pub, "server_secret": server_sec,
            "client_public": client_pub, "client_secret": client_sec,
            "allowed_clients": allowed}


def allow_client(folder: Path, public_key_file: Path, name: str) -> Path:
    """Add a client's public key (a zmq .key certificate) to the allow-list."""
    public, _ = zmq.auth.load_certificate(public_key_file)
    from protocol.names import safe_stem
    listing = folder / "allowed_clients"
    listing.mkdir(exist_ok=True)
    dest = listing / f"{safe_stem(name, 'client')}.key"
    part = dest.with_suffix(".key.part")            # not *.key: the server never reads it
    shutil.copy(public_key_file, part)
    os.replace(part, dest)                          # a running server sees all of it or none
    log.info("allowed client %s (%s)", name, public.decode())
    return dest


def is_loopback(address: str) -> bool:
    """True for tcp://127.x.x.x:port, tcp://localhost:port, tcp://[::1]:port, ipc:// and
    inproc://."""
    if address.startswith(("ipc://", "inproc://")):
        return True
    host = urlparse(address).hostname or ""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False     # '*', interface names and host names count as remote


def _load_secret(path: Path, what: str) -> tuple[bytes, bytes]:
    if not path.is_file():
        raise KeysError(f"{what} not found at {path}; run `doppel keys init` to make keys")
    public, secret = zmq.auth.load_certificate(path)
    if not secret:
        raise KeysError(f"{path} holds no secret key")
    return public, secret


def _listed(folder: Path) -> dict:
    """Public keys (z85 bytes) on an allow-list folder. A file being copied in (half written)
    or a stray non-key file is skipped, never raised: an exception here would end pyzmq's
    authenticator thread and lock every client out."""
    keys = {}
    for path in sorted(folder.glob("*.key")) if folder.is_dir() else ():
        try:
            public, _ = zmq.auth.load_certificate(path)
        except (OSError, ValueError, KeyError, IndexError):
            continue
        if public:
            keys[public] = True
    return keys


class _Quiet:
    """One warning per key a minute at most, with a count of those held back."""

    def __init__(self, interval: float = 60.0, keys: int = 1024):
        self.interval, self.keys = interval, keys
        self._next: dict[object, list] = {}

    def allow(self, key: object) -> int | None:
        now = time.monotonic()
        entry = self._next.get(key)
        if entry is not None and now < entry[0]:
            entry[1] += 1
            return None
        if len(self._next) >= self.keys:
            self._next.clear()
        self._next[key] = [now + self.interval, 0]
        return entry[1] if entry else 0


_quiet = _Quiet()


def _note(held: int) -> str:
    return f" ({held} more since the last report)" if held else ""


class _AllowList:
    """ZAP credentials callback: accept keys on allowed_clients/; log refusals, at most once a
    minute per key."""

    def __init__(self, allowed_dir: Path):
        self.allowed_dir = allowed_dir

    def callback(self, domain: str, z85_key: bytes) -> bool:
        if z85_key in _listed(self.allowed_dir):
            return True
        held = _quiet.allow(("key", z85_key))
        if held is not None:
            log.warning("refused a client with unknown CURVE key %s%s",
                        z85_key.decode("ascii", "replace")[:40], _note(held))
        return False


def start_authenticator(ctx: zmq.Context, folder: Path) -> ThreadAuthenticator:
    """One ZAP handler per context, checking every CURVE socket of ``ctx`` against
    ``folder/allowed_clients`` (re-read on each connection, so edits apply live)."""
    allowed = folder / "allowed_clients"
    if not allowed.is_dir():
        raise KeysError(f"no allow-list folder at {allowed}; run `doppel keys init --dir "
                        f"{folder}`")
    auth = ThreadAuthenticator(ctx, log=logging.getLogger("doppel.zap"))
    auth.start()
    auth.configure_curve_callback("*", credentials_provider=_AllowList(allowed))
    return auth


def make_curve_server(sock: zmq.Socket, folder: Path) -> None:
    """Give ``sock`` the server's secret key and make it a CURVE server. Call before bind."""
    _, secret = _load_secret(folder / "server.key_secret", "the server's secret key")
    sock.curve_secretkey = secret
    sock.curve_publickey = zmq.curve_public(secret)
    sock.curve_server = True


def secure_server_socket(ctx: zmq.Context, sock: zmq.Socket, folder: Path,
                         auth: ThreadAuthenticator | None = None) -> ThreadAuthenticator:
    """Make ``sock`` a CURVE server accepting only allow-listed clients. Call before bind.
    Pass the ``auth`` of an earlier call to secure a second socket of the same context (a
    context has one ZAP handler)."""
    make_curve_server(sock, folder)   # first: a missing key must not leave a thread running
    return auth if auth is not None else start_authenticator(ctx, folder)


HANDSHAKE_FAILURES = {
    zmq.EVENT_HANDSHAKE_FAILED_NO_DETAIL: "handshake failed",
    zmq.EVENT_HANDSHAKE_FAILED_PROTOCOL: "handshake failed (no CURVE, or the wrong server key)",
    zmq.EVENT_HANDSHAKE_FAILED_AUTH: "client key not on the allow-list",
}


def watch_handshakes(sock: zmq.Socket) -> zmq.Socket:
    """A PAIR socket receiving ``sock``'s failed-handshake events; poll it and pass what
    arrives to :func:`log_handshake_event` so refused connections show in the server log."""
    mask = 0
    for event in HANDSHAKE_FAILURES:
        mask |= event
    return sock.get_monitor_socket(mask)


def log_handshake_event(monitor: zmq.Socket) -> None:
    from zmq.utils.monitor import recv_monitor_message
    try:
        event = recv_monitor_message(monitor, zmq.NOBLOCK)
    except zmq.Again:
        return
    what = HANDSHAKE_FAILURES.get(event["event"], "handshake event")
    endpoint = event.get("endpoint", b"")
    endpoint = endpoint.decode(errors="replace") if isinstance(endpoint, bytes) else endpoint
    held = _quiet.allow(("handshake", event["event"]))
    if held is not None:
        log.warning("refused a connection on %s: %s (errno %s)%s", endpoint, what,
                    event["value"], _note(held))
