"""`doppel generate --seed S --count N --out DIR [--attr key=value ...]`: N dressed avatars,
seeds S, S+1, ..., one ``doppel_<seed>.doppel`` file each."""

from __future__ import annotations

import argparse

from .common import fail, run_job, write_avatar_file


def add_parser(sub) -> None:
    p = sub.add_parser("generate", help="generate layered, dressed avatars from seeds")
    p.add_argument("--seed", type=int, default=0, help="first seed (default 0)")
    p.add_argument("--count", type=int, default=1, help="how many avatars (default 1)")
    p.add_argument("--out", required=True, help="output folder")
    p.add_argument("--attr", action="append", default=[], metavar="KEY=VALUE",
                   help="fix an attribute, e.g. --attr top=jacket --attr top_color=navy "
                        "(repeatable; a wrong key or value lists the valid ones)")
    p.add_argument("--server", help="run the jobs on this server (default: in this process)")
    p.set_defaults(func=run)


def parse_attributes(items: list[str]) -> dict[str, str]:
    out: dict[str, str] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key.strip() or not value.strip():
            raise SystemExit(fail(f"--attr expects KEY=VALUE, got {item!r}"))
        out[key.strip()] = value.strip()
    return out


def run(args: argparse.Namespace) -> int:
    if args.count < 1 or args.seed < 0:
        return fail("--count must be at least 1 and --seed not negative")
    attrs = parse_attributes(args.attr)
    for seed in range(args.seed, args.seed + args.count):
        params = {"seed": seed, "attributes": attrs, "name": f"Doppel_{seed}"}
        avatar = run_job("generate", params, {}, server=args.server, quiet=args.count > 1)
        if avatar is None:
            return 1
        print(write_avatar_file(avatar, args.out, f"doppel_{seed}"))
    return 0
