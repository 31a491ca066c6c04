"""`doppel body --out DIR [--server ADDR] [--set NAME=VALUE ...]`: one avatar file."""

from __future__ import annotations

import argparse

from ..bodies.registry import DEFAULT_BODY_MODEL
from .common import parse_assignments, run_job, write_avatar_file


def add_parser(sub) -> None:
    p = sub.add_parser("body", help="write one body avatar (rest pose) into DIR")
    p.add_argument("--out", required=True, help="output folder")
    p.add_argument("--server", help="run the job on this server (default: in this process)")
    p.add_argument("--set", action="append", default=[], metavar="NAME=VALUE",
                   help="shape parameter, e.g. --set height=0.7 (repeatable)")
    p.add_argument("--model", default=DEFAULT_BODY_MODEL,
                   help=f"body model (default {DEFAULT_BODY_MODEL})")
    p.add_argument("--name", default="Body", help="avatar name")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    shape = parse_assignments(args.set)
    params = {"body_model": args.model, "name": args.name, "params": shape}
    avatar = run_job("body", params, {}, server=args.server)
    if avatar is None:
        return 1
    path = write_avatar_file(avatar, args.out, args.name)
    print(path)
    return 0
