"""Splat rasteriser speed and agreement: the torch reference on the CPU (and on CUDA when
present), gsplat / diff-gaussian-rasterization on CUDA, each compared with the reference.

    python benchmarks/splat.py                      # Anny avatar, ~100k Gaussians, 256x256
    python benchmarks/splat.py --gaussians FILE.npz # Gaussians saved by --save (no Anny needed)
    python benchmarks/splat.py --json

Agreement columns compare each backend's image and alpha with the torch reference on the CPU:
max and mean absolute difference (0..1 colour units) and the IoU of the alpha > 0.5 masks.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from backend.render import available_backends, rasterize_gaussians  # noqa: E402
from backend.render.avatar_gaussians import RENDER_EPS2D  # noqa: E402
from backend.render.preview import turntable_cameras  # noqa: E402

FIELDS = ("means", "scales", "rotations", "opacities", "colors_or_sh")


def load_gaussians(args) -> dict[str, np.ndarray]:
    if args.gaussians:
        with np.load(args.gaussians) as z:
            return {k: z[k] for k in FIELDS}
    from backend.jobs import JobContext, get_job
    from backend.render.avatar_gaussians import avatar_gaussians
    avatar = get_job("body")({}, {}, JobContext("bench"))
    g = avatar_gaussians(avatar, args.count)
    return {"means": g.means, "scales": g.scales, "rotations": g.rotations,
            "opacities": g.opacities, "colors_or_sh": g.colors}


def _sync(device: str) -> None:
    if device == "cuda":
        torch.cuda.synchronize()


def time_backend(g, cams, backend: str, device: str, repeat: int):
    t = {k: torch.as_tensor(v, device=device) for k, v in g.items()}
    with torch.no_grad():
        results = [rasterize_gaussians(**t, camera=c, backend=backend, eps2d=RENDER_EPS2D)
                   for c in cams]                           # warm-up (and kernel compilation)
        _sync(device)
        start = time.perf_counter()
        for _ in range(repeat):
            for c in cams:
                rasterize_gaussians(**t, camera=c, backend=backend, eps2d=RENDER_EPS2D)
        _sync(device)
    per_frame = (time.perf_counter() - start) / (repeat * len(cams))
    return per_frame, results


def agreement(results, reference) -> dict[str, float]:
    img = [(r.image.cpu() - q.image).abs() for r, q in zip(results, reference)]
    ious = []
    for r, q in zip(results, reference):
        a, b = r.alpha.cpu() > 0.5, q.alpha > 0.5
        ious.append(float((a & b).sum() / max(int((a | b).sum()), 1)))
    return {"max_abs_diff": float(max(d.max() for d in img)),
            "mean_abs_diff": float(np.mean([float(d.mean()) for d in img])),
            "alpha_iou": float(min(ious))}


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--count", type=int, default=100_000, help="Gaussians on the avatar")
    p.add_argument("--size", type=int, default=256, help="image width and height, pixels")
    p.add_argument("--views", type=int, default=4, help="turntable views per repeat")
    p.add_argument("--repeat", type=int, default=2)
    p.add_argument("--gaussians", help=".npz of Gaussians (as written by --save)")
    p.add_argument("--save", help="write the Gaussians to this .npz and go on")
    p.add_argument("--json", action="store_true", help="print JSON instead of a table")
    args = p.parse_args()
    torch.set_num_threads(max(1, torch.get_num_threads()))
    g = load_gaussians(args)
    if args.save:
        np.savez(args.save, **g)

    class _G:                                   # turntable_cameras only reads .means
        means = g["means"]
    cams = turntable_cameras(_G, args.views, args.size)
    rows = []
    ref_time, reference = time_backend(g, cams, "torch", "cpu", args.repeat)
    rows.append({"backend": "torch", "device": "cpu", "ms_per_frame": ref_time * 1e3})
    if torch.cuda.is_available():
        for backend in available_backends("cuda"):
            sec, res = time_backend(g, cams, backend, "cuda", max(args.repeat, 10))
            rows.append({"backend": backend, "device": torch.cuda.get_device_name(0),
                         "ms_per_frame": sec * 1e3, **agreement(res, reference)})
    info = {"gaussians": len(g["means"]), "size": args.size, "views": len(cams),
            "torch": torch.__version__, "cpu_threads": torch.get_num_threads(), "rows": rows}
    if args.json:
        print(json.dumps(info, indent=2))
        return 0
    print(f"{info['gaussians']} Gaussians, {args.size}x{args.size}, {len(cams)} views, "
          f"torch {torch.__version__}, {info['cpu_threads']} CPU threads")
    print(f"{'backend':30s} {'device':24s} {'ms/frame':>9s} {'max|d|':>8s} {'mean|d|':>9s} "
          f"{'IoU':>6s}")
    for r in rows:
        extra = "" if "max_abs_diff" not in r else \
            f" {r['max_abs_diff']:8.4f} {r['mean_abs_diff']:9.6f} {r['alpha_iou']:6.4f}"
        print(f"{r['backend']:30s} {r['device']:24s} {r['ms_per_frame']:9.1f}{extra}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
