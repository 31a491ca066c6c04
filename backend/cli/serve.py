"""`doppel serve [--bind ADDR] [--keys DIR] [--results DIR] [--workers N] [--ray ADDR]`: run the
ZeroMQ server; jobs run in local worker processes, or with --ray in actors on a Ray cluster
behind it (clients still talk only to this server)."""

from __future__ import annotations

import argparse
import logging
import signal
from pathlib import Path

from protocol import DEFAULT_ADDRESS

from .common import fail

log = logging.getLogger("doppel.cli")


def add_parser(sub) -> None:
    p = sub.add_parser("serve", help="run the Doppel server (Blender and --server talk to it)")
    p.add_argument("--bind", default=DEFAULT_ADDRESS,
                   help=f"address to listen on (default {DEFAULT_ADDRESS}); any non-loopback "
                        f"address needs --keys")
    p.add_argument("--keys", type=Path, default=None, metavar="DIR",
                   help="CurveZMQ key folder made by `doppel keys init`: only clients (and "
                        "workers) on its allowed_clients/ list get in")
    p.add_argument("--results", default=None, metavar="DIR",
                   help="folder for finished results (default $DOPPEL_RESULTS_DIR or "
                        "~/.cache/doppel/results)")
    p.add_argument("--workers", type=int, default=1,
                   help="worker processes, i.e. jobs run at the same time (default 1); with "
                        "--ray: actors per CPU node (a GPU node runs one per GPU)")
    p.add_argument("--job-time-limit", type=float, default=6 * 3600.0, metavar="SECONDS",
                   help="stop a job that runs longer (default 6 hours; 0: no limit)")
    p.add_argument("--max-queued", type=int, default=64, metavar="N",
                   help="queued + running jobs before new submits are answered 'busy' "
                        "(default 64)")
    d = _default_limits()
    p.add_argument("--max-client-jobs", type=int, default=d.client_jobs, metavar="N",
                   help=f"queued + running jobs of one client before 'busy' (default "
                        f"{d.client_jobs})")
    p.add_argument("--max-client-input-mb", type=float, default=d.client_input_bytes / MB,
                   metavar="MB", help=f"input bytes of one client's queued jobs held in memory "
                                      f"(default {d.client_input_bytes / MB:g})")
    p.add_argument("--max-input-mb", type=float, default=d.total_input_bytes / MB, metavar="MB",
                   help=f"input bytes of all queued jobs held in memory (default "
                        f"{d.total_input_bytes / MB:g}); beyond it submits get 'busy'")
    p.add_argument("--max-message-mb", type=float, default=d.message_bytes / MB, metavar="MB",
                   help=f"largest request accepted, all inputs together (default "
                        f"{d.message_bytes / MB:g}); larger ones are dropped unread")
    p.add_argument("--keep-results", type=float, default=7 * 24.0, metavar="HOURS",
                   help="how long finished results stay fetchable (default 168 = 7 days)")
    p.add_argument("--ray", default=None, metavar="HOST:PORT|auto",
                   help="run jobs on the Ray cluster at this address (`ray start --head` "
                        "prints it; auto: the cluster this machine belongs to). Needs "
                        "pip install 'doppel[cluster]'; keep Ray on the private network")
    p.add_argument("--job", action="append", default=[], metavar="KIND=MODULE:FUNCTION",
                   help="also run this job kind (repeatable): a module-level function the "
                        "workers (or every Ray node) can import")
    p.set_defaults(func=run)


MB = float(1 << 20)


def _default_limits():
    from ..server.limits import Limits
    return Limits()


def run(args: argparse.Namespace) -> int:
    import dataclasses

    from ..server import Server
    if args.workers < 1:
        return fail("--workers must be at least 1")
    sizes = (args.max_client_input_mb, args.max_input_mb, args.max_message_mb)
    if args.max_client_jobs < 1 or min(sizes) <= 0:
        return fail("--max-client-jobs and the --max-*-mb limits must be positive")
    message = int(args.max_message_mb * MB)
    limits = dataclasses.replace(
        _default_limits(), client_jobs=args.max_client_jobs,
        client_input_bytes=int(args.max_client_input_mb * MB),
        total_input_bytes=int(args.max_input_mb * MB), message_bytes=message,
        array_bytes=min(_default_limits().array_bytes, message))
    if args.max_queued < 1 or args.keep_results <= 0:
        return fail("--max-queued and --keep-results must be positive")

    def on_term(signum, frame):   # SIGTERM stops as cleanly as Ctrl-C
        raise KeyboardInterrupt

    jobs = None
    if args.job:
        from ..jobs import JOB_KINDS
        jobs = dict(JOB_KINDS)
        for item in args.job:
            kind, sep, spec = item.partition("=")
            if not sep or not kind or spec.count(":") != 1:
                return fail(f"--job expects KIND=package.module:function, got {item!r}")
            jobs[kind] = spec

    from ..security.curve import KeysError
    try:
        server = Server(args.bind, results_dir=args.results, workers=args.workers,
                        keys=args.keys, job_time_limit=args.job_time_limit or None,
                        max_queued=args.max_queued, keep_results=args.keep_results * 3600.0,
                        ray=args.ray, jobs=jobs, limits=limits)
        signal.signal(signal.SIGTERM, on_term)
        server.serve_forever()
    except (ValueError, OSError, KeysError) as exc:   # address, keys, results dir, Ray
        return fail(str(exc))
    except KeyboardInterrupt:
        log.info("interrupted")
    return 0
