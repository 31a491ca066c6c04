"""`doppel weights check [--json]`: which optional model files are present and intact."""

from __future__ import annotations

import argparse
import json

from ..weights import check_entry, load_manifest


def add_parser(sub) -> None:
    p = sub.add_parser("weights", help="optional model files (see weights/README.md)")
    wsub = p.add_subparsers(dest="weights_command", required=True, metavar="ACTION")
    c = wsub.add_parser("check", help="report which manifest entries are present and intact")
    c.add_argument("--json", action="store_true", help="one JSON object per entry")
    c.set_defaults(func=run_check)


def run_check(args: argparse.Namespace) -> int:
    rows = [(e, check_entry(e)) for e in load_manifest()]
    if args.json:
        for e, status in rows:
            print(json.dumps({"name": e.name, "status": status, "path": str(e.location()),
                              "verified": status == "ok", "sha256_known": bool(e.sha256),
                              "licence": e.licence, "used_by": e.used_by}))
    else:
        width = max((len(e.name) for e, _ in rows), default=4)
        for e, status in rows:
            print(f"{e.name:<{width}}  {status:<20}  {e.location()}")
        present = sum(s != "missing" for _, s in rows)
        print(f"{present} of {len(rows)} optional files present")
        print(f"pose landmark model for reconstruction: {_pose_model()}")
        unverified = [e.name for e, s in rows if s == "present, unverified"]
        if unverified:
            print(f"UNVERIFIED: {', '.join(unverified)}: no published sha256 is known for "
                  f"{'this file' if len(unverified) == 1 else 'these files'}, so Doppel cannot "
                  f"tell a genuine copy from a tampered one. Get them only from the source "
                  f"listed in weights/*.toml; model files are loaded without running code, but "
                  f"their numbers are trusted.")
    return 1 if any(s == "CORRUPT" for _, s in rows) else 0


def _pose_model() -> str:
    """Which BlazePose landmark model reconstruction runs, and why (no graph is built)."""
    import os

    from ..perception.heavy_model import heavy_status
    if os.environ.get("DOPPEL_POSE_MODEL", "").strip().lower() == "full":
        return "full (DOPPEL_POSE_MODEL=full)"
    status = heavy_status()
    return ("heavy (DOPPEL_POSE_MODEL=full opts out)" if status == "ok"
            else f"full (the heavy model is {status}; ./scripts/setup installs it)")
