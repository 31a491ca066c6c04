"""Believable backs: today's body bake (front copy + inpainting) against layer_bake (same
layer completion + harmonic blending), on the same inputs, with the numbers of
benchmarks/texture_metrics.py and back-view renders to look at.

    .venv/bin/python benchmarks/texture_back.py [--out DIR] [--quick]

Part "body": the pipeline's own body fit (reconstruct_photo, body texture only) on ryota and
devset_clothed coat/skirt/dress samples. Part "layers": devset_clothed's true body plus garment
layers from backend/garments (benchmarks/texture_scenes.py) with a segmentation from the true
clothed mesh; today's bake has no occlusion test, so it is run on each layer alone.

Columns: seam1/seam4 = colour jump across the seen/completed boundary over the jump between
seen neighbours (1 and 4 texels apart; 1.0 = as smooth as the photo); off% = completed texels
unlike every seen colour at the same rest (x, z) (dE > 25); garment-on-body% = body texels
covered by the garment in the photo that were sampled from it (the garment's colour); time in seconds.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data"
sys.path.insert(0, str(ROOT))

DEVSET = {"sample_0002": "coat", "sample_0004": "coat", "sample_0006": "skirt",
          "sample_0007": "dress"}


def capture_body_inputs(path: Path) -> dict:
    """Run reconstruct_photo and keep the arguments its texture stage got."""
    from backend.fit import pipeline
    cap = {}
    real = pipeline.bake_photo_texture

    def spy(photo, mask, posed, rest, faces, uvs, f, cx, cy, head_z, size=1024, **kw):
        cap.update(photo=photo, mask=mask, posed=posed, rest=rest, faces=faces, uvs=uvs, f=f,
                   cx=cx, cy=cy, head_z=head_z, size=size)
        return real(photo, mask, posed, rest, faces, uvs, f, cx, cy, head_z, size=size, **kw)
    pipeline.bake_photo_texture = spy
    try:
        pipeline.reconstruct_photo(path.read_bytes(), path.stem)
    finally:
        pipeline.bake_photo_texture = real
    return cap


def timed(fn, *a, **kw):
    t = time.perf_counter()
    out = fn(*a, **kw)
    return out, time.perf_counter() - t


def garment_on_body(view, body, garment_label: str, seen: np.ndarray | None) -> float | None:
    """Fraction of body texels facing the camera under garment-labelled pixels that took
    their colour from the photo (the garment's colour leaking onto the skin under it).
    seen: the method's (512, 512) seen mask; None: today's test (no other layers)."""
    from backend.textures.layer_bake import SEGMENT_LABELS, _face_normals, _Texels
    from backend.textures.photo_bake import _seen_texels, uv_atlas
    if view.labels is None:
        return None
    gpix = view.labels == SEGMENT_LABELS.index(garment_label)
    tx = _Texels(uv_atlas(body.uvs, 512), body, body.rest)
    fn = _face_normals(body.posed, body.faces)[tx.face]
    facing = -(fn * tx.p).sum(1) > 0
    uv = view.project(tx.p)
    h, w = gpix.shape
    under = facing & gpix[np.clip(uv[:, 1].astype(int), 0, h - 1),
                          np.clip(uv[:, 0].astype(int), 0, w - 1)]
    if under.sum() < 50:
        return None
    if seen is None:
        took = _seen_texels(view.photo, view.person_mask, body.posed, body.faces, tx.face,
                            tx.p, view.fx, view.cx, view.cy, np.zeros((len(tx.idx), 3)))
    else:
        took = seen.reshape(-1)[tx.idx]
    return float(took[under].mean())


def body_rows(names, out: Path):
    up_cam = np.array([0.0, -1.0, 0.0])         # the pipeline assumes a level camera
    from texture_metrics import render_layers, texture_scores

    from backend.textures.layer_bake import LayerMesh
    from backend.textures.photo_bake import bake_front_copy, bake_photo_texture
    rows = []
    for name, path in names:
        c = capture_body_inputs(path)
        args = (c["photo"], c["mask"], c["posed"], c["rest"], c["faces"], c["uvs"], c["f"],
                c["cx"], c["cy"], c["head_z"])
        old, t_old = timed(bake_front_copy, *args, size=c["size"])
        new, t_new = timed(bake_photo_texture, *args, size=c["size"])
        lay = LayerMesh(c["posed"], c["faces"], c["uvs"], c["rest"])
        for method, bake, t in (("today", old, t_old), ("layer_bake", new, t_new)):
            sc = texture_scores(bake.rgb, new.seen, c["uvs"], c["faces"], c["rest"])
            rows.append({"part": "body", "sample": name, "layer": "body", "method": method,
                         **sc, "garment_on_body": None, "time_s": t})
        views = [np.concatenate([render_layers([(lay.posed, lay.faces, lay.uvs, b.rgb)], yaw,
                                               up_cam) for yaw in (0, 90, 180, 270)], 1)
                 for b in (old, new)]
        Image.fromarray(np.concatenate(views, 0)).save(out / f"body_{name}.png")
    return rows


def layer_rows(samples, out: Path):
    from texture_metrics import render_layers, texture_scores
    from texture_scenes import GARMENT_LABEL, devset_scene

    from backend.textures.layer_bake import bake_avatar_layers
    from backend.textures.photo_bake import bake_front_copy
    rows = []
    for name in samples:
        sc = devset_scene(DATA / "devset_clothed" / name)
        view, layers = sc["view"], [sc["body"], *sc["garments"]]
        up = sc["gt"]["R_world2cam"][:, 2]
        new, t_new = timed(bake_avatar_layers, view, layers)
        old_views, new_views = [], []
        for lay in layers:
            size = 1024 if lay.head_z is not None else 512
            old, t_old = timed(bake_front_copy, view.photo, view.person_mask, lay.posed,
                               lay.rest, lay.faces, lay.uvs, view.fx, view.cx, view.cy,
                               lay.head_z if lay.head_z is not None else 1e9, size=size)
            nb = new[lay.name]
            for method, bake, t in (("today", old, t_old), ("layer_bake", nb, t_new)):
                scores = texture_scores(bake.rgb, nb.seen, lay.uvs, lay.faces, lay.rest)
                gob = garment_on_body(view, lay, GARMENT_LABEL,
                                      None if method == "today" else nb.seen) \
                    if lay.head_z is not None else None
                rows.append({"part": "layers", "sample": name, "layer": lay.name,
                             "method": method, **scores, "garment_on_body": gob,
                             "time_s": t if method == "today" or lay.head_z is not None
                             else None})
            old_views.append((lay.posed, lay.faces, lay.uvs, old.rgb))
            new_views.append((lay.posed, lay.faces, lay.uvs, nb.rgb))
        panels = [np.concatenate([render_layers(v, yaw, up) for yaw in (0, 90, 180, 270)], 1)
                  for v in (old_views, new_views)]
        Image.fromarray(np.concatenate(panels, 0)).save(out / f"layers_{name}.png")
    return rows


def print_table(rows) -> None:
    print(f"{'part':6s} {'sample':12s} {'layer':6s} {'method':10s} {'seam1':>6s} {'seam4':>6s} "
          f"{'off%':>6s} {'garment-on-body%':>16s} {'time_s':>6s}")
    for r in rows:
        gob = "" if r["garment_on_body"] is None else f"{100 * r['garment_on_body']:.1f}"
        t = "" if r["time_s"] is None else f"{r['time_s']:.2f}"
        print(f"{r['part']:6s} {r['sample']:12s} {r['layer']:6s} {r['method']:10s} "
              f"{r['seam1']:6.2f} {r['seam4']:6.2f} {100 * r['off_colour']:6.2f} {gob:>16s} "
              f"{t:>6s}")
    for method in ("today", "layer_bake"):
        sel = [r for r in rows if r["method"] == method]
        print(f"mean {method:10s} seam1 {np.mean([r['seam1'] for r in sel]):.2f}  "
              f"seam4 {np.mean([r['seam4'] for r in sel]):.2f}  "
              f"off {100 * np.mean([r['off_colour'] for r in sel]):.2f} %")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--out", default=str(ROOT / "out" / "texture_back"))
    ap.add_argument("--quick", action="store_true", help="ryota and the dress only")
    args = ap.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    sys.path.append(str(ROOT / "benchmarks"))
    samples = ["sample_0007"] if args.quick else list(DEVSET)
    photos = [("ryota", DATA / "photos" / "single" / "ryota.png")] + \
        [(s, DATA / "devset_clothed" / s / "image.png") for s in samples]
    rows = body_rows(photos, out) + layer_rows(samples, out)
    print_table(rows)
    print(f"renders (top row today, bottom layer_bake; front, side, back, side) in {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
