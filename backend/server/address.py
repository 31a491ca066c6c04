"""Which bind addresses are safe without authentication.

Until CURVE authentication exists (issue 8), anyone who can reach the port can run jobs and
fetch results, so only this machine may connect unless the user explicitly opts in.
"""

from __future__ import annotations

import ipaddress

LOCAL_HOSTS = ("localhost",)


def is_local_address(address: str) -> bool:
    """True for ipc://, inproc:// and tcp:// on a loopback host (127.0.0.0/8, ::1, localhost)."""
    scheme, sep, rest = address.partition("://")
    if not sep:
        return False
    if scheme in ("ipc", "inproc"):
        return True
    if scheme != "tcp":
        return False
    host = rest.rpartition(":")[0].strip("[]")
    # zmq accepts "interface;host" forms: judge the bind side.
    host = host.split(";")[0]
    if host in LOCAL_HOSTS:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False     # "*", a NIC name, a hostname: reachable from elsewhere


def check_bind_address(address: str, allow_remote: bool = False) -> None:
    """Raise ValueError with advice when ``address`` would expose the server to the network."""
    if "://" not in address:
        raise ValueError(f"bind address {address!r} needs a scheme, e.g. tcp://127.0.0.1:5557")
    if not allow_remote and not is_local_address(address):
        raise ValueError(
            f"refusing to bind {address}: that is reachable from other machines and the server "
            f"has no authentication yet. Bind a loopback address (tcp://127.0.0.1:PORT) and "
            f"tunnel (ssh -L), or pass --insecure-allow-remote on a trusted network.")
