"""Benchmark group photos: how many people are found and reconstructed, how long it takes, and
how well each avatar covers its own person.

    .venv/bin/python benchmarks/group.py [--group] [--quality default] [--json] [PHOTO ...]

Per photo: the true count (counted by eye, table below), people found by perception, avatars
written, and for comparison the people the whole-image detector alone finds (the detector
without tiles). Times: perception, fit per person (mean), total, the single-person path on
the same photo (one avatar, as before: the obvious alternative) and so the cost of each extra
person ((total - single) / (avatars - 1)), also in CPU seconds (what it costs when no other
process shares the cores: fitting runs on one thread). Per person: IoU of the avatar, posed and seen through the group's
shared camera, with that person's instance mask; the same for the part of it that is seen
when all the avatars are rendered together (a person behind others is hidden where they
are, as in the photo); and whether it stands on the common floor.

Target (issue 14): a photo of 5+ people gives one avatar per person, no two covering the same
person, <= 4 s per extra person on 2 cores.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import cv2
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
GROUP_DIR = ROOT.parent / "shared" / "data" / "photos" / "group"
sys.path.insert(0, str(ROOT))

# Counted by eye; see ../shared/data/SOURCES.md for the photos.
TRUE_COUNT = {
    "39742984604_46934fbd50_c": (7, "7 men side by side, some half hidden"),
    "51960182045_d5d6407a3c_c": (6, "5 players + referee on court; crowd not counted"),
    "170149601_13aa4e4483_c": (0, "a bronze statue (not a person), a tiny woman behind it"),
}


def silhouette(avatar, w: int, h: int) -> np.ndarray:
    """The dressed avatar (every layer: the body alone lacks what its clothes cover) posed
    and seen through its camera, at the working size (w, h)."""
    from backend.fit.posing import posed_layers, project_to_photo
    from backend.raster import rasterize
    cam = avatar.camera
    verts, faces, _ = posed_layers(avatar)
    sil = rasterize(project_to_photo(avatar, verts), faces, cam.width, cam.height).mask
    return cv2.resize(sil.astype(np.uint8), (w, h), interpolation=cv2.INTER_NEAREST) > 0


def frontmost(avatars, w: int, h: int) -> np.ndarray:
    """(h, w) int: which avatar is nearest the camera at each pixel (-1: none), all of them
    rendered together through the shared camera at the working size: what the group shows
    of each person, hidden parts behind the others left out."""
    from backend.fit.posing import camera_space_mesh
    from backend.raster import rasterize
    cam = avatars[0].camera
    verts, faces, owner, start = [], [], [], 0
    for k, a in enumerate(avatars):
        v, f, _ = camera_space_mesh(a)
        verts.append(v)
        faces.append(f + start)
        owner.append(np.full(len(f), k))
        start += len(v)
    v, f, owner = np.concatenate(verts), np.concatenate(faces), np.concatenate(owner)
    z = np.maximum(v[:, 2], 1e-6)
    pix = np.stack([cam.fx * v[:, 0] / z + cam.cx, cam.fy * v[:, 1] / z + cam.cy], axis=1)
    face = rasterize(pix, f, cam.width, cam.height, depth=v[:, 2]).face
    labels = np.where(face >= 0, owner[np.maximum(face, 0)], -1).astype(np.int32)
    return cv2.resize(labels, (w, h), interpolation=cv2.INTER_NEAREST)


def whole_image_only(rgb: np.ndarray) -> int:
    """People found by the detector on the whole image only (no tiles)."""
    from backend.perception import mediapipe_people as mpp
    finder = mpp.get_people_finder()
    scales, mpp.TILE_SCALES = mpp.TILE_SCALES, ()
    try:
        return len(finder.find(rgb))
    finally:
        mpp.TILE_SCALES = scales


def run_photo(path: Path, quality: str) -> dict:
    from backend.errors import JobInputError
    from backend.fit.people import GroupReconstruction, reconstruct_people
    from backend.fit.pipeline import reconstruct_photo
    from backend.fit.posing import posed_vertices
    from backend.imageio import read_photo
    from backend.perception import find_people
    from backend.raster import mask_iou
    data = path.read_bytes()
    photo = read_photo(data, path.stem)
    h, w = photo.rgb.shape[:2]
    start = time.perf_counter()
    found = find_people(photo.rgb)
    perceive = time.perf_counter() - start
    start, cpu = time.perf_counter(), time.process_time()
    try:
        group = reconstruct_people(data, path.stem, quality)
    except JobInputError as exc:          # nobody to reconstruct: said, not crashed
        group = GroupReconstruction([], found=len(found), notes=[str(exc)])
    total, total_cpu = time.perf_counter() - start, time.process_time() - cpu
    start, cpu = time.perf_counter(), time.process_time()
    try:                                  # the obvious alternative: one avatar, as before
        reconstruct_photo(data, path.stem, quality)
        single, single_cpu = time.perf_counter() - start, time.process_time() - cpu
    except JobInputError:
        single = single_cpu = None
    n = len(group.people)
    extra = (total - single) / (n - 1) if single is not None and n > 1 else None
    # CPU seconds: what a person costs without the other processes sharing the cores
    extra_cpu = (total_cpu - single_cpu) / (n - 1) if single is not None and n > 1 else None
    fits = [sum(r.timings.values()) for r in group.people] or [0.0]
    people = []
    sils = [silhouette(r.avatar, w, h) for r in group.people]
    front = frontmost([r.avatar for r in group.people], w, h) if group.people else None
    for k, (r, sil) in enumerate(zip(group.people, sils)):
        own = r.debug["obs"].mask > 0.5
        people.append({"name": r.avatar.name, "iou_instance": round(mask_iou(sil, own), 3),
                       "iou_visible": round(mask_iou(front == k, own), 3),
                       "on_floor": bool(abs(float(posed_vertices(r.avatar)[:, 2].min()))
                                        < 0.01),
                       "height_m": r.avatar.metadata["fit"]["height_m"]})
    overlap = max((mask_iou(a, b) for i, a in enumerate(sils) for b in sils[i + 1:]),
                  default=0.0)
    true, what = TRUE_COUNT.get(path.stem, ("-", ""))
    return {"photo": path.name, "true": true, "what": what, "found": len(found),
            "whole_image_detector": whole_image_only(photo.rgb),
            "avatars": len(group.people), "notes": group.notes,
            "perceive_s": round(perceive, 2), "fit_per_person_s": round(float(np.mean(fits)), 2),
            "total_s": round(total, 2),
            "single_path_s": None if single is None else round(single, 2),
            "per_extra_person_s": None if extra is None else round(extra, 2),
            "per_extra_person_cpu_s": None if extra_cpu is None else round(extra_cpu, 2),
            "max_pair_iou": round(float(overlap), 3),
            "mean_iou_visible": round(float(np.mean([p["iou_visible"] for p in people]))
                                      if people else 0.0, 3),
            "people": people}


def _s(v) -> str:
    return "-" if v is None else f"{v:.1f}s"


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("photos", nargs="*", help=f"default: every photo in {GROUP_DIR}")
    p.add_argument("--group", action="store_true", help="the group photos (the default)")
    p.add_argument("--quality", default="default", choices=("fast", "default", "high"))
    p.add_argument("--json", action="store_true")
    args = p.parse_args(argv)
    paths = [Path(x) for x in args.photos] or sorted(GROUP_DIR.glob("*.jpg"))
    import torch
    torch.set_num_threads(2)
    rows = [run_photo(path, args.quality) for path in paths]
    if args.json:
        print(json.dumps(rows, indent=1))
        return 0
    print(f"{'photo':28} {'true':>4} {'found':>5} {'whole-img':>9} {'avatars':>7} "
          f"{'perceive':>8} {'fit/person':>10} {'total':>7} {'1 avatar':>8} {'+person':>7} "
          f"{'+person CPU':>11} {'max pair IoU':>12} {'seen IoU':>8}")
    for r in rows:
        print(f"{r['photo'][:28]:28} {r['true']:>4} {r['found']:>5} "
              f"{r['whole_image_detector']:>9} {r['avatars']:>7} {r['perceive_s']:>7.2f}s "
              f"{r['fit_per_person_s']:>9.2f}s {r['total_s']:>6.1f}s {_s(r['single_path_s']):>8} "
              f"{_s(r['per_extra_person_s']):>7} {_s(r['per_extra_person_cpu_s']):>11} "
              f"{r['max_pair_iou']:>12.3f} {r['mean_iou_visible']:>8.3f}")
        print(f"    true: {r['what']}")
        for person in r["people"]:
            print(f"    {person['name']:40} IoU vs instance mask {person['iou_instance']:.3f}"
                  f" (seen part {person['iou_visible']:.3f})"
                  f"  height {person['height_m']:.2f} m"
                  f"  {'on the floor' if person['on_floor'] else 'off the floor'}")
        for note in r["notes"]:
            print(f"    note: {note}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
