"""Benchmark `reconstruct` on the shared photos: time per stage, silhouette IoU, keypoint error,
texture coverage; saves overlays (mesh over photo) and 4-view renders for a few photos.

    .venv/bin/python benchmarks/reconstruct.py [--json] [--quality default] [--out DIR]
        [--renders 4] [--body-model anny] [PHOTO ...]

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
    args = ap.parse_args()
    out = Path(args.out)
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


if __name__ == "__main__":
    sys.exit(main())
