"""A learned 2D->3D pose lifter: the detector's 2D keypoints (landmarks.PAIRS) -> their 3D
positions relative to the hips, in the camera frame, up to scale. The fit uses it as its
pose prior (the 3D directions of the limbs and the 3D keypoint shape), blended with
MediaPipe's world landmarks, whose limb directions are 10-30 degrees off and often point the
wrong way in depth (body_fit.LIFT_MIX).

Known limit: where 2D cannot tell a limb reaching back from one reaching forward (an arm
swung back seen from the front, a lunge's rear shin seen from behind), the lifter leans
towards forward, the commoner pose in its training data.

The weights (backend/fit/data/pose_lifter.npz, float16, ~2 MB) are ours: an MLP trained on
synthetic Anny bodies in random anatomical poses and CMU motion-capture frames
(backend/fit/lifter/: make_data.py, train.py). Inference is numpy: no torch, no training.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import numpy as np

from .landmarks import PAIRS
from .lifter.features import encode

WEIGHTS = Path(__file__).resolve().parent / "data" / "pose_lifter.npz"
MP_INDEX = np.array([i for i, _, _ in PAIRS])


@lru_cache(maxsize=1)
def _layers(path: str = str(WEIGHTS)) -> tuple:
    with np.load(path) as d:
        w = {k: d[k].astype(np.float32) for k in d.files if k.endswith(("_w", "_b"))}
    blocks = sorted({k.split("_")[0] for k in w if k.startswith("b") and k[1].isdigit()})
    return w, blocks


def lift_rays(rays: np.ndarray, vis: np.ndarray) -> np.ndarray:
    """rays (N, K, 2) camera rays (x/z, y/z) of PAIRS' keypoints, vis (N, K) 0..1 ->
    (N, K, 3) keypoints minus the hips, camera frame (OpenCV), in units of hip depth x the
    keypoints' spread (scale is not observable: use directions and shapes only)."""
    w, blocks = _layers()
    x, _ = encode(rays.astype(np.float32), np.clip(vis, 0, 1).astype(np.float32))
    relu = lambda a: np.maximum(a, 0.0)
    h = relu(x @ w["in_w"].T + w["in_b"])
    for b in blocks:
        t = relu(h @ w[f"{b}_0_w"].T + w[f"{b}_0_b"])
        h = h + relu(t @ w[f"{b}_1_w"].T + w[f"{b}_1_b"])
    return (h @ w["out_w"].T + w["out_b"]).reshape(len(rays), -1, 3)


def lift_keypoints(keypoints: np.ndarray, visibility: np.ndarray, f: float, cx: float,
                   cy: float) -> np.ndarray:
    """One person's detector landmarks (33, 2) pixels and (33,) visibility, pinhole
    intrinsics -> (len(PAIRS), 3) lifted keypoints in PAIRS' order (see lift_rays)."""
    kp = keypoints[MP_INDEX].astype(np.float64)
    rays = (kp - np.array([cx, cy])) / f
    return lift_rays(rays[None], visibility[MP_INDEX][None])[0]


def lifted_world(keypoints: np.ndarray, visibility: np.ndarray, world: np.ndarray, f: float,
                 cx: float, cy: float, mix: float = 1.0) -> np.ndarray:
    """The detector's (33, 3) world landmarks with the rows the fit uses (PAIRS) replaced by
    the lifter's 3D keypoints, scaled to the detector's size (metres, hips at the origin,
    camera-aligned axes: the same frame). ``mix`` < 1 blends the two (by position)."""
    lifted = lift_keypoints(keypoints, visibility, f, cx, cy)
    own = world[MP_INDEX].astype(np.float64)
    own = own - 0.5 * (own[11] + own[12])                 # PAIRS rows 11/12: the hips
    spread = lambda p: np.sqrt((p ** 2).sum(1).mean())
    lifted = lifted * spread(own) / max(spread(lifted), 1e-9)
    out = world.astype(np.float64).copy()
    out[MP_INDEX] = mix * lifted + (1.0 - mix) * own
    return out.astype(np.float32)
