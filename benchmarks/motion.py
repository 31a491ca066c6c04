"""Motion benchmark: a 60 s, 120 fps AMASS clip (a real one tiled) applied to the Anny avatar
at 30 fps (1800 frames x 104 bones) with Doppel's bulk writer vs per-frame keyframe_insert,
in the same run, plus the numpy load + resample + retarget time on its own. Then fidelity
(issue 15) on every shared clip: BVH segment directions against Blender's own BVH importer
(median / max degrees per group) and the feet on the skinned mesh (share of contact frames
within +-2 cm of the floor, lowest point, drift of a planted foot); see motion_quality.py.

    .venv/bin/python benchmarks/motion.py [--json] [--repeats N] [--baseline-frames N]
                                          [--no-quality]

Goals (issue 4): writer <= 0.3 s and >= 30x faster than keyframe_insert. Wall-clock seconds;
medians over --repeats. --baseline-frames times keyframe_insert on the first N frames and
scales to the full clip (it is linear in frames); the default runs all of them.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from benchmarks._timing import timed  # noqa: E402

CLIP = REPO.parent / "shared" / "data" / "motions" / "amass" / "amass_sample_male_120fps.npz"
SOURCE_FPS, TARGET_FPS, SECONDS = 120, 30.0, 60
GOALS = {"doppel_s": 0.3, "ratio": 30.0}


def tiled_clip(folder: Path) -> Path:
    """The real clip repeated to 60 s at 120 fps (7200 frames, so 1800 at 30 fps)."""
    src = np.load(CLIP)
    frames = SECONDS * SOURCE_FPS
    reps = -(-frames // len(src["poses"]))
    path = folder / "tiled_60s.npz"
    np.savez(path, poses=np.tile(src["poses"], (reps, 1))[:frames],
             trans=np.tile(src["trans"], (reps, 1))[:frames], gender=src["gender"],
             mocap_framerate=np.array(float(SOURCE_FPS)))
    return path


def keyframe_insert_baseline(arm, clip, frames: int) -> float:
    """The usual way: set every pose bone, keyframe_insert it, frame after frame."""
    import bpy
    arm.animation_data_clear()
    bones = [arm.pose.bones[n] for n in clip.bone_names]
    for pb in bones:
        pb.rotation_mode = "QUATERNION"
    root = bones[0]
    rot, loc = clip.rotations, clip.root_location
    start = time.perf_counter()
    for k in range(frames):
        for b, pb in enumerate(bones):
            pb.rotation_quaternion = rot[k, b]
            pb.keyframe_insert("rotation_quaternion", frame=k + 1, group=pb.name)
        root.location = loc[k]
        root.keyframe_insert("location", frame=k + 1, group=root.name)
    elapsed = time.perf_counter() - start
    action = arm.animation_data.action
    arm.animation_data_clear()
    bpy.data.actions.remove(action)
    return elapsed


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--baseline-frames", type=int, default=0,
                        help="time keyframe_insert on this many frames and scale (0: all)")
    parser.add_argument("--no-quality", action="store_true",
                        help="skip the per-clip direction and feet measurements")
    parser.add_argument("--fbx", action="store_true",
                        help="also time a 1,800-frame Mixamo-style FBX (benchmarks/motion_fbx.py)")
    args = parser.parse_args()

    from protocol import load_avatar, save_avatar  # noqa: F401
    from backend.jobs import JobContext, get_job
    from rig.motion import load_motion, prepare_clip, resample
    from rig.motion.bone_map import chains_for
    from rig.motion.retarget import retarget
    from rig.motion.target_pose import TargetRest

    with contextlib.redirect_stdout(sys.stderr):         # keep stdout for the JSON line
        avatar = get_job("body")({"name": "Bench"}, {}, JobContext("bench"))
    sk = avatar.skeleton
    with tempfile.TemporaryDirectory() as tmp:
        path = tiled_clip(Path(tmp))
        load_s, source = timed(lambda: load_motion(path), args.repeats)
        resample_s, moved = timed(lambda: resample(source, TARGET_FPS), args.repeats)
        target, chains = TargetRest.from_skeleton(sk), chains_for(sk.names)
        retarget_s, _ = timed(lambda: retarget(moved, target, chains), args.repeats)
        numpy_s, clip = timed(lambda: prepare_clip(path, sk, TARGET_FPS), args.repeats)

    import bpy
    from blender_addon.blender.builder import build_avatar
    from blender_addon.blender.motion_writer import apply_clip
    bpy.ops.wm.read_factory_settings(use_empty=True)
    scene = bpy.context.scene
    scene.render.fps, scene.render.fps_base = 30, 1.0
    arm = build_avatar(avatar, bpy.context).armature

    times = []
    for _ in range(args.repeats):
        arm.animation_data_clear()
        for a in list(bpy.data.actions):
            bpy.data.actions.remove(a)
        start = time.perf_counter()
        apply_clip(arm, clip, scene)
        times.append(time.perf_counter() - start)
    doppel_s, doppel_min_s = statistics.median(times), min(times)
    arm.animation_data_clear()

    frames = clip.frame_count
    base_frames = min(args.baseline_frames or frames, frames)
    baseline_s = keyframe_insert_baseline(arm, clip, base_frames) * frames / base_frames
    result = {
        "frames": frames, "bones": len(clip.bone_names),
        "keys": frames * (4 * len(clip.bone_names) + 3),
        "doppel_s": round(doppel_s, 4), "doppel_min_s": round(doppel_min_s, 4),
        "keyframe_insert_s": round(baseline_s, 3),
        "keyframe_insert_frames_timed": base_frames,
        "ratio": round(baseline_s / doppel_s, 1),
        "numpy_s": round(numpy_s, 4),
        "numpy_breakdown_s": {"load": round(load_s, 4), "resample": round(resample_s, 4),
                              "retarget": round(retarget_s, 4)},
        "goals": GOALS,
        "goals_met": {"doppel_s": doppel_s <= GOALS["doppel_s"],
                      "ratio": baseline_s / doppel_s >= GOALS["ratio"]},
    }
    quality = None if args.no_quality else fidelity(avatar)
    if quality is not None:
        result["fidelity"] = quality
    if args.fbx:                       # separate section: the FBX reader (issue 15)
        from benchmarks.motion_fbx import fbx_benchmark
        result["fbx"] = fbx_benchmark(avatar, args.repeats)
        if not args.json:
            print("FBX:", ", ".join(f"{k} {v}" for k, v in result["fbx"].items()))
    if args.json:
        print(json.dumps(result))
        return 0
    print(f"clip: {SECONDS} s at {SOURCE_FPS} fps -> {frames} frames at {TARGET_FPS:g} fps, "
          f"{result['bones']} bones, {result['keys']} keys")
    print(f"{'step':<34}{'seconds':>10}")
    for name, value in (("numpy load", load_s), ("numpy resample", resample_s),
                        ("numpy retarget", retarget_s), ("numpy total (prepare_clip)", numpy_s),
                        ("Doppel writer (bulk), median", doppel_s),
                        ("Doppel writer (bulk), best", doppel_min_s),
                        (f"keyframe_insert ({base_frames} frames timed)", baseline_s)):
        print(f"{name:<34}{value:>10.4f}")
    met = "met" if result["goals_met"]["doppel_s"] else "MISSED"
    print(f"ratio keyframe_insert / Doppel: {result['ratio']}x (goal >= {GOALS['ratio']:g}x); "
          f"writer goal <= {GOALS['doppel_s']} s: {met}")
    if quality is not None:
        print_fidelity(quality)
    return 0


def fidelity(avatar) -> dict:
    """Clip -> {"directions": group -> [median, max] degrees (BVH only), "feet": {...}} for
    every shared BVH and AMASS clip on ``avatar`` at 30 fps, feet on its mesh's soles."""
    from benchmarks.motion_quality import (bvh_direction_errors, feet_report, group_summary,
                                           mesh_feet)
    from rig.motion import prepare_clip
    out = {}
    feet = mesh_feet(avatar)
    clips = sorted((CLIP.parents[1] / "bvh").glob("*.bvh")) + sorted(CLIP.parent.glob("*.npz"))
    for path in clips:
        entry = {}
        if path.suffix == ".bvh":
            with contextlib.redirect_stdout(sys.stderr):          # the importer's chatter
                errors, clip = bvh_direction_errors(path, avatar)
            entry["directions"] = {g: [round(m, 2), round(x, 2)]
                                   for g, (m, x) in group_summary(errors).items()}
        else:
            clip = prepare_clip(path, avatar.skeleton, TARGET_FPS, feet=feet)
        r = feet_report(avatar, clip)
        loose = feet_report(avatar, prepare_clip(path, avatar.skeleton, TARGET_FPS, feet=feet,
                                                 plant_feet=False))
        entry["feet"] = {"frames": clip.frame_count, "contact_frames": r["contact_frames"],
                         "within_2cm": round(r["within_2cm"], 3),
                         "within_1cm": round(r["within_1cm"], 3),
                         "lowest_cm": round(100 * r["lowest_m"], 2),
                         "drift_cm": round(100 * r["drift_m"], 2),
                         "drift_unplanted_cm": round(100 * loose["drift_m"], 2)}
        out[path.name] = entry
    return out


def print_fidelity(quality: dict) -> None:
    groups = ("spine", "neck", "head", "arms", "legs")
    print("\nBVH directions vs Blender's importer, degrees median/max (goal <= 5 / 15):")
    print(f"{'clip':<14}" + "".join(f"{g:>13}" for g in groups))
    for name, entry in quality.items():
        if "directions" in entry:
            d = entry["directions"]
            print(f"{name:<14}" + "".join(f"{d[g][0]:>6.1f} /{d[g][1]:>5.1f}" for g in groups))
    print("\nFeet on the skinned mesh over the source's contact frames (goal: >= 95 % within "
          "1 cm, lowest >= -1 cm, drift < 1 cm):")
    print(f"{'clip':<36}{'frames':>7}{'contact':>8}{'<=2cm':>7}{'<=1cm':>7}{'lowest cm':>10}"
          f"{'drift cm':>9}{'unplanted':>10}")
    for name, entry in quality.items():
        f = entry["feet"]
        print(f"{name:<36}{f['frames']:>7}{f['contact_frames']:>8}{f['within_2cm']:>7.0%}"
              f"{f['within_1cm']:>7.0%}{f['lowest_cm']:>10.2f}{f['drift_cm']:>9.2f}"
              f"{f['drift_unplanted_cm']:>10.2f}")
    print("(contact: foot-frames in contact; drift: a planted foot's ball from where it landed; "
          "unplanted: the same with Plant Feet off)")


if __name__ == "__main__":
    sys.exit(main())
