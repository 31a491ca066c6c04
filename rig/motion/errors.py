"""The one error type a user can get from reading or retargeting a motion file."""

from __future__ import annotations


class MotionError(ValueError):
    """A motion file or option the user gave cannot be used. ``str(exc)`` is a sentence the
    user can act on; the add-on shows it as is and changes nothing."""
