"""The README's main job: a real server, avatars made through the protocol, a .blend and renders.

    ./scripts/demo [--photo PATH] [--out DIR]

1. starts `doppel serve` on a free loopback port (a separate process, as an artist runs it);
2. asks it for the default Anny body and, when the server offers `reconstruct`, for an avatar
   of the bundled photo (../shared/data/photos/single/ryota.png);
3. builds them in headless Blender with the add-on's own importer: out/demo.blend, a Workbench
   render out/demo.png and 12 turntable frames in out/turntable/.
"""

from __future__ import annotations

import argparse
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

from protocol import ProtocolError, save_avatar

REPO = Path(__file__).resolve().parents[1]
DEFAULT_PHOTO = REPO.parent / "shared" / "data" / "photos" / "single" / "ryota.png"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(address: str, log_path: Path) -> subprocess.Popen:
    log = open(log_path, "wb")
    return subprocess.Popen([sys.executable, "-m", "backend", "--bind", address],
                            stdout=log, stderr=subprocess.STDOUT, cwd=REPO)


def wait_for_server(client_cls, address: str, proc: subprocess.Popen, limit_s: float = 60.0):
    deadline = time.monotonic() + limit_s
    while True:
        if proc.poll() is not None:
            raise SystemExit(f"demo: the server exited with code {proc.returncode}; see its log")
        try:
            with client_cls(address, timeout=2.0) as c:
                return c.hello()
        except ProtocolError:
            if time.monotonic() > deadline:
                raise SystemExit(f"demo: no answer from the server at {address} in {limit_s} s")


def progress(label: str):
    def report(stage: str, fraction: float) -> None:
        print(f"  {label}: {fraction * 100:5.1f}%  {stage}", flush=True)
    return report


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--photo", type=Path, default=DEFAULT_PHOTO, help="photo to reconstruct")
    ap.add_argument("--out", type=Path, default=REPO / "out", help="output folder")
    args = ap.parse_args(argv)
    from protocol.client import Client

    out = args.out
    out.mkdir(parents=True, exist_ok=True)
    address = f"tcp://127.0.0.1:{free_port()}"
    print(f"demo: starting server at {address} (log: {out / 'server.log'})", flush=True)
    server = start_server(address, out / "server.log")
    avatars = []           # kept in memory for Blender; also saved as .doppel files
    try:
        caps = wait_for_server(Client, address, server)
        print(f"demo: server {caps.get('server_version')} on {caps.get('device')}, jobs: "
              f"{', '.join(caps.get('job_kinds', []))}", flush=True)
        with Client(address, timeout=10.0) as client:
            body = client.run_job("body", {"name": "AnnyBody"}, {}, on_progress=progress("body"))
            save_avatar(body, out / "AnnyBody.doppel")
            avatars.append(body)
            if "reconstruct" in caps.get("job_kinds", []) and args.photo.is_file():
                photo = np.frombuffer(args.photo.read_bytes(), dtype=np.uint8)
                rec = client.run_job("reconstruct", {"name": args.photo.stem}, {"photo": photo},
                                     on_progress=progress(args.photo.name))
                save_avatar(rec, out / f"{args.photo.stem}.doppel")
                avatars.append(rec)
    finally:
        server.terminate()
        try:
            server.wait(10)
        except subprocess.TimeoutExpired:
            server.kill()
    from blender_addon.blender.headless import build_blend
    blend, png = out / "demo.blend", out / "demo.png"
    turntable = out / "turntable"
    build_blend(avatars, str(blend), render_png=str(png), turntable_dir=turntable,
                turntable_frames=12)
    print(f"demo: wrote {blend}, {png} and 12 turntable frames in {turntable}/", flush=True)
    return 0


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    sys.exit(main())
