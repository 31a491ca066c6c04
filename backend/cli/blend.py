"""`doppel blend AVATAR_FILE... --out FILE.blend [--render FILE.png]`: build avatars with the
add-on's own importer in headless Blender (the bpy module) and save the scene."""

from __future__ import annotations

import argparse
from pathlib import Path

from protocol import FILE_SUFFIX, ProtocolError, load_avatar

from .common import fail


def add_parser(sub) -> None:
    p = sub.add_parser("blend", help="build avatar files into a .blend (headless Blender)")
    p.add_argument("avatars", nargs="+", metavar="AVATAR_FILE", help=f"{FILE_SUFFIX} files")
    p.add_argument("--out", required=True, help="the .blend file to write")
    p.add_argument("--render", metavar="FILE.png", help="also save a small Workbench render")
    p.add_argument("--rest", action="store_true", help="rest pose instead of the avatar's pose")
    p.add_argument("--turntable", metavar="DIR", help="also render turntable frames into DIR")
    p.add_argument("--frames", type=int, default=12, help="turntable frames (default 12)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    out = Path(args.out)
    if out.suffix.lower() != ".blend":
        return fail(f"--out must name a .blend file, got {args.out!r}")
    if args.render and Path(args.render).suffix.lower() != ".png":
        return fail(f"--render must name a .png file, got {args.render!r}")
    if args.frames < 1:
        return fail(f"--frames must be at least 1, got {args.frames}")
    # Read and check every file before starting Blender: a bad one writes nothing.
    avatars = []
    for path in args.avatars:
        if not Path(path).is_file():
            return fail(f"avatar file {path} does not exist")
        try:
            avatars.append(load_avatar(path))
        except ProtocolError as exc:
            return fail(exc.message)
    from blender_addon.blender.headless import build_blend  # imports bpy: slow, so only here
    names = build_blend(avatars, out, render_png=args.render, posed=not args.rest,
                        turntable_dir=args.turntable, turntable_frames=args.frames)
    print(f"{out} ({', '.join(names)})")
    if args.render:
        print(args.render)
    if args.turntable:
        print(f"{args.turntable} ({args.frames} turntable frames)")
    return 0
