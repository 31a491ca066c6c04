"""The one error type a user can get from reading or retargeting a motion file."""

from __future__ import annotations


class MotionError(ValueError):
    """A motion file or option the user gave cannot be used. ``str(exc)`` is a sentence the
    user can act on; the add-on shows it as is and changes nothing."""


# Bounds every motion reader checks before it allocates anything (a small hostile file can
# claim millions of frames or joints). Generous for real capture: 20 minutes at 120 fps of a
# 55-joint SMPL-X body fits.
MAX_FRAMES = 1_000_000             # frames of one clip
MAX_FRAME_JOINTS = 8_000_000       # frames x joints (the rotation array is 32 bytes each)
MIN_FPS = 1.0                      # below this a clip resampled to the scene would explode
MAX_FPS = 1000.0                   # a Frame Time of 1e-300 is not a frame rate


def check_frame_rate(fps: float, name: str, what: str = "frame rate") -> float:
    """``fps`` if it is a finite number of frames per second within [MIN_FPS, MAX_FPS]."""
    if not (isinstance(fps, float) and fps == fps and MIN_FPS <= fps <= MAX_FPS):
        raise MotionError(f"'{name}': the {what} is {fps:g} frames per second; Doppel reads "
                          f"clips of {MIN_FPS:g} to {MAX_FPS:g} fps. Re-export the clip.")
    return fps


def check_clip_size(frames: int, joints: int, name: str) -> None:
    """Refuse a clip too long or too wide to hold in memory, before reading its frames."""
    if frames > MAX_FRAMES or frames * joints > MAX_FRAME_JOINTS:
        raise MotionError(f"'{name}' holds {frames} frames of {joints} joints; Doppel reads at "
                          f"most {MAX_FRAMES} frames and {MAX_FRAME_JOINTS} frames x joints. "
                          f"Split the clip or remove unused joints.")
