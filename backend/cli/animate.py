"""`doppel animate AVATAR_FILE MOTION_FILE --out FILE.blend [--fps F]
[--root-motion bone|object|in_place] [--in-place] [--no-plant-feet] [--start N]
[--use-clip-body] [--retarget]`: build the avatar in headless Blender, key the motion clip onto
it with the add-on's own code, and save the scene. A ``.csv`` of ARKit weights per frame (Live
Link Face) animates the avatar's face shape keys instead.

Root motion: "bone" (default) keys the travel on the root bone, as Unity's and Unreal's root
motion read it; "object" on the armature object; "in_place" nowhere (``--in-place`` is the old
spelling). Retargeted clips have their feet on the floor; planted feet are held still unless
``--no-plant-feet``.

An AMASS/SMPL clip on a SMPL-family avatar is applied directly (the clip's own joint
rotations); every other pairing is retargeted. ``--use-clip-body`` first rebuilds a
SMPL-family avatar with the clip's betas and gender, so the body is the one that was captured.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from protocol import FILE_SUFFIX, ProtocolError, load_avatar

from .common import fail, run_job


def add_parser(sub) -> None:
    p = sub.add_parser("animate", help="put a motion clip (AMASS .npz / BVH / FBX) or a face "
                                       "capture (ARKit CSV) on an avatar and save a .blend")
    p.add_argument("avatar", metavar="AVATAR_FILE", help=f"{FILE_SUFFIX} file")
    p.add_argument("motion", metavar="MOTION_FILE", help="AMASS/SMPL .npz, .bvh, .fbx (Mixamo), "
                                                          "or an ARKit face CSV (Live Link Face)")
    p.add_argument("--out", required=True, help="the .blend file to write")
    p.add_argument("--fps", type=float, help="frames per second to sample at (default: the "
                                             "scene's, 24)")
    p.add_argument("--source-fps", type=float, help="frame rate of a clip that stores none")
    p.add_argument("--root-motion", choices=("bone", "object", "in_place"),
                   help="where the travel goes: the root bone (default, for game engines' "
                        "root motion), the armature object, or nowhere (in place)")
    p.add_argument("--in-place", action="store_true",
                   help="no root travel (same as --root-motion in_place)")
    p.add_argument("--no-plant-feet", dest="plant_feet", action="store_false",
                   help="let feet slide as the clip's do (soles still meet the floor)")
    p.add_argument("--start", type=int, default=1, help="first frame (default 1)")
    p.add_argument("--use-clip-body", action="store_true",
                   help="rebuild a SMPL/SMPL-H/SMPL-X avatar with the AMASS clip's betas and "
                        "gender first (needs the SMPL model files)")
    p.add_argument("--retarget", action="store_true",
                   help="retarget even where the clip could be applied directly")
    p.set_defaults(func=run)


def clip_body_avatar(avatar, motion: str):
    """The SMPL-family ``avatar`` rebuilt by the body job with the clip's betas and gender,
    or None after printing why that cannot be done."""
    smpl = avatar.metadata.get("smpl")
    if not isinstance(smpl, dict) or "model" not in smpl:
        kind = avatar.metadata.get("body_model", "non-SMPL")
        fail(f"--use-clip-body needs a SMPL, SMPL-H or SMPL-X avatar, but '{avatar.name}' "
             f"is a {kind} body; make one with `doppel body --model smplh`, or leave the "
             "option out.")
        return None
    if Path(motion).suffix.lower() != ".npz":
        fail(f"--use-clip-body needs an AMASS/SMPL .npz clip; '{Path(motion).name}' "
             "carries no SMPL body (betas, gender).")
        return None
    from ..bodies import get_body_model
    from ..errors import JobInputError
    try:
        params, warnings = get_body_model(smpl["model"]).clip_params(motion)
    except JobInputError as exc:
        fail(str(exc))
        return None
    for text in warnings:
        print(f"warning: {text}", file=sys.stderr)
    rebuilt = run_job("body", {"body_model": smpl["model"], "name": avatar.name,
                               "params": params}, {}, quiet=True)
    if rebuilt is not None:
        print(f"body: {smpl['model']} {params['gender']}, {len(params['betas'])} betas from "
              "the clip")
    return rebuilt


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
    if args.use_clip_body:
        avatar = clip_body_avatar(avatar, args.motion)
        if avatar is None:
            return 1
    method = "retarget" if args.retarget else "auto"
    if args.in_place and args.root_motion not in (None, "in_place"):
        return fail(f"--in-place contradicts --root-motion {args.root_motion}; give one.")
    root_motion = "in_place" if args.in_place else (args.root_motion or "bone")
    # bpy is slow to import, so only now; the motion maths needs no bpy and is checked first.
    from rig.motion import MotionError, prepare_clip
    from rig.motion.arkit_csv import prepare_face_clip
    suffix = Path(args.motion).suffix.lower()
    try:
        if suffix == ".csv":                                # ARKit face weights (Live Link)
            prepare_face_clip(args.motion, args.fps or 24.0, args.source_fps)
        elif suffix != ".fbx":                              # only Blender reads FBX
            prepare_clip(args.motion, avatar.skeleton, args.fps or 24.0,
                         root_motion=root_motion, source_fps=args.source_fps,
                         smpl_body=avatar.metadata.get("smpl"), method=method,
                         plant_feet=False)
        from blender_addon.blender.headless import animate_blend
        action, clip = animate_blend(avatar, args.motion, out, fps=args.fps,
                                     root_motion=root_motion, start_frame=args.start,
                                     source_fps=args.source_fps, method=method,
                                     plant_feet=args.plant_feet)
    except MotionError as exc:
        return fail(str(exc))
    for text in clip.warnings:
        print(f"warning: {text}", file=sys.stderr)
    root = getattr(clip, "root_motion", None)          # a face clip moves no root
    print(f"{out} (action {action}, {clip.frame_count} frames"
          + (f", root motion {root}" if root else "") + f"; {clip.info})")
    return 0
