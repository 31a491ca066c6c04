"""Hands and face-driven head: what they change, on synthetic photos with exact truth and on
real photos, and what they cost.

    PYTHONPATH=. python benchmarks/hands_head.py [--samples 10] [--photos] [--quality fast]
        [--renders DIR]

One reconstruction per photo gives both columns: the pipeline's set_photo_head /
set_photo_hands are wrapped to keep the avatar's pose from just before them ("without") and
to time them. devset_pose (bodies in varied poses, exact bone orientations in the camera):
 - head: angle between the avatar's head orientation in the camera and the truth, degrees
   (bone-frame free: both as rest-armature -> camera rotations, so the dev set's own bone
   frames do not matter);
 - wrist: the same for the wrists whose hand MediaPipe found;
 - fingers: mean distance (mm) of the 15 finger-joint heads per hand from the truth, relative
   to each hand's wrist in the wrist's own axes (the articulation alone; the dev set's hands
   are at Anny's rest: flat, slightly curled, so "without" is the truth up to body shape).
Real photos (--photos): per hand whether it was found, its mean finger flexion, the head
turn; --renders writes close-ups of each hand (photo | without | with) through the photo's
camera.
"""

from __future__ import annotations

import argparse
import copy
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from backend.fit import pipeline
from backend.fit.bone_edit import angle_deg, camera_deltas
from backend.fit.posing import camera_from_world
from rig.avatar_pose import posed_bone_matrices

DATA = ROOT.parent / "shared" / "data"
PHOTOS = sorted(p for d in ("single", "research_only") for p in (DATA / "photos" / d).glob("*")
                if p.suffix.lower() in (".png", ".jpg", ".jpeg") and "mask" not in p.name)
FINGERS = [f"finger{f}-{k}" for f in range(1, 6) for k in (1, 2, 3)]


class Capture:
    """Wraps the pipeline's head and hands steps: the pose before them, and their times."""

    def __init__(self) -> None:
        self.before = None
        self.seconds = 0.0
        self._head, self._hands = pipeline.set_photo_head, pipeline.set_photo_hands
        pipeline.set_photo_head = self.head
        pipeline.set_photo_hands = self.hands

    def head(self, avatar, *args):
        self.before = copy.deepcopy(avatar.pose)
        t = time.perf_counter()
        self._head(avatar, *args)
        self.seconds += time.perf_counter() - t

    def hands(self, avatar, *args):
        t = time.perf_counter()
        self._hands(avatar, *args)
        self.seconds += time.perf_counter() - t

    def reconstruct(self, path: Path, quality: str):
        self.seconds = 0.0
        t = time.perf_counter()
        rec = pipeline.reconstruct_photo(path.read_bytes(), path.name, quality=quality)
        return rec, time.perf_counter() - t


def truth_deltas(gt) -> dict[str, np.ndarray]:
    """Bone name -> rest-armature -> camera rotation of the true body (the dev set's
    'local-ref' rotations are world-aligned, so a bone's is the product down its chain)."""
    labels = [str(x) for x in gt["bone_labels"]]
    par, rot = gt["bone_parents"], gt["pose_parameters"][:, :3, :3].astype(np.float64)
    world = [None] * len(labels)
    for b in range(len(labels)):
        world[b] = rot[b] if par[b] < 0 else world[par[b]] @ rot[b]
    r = gt["R_world2cam"].astype(np.float64)
    return {n: r @ w for n, w in zip(labels, world)}


def hand_heads(avatar, side: str) -> np.ndarray:
    """(15, 3) finger bone heads relative to the wrist's head, in the wrist's own (rest
    armature) axes, metres: the fingers' articulation, whatever the wrist's error."""
    names = avatar.skeleton.names
    mats = posed_bone_matrices(avatar.skeleton, avatar.pose)
    cam = camera_from_world(avatar)
    heads = mats[:, :3, 3] @ cam[:3, :3].T
    w = names.index(f"wrist.{side}")
    wrist = camera_deltas(avatar)[w]
    return np.array([heads[names.index(f"{b}.{side}")] - heads[w] for b in FINGERS]) @ wrist


def devset(samples: int, quality: str, cap: Capture) -> None:
    rows = []
    print(f"{'sample':<12}{'head before':>12}{'head after':>11}{'wrist before':>13}"
          f"{'wrist after':>12}{'fing. before':>13}{'fing. after':>12}{'hands':>7}"
          f"{'added s':>9}{'total s':>9}")
    for d in sorted((DATA / "devset_pose").glob("sample_*"))[:samples]:
        gt = np.load(d / "gt.npz")
        truth = truth_deltas(gt)
        labels = [str(x) for x in gt["bone_labels"]]
        rec, total = cap.reconstruct(d / "image.png", quality)
        av = rec.avatar
        names = av.skeleton.names
        after = camera_deltas(av)
        after_heads = {s: hand_heads(av, s) for s in "LR"}
        av_before = copy.copy(av)
        av_before.pose = cap.before
        before = camera_deltas(av_before)
        before_heads = {s: hand_heads(av_before, s) for s in "LR"}

        def err(deltas, bone, names=names, truth=truth):
            return angle_deg(deltas[names.index(bone)].T @ truth[bone])
        found = [s for s in "LR" if av.metadata["hands"][s]["found"]]
        gt_heads = gt["bone_heads3d"].astype(np.float64)
        fing_b, fing_a = [], []
        for s in "LR":
            w = gt_heads[labels.index(f"wrist.{s}")]
            true = np.array([gt_heads[labels.index(f"{b}.{s}")] - w for b in FINGERS]) \
                @ truth[f"wrist.{s}"]
            fing_b.append(1000 * np.linalg.norm(before_heads[s] - true, axis=1).mean())
            fing_a.append(1000 * np.linalg.norm(after_heads[s] - true, axis=1).mean())
        wb = [err(before, f"wrist.{s}") for s in found]
        wa = [err(after, f"wrist.{s}") for s in found]
        row = {"head_b": err(before, "head"), "head_a": err(after, "head"),
               "wrist_b": np.mean(wb) if wb else np.nan,
               "wrist_a": np.mean(wa) if wa else np.nan,
               "fing_b": np.mean(fing_b), "fing_a": np.mean(fing_a), "added": cap.seconds,
               "total": total}
        rows.append(row)
        print(f"{d.name:<12}{row['head_b']:>12.1f}{row['head_a']:>11.1f}{row['wrist_b']:>13.1f}"
              f"{row['wrist_a']:>12.1f}{row['fing_b']:>13.1f}{row['fing_a']:>12.1f}"
              f"{''.join(found) or '-':>7}{row['added']:>9.2f}{row['total']:>9.1f}")
    mean = {k: np.nanmean([r[k] for r in rows]) for k in rows[0]}
    print(f"{'mean':<12}{mean['head_b']:>12.1f}{mean['head_a']:>11.1f}{mean['wrist_b']:>13.1f}"
          f"{mean['wrist_a']:>12.1f}{mean['fing_b']:>13.1f}{mean['fing_a']:>12.1f}{'':>7}"
          f"{mean['added']:>9.2f}{mean['total']:>9.1f}")
    print(f"head error median: before {np.median([r['head_b'] for r in rows]):.1f} deg, "
          f"after {np.median([r['head_a'] for r in rows]):.1f} deg")


def close_up(avatar, centre: np.ndarray, half: float, size: int = 200) -> np.ndarray:
    """(size, size, 3) render of the avatar through its photo camera, zoomed on a square of
    half-side ``half`` original-photo px around ``centre``."""
    from backend.raster import rasterize
    from benchmarks.avatar_sheet import CameraScene
    scene = CameraScene(avatar)
    cam, v = avatar.camera, scene.vertices
    z = np.maximum(v[:, 2], 1e-6)
    pix = np.stack([cam.fx * v[:, 0] / z + cam.cx, cam.fy * v[:, 1] / z + cam.cy], 1)
    pix = (pix - (centre - half)) * (size / (2 * half))
    ras = rasterize(pix, scene.tri, size, size, depth=z)
    return scene.shade(ras, np.array([0.0, 0.0, 1.0]), v)


def photos(quality: str, cap: Capture, renders: Path | None, only: str = "") -> None:
    from PIL import Image

    from backend.fit.posing import project_to_photo
    print(f"\n{'photo':<38}{'hand':>5}{'found':>16}{'mean MCP+PIP flex':>19}"
          f"{'head turn':>10}{'added s':>9}")
    tiles = []
    for path in [p for p in PHOTOS if only in p.name]:
        rec, _ = cap.reconstruct(path, quality)
        av = rec.avatar
        head = av.metadata.get("head_from_face", {}).get("turn_deg", 0.0)
        for s in "LR":
            h = av.metadata["hands"][s]
            fl = [v for b, v in h["flexion_deg"].items() if b[-1] in "12" and b[6] != "1"]
            why = "yes" if h["found"] else h.get("relaxed_because", "")
            print(f"{path.name[:37]:<38}{s:>5}{why:>16}{np.mean(fl):>19.1f}{head:>10.1f}"
                  f"{cap.seconds:>9.2f}")
            if renders is None:
                continue
            names = av.skeleton.names
            mats = posed_bone_matrices(av.skeleton, av.pose)
            p = project_to_photo(av, mats[[names.index(f"wrist.{s}"),
                                           names.index(f"finger3-3.{s}")], :3, 3])
            centre = p.mean(0)
            half = max(1.4 * float(np.linalg.norm(p[1] - p[0])), 10.0)
            photo = np.asarray(Image.open(path).convert("RGB"))
            x0, y0 = np.maximum(centre - half, 0).astype(int)
            crop = Image.fromarray(photo[y0:int(centre[1] + half), x0:int(centre[0] + half)])
            before = copy.copy(av)
            before.pose = cap.before
            tiles.append(np.concatenate([np.asarray(crop.resize((200, 200))),
                                         close_up(before, centre, half),
                                         close_up(av, centre, half)], axis=1))
    if renders is not None and tiles:
        renders.mkdir(parents=True, exist_ok=True)
        rows = [np.concatenate(tiles[i:i + 2], axis=1) if i + 1 < len(tiles)
                else np.pad(tiles[i], ((0, 0), (0, tiles[i].shape[1]), (0, 0)))
                for i in range(0, len(tiles), 2)]
        Image.fromarray(np.concatenate(rows, axis=0)).save(renders / "hands_closeups.png")
        print(f"close-ups (photo | without | with, two hands per row): "
              f"{renders / 'hands_closeups.png'}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--samples", type=int, default=10)
    ap.add_argument("--photos", action="store_true", help="also the real photos")
    ap.add_argument("--quality", default="default", choices=list(pipeline.QUALITY))
    ap.add_argument("--renders", type=Path, default=None, help="folder for hand close-ups")
    ap.add_argument("--only", default="", help="only photos whose name contains this")
    args = ap.parse_args()
    cap = Capture()
    if args.samples:
        devset(args.samples, args.quality, cap)
    if args.photos:
        photos(args.quality, cap, args.renders, args.only)


if __name__ == "__main__":
    main()
