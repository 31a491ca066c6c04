"""The `doppel` command. Each subcommand lives in its own module of this package, exposing
``add_parser(subparsers)`` (which sets ``func`` on its parser) and is listed in COMMANDS."""

from __future__ import annotations

import argparse
import importlib
import logging
import sys

# Order is the order `doppel --help` lists them.
COMMANDS = (
    "serve", "status", "body", "blend", "weights", "keys", "generate", "transfer", "animate",
    "reconstruct", "splat", "preview",
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="doppel", description="Photos in, rigged avatars out.")
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name in COMMANDS:
        importlib.import_module(f"{__name__}.{name}").add_parser(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.INFO, stream=sys.stderr,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        return int(args.func(args) or 0)
    except KeyboardInterrupt:
        return 130
