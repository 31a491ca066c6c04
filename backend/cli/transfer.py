"""`doppel transfer --layer top --from A.doppel --to B.doppel --out DIR`: B wearing A's layer,
refitted to B's body (B's own layer of that role is replaced)."""

from __future__ import annotations

import argparse
from pathlib import Path

from protocol import ProtocolError, load_avatar

from .common import fail, run_job, write_avatar_file


def add_parser(sub) -> None:
    p = sub.add_parser("transfer", help="move a garment layer from one avatar to another")
    p.add_argument("--layer", required=True, help="role of the layer: top, bottom, shoes, hair")
    p.add_argument("--from", dest="source", required=True, help="avatar file to take it from")
    p.add_argument("--to", dest="target", required=True, help="avatar file to put it on")
    p.add_argument("--out", required=True, help="output folder")
    p.add_argument("--server", help="run the job on this server (default: in this process)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from ..jobs.transfer import transfer_request
    try:
        source, target = load_avatar(args.source), load_avatar(args.target)
    except ProtocolError as exc:
        return fail(exc.message)
    params, inputs = transfer_request(source, args.layer, target)
    avatar = run_job("transfer", params, inputs, server=args.server)
    if avatar is None:
        return 1
    print(write_avatar_file(avatar, args.out, f"{Path(args.target).stem}_{args.layer}"))
    return 0
