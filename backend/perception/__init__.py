"""Person perception behind a small interface (base.py); MediaPipe is the implementation."""

from .base import LANDMARK_INDEX, LANDMARKS, PersonDetector, PersonObservation


def get_detector() -> PersonDetector:
    from .mediapipe_pose import get_detector as _get
    return _get()


def find_people(rgb) -> list[PersonObservation]:
    """Every person in a (h, w, 3) uint8 RGB image, each with its own instance mask (the
    person masks split between people, nearer people owning overlaps) and the landmarks a
    nearer person covers marked hidden (low visibility); people_count is how many were
    found."""
    from dataclasses import replace

    from .instances import split_people, torso_px
    from .mediapipe_people import get_people_finder
    found = get_people_finder().find(rgb)
    people, masks = split_people(found, rgb.shape[:2])
    # Nearly none of its mask its own (the people around took it): the landmark model read
    # part of someone's body (a foot, a hand) as a whole person. Split again without it.
    real = [p for p, m in zip(found, masks) if m.sum() >= 0.3 * torso_px(p) ** 2]
    if len(real) < len(people):
        people, masks = split_people(real, rgb.shape[:2])
    return [replace(p, mask=m.astype("float32"), people_count=len(people))
            for p, m in zip(people, masks)]


def face_on_head(rgb, person: PersonObservation) -> bool:
    """Whether a face is seen on ``person``'s nose (one of find_people's people)."""
    from .mediapipe_people import get_people_finder
    return get_people_finder().face_on_head(rgb, person)


__all__ = ["LANDMARKS", "LANDMARK_INDEX", "PersonDetector", "PersonObservation", "face_on_head",
           "find_people", "get_detector"]
