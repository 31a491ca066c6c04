"""BlazePose's heavy landmark model (model_complexity=2): where it lives, whether it is intact.

MediaPipe 0.10.21 runs complexity 2 only when pose_landmark_heavy.tflite sits in its own
package folder (modules/pose_landmark/); the wheel lacks it and MediaPipe would otherwise try
to download it from GitHub at graph build. ``scripts/setup`` copies it there from the npm
package @mediapipe/pose (see weights/manifest.toml, entry "mediapipe-pose-heavy").
"""

from __future__ import annotations

import logging
import os

HEAVY_ENTRY = "mediapipe-pose-heavy"
log = logging.getLogger("doppel.perception")
_WARNED: set[str] = set()     # fallback reasons already logged (one line a process, not a graph)


def heavy_status() -> str:
    """'ok', 'missing' or 'CORRUPT' (backend.weights.check_entry of the manifest entry)."""
    from ..weights import check_entry, load_manifest
    try:
        entry = next((e for e in load_manifest() if e.name == HEAVY_ENTRY), None)
    except (OSError, ValueError):       # an unreadable manifest must not stop perception
        entry = None
    return check_entry(entry) if entry is not None else "not in the manifest"


def model_complexity() -> int:
    """The landmark model to run: the heavy one (complexity 2) when its file is present and
    hash-checked, else the full one the wheel ships (1) with one log line a process.
    DOPPEL_POSE_MODEL=full opts out (the heavy model is better on varied poses but takes
    about twice as long a landmark run: 0.40 vs 0.23 s on ryota)."""
    wanted = os.environ.get("DOPPEL_POSE_MODEL", "heavy").strip().lower()
    if wanted not in ("full", "heavy"):
        log.warning("pose: DOPPEL_POSE_MODEL=%r is neither 'full' nor 'heavy'; using heavy "
                    "if installed", wanted)
    if wanted == "full":
        return 1
    status = heavy_status()
    if status == "ok":
        return 2
    if status not in _WARNED:
        _WARNED.add(status)
        log.warning("pose: heavy landmark model %s, using the full model (complexity 1); "
                    "./scripts/setup installs it", status)
    return 1
