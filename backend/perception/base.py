"""What the fitter needs to know about the person in a photo, independent of the detector.

A stronger detector/segmenter replaces MediaPipe by implementing :class:`PersonDetector`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

# MediaPipe BlazePose's 33 landmark names, in its order; other detectors map onto these.
LANDMARKS = (
    "nose", "left_eye_inner", "left_eye", "left_eye_outer", "right_eye_inner", "right_eye",
    "right_eye_outer", "left_ear", "right_ear", "mouth_left", "mouth_right", "left_shoulder",
    "right_shoulder", "left_elbow", "right_elbow", "left_wrist", "right_wrist", "left_pinky",
    "right_pinky", "left_index", "right_index", "left_thumb", "right_thumb", "left_hip",
    "right_hip", "left_knee", "right_knee", "left_ankle", "right_ankle", "left_heel",
    "right_heel", "left_foot_index", "right_foot_index",
)
LANDMARK_INDEX = {n: i for i, n in enumerate(LANDMARKS)}


@dataclass
class PersonObservation:
    """One person as seen in a photo, at the photo's working resolution.

    ``keypoints`` are pixels (x right, y down) of the working image; ``world`` are metres in a
    camera-aligned frame centred between the hips (x right, y down, z away from the camera), the
    detector's own 3D guess. Left/right are the person's own sides.
    """

    keypoints: np.ndarray          # (33, 2) float32 pixels
    visibility: np.ndarray         # (33,) float32 0..1, low for occluded or off-frame points
    world: np.ndarray              # (33, 3) float32 metres
    mask: np.ndarray               # (h, w) float32 0..1 person probability
    image_size: tuple[int, int]    # (w, h) of the working image
    people_count: int = 1          # how many people the detector saw in total
    face_score: float = 0.0        # face detector's confidence for a face on this person's
                                   # head (0: none seen, e.g. the person faces away)
    warnings: list[str] = field(default_factory=list)


class PersonDetector:
    """Interface: one call per photo."""

    name = ""

    def observe(self, rgb: np.ndarray) -> PersonObservation | None:
        """(h, w, 3) uint8 RGB -> the most prominent person, or None when there is nobody."""
        raise NotImplementedError
