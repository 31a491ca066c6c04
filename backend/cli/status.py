"""`doppel status [--server ADDR] [--json]`: what a server computes on — its version, its
engine (local worker processes or a Ray cluster) and per node the CPUs, GPUs and jobs."""

from __future__ import annotations

import argparse
import json

from protocol import DEFAULT_ADDRESS, ProtocolError

from .common import fail


def add_parser(sub) -> None:
    p = sub.add_parser("status", help="show a server's engine and nodes (CPUs, GPUs, jobs)")
    p.add_argument("--server", default=DEFAULT_ADDRESS,
                   help=f"the server's address (default {DEFAULT_ADDRESS}); CURVE keys come "
                        f"from $DOPPEL_SERVER_KEY / $DOPPEL_CLIENT_KEY")
    p.add_argument("--json", action="store_true", help="print the reply as JSON")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from protocol.client import Client
    try:
        with Client(args.server) as client:
            info = client.cluster()
    except ProtocolError as exc:
        return fail(exc.message)
    except ValueError as exc:     # CURVE key files
        return fail(str(exc))
    if args.json:
        print(json.dumps(info, indent=2))
        return 0
    nodes = info["nodes"]
    print(f"server {args.server}: doppel {info['server_version']}, engine {info['engine']}, "
          f"{len(nodes)} node{'s' * (len(nodes) != 1)}")
    print(f"  {'node':<34} {'CPUs':>5} {'GPUs':>5} {'running':>8} {'done':>6}")
    for n in nodes:
        name = n["address"] + (f" ({n['node_id']})" if n.get("node_id") else "")
        print(f"  {name:<34} {n['cpus']:>5g} {n['gpus']:>5g} {n['running']:>8} {n['done']:>6}")
    return 0
