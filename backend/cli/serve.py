"""`doppel serve [--bind ADDR] [--results DIR] [--workers N]`: run the ZeroMQ server."""

from __future__ import annotations

import argparse
import logging
import signal

from protocol import DEFAULT_ADDRESS

from .common import fail

log = logging.getLogger("doppel.cli")


def add_parser(sub) -> None:
    p = sub.add_parser("serve", help="run the Doppel server (Blender and --server talk to it)")
    p.add_argument("--bind", default=DEFAULT_ADDRESS,
                   help=f"address to listen on (default {DEFAULT_ADDRESS})")
    p.add_argument("--results", default=None, metavar="DIR",
                   help="folder for finished results (default $DOPPEL_RESULTS_DIR or "
                        "~/.cache/doppel/results)")
    p.add_argument("--workers", type=int, default=1,
                   help="jobs run at the same time (default 1)")
    p.add_argument("--insecure-allow-remote", action="store_true",
                   help="allow a non-loopback --bind although the server has no "
                        "authentication yet (trusted networks only)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from ..server import Server
    if args.workers < 1:
        return fail("--workers must be at least 1")

    def on_term(signum, frame):   # SIGTERM stops as cleanly as Ctrl-C
        raise KeyboardInterrupt

    try:
        server = Server(args.bind, results_dir=args.results, workers=args.workers,
                        allow_remote=args.insecure_allow_remote)
        signal.signal(signal.SIGTERM, on_term)
        server.serve_forever()
    except (ValueError, OSError) as exc:     # unsafe/busy address, unwritable results folder
        return fail(str(exc))
    except KeyboardInterrupt:
        log.info("interrupted")
    return 0
