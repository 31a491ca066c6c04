"""Benchmark `reconstruct` on the shared photos: time per stage, silhouette IoU, keypoint error,
texture coverage; saves overlays (mesh over photo) and 4-view renders for a few photos.

    .venv/bin/python benchmarks/reconstruct.py [--json] [--quality default] [--out DIR]
        [--renders 4] [--body-model anny] [PHOTO ...]
    .venv/bin/python benchmarks/reconstruct.py --devset [--json]   # 3D numbers, see below

--devset runs devset_pose and devset_clothed (synthetic, exact 3D truth): MPJPE, PA-MPJPE and
per-joint errors (mm), focal error (%, and whether EXIF/estimated), body height error (cm),
IoU vs the true mask, per-stage times (benchmarks/pose_metrics.py).

Targets (issue 3; 2-core CPU, model warm): total <= 10 s p50; IoU >= 0.93 vs ryota's true
mask; mean IoU >= 0.93 vs the perception mask; keypoint error <= 2 % of person height.
IoU vs the true mask is measured by projecting the *returned avatar* (posed by its Pose, through
its Camera) at the photo's original resolution, so it also checks the avatar's contract.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

import numpy as np
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data" / "photos"
sys.path.insert(0, str(ROOT))
sys.path.append(str(ROOT / "benchmarks"))     # after ROOT: benchmarks/protocol.py must not shadow protocol


def photos_to_run(args) -> list[Path]:
    if args.photos:
        return [Path(p) for p in args.photos]
    out = []
    for sub in ("single", "research_only"):
        out += sorted(p for p in (DATA / sub).iterdir()
                      if p.suffix.lower() in (".png", ".jpg", ".jpeg", ".webp")
                      and not p.stem.endswith("_mask"))
    return out


def avatar_silhouette(avatar) -> np.ndarray:
    from backend.fit.posing import posed_vertices, project_to_photo
    from backend.raster import rasterize
    pix = project_to_photo(avatar, posed_vertices(avatar))
    return rasterize(pix, avatar.layers[0].faces, avatar.camera.width,
                     avatar.camera.height).mask


def save_overlay(path: Path, rgb: np.ndarray, sil: np.ndarray, target: np.ndarray) -> None:
    """Photo with the fitted mesh tinted green; red where the mask has no mesh, blue where
    the mesh spills outside the mask."""
    import cv2
    img = rgb.astype(np.float32)
    img[sil] = 0.55 * img[sil] + 0.45 * np.array([40, 220, 60])
    img[target & ~sil] = [230, 30, 30]
    img[sil & ~target] = [30, 60, 230]
    out = np.clip(img, 0, 255).astype(np.uint8)
    contours, _ = cv2.findContours(sil.astype(np.uint8), cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_NONE)
    cv2.drawContours(out, contours, -1, (255, 255, 0), 1)
    Image.fromarray(out).save(path)


def save_four_views(path: Path, avatar, size: int = 384) -> None:
    """Front, left, back, right orthographic renders of the posed, textured avatar."""
    from backend.fit.posing import posed_vertices
    from backend.raster import rasterize
    v = posed_vertices(avatar)
    lay = avatar.layers[0]
    tex = np.asarray(Image.open(__import__("io").BytesIO(lay.texture)).convert("RGB"))
    th, tw = tex.shape[:2]
    centre = 0.5 * (v.min(0) + v.max(0))
    extent = float((v.max(0) - v.min(0)).max()) * 1.08
    panels = []
    for angle in (0.0, 90.0, 180.0, 270.0):     # camera orbiting the avatar, starting at -Y
        a = np.radians(angle)
        right = np.array([np.cos(a), np.sin(a), 0.0])
        toward = np.array([-np.sin(a), np.cos(a), 0.0])    # from the avatar to the camera: -Y
        toward = -toward
        p = v - centre
        x = p @ right
        y = -p[:, 2]
        depth = -(p @ toward)
        pix = np.stack([(x / extent + 0.5) * size, (y / extent + 0.5) * size], 1)
        ras = rasterize(pix, lay.faces, size, size, depth=depth)
        img = np.full((size, size, 3), 235, np.uint8)
        hit = ras.face >= 0
        uv = np.einsum("nk,nkd->nd", ras.bary[hit], lay.uvs[ras.face[hit]])
        tx = np.clip((uv[:, 0] * tw).astype(int), 0, tw - 1)
        ty = np.clip(((1 - uv[:, 1]) * th).astype(int), 0, th - 1)
        img[hit] = tex[ty, tx]
        panels.append(img)
    Image.fromarray(np.concatenate(panels, axis=1)).save(path)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("photos", nargs="*")
    ap.add_argument("--json", action="store_true", help="one JSON object per photo")
    ap.add_argument("--quality", default="default")
    ap.add_argument("--out", default=str(ROOT / "out" / "bench_reconstruct"))
    ap.add_argument("--renders", type=int, default=4, help="photos to save overlays/views for")
    ap.add_argument("--body-model", default="anny", help="anny, or smpl/smplh/smplx if installed")
    ap.add_argument("--devset", action="store_true",
                    help="3D pose/focal/height numbers on devset_pose and devset_clothed")
    ap.add_argument("--devsets", default="devset_pose,devset_clothed",
                    help="comma-separated devsets for --devset (e.g. devset_pose while iterating)")
    ap.add_argument("--fixed-focal", action="store_true",
                    help="the old fixed focal guess instead of the estimate (for comparisons)")
    args = ap.parse_args()
    out = Path(args.out)
    if args.fixed_focal:
        import backend.fit.focal as focal
        focal.estimate_focal = lambda *a: None       # choose_focal then uses FALLBACK_FOCAL
    out.mkdir(parents=True, exist_ok=True)

    from backend.fit.pipeline import _rig
    from backend.raster import mask_iou
    from backend.perception import get_detector
    from backend.textures.photo_bake import uv_atlas
    from backend.errors import JobInputError
    get_detector()                                    # warm: models loaded, atlas cached
    if _rig(args.body_model).uvs is not None:
        uv_atlas(_rig(args.body_model).uvs)

    from backend.fit.pipeline import reconstruct_photo
    if args.devset:
        return run_devsets(args, reconstruct_photo)
    rows = []
    for k, path in enumerate(photos_to_run(args)):
        start = time.perf_counter()
        try:
            rec = reconstruct_photo(path.read_bytes(), path.stem, args.quality,
                                    body_model=args.body_model)
        except JobInputError as exc:
            row = {"photo": path.name, "error": str(exc), "total_s": None, "iou_true_mask": None,
                   "iou_perception_mask": None, "kp_err_pct": None}
            rows.append(row)
            print(json.dumps(row) if args.json else f"{path.name}: {exc}", flush=True)
            continue
        total = time.perf_counter() - start
        av = rec.avatar
        true_mask = path.with_name(path.stem + "_mask.png")
        iou_true = None
        sil_full = None
        if true_mask.exists():
            sil_full = avatar_silhouette(av)
            tm = np.asarray(Image.open(true_mask).convert("L")) > 127
            iou_true = round(mask_iou(sil_full, tm), 4)
        row = {"photo": path.name, "total_s": round(total, 2), "iou_true_mask": iou_true,
               **rec.stats, "stages": rec.timings, "warnings": rec.warnings,
               "phenotype": av.metadata.get("params")}
        rows.append(row)
        if k < args.renders or iou_true is not None:
            dbg = rec.debug
            save_overlay(out / f"{path.stem}.overlay.png", dbg["photo"].rgb, dbg["silhouette"],
                         dbg["target"])
            if av.layers[0].texture is not None:
                save_four_views(out / f"{path.stem}.views.png", av)
        if args.json:
            print(json.dumps(row), flush=True)
        else:
            st = rec.timings
            print(f"{path.name[:34]:34s} {total:6.2f}s  fit {st['fit_body']:5.2f} "
                  f"cloth {st['fit_clothing']:5.2f} tex {st['texture']:5.2f}  "
                  f"IoU true {iou_true if iou_true is not None else '  -  '}  "
                  f"IoU perc {rec.stats['iou_perception_mask']:.3f}  "
                  f"kp {rec.stats['kp_err_pct']:5.2f}%  seen {rec.stats['texture_seen']:.2f}",
                  flush=True)
    ok = [r for r in rows if r.get("total_s") is not None]
    if ok and not args.json:
        print(f"\n{len(ok)} photos: total p50 {statistics.median(r['total_s'] for r in ok):.2f} s, "
              f"mean IoU vs perception {np.mean([r['iou_perception_mask'] for r in ok]):.3f}, "
              f"mean kp err {np.mean([r['kp_err_pct'] for r in ok]):.2f} %, "
              f"renders in {out}")
    return 0


def run_devsets(args, reconstruct_photo) -> int:
    from backend.raster import mask_iou
    from pose_metrics import devset_row, devset_samples, summary
    from backend.perception import get_detector
    print(f"detector: {get_detector().name}", flush=True)
    for name in args.devsets.split(","):
        rows = []
        for sample in devset_samples(DATA.parent / name):
            start = time.perf_counter()
            rec = reconstruct_photo((sample["root"] / sample["image"]).read_bytes(),
                                    sample["name"], args.quality, body_model=args.body_model)
            total = time.perf_counter() - start
            sil = avatar_silhouette(rec.avatar)
            row = devset_row(rec, sample, lambda m: mask_iou(sil, m))
            row.update(total_s=round(total, 2), stages=rec.timings)
            rows.append(row)
            if args.json:
                print(json.dumps(row), flush=True)
            else:
                st = rec.timings
                print(f"{row['photo']:28s} PA {row['pa_mpjpe_mm']:5.0f} MPJPE "
                      f"{row['mpjpe_mm']:5.0f} mm  focal {row['focal_mm_true']:4.0f}->"
                      f"{row['focal_mm_used']:4.0f} mm ({row['focal_err_pct']:+5.0f} %, "
                      f"{row['focal_source']})  height {row['height_err_cm']:+5.1f} cm  IoU "
                      f"{row['iou_true_mask']:.3f}  {total:5.2f} s (perceive "
                      f"{st['perceive']:.2f} fit {st['fit_body']:.2f} cloth "
                      f"{st['fit_clothing']:.2f} tex {st['texture']:.2f})", flush=True)
        sm = summary(rows)
        joints = {j: np.mean([r["per_joint_pa_mm"][j] for r in rows if j in r["per_joint_pa_mm"]])
                  for j in rows[0]["per_joint_pa_mm"]}
        if args.json:
            print(json.dumps({"devset": name, **sm, "per_joint_pa_mm": joints}), flush=True)
        else:
            print(f"{name}: PA-MPJPE mean {sm['pa_mpjpe_mean']:.0f} mm, MPJPE mean "
                  f"{sm['mpjpe_mean']:.0f} mm, |focal err| median {sm['focal_err_med_pct']:.1f} %,"
                  f" |height err| median {sm['height_err_med_cm']:.1f} cm, IoU mean "
                  f"{sm['iou_mean']:.3f}, time p50 {sm['time_p50_s']:.2f} s")
            print("  per joint PA (mm): " + ", ".join(f"{j} {e:.0f}" for j, e in joints.items()),
                  flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
