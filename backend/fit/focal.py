"""The camera's focal length for one photo: EXIF when the camera wrote it, else an estimate.

Estimate: MediaPipe's world landmarks are metric (hip-centred, about a real body's size), so a
PnP solve at any trial focal gives the person's distance in metres for that focal; the focal
is then the one that puts the person at a typical full-body photo distance (TYPICAL_DISTANCE_M).
Size in pixels = f * size in metres / distance, so this is exact up to how far the real
distance is from the typical one (3.2-5 m on the synthetic devsets: about +-20 %).
A search over focal candidates scored by how well perspective explains the 2D keypoints
(foreshortening) was tried first: at 3-5 m the body's depth is too shallow and MediaPipe's
depths too noisy, it missed by up to 2.8x (benchmarks/reconstruct.py reports the numbers).
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from ..perception import PersonObservation

FILM_LONG_SIDE_MM = 36.0     # 35 mm equivalent: the long side of the frame is 36 mm
TYPICAL_DISTANCE_M = 4.0     # camera to pelvis for a head-to-feet photo
FALLBACK_FOCAL = 1.2         # focal / long side when nothing better is known (~43 mm)
FOCAL_RANGE = (0.45, 3.5)    # focal / long side kept within 16-126 mm equivalent


@dataclass(frozen=True)
class FocalChoice:
    """Focal length in working-resolution pixels, its 35 mm equivalent and where it came from."""

    f_px: float
    focal_35mm: float
    source: str              # "exif" | "estimated" | "default"

    def as_dict(self) -> dict:
        return {"focal_35mm": round(self.focal_35mm, 2), "focal_px": round(self.f_px, 2),
                "source": self.source}


def choose_focal(focal_35mm_exif: float | None, obs: PersonObservation | None,
                 width: int, height: int) -> FocalChoice:
    """``width``/``height``: the working image (pixels) the observation was made on."""
    long_side = float(max(width, height))
    if focal_35mm_exif:
        return FocalChoice(focal_35mm_exif / FILM_LONG_SIDE_MM * long_side, focal_35mm_exif,
                           "exif")
    f = estimate_focal(obs, width, height) if obs is not None else None
    source = "estimated"
    if f is None:
        f, source = FALLBACK_FOCAL * long_side, "default"
    return FocalChoice(f, f / long_side * FILM_LONG_SIDE_MM, source)


def estimate_focal(obs: PersonObservation, width: int, height: int) -> float | None:
    """Focal (pixels) putting the person TYPICAL_DISTANCE_M away; None when too few confident
    body landmarks (< 6) pin the pose down."""
    idx = np.nonzero(obs.visibility > 0.5)[0]
    idx = idx[idx >= 11]                  # body landmarks; the face's world depth is poor
    if idx.size < 6:
        return None
    world = obs.world[idx].astype(np.float64)            # (n, 3) metres, hip-centred
    pix = obs.keypoints[idx].astype(np.float64)          # (n, 2) working pixels
    long_side = float(max(width, height))
    f0 = FALLBACK_FOCAL * long_side
    k = np.array([[f0, 0, width / 2.0], [0, f0, height / 2.0], [0, 0, 1.0]])
    try:
        ok, r, t = cv2.solvePnP(world, pix, k, None, flags=cv2.SOLVEPNP_EPNP)
        if ok:
            ok, r, t = cv2.solvePnP(world, pix, k, None, r, t, True,
                                    flags=cv2.SOLVEPNP_ITERATIVE)
    except cv2.error:
        return None
    z = float(np.asarray(t).reshape(-1)[2]) if ok else 0.0
    if not z > 0.2:
        return None
    lo, hi = FOCAL_RANGE
    return float(np.clip(f0 * TYPICAL_DISTANCE_M / z, lo * long_side, hi * long_side))
