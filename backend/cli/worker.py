"""`doppel worker --connect tcp://BROKER:PORT`: run jobs for a `doppel serve --broker`."""

from __future__ import annotations

import argparse
import logging
import signal
from pathlib import Path

from ..bodies.registry import DEFAULT_BODY_MODEL
from .common import fail

log = logging.getLogger("doppel.cli")


def add_parser(sub) -> None:
    p = sub.add_parser("worker", help="run jobs for a broker (`doppel serve --broker`)")
    p.add_argument("--connect", required=True, metavar="ADDR",
                   help="the broker's address, e.g. tcp://farm-head:5557")
    p.add_argument("--keys", type=Path, default=None, metavar="DIR",
                   help="folder holding server.key and this worker's worker.key_secret (from "
                        "`doppel keys init`; the worker's public key must be on the broker's "
                        "allowed_workers/ list: client keys cannot register as workers)")
    p.add_argument("--name", default=None, help="name in the broker's log (default host-id)")
    p.add_argument("--job", action="append", default=[], metavar="KIND=MODULE:FUNCTION",
                   help="run only these job kinds (repeatable; default: all built-in kinds)")
    p.add_argument("--heartbeat", type=float, default=1.0, metavar="SECONDS",
                   help="heartbeat interval; must match the broker's (default 1)")
    p.add_argument("--job-time-limit", type=float, default=6 * 3600.0, metavar="SECONDS",
                   help="stop a job that runs longer (default 6 hours; 0: no limit)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from ..server.remote_worker import RemoteWorker
    jobs = None
    if args.job:
        jobs = {}
        for item in args.job:
            kind, sep, spec = item.partition("=")
            if not sep or spec.count(":") != 1:
                return fail(f"--job expects KIND=package.module:function, got {item!r}")
            jobs[kind] = spec
    keys = {}
    if args.keys is not None:
        secret = args.keys / "worker.key_secret"
        if not secret.is_file():
            return fail(f"no worker key at {secret}: run `doppel keys init` on the broker (it "
                        f"makes worker.key / worker.key_secret), or allow this worker's own key "
                        f"there with `doppel keys allow KEY --name NAME --worker`")
        keys = {"server_key": args.keys / "server.key", "client_key": secret}

    def on_term(signum, frame):
        raise KeyboardInterrupt

    try:
        worker = RemoteWorker(args.connect, jobs=jobs, name=args.name,
                              heartbeat=args.heartbeat, preload=() if jobs else (DEFAULT_BODY_MODEL,),
                              job_time_limit=args.job_time_limit or None, **keys)
        signal.signal(signal.SIGTERM, on_term)
        worker.run()
    except ValueError as exc:
        return fail(str(exc))
    except KeyboardInterrupt:
        log.info("interrupted")
    return 0
