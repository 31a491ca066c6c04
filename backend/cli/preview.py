"""`doppel preview AVATAR --out FILE.png [--views N --size PX]`: a turntable contact sheet of
the avatar rendered as Gaussian splats (the same pictures the `preview` job returns)."""

from __future__ import annotations

import argparse
from pathlib import Path

from protocol import FILE_SUFFIX, ProtocolError, load_avatar

from .common import fail


def add_parser(sub) -> None:
    p = sub.add_parser("preview", help="render turntable thumbnails of an avatar (splats)")
    p.add_argument("avatar", metavar="AVATAR", help=f"{FILE_SUFFIX} file")
    p.add_argument("--out", required=True, help="the .png contact sheet to write")
    p.add_argument("--views", type=int, default=8, help="views around the avatar (default 8)")
    p.add_argument("--size", type=int, default=256, help="pixels per view (default 256)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    out = Path(args.out)
    if out.suffix.lower() != ".png":
        return fail(f"--out must name a .png file, got {args.out!r}")
    if not (1 <= args.views <= 36 and 16 <= args.size <= 1024):
        return fail("--views must be 1..36 and --size 16..1024")
    try:
        avatar = load_avatar(args.avatar)
    except ProtocolError as exc:
        return fail(exc.message)
    from ..imageio.png import png_bytes
    from ..render.preview import contact_sheet, render_turntable
    images = render_turntable(avatar, views=args.views, size=args.size)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_bytes(png_bytes(contact_sheet(images)))
    print(f"{out} ({args.views} views, {args.size} px)")
    return 0
