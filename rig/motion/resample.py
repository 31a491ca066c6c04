"""Time-exact resampling of a SourceMotion to another frame rate.

Output frame k sits at time k / fps seconds; its pose is interpolated between the two source
frames around that time (rotations by slerp, root position linearly). Nothing is dropped or
repeated, so a clip keeps its duration to within one output frame at any rate, 29.97 included.
"""

from __future__ import annotations

import math
from dataclasses import replace

import numpy as np

from .. import rotations as Q
from .errors import MotionError
from .source import SourceMotion


def output_frame_count(source_frames: int, source_fps: float, fps: float) -> int:
    """Frames at ``fps`` covering the source's duration (last frame no later than its end)."""
    duration = (source_frames - 1) / source_fps
    return int(math.floor(duration * fps + 1e-6)) + 1


def resample(m: SourceMotion, fps: float) -> SourceMotion:
    """Return ``m`` at ``fps`` frames per second (a new SourceMotion; ``m`` is unchanged)."""
    if not (np.isfinite(fps) and fps > 0):
        raise MotionError(f"Target frame rate {fps} must be a positive number.")
    n = m.frame_count
    if n == 1 or abs(fps - m.fps) < 1e-9 * m.fps:
        return replace(m, fps=float(fps) if n == 1 else m.fps)
    count = output_frame_count(n, m.fps, fps)
    u = np.minimum(np.arange(count) * (m.fps / fps), n - 1)     # position in source frames
    i0 = np.minimum(np.floor(u).astype(np.int64), n - 2)
    frac = u - i0
    rot = Q.slerp(m.rotations[i0], m.rotations[i0 + 1], frac[:, None])
    pos = m.root_position[i0] * (1 - frac)[:, None] + m.root_position[i0 + 1] * frac[:, None]
    return replace(m, fps=float(fps), rotations=rot, root_position=pos)
