"""Body fit only (perception + BodyFitter, no clothing/texture) on the synthetic devsets:
PA-MPJPE / MPJPE per photo and per joint, for quick ablations of the fit's pose terms.

    PYTHONPATH=$PWD .venv/bin/python benchmarks/pose_fit_only.py [--devset devset_pose]
        [--variant NAME] [--limit N]

MediaPipe's observations are cached in /tmp (perception is not what is being compared).
Variants (see VARIANTS) change one term of body_fit._Problem for the run.
"""

from __future__ import annotations

import argparse
import pickle
import sys
import time
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.append(str(ROOT / "benchmarks"))

CACHE = Path("/tmp/doppel_pose_fit_only")


def observe(photo_path: Path, name: str):
    from backend.imageio import read_photo
    from backend.perception import get_detector
    CACHE.mkdir(exist_ok=True)
    key = CACHE / f"{photo_path.parent.parent.name}_{photo_path.parent.name}.pkl"
    photo = read_photo(photo_path.read_bytes(), name)
    if key.exists():
        return photo, pickle.loads(key.read_bytes())
    obs = get_detector().observe(photo.rgb)
    key.write_bytes(pickle.dumps(obs))
    return photo, obs


def fit_one(photo, obs, iters: int = 100, grid: int = 128):
    from backend.fit.body_fit import BodyFitter, Intrinsics
    from backend.fit.focal import choose_focal
    from backend.fit.pipeline import target_mask
    from backend.fit.rigs import fit_rig
    rig, _ = fit_rig()
    h, w = photo.rgb.shape[:2]
    focal = choose_focal(photo.focal_35mm, obs, w, h)
    cam = Intrinsics(f=focal.f_px, cx=w / 2.0, cy=h / 2.0, width=w, height=h)
    fit = BodyFitter(rig).fit(obs, target_mask(obs, photo).astype(np.float32), cam,
                              iters=iters, grid=grid)
    with torch.no_grad():
        deltas = rig.deltas(fit.rest, fit.global_rot, fit.translation, fit.bone_rotvecs)
        _, poses = rig.pose(fit.rest, deltas)
    return fit, {"bone_heads_cam": poses.numpy()[:, :3, 3], "bone_names": list(rig.bone_names)}


def _dir_scale(k: float):
    """Every use of the MediaPipe direction term scaled by k."""
    from backend.fit import body_fit
    orig = body_fit._Problem.evaluate
    body_fit._Problem.evaluate = lambda self, kp_w, dir_w, sil_w, free_shape: orig(
        self, kp_w, dir_w * k, sil_w, free_shape)


def _depth_sign_only():
    """The direction term keeps only MediaPipe's depth sign of each segment: a segment is
    penalised only for pointing towards the camera when MediaPipe says away (or back)."""
    from backend.fit import body_fit
    P = body_fit._Problem
    orig = P.evaluate

    def evaluate(self, kp_w, dir_w, sil_w, free_shape):
        loss, pix = orig(self, kp_w, 0.0, sil_w, free_shape)
        if dir_w > 0:
            f, rig = self.f, self.rig
            rest = self.rest0 if not free_shape else rig.rest_state_subset(
                rig.shape_from_free(self.shape_free))
            verts = rig.pose_subset(rest, rig.deltas(rest, self.global_rot(), self.trans,
                                                     self.bones()))
            kp3 = rig.keypoints_subset(verts)[f.kp_index]
            d = kp3[f.seg[:, 1]] - kp3[f.seg[:, 0]]
            d = d / d.norm(dim=1, keepdim=True).clamp_min(1e-6)
            sign = torch.sign(self.seg_dir[:, 2]) * (self.seg_dir[:, 2].abs() > 0.2)
            err = torch.relu(-sign * d[:, 2])
            loss = loss + dir_w * (self.seg_conf * err).sum() / self.seg_conf.sum().clamp_min(1e-6)
        return loss, pix
    P.evaluate = evaluate


def _lifter_trusts_hidden_limbs():
    """Every segment's direction counts fully (the lifter guesses hidden limbs too), not by
    the detector's visibility of its ends."""
    from backend.fit import body_fit
    P = body_fit._Problem
    orig = P.__init__

    def init(self, *a, **k):
        orig(self, *a, **k)
        self.seg_conf = self.seg_conf.clamp_min(0.5)
    P.__init__ = init


VARIANTS = {"today": lambda: None, "dir0.3": lambda: _dir_scale(0.3),
            "dir0": lambda: _dir_scale(0.0), "depth_sign": _depth_sign_only,
            "hidden_limbs": _lifter_trusts_hidden_limbs}


def main() -> int:
    from pose_metrics import devset_samples, joint_errors
    ap = argparse.ArgumentParser()
    ap.add_argument("--devset", default="devset_pose")
    ap.add_argument("--variant", default="today", choices=sorted(VARIANTS))
    ap.add_argument("--limit", type=int, default=0)
    ap.add_argument("--lift-mix", type=float, default=None,
                    help="body_fit.LIFT_MIX for the run (0: MediaPipe's 3D directions)")
    ap.add_argument("--lift-kp", type=float, default=None, help="body_fit.LIFT_KP_W for the run")
    args = ap.parse_args()
    torch.set_num_threads(1)
    VARIANTS[args.variant]()
    if args.lift_kp is not None:
        from backend.fit import body_fit
        body_fit.LIFT_KP_W = args.lift_kp
    if args.lift_mix is not None:
        from backend.fit import body_fit
        body_fit.LIFT_MIX = args.lift_mix
    samples = devset_samples(ROOT.parent / "shared" / "data" / args.devset)
    if args.limit:
        samples = samples[:args.limit]
    rows, per_joint = [], {}
    for s in samples:
        photo, obs = observe(s["root"] / s["image"], s["name"])
        t = time.perf_counter()
        fit, debug = fit_one(photo, obs)
        dt = time.perf_counter() - t
        e = joint_errors(type("R", (), {"debug": debug})(), np.load(s["root"] / s["gt"]))
        rows.append((s["name"], e["pa_mpjpe_mm"], e["mpjpe_mm"], dt, fit.reading))
        for j, v in e["per_joint_pa_mm"].items():
            per_joint.setdefault(j, []).append(v)
        print(f"{s['name']:14s} PA {e['pa_mpjpe_mm']:6.1f}  MPJPE {e['mpjpe_mm']:6.1f}  "
              f"{dt:5.1f}s  {fit.reading}", flush=True)
    pa, mp = np.array([r[1] for r in rows]), np.array([r[2] for r in rows])
    print(f"{args.devset} {args.variant}: PA-MPJPE mean {pa.mean():.1f} worst {pa.max():.1f}  "
          f"MPJPE mean {mp.mean():.1f}  fit {np.median([r[3] for r in rows]):.1f}s p50")
    print("per joint PA: " + "  ".join(f"{j} {np.mean(v):.0f}" for j, v in per_joint.items()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
