"""FBX motion import benchmark: a Mixamo-style FBX (mixamorig: names, cm, Y up, 1,800 frames
at 30 fps; written by Blender's exporter from a CMU BVH) read by the add-on's FBX reader
(Blender import into a temporary scene + bulk F-curve sampling + clean-up), then retargeted
onto the Anny avatar and keyed by the bulk writer.

    .venv/bin/python benchmarks/motion_fbx.py [--json] [--repeats N]

Goal (issue 15): FBX read <= 0.5 s on top of the bulk key writer. Wall-clock, medians.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "tests"))

from benchmarks._timing import timed  # noqa: E402

BVH = REPO.parent / "shared" / "data" / "motions" / "bvh" / "131_02.bvh"
FRAMES, FPS = 1800, 30
GOAL_S = 0.5


def fbx_benchmark(avatar, repeats: int = 5) -> dict:
    """Seconds to read the FBX, to prepare the clip (read + resample + retarget) and to key
    it onto ``avatar`` (protocol.RiggedAvatar); leaves an empty scene behind."""
    import bpy
    from blender_addon.blender.builder import build_avatar
    from blender_addon.blender.fbx_motion import load_fbx_motion
    from blender_addon.blender.motion_writer import apply_clip
    from fbx_clips import mixamo_fbx_from_bvh
    from rig.motion import prepare_clip

    with tempfile.TemporaryDirectory() as tmp, contextlib.redirect_stdout(sys.stderr):
        path = mixamo_fbx_from_bvh(BVH, Path(tmp) / "mixamo_1800.fbx", frames=FRAMES,
                                   fps=FPS)
        read_s, source = timed(lambda: load_fbx_motion(path), repeats)
        prepare_s, clip = timed(lambda: prepare_clip(path, avatar.skeleton, float(FPS)),
                                repeats)
        scene = bpy.context.scene
        scene.render.fps, scene.render.fps_base = FPS, 1.0
        arm = build_avatar(avatar, bpy.context).armature
        write_s, _ = timed(lambda: apply_clip(arm, clip, scene), repeats)
        bpy.ops.wm.read_factory_settings(use_empty=True)
    return {"fbx_frames": source.frame_count, "fbx_joints": source.skeleton.joint_count,
            "fbx_read_s": round(read_s, 4), "fbx_prepare_s": round(prepare_s, 4),
            "fbx_write_s": round(write_s, 4), "fbx_goal_s": GOAL_S,
            "fbx_goal_met": read_s <= GOAL_S}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    from backend.jobs import JobContext, get_job
    with contextlib.redirect_stdout(sys.stderr):
        avatar = get_job("body")({"name": "Bench"}, {}, JobContext("bench"))
    result = fbx_benchmark(avatar, args.repeats)
    if args.json:
        print(json.dumps(result))
        return 0
    for key, value in result.items():
        print(f"{key:<16}{value}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
