"""3D pose metrics against the synthetic devsets' ground truth (devset_pose, devset_clothed).

The devsets' joints are Anny bone heads (gt.npz `joint_bones`); a reconstruction's posed bone
heads in the photo's camera frame (Reconstruction.debug["bone_heads_cam"]) are matched to them
by bone name, so no joint regressor sits between the two.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

# The README's MPJPE set: pelvis, neck, head, hips, knees, ankles, shoulders, elbows, wrists.
EVAL_JOINTS = ("pelvis", "neck", "head", "left_hip", "right_hip", "left_knee", "right_knee",
               "left_ankle", "right_ankle", "left_shoulder", "right_shoulder", "left_elbow",
               "right_elbow", "left_wrist", "right_wrist")
# The devsets use Anny's default rig; its 'root' head (the pelvis) is where Anny's Blender rig
# (the one Doppel fits) puts 'spine05', under a root bone of its own ~7 cm lower and behind.
BLENDER_RIG_BONE = {"root": "spine05"}


def devset_samples(root: Path) -> list[dict]:
    """index.json's sample list with absolute paths."""
    index = json.loads((root / "index.json").read_text())
    return [dict(s, root=root) for s in index["samples"]]


def procrustes(pred: np.ndarray, gt: np.ndarray) -> np.ndarray:
    """``pred`` (N, 3) moved onto ``gt`` by the best similarity transform (Umeyama)."""
    mp, mg = pred.mean(0), gt.mean(0)
    p, g = pred - mp, gt - mg
    u, s, vt = np.linalg.svd(p.T @ g)
    d = np.sign(np.linalg.det(u @ vt))
    e = np.diag([1.0, 1.0, d])
    r = u @ e @ vt                                  # p @ r ~ g
    scale = (s * np.diag(e)).sum() / (p ** 2).sum()
    return scale * p @ r + mg


def joint_errors(rec, gt) -> dict:
    """Per-joint errors (mm): MPJPE after pelvis alignment, PA-MPJPE after Procrustes."""
    names = [str(n) for n in gt["joint_names"]]
    bones = [str(b) for b in gt["joint_bones"]]
    rig_bones = rec.debug["bone_names"]
    if "spine05" in rig_bones:
        bones = [BLENDER_RIG_BONE.get(b, b) for b in bones]
    use = [i for i, n in enumerate(names) if n in EVAL_JOINTS and bones[i] in rig_bones]
    pred = rec.debug["bone_heads_cam"][[rig_bones.index(bones[i]) for i in use]].astype(float)
    true = gt["joints3d"][use].astype(float)
    pelvis = [names[i] for i in use].index("pelvis")
    rel = np.linalg.norm((pred - pred[pelvis]) - (true - true[pelvis]), axis=1) * 1000
    pa = np.linalg.norm(procrustes(pred, true) - true, axis=1) * 1000
    return {"mpjpe_mm": float(rel.mean()), "pa_mpjpe_mm": float(pa.mean()),
            "per_joint_pa_mm": {names[i]: float(e) for i, e in zip(use, pa)},
            "per_joint_mm": {names[i]: float(e) for i, e in zip(use, rel)}}


def devset_row(rec, sample: dict, iou_fn) -> dict:
    """Metrics of one reconstruction of one devset sample."""
    from PIL import Image
    root = sample["root"]
    gt = np.load(root / sample["gt"])
    w = int(gt["image_size"][0])
    f_true = float(gt["K"][0, 0])
    f_used = rec.debug["focal"].f_px / rec.debug["photo"].scale
    true_mask = np.asarray(Image.open(root / sample["mask"]).convert("L")) > 127
    row = {"photo": f"{root.name}/{sample['name']}", **joint_errors(rec, gt),
           "focal_err_pct": 100.0 * (f_used / f_true - 1.0),
           "focal_source": rec.debug["focal"].source,
           "focal_mm_true": float(gt["focal_mm_35mm_equiv"]),
           "focal_mm_used": rec.debug["focal"].focal_35mm,
           "height_err_cm": 100.0 * (rec.stats["height_m"] - float(gt["height_m"])),
           "iou_true_mask": iou_fn(true_mask), "image_width": w}
    return row


def summary(rows: list[dict]) -> dict:
    """Means/medians over a devset's rows."""
    med = lambda k: float(np.median([abs(r[k]) for r in rows]))
    return {"n": len(rows), "pa_mpjpe_mean": float(np.mean([r["pa_mpjpe_mm"] for r in rows])),
            "mpjpe_mean": float(np.mean([r["mpjpe_mm"] for r in rows])),
            "focal_err_med_pct": med("focal_err_pct"), "height_err_med_cm": med("height_err_cm"),
            "iou_mean": float(np.mean([r["iou_true_mask"] for r in rows])),
            "time_p50_s": float(np.median([r["total_s"] for r in rows]))}
