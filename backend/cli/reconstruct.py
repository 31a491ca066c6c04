"""`doppel reconstruct PHOTO... --out DIR [--server ADDR] [--body-model M] [--camera-space]
[--json] [--debug]`.

Per photo: DIR/NAME.doppel (the avatar, posed as in the photo, with its camera). A photo of
several people gives one avatar each, DIR/NAME.person1.doppel, NAME.person2.doppel, ... left
to right (at most --max-people, default 8; people under 15 % of the tallest one's height are
skipped with a warning), all in one world and seen by one camera; a photo of one person keeps
the plain NAME.doppel, so existing scripts find it where they did. With
--camera-space also NAME.posed.ply (the posed mesh of every layer: body, garments, hair, shoes;
not the face parts; in the photo's camera frame: OpenCV axes x right, y down, z forward,
metres) and NAME.camera.json (fx fy cx cy width height in pixels of the original photo, named
joints in the same frame, each layer's face range in the PLY). --json prints one JSON line
per photo with per-stage timings and warnings. --debug (local mode) also writes
NAME.segmentation.png: the photo's pixel labels (backend.fit.segmentation.PALETTE, legend on
the right) blended over the photo. Exit status 1 when any photo failed.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

from protocol import ProtocolError, RiggedAvatar

from ..bodies.registry import DEFAULT_BODY_MODEL
from .common import fail, safe_stem, write_avatar_file


def add_parser(sub) -> None:
    p = sub.add_parser("reconstruct", help="rigged, textured avatars from photos of people")
    p.add_argument("photos", nargs="+", metavar="PHOTO", help="PNG, JPEG or WebP files")
    p.add_argument("--out", required=True, help="output folder")
    p.add_argument("--server", help="run the jobs on this server (default: in this process)")
    p.add_argument("--quality", default="default", choices=("fast", "default", "high"),
                   help="fast: body only; default: body + clothing, 1024 px texture; "
                        "high: more iterations, 2048 px texture")
    p.add_argument("--body-model", default=DEFAULT_BODY_MODEL, metavar="MODEL",
                   help="body model to fit: anny (default), or smpl / smplh / smplx when their "
                        "model files are installed (see weights/README.md)")
    p.add_argument("--max-people", type=int, default=8, metavar="N",
                   help="at most N avatars from a photo of several people (default 8; "
                        "1: only the largest person)")
    p.add_argument("--camera-space", action="store_true",
                   help="also write NAME.posed.ply and NAME.camera.json in the photo's camera")
    p.add_argument("--json", action="store_true", help="one JSON line per photo on stdout")
    p.add_argument("--debug", action="store_true",
                   help="also write NAME.segmentation.png (labels over the photo; local mode)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    failures = 0
    if args.debug and args.server:
        print("doppel: note: --debug needs the local mode (no --server); no debug images "
              "are written", file=sys.stderr)
    for photo in args.photos:
        path = Path(photo)
        stem = safe_stem(path.stem)
        start = time.perf_counter()
        debug: dict = {}
        avatar, error = _reconstruct(path, stem, args, debug)
        record = {"photo": str(path), "ok": avatar is not None,
                  "total_s": round(time.perf_counter() - start, 3)}
        if avatar is None:
            failures += 1
            record["error"] = error
            if not args.json:
                fail(f"{path.name}: {error}")
        else:
            people = split_people(avatar)
            records = []
            for k, person in enumerate(people):
                name = f"{stem}.person{k + 1}" if len(people) > 1 else stem
                out = write_avatar_file(person, args.out, name)
                rec = {"avatar": str(out), "timings": person.metadata.get("timings", {}),
                       "warnings": person.metadata.get("warnings", []),
                       "fit": person.metadata.get("fit", {}),
                       "focal": person.metadata.get("camera_focal")}
                if args.camera_space:
                    rec.update(write_camera_space(person, Path(args.out), name))
                records.append(rec)
                if not args.json:
                    print(out)
                    for w in rec["warnings"]:
                        print(f"doppel: warning: {w}", file=sys.stderr)
            record.update(records[0])     # the first person, where one-person records had it
            if len(records) > 1:
                record["people"] = records
            if "segmentation_png" in debug:
                png = Path(args.out) / f"{stem}.segmentation.png"
                png.write_bytes(debug["segmentation_png"])
                record["segmentation_png"] = str(png)
        if args.json:
            print(json.dumps(record), flush=True)
    return 1 if failures else 0


def _reconstruct(path: Path, stem: str, args,
                 debug: dict) -> tuple[RiggedAvatar | None, str | None]:
    try:
        data = path.read_bytes()
    except OSError as exc:
        return None, f"cannot read {path}: {exc.strerror or exc}"
    params = {"name": stem, "quality": args.quality}
    if args.body_model != DEFAULT_BODY_MODEL:   # older servers know no body_model option
        params["body_model"] = args.body_model
    if args.max_people != 8:                    # ...nor max_people
        params["max_people"] = args.max_people
    inputs = {"photo": np.frombuffer(data, dtype=np.uint8)}
    report = (lambda s, f: None) if args.json else \
        (lambda s, f: print(f"  {f * 100:5.1f}%  {s}", file=sys.stderr))
    if args.server:
        from protocol.client import Client
        try:
            with Client(args.server) as client:
                return client.run_job("reconstruct", params, inputs, on_progress=report), None
        except ProtocolError as exc:
            return None, exc.message
    from ..errors import JobInputError
    from ..jobs import JobContext, get_job
    try:
        ctx = JobContext("local", report=report, debug=debug if args.debug else None)
        return get_job("reconstruct")(params, inputs, ctx), None
    except JobInputError as exc:
        return None, str(exc)


def split_people(avatar: RiggedAvatar) -> list[RiggedAvatar]:
    """The photo's avatars left to right, each standalone (with the photo, for its camera's
    background) and without companions."""
    people = [avatar, *avatar.companions]
    for other in avatar.companions:
        if other.source_image is None:
            other.source_image = avatar.source_image
    avatar.companions = []
    return people


def write_camera_space(avatar: RiggedAvatar, out: Path, stem: str) -> dict[str, str]:
    """NAME.posed.ply (every layer but the face parts, posed) + NAME.camera.json in the photo's
    OpenCV camera frame; camera.json lists which face range of the PLY each layer is."""
    from ..fit import posing
    cam_from_world = posing.camera_from_world(avatar)
    verts, faces, owner = posing.camera_space_mesh(avatar)
    ply = out / f"{stem}.posed.ply"
    write_ply(ply, verts.astype(np.float32), faces)
    cam = avatar.camera
    joints = {k: [round(float(x), 5) for x in posing.to_camera(v[None], cam_from_world)[0]]
              for k, v in posing.posed_joints(avatar).items()}
    layers = []
    for i in dict.fromkeys(owner.tolist()):         # layers stay contiguous, in avatar order
        rows = np.flatnonzero(owner == i)
        layers.append({"role": avatar.layers[i].role, "name": avatar.layers[i].name,
                       "faces": [int(rows[0]), int(rows[-1]) + 1]})
    info = {"fx": cam.fx, "fy": cam.fy, "cx": cam.cx, "cy": cam.cy, "width": cam.width,
            "height": cam.height, "frame": "opencv (x right, y down, z forward), metres",
            "joints": joints, "layers": layers}
    cam_json = out / f"{stem}.camera.json"
    cam_json.write_text(json.dumps(info, indent=1))
    return {"posed_ply": str(ply), "camera_json": str(cam_json)}


def write_ply(path: Path, verts: np.ndarray, faces: np.ndarray) -> None:
    """Binary little-endian PLY: float xyz vertices, triangle faces."""
    header = (f"ply\nformat binary_little_endian 1.0\nelement vertex {len(verts)}\n"
              f"property float x\nproperty float y\nproperty float z\n"
              f"element face {len(faces)}\nproperty list uchar int vertex_indices\nend_header\n")
    rows = np.zeros(len(faces), dtype=[("n", "u1"), ("idx", "<i4", (faces.shape[1],))])
    rows["n"] = faces.shape[1]
    rows["idx"] = faces
    with open(path, "wb") as fh:
        fh.write(header.encode("ascii"))
        fh.write(np.ascontiguousarray(verts, "<f4").tobytes())
        fh.write(rows.tobytes())
