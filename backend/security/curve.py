"""CurveZMQ (pyzmq's built-in CURVE) for a server reachable beyond loopback.

Key folder layout (``doppel keys init`` makes it; default ~/.config/doppel/keys):

    server.key, server.key_secret      the server's pair (give server.key to clients)
    client.key, client.key_secret      a client pair (give both to one artist's add-on)
    allowed_clients/*.key              public keys the server accepts (the allow-list)
"""

from __future__ import annotations

import ipaddress
import logging
import os
import shutil
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


def init_keys(folder: Path, force: bool = False) -> dict[str, Path]:
    """Make a server pair, one client pair, and allow that client. Never overwrites keys
    unless ``force``: replacing a server key locks every existing client out."""
    folder.mkdir(parents=True, exist_ok=True)
    allowed = folder / "allowed_clients"
    allowed.mkdir(exist_ok=True)
    if (folder / "server.key_secret").exists() and not force:
        raise KeysError(f"keys already exist in {folder}; use --force to replace them "
                        f"(every client will need the new server.key)")
    server_pub, server_sec = zmq.auth.create_certificates(folder, "server")
    client_pub, client_sec = zmq.auth.create_certificates(folder, "client")
    shutil.copy(client_pub, allowed / "client.key")
    for secret in (server_sec, client_sec):
        os.chmod(secret, 0o600)
    return {"server_public": Path(server_pub), "server_secret": Path(server_sec),
            "client_public": Path(client_pub), "client_secret": Path(client_sec),
            "allowed_clients": allowed}


def allow_client(folder: Path, public_key_file: Path, name: str) -> Path:
    """Add a client's public key (a zmq .key certificate) to the allow-list."""
    public, _ = zmq.auth.load_certificate(public_key_file)
    dest = folder / "allowed_clients" / f"{name}.key"
    shutil.copy(public_key_file, dest)
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


class _AllowList:
    """ZAP credentials callback: accept listed keys, log every refusal."""

    def __init__(self, allowed_dir: Path):
        self.allowed_dir = allowed_dir

    def callback(self, domain: str, z85_key: bytes) -> bool:
        allowed = zmq.auth.load_certificates(self.allowed_dir)   # re-read: edits apply live
        if z85_key in allowed:
            return True
        log.warning("refused a client with unknown CURVE key %s", z85_key.decode(errors="replace"))
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
    log.warning("refused a connection on %s: %s (errno %s)", endpoint, what, event["value"])
