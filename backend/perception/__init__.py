"""Person perception behind a small interface (base.py); MediaPipe is the implementation."""

from .base import LANDMARK_INDEX, LANDMARKS, PersonDetector, PersonObservation


def get_detector() -> PersonDetector:
    from .mediapipe_pose import get_detector as _get
    return _get()


__all__ = ["LANDMARKS", "LANDMARK_INDEX", "PersonDetector", "PersonObservation", "get_detector"]
