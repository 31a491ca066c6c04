"""Which feet touch the floor, frame by frame, read from the source motion itself.

A foot is in contact while its ball (the toe joint: it stays put from flat foot to heel off)
is slow and near the floor. "The floor" is estimated locally (the lowest ball height within a
second or so), because mocap floors drift: CMU clips' feet climb 6-10 cm over a take.
Thresholds scale with the source's leg length, so any unit or body size reads alike.
"""

from __future__ import annotations

import numpy as np

from .source import SourceMotion

SPEED = 0.35          # leg lengths per second: slower than this counts as still
HEIGHT = 0.05         # leg lengths above the local floor that still count as touching
WINDOW_S = 0.6        # half width of the local floor window, seconds
MIN_RUN_S = 0.08      # shorter contacts or gaps are noise


def ball_joints(m: SourceMotion) -> list[int] | None:
    """Source joint of each foot's ball (toe base; the ankle when the file has no toe)."""
    roles = m.skeleton.roles
    out = [roles.get(f"{s}_foot", roles.get(f"{s}_ankle")) for s in ("left", "right")]
    return None if any(j is None for j in out) else out


def _rolling(x: np.ndarray, half: int, fn) -> np.ndarray:
    pad = np.pad(x, (half, half), mode="edge")
    win = np.lib.stride_tricks.sliding_window_view(pad, 2 * half + 1)
    return fn(win, axis=-1)


def clean_runs(on: np.ndarray, shortest: int) -> np.ndarray:
    """(T,) bool with gaps, then runs, shorter than ``shortest`` frames removed."""
    on = on.copy()
    for value in (False, True):                       # fill short gaps, then drop short runs
        mask = np.concatenate([[0], (on == value).astype(np.int8), [0]])
        edges = np.flatnonzero(np.diff(mask))
        for start, stop in zip(edges[::2], edges[1::2]):
            interior = start > 0 and stop < len(on)
            if stop - start < shortest and (interior or value):
                on[start:stop] = not value
    return on


def foot_contacts(m: SourceMotion, p: np.ndarray, leg: float) -> np.ndarray:
    """(T, 2) bool: left/right foot on the floor. ``p`` (T, J, 3) source joint positions,
    ``leg`` the source's leg length (same units)."""
    t = m.frame_count
    joints = ball_joints(m)
    if joints is None or t < 2:
        return np.zeros((t, 2), bool)
    ball = p[:, joints]                                           # (T, 2, 3)
    speed = np.linalg.norm(np.gradient(ball, axis=0), axis=-1) * m.fps
    half = max(1, int(round(WINDOW_S * m.fps)))
    low = ball[..., 2].min(axis=1)
    floor = _rolling(_rolling(low, half, np.min), half, np.mean)  # drifting floor, smoothed
    near = ball[..., 2] - floor[:, None] < HEIGHT * leg
    still = speed < SPEED * leg
    shortest = max(1, int(round(MIN_RUN_S * m.fps)))
    return np.stack([clean_runs(near[:, k] & still[:, k], shortest) for k in range(2)], 1)
