"""`doppel splat AVATAR --out FILE.ply [--motion CLIP --frame N]`: the avatar as 3D Gaussians
in the standard 3DGS .ply (posed by its own pose, or by one frame of a motion clip)."""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from protocol import FILE_SUFFIX, Pose, ProtocolError, RiggedAvatar, load_avatar

from .common import fail


def add_parser(sub) -> None:
    p = sub.add_parser("splat", help="export an avatar as Gaussian splats (3DGS .ply)")
    p.add_argument("avatar", metavar="AVATAR", help=f"{FILE_SUFFIX} file")
    p.add_argument("--out", required=True, help="the .ply file to write")
    p.add_argument("--motion", metavar="CLIP", help="AMASS/SMPL .npz or .bvh to pose it with")
    p.add_argument("--frame", type=int, help="frame of --motion, 0 = its first (default 0)")
    p.add_argument("--fps", type=float, default=24.0, help="frame rate --frame counts in "
                                                           "(default 24)")
    p.add_argument("--count", type=int, default=100_000, help="number of Gaussians "
                                                              "(default 100000)")
    p.add_argument("--sh-degree", type=int, choices=(0, 3), default=0,
                   help="3 adds zero f_rest_* fields, for loaders that insist on them")
    p.add_argument("--seed", type=int, default=0, help="sampling seed")
    p.set_defaults(func=run)


def motion_pose(avatar: RiggedAvatar, motion: str, frame: int, fps: float) -> Pose:
    """One frame of a clip retargeted onto the avatar, as a protocol Pose. Raises
    MotionError or ValueError with a sentence for the user."""
    from rig.motion import prepare_clip
    clip = prepare_clip(motion, avatar.skeleton, fps, smpl_body=avatar.metadata.get("smpl"))
    if not 0 <= frame < clip.frame_count:
        raise ValueError(f"--frame {frame} is outside the clip, which has {clip.frame_count} "
                         f"frames at {fps:g} fps (0..{clip.frame_count - 1})")
    # The clip's root location is Blender's pose_bone.location (in the root's rest frame);
    # protocol.Pose keeps it in armature space.
    rest_root = np.asarray(avatar.skeleton.matrices[0], np.float64)
    location = rest_root[:3, :3] @ clip.root_location[frame].astype(np.float64)
    return Pose(rotations=clip.rotations[frame], location=location.astype(np.float32))


def run(args: argparse.Namespace) -> int:
    out = Path(args.out)
    if out.suffix.lower() != ".ply":
        return fail(f"--out must name a .ply file, got {args.out!r}")
    if args.frame is not None and not args.motion:
        return fail("--frame picks a frame of --motion; give a motion clip too")
    if args.count < 1:
        return fail(f"--count must be at least 1, got {args.count}")
    try:
        avatar = load_avatar(args.avatar)
    except ProtocolError as exc:
        return fail(exc.message)
    pose = avatar.pose
    if args.motion:
        from rig.motion import MotionError
        try:
            pose = motion_pose(avatar, args.motion, args.frame or 0, args.fps)
        except (MotionError, ValueError) as exc:
            return fail(str(exc))
    from ..render.avatar_gaussians import avatar_gaussians, pose_gaussians
    from ..render.ply_export import write_splat_ply
    g = pose_gaussians(avatar_gaussians(avatar, args.count, seed=args.seed), avatar, pose)
    out.parent.mkdir(parents=True, exist_ok=True)
    write_splat_ply(g, out, sh_degree=args.sh_degree)
    print(f"{out} ({len(g)} Gaussians)")
    return 0
