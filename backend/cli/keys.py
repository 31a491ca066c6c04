"""`doppel keys init|allow`: CurveZMQ keys for using a server beyond this machine."""

from __future__ import annotations

import argparse
from pathlib import Path

from .common import fail


def add_parser(sub) -> None:
    p = sub.add_parser("keys", help="CurveZMQ keys for remote (authenticated) use")
    ksub = p.add_subparsers(dest="keys_command", required=True, metavar="ACTION")
    i = ksub.add_parser("init", help="make a server key pair and one allowed client key pair")
    i.add_argument("--dir", type=Path, help="key folder (default ~/.config/doppel/keys)")
    i.add_argument("--force", action="store_true", help="replace existing keys")
    i.set_defaults(func=run_init)
    a = ksub.add_parser("allow", help="add a client's public .key file to the allow-list")
    a.add_argument("public_key", type=Path)
    a.add_argument("--name", required=True, help="who this key belongs to")
    a.add_argument("--dir", type=Path)
    a.set_defaults(func=run_allow)


def run_init(args: argparse.Namespace) -> int:
    from ..security.curve import KeysError, default_keys_dir, init_keys
    folder = args.dir or default_keys_dir()
    try:
        paths = init_keys(folder, force=args.force)
    except KeysError as exc:
        return fail(str(exc))
    print(f"server keys:  {paths['server_public']} (public: give to clients), "
          f"{paths['server_secret']} (secret: stays on the server)")
    print(f"client keys:  {paths['client_public']}, {paths['client_secret']} "
          f"(give both to one artist's add-on preferences)")
    print(f"allow-list:   {paths['allowed_clients']}")
    print(f"start the server with: doppel serve --bind tcp://0.0.0.0:5557 --keys {folder}")
    return 0


def run_allow(args: argparse.Namespace) -> int:
    from ..security.curve import allow_client, default_keys_dir
    folder = args.dir or default_keys_dir()
    if not args.public_key.is_file():
        return fail(f"no public key file at {args.public_key}")
    print(allow_client(folder, args.public_key, args.name))
    return 0
