"""Reading user photos (see photo.py)."""

from .photo import Photo, read_photo

__all__ = ["Photo", "read_photo"]
