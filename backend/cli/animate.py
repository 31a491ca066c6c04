"""`doppel animate AVATAR_FILE MOTION_FILE --out FILE.blend [--fps F] [--in-place] [--start N]`:
build the avatar in headless Blender, key the motion clip onto it with the add-on's own code,
and save the scene."""

from __future__ import annotations

import argparse
from pathlib import Path

from protocol import FILE_SUFFIX, ProtocolError, load_avatar

from .common import fail


def add_parser(sub) -> None:
    p = sub.add_parser("animate", help="put a motion clip (AMASS .npz / BVH) on an avatar "
                                       "and save a .blend")
    p.add_argument("avatar", metavar="AVATAR_FILE", help=f"{FILE_SUFFIX} file")
    p.add_argument("motion", metavar="MOTION_FILE", help="AMASS/SMPL .npz or .bvh")
    p.add_argument("--out", required=True, help="the .blend file to write")
    p.add_argument("--fps", type=float, help="frames per second to sample at (default: the "
                                             "scene's, 24)")
    p.add_argument("--source-fps", type=float, help="frame rate of a clip that stores none")
    p.add_argument("--in-place", action="store_true", help="no root travel")
    p.add_argument("--start", type=int, default=1, help="first frame (default 1)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    out = Path(args.out)
    if out.suffix.lower() != ".blend":
        return fail(f"--out must name a .blend file, got {args.out!r}")
    if args.fps is not None and not args.fps > 0:
        return fail(f"--fps must be a positive number, got {args.fps}")
    try:
        avatar = load_avatar(args.avatar)
    except (OSError, ProtocolError) as exc:
        return fail(getattr(exc, "message", None) or f"cannot read {args.avatar}: {exc}")
    # bpy is slow to import, so only now; the motion maths needs no bpy and is checked first.
    from blender_addon.io.motion import MotionError, prepare_clip
    try:
        prepare_clip(args.motion, avatar.skeleton, args.fps or 24.0, in_place=args.in_place,
                     source_fps=args.source_fps)
    except MotionError as exc:
        return fail(str(exc))
    from blender_addon.blender.motion_writer import animate_blend
    action, frames = animate_blend(avatar, args.motion, out, fps=args.fps,
                                   in_place=args.in_place, start_frame=args.start,
                                   source_fps=args.source_fps)
    print(f"{out} (action {action}, {frames} frames)")
    return 0
