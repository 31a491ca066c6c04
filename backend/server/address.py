"""Which bind addresses a server may use: loopback freely, anything else only with CURVE keys."""

from __future__ import annotations

from ..security.curve import is_loopback


def check_bind_address(address: str, secured: bool = False) -> None:
    """Raise ValueError with advice when ``address`` would expose an unauthenticated server."""
    if "://" not in address:
        raise ValueError(f"bind address {address!r} needs a scheme, e.g. tcp://127.0.0.1:5557")
    if not secured and not is_loopback(address):
        raise ValueError(
            f"refusing to bind {address} without authentication: other machines could run jobs "
            f"and read results. Make keys with `doppel keys init` and start the server with "
            f"`doppel serve --bind {address} --keys DIR` (clients then need server.key and a "
            f"client key pair), or bind a loopback address (tcp://127.0.0.1:PORT).")
