"""ARKit face animation from a CSV (Live Link Face's export), bpy-free and numpy-only.

Live Link Face writes ``Timecode, BlendShapeCount, EyeBlinkLeft, EyeLookDownLeft, ...,
TongueOut, HeadYaw, HeadPitch, HeadRoll, LeftEyeYaw, ...``: one row per captured frame, the 52
ARKit weights in [0, 1] with the first letter capitalised. Column names are matched to Apple's
names case-insensitively; the head and eye rotation columns are ignored (a warning says so:
the avatar's head and eyes are bones, which a face CSV does not retarget). Rows are taken as
evenly spaced; the rate comes from the timecodes (``HH:MM:SS:FF[.sub]``, the frame field's
rate), from a caller, or is Live Link Face's default 60 fps.
"""

from __future__ import annotations

import csv
import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..arkit import ARKIT_NAMES
from .errors import MotionError
from .resample import output_frame_count

_BY_LOWER = {n.lower(): n for n in ARKIT_NAMES}
TIME_COLUMNS = ("timecode", "time", "blendshapecount")
ROTATION_COLUMNS = tuple(f"{part}{axis}" for part in ("head", "lefteye", "righteye")
                         for axis in ("yaw", "pitch", "roll"))
DEFAULT_FPS = 60.0            # Live Link Face's capture rate
_RATES = (24.0, 25.0, 30.0, 48.0, 50.0, 60.0, 120.0)


@dataclass
class FaceClip:
    """Per-frame ARKit weights at ``fps``: frame k sits at k / fps seconds."""

    name: str
    names: list[str]               # K Apple names, in the file's column order
    weights: np.ndarray            # (T, K) float32 in [0, 1]
    fps: float
    warnings: list[str] = field(default_factory=list)
    info: str = ""

    @property
    def frame_count(self) -> int:
        return int(self.weights.shape[0])


def _timecode_frames(text: str) -> tuple[float, int] | None:
    """'HH:MM:SS:FF[.sub]' -> (whole seconds, frame field); None if not a timecode."""
    parts = text.strip().split(":")
    if len(parts) != 4:
        return None
    try:
        h, m, s = (int(p) for p in parts[:3])
        frame = float(parts[3])
    except ValueError:
        return None
    return h * 3600.0 + m * 60.0 + s, int(frame)


def _timecode_rate(timecodes: list[str]) -> float | None:
    """The capture rate the frame field counts in: the smallest standard rate above its
    largest value, if the clip spans at least one full second."""
    parsed = [_timecode_frames(t) for t in timecodes]
    if not parsed or any(p is None for p in parsed):
        return None
    if parsed[-1][0] - parsed[0][0] < 1.0:
        return None
    top = max(p[1] for p in parsed) + 1
    return next((r for r in _RATES if r >= top), None)


def read_arkit_csv(path: str | Path, source_fps: float | None = None) -> FaceClip:
    """Read a Live Link Face style CSV. Raises MotionError naming the file and the problem."""
    path = Path(path)
    where = f"Face CSV '{path.name}'"
    try:
        with open(path, newline="", encoding="utf-8-sig") as fh:
            rows = [r for r in csv.reader(fh) if any(c.strip() for c in r)]
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise MotionError(f"{where} cannot be read: {exc}") from None
    if not rows:
        raise MotionError(f"{where} is empty; export a take from Live Link Face (CSV).")
    header = [c.strip() for c in rows[0]]
    keys = [c.lower() for c in header]
    arkit = [i for i, k in enumerate(keys) if k in _BY_LOWER]
    unknown = [h for h, k in zip(header, keys)
               if k not in _BY_LOWER and k not in TIME_COLUMNS and k not in ROTATION_COLUMNS]
    if unknown:
        shown = ", ".join(unknown[:5]) + ("..." if len(unknown) > 5 else "")
        raise MotionError(f"{where} has columns that are not ARKit blendshapes: {shown}. "
                          "Use Live Link Face's CSV export (Timecode, BlendShapeCount, then "
                          "EyeBlinkLeft ... TongueOut).")
    if not arkit:
        raise MotionError(f"{where} has no ARKit blendshape columns (such as JawOpen, "
                          "EyeBlinkLeft); is it a face capture CSV?")
    if len({keys[i] for i in arkit}) != len(arkit):
        raise MotionError(f"{where} names an ARKit blendshape in two columns.")
    body = rows[1:]
    if not body:
        raise MotionError(f"{where} has a header but no frames.")
    values = np.full((len(body), len(arkit)), np.nan, np.float64)
    for r, row in enumerate(body):
        if len(row) < len(header):
            raise MotionError(f"{where} row {r + 2} has {len(row)} values; the header has "
                              f"{len(header)}.")
        for j, i in enumerate(arkit):
            try:
                values[r, j] = float(row[i])
            except ValueError:
                pass
        bad = ~np.isfinite(values[r])
        if bad.any():
            i = arkit[int(np.argmax(bad))]
            raise MotionError(f"{where} row {r + 2}, column {header[i]}: '{row[i]}' is not a "
                              "number; fix or delete that row.")
    warnings = []
    ignored = [h for h, k in zip(header, keys) if k in ROTATION_COLUMNS]
    if ignored:
        warnings.append(f"{path.name}: head/eye rotation columns ignored ({', '.join(ignored)}); "
                        "only the face shape keys are animated.")
    if len(arkit) < len(ARKIT_NAMES):
        warnings.append(f"{path.name}: {len(arkit)} of the 52 ARKit columns present; the "
                        "others are left as they are.")
    if (values < -0.01).any() or (values > 1.01).any():
        warnings.append(f"{path.name}: weights outside 0..1 were clamped.")
    fps = source_fps
    info = "source fps given"
    if fps is None:
        tc = keys.index("timecode") if "timecode" in keys else None
        fps = _timecode_rate([row[tc] for row in body]) if tc is not None else None
        info = "fps from timecodes" if fps else f"fps unknown, taken as {DEFAULT_FPS:g}"
        fps = fps or DEFAULT_FPS
    if not (math.isfinite(fps) and fps > 0):
        raise MotionError(f"Source frame rate {fps} must be a positive number.")
    return FaceClip(name=path.stem, names=[_BY_LOWER[keys[i]] for i in arkit],
                    weights=np.clip(values, 0.0, 1.0).astype(np.float32), fps=float(fps),
                    warnings=warnings, info=f"{len(arkit)} ARKit curves, {len(body)} rows at "
                                            f"{fps:g} fps ({info})")


def resample_face(clip: FaceClip, fps: float) -> FaceClip:
    """``clip`` at ``fps`` (linear between rows; duration kept to within one output frame)."""
    if not (math.isfinite(fps) and fps > 0):
        raise MotionError(f"Target frame rate {fps} must be a positive number.")
    n = clip.frame_count
    if n == 1 or abs(fps - clip.fps) < 1e-9 * clip.fps:
        return FaceClip(clip.name, clip.names, clip.weights, float(fps) if n == 1 else clip.fps,
                        clip.warnings, clip.info)
    u = np.minimum(np.arange(output_frame_count(n, clip.fps, fps)) * (clip.fps / fps), n - 1)
    i0 = np.minimum(np.floor(u).astype(np.int64), n - 2)
    frac = (u - i0)[:, None]
    w = clip.weights[i0] * (1 - frac) + clip.weights[i0 + 1] * frac
    return FaceClip(clip.name, clip.names, w.astype(np.float32), float(fps), clip.warnings,
                    clip.info)


def prepare_face_clip(path: str | Path, fps: float, source_fps: float | None = None
                      ) -> FaceClip:
    """Read and resample a face CSV to ``fps``; the add-on's and `doppel animate`'s entry."""
    return resample_face(read_arkit_csv(path, source_fps), fps)
