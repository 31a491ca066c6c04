"""Read a user's photo into a checked, oriented RGB array at a bounded working resolution.

Every way a file can be unusable ends in JobInputError(code="bad_input") with a sentence the
user can act on; nothing downstream has to re-check the pixels.
"""

from __future__ import annotations

import io
import warnings
from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from ..errors import JobInputError

MIN_SIDE = 64                 # px; below this no detector can find a body
MAX_PIXELS = 80_000_000       # above any camera we expect (the 24 MP test photo is 4016x6016)
WORK_LONG_SIDE = 1024         # px; perception and fitting size (intrinsics keep the original's)
FORMATS = ("PNG", "JPEG", "WEBP", "MPO")

# Pillow's decompression-bomb guard stays on (its warning is turned into an error below), and
# our own MAX_PIXELS check refuses absurd header sizes before any pixel is decoded.


@dataclass
class Photo:
    """A decoded photo. ``rgb`` is the working-resolution copy; sizes of the original are kept
    because the returned camera is expressed in the original's pixels."""

    rgb: np.ndarray               # (h, w, 3) uint8, working resolution, EXIF orientation applied
    alpha: np.ndarray | None      # (h, w) float32 0..1 mask hint from the alpha channel, or None
    width: int                    # original width in pixels (after EXIF transpose)
    height: int                   # original height
    scale: float                  # working px per original px (<= 1)
    encoded: bytes                # the file's bytes, kept as the avatar's source image
    format: str                   # "PNG", "JPEG", "WEBP"
    grayscale: bool               # the file had no colour
    focal_35mm: float | None = None   # EXIF focal, 35 mm equivalent (36 mm long side), or None


def _bad(message: str) -> JobInputError:
    return JobInputError(message, code="bad_input")


def read_photo(data: bytes, name: str = "photo", work_long_side: int = WORK_LONG_SIDE) -> Photo:
    """Decode PNG/JPEG/WebP bytes. Raises JobInputError for anything that is not a usable photo."""
    if not data:
        raise _bad(f"{name} is empty (0 bytes); choose a PNG, JPEG or WebP photo")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            img = Image.open(io.BytesIO(data))
            fmt = img.format or ""
            if fmt not in FORMATS:
                raise _bad(f"{name} is a {fmt or 'unknown'} image; use a PNG, JPEG or WebP photo")
            w0, h0 = img.size
            if w0 * h0 > MAX_PIXELS:
                raise _bad(f"{name} is {w0}x{h0} pixels, more than {MAX_PIXELS // 1_000_000} "
                           f"megapixels; scale it down and try again")
            if fmt == "JPEG" and max(w0, h0) > 2 * work_long_side:
                # Decode big JPEGs at a reduced DCT scale (4-8x faster than full size).
                k = work_long_side / max(w0, h0)
                img.draft("RGB", (int(w0 * k) + 1, int(h0 * k) + 1))
            img.load()        # decodes now, so a truncated file fails here, not later
    except JobInputError:
        raise
    except UnidentifiedImageError:
        raise _bad(f"{name} is not an image Doppel can read; use a PNG, JPEG or WebP photo")
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise _bad(f"{name} claims a pixel size too large to be a photo; scale it down")
    except (OSError, SyntaxError, ValueError) as exc:
        raise _bad(f"{name} is damaged or truncated ({exc}); re-export or re-download it")
    focal_35mm = _exif_focal_35mm(img)
    turned = img.getexif().get(0x0112, 1) in (5, 6, 7, 8)     # EXIF orientation swaps w/h
    img = ImageOps.exif_transpose(img)
    width, height = (h0, w0) if turned else (w0, h0)         # the original's size, upright
    if min(width, height) < MIN_SIDE:
        raise _bad(f"{name} is only {width}x{height} pixels; use a photo at least {MIN_SIDE} px "
                   f"on each side in which the person is clearly visible")
    grayscale = img.mode in ("1", "L", "LA", "I", "I;16", "F")
    alpha = None
    if img.mode in ("RGBA", "LA", "PA") or (img.mode == "P" and "transparency" in img.info):
        img = img.convert("RGBA")
        a = np.asarray(img)[..., 3]
        # Only a cut-out (a real share of transparent pixels) says where the person is.
        if (a < 128).mean() > 0.02:
            alpha = a
    rgb_img = img.convert("RGB")
    scale = min(1.0, work_long_side / max(width, height))
    if scale < 1.0 or img.size != (width, height):
        size = (max(1, round(width * scale)), max(1, round(height * scale)))
        rgb_img = rgb_img.resize(size, Image.BILINEAR, reducing_gap=3.0)
        if alpha is not None:
            alpha = np.asarray(Image.fromarray(alpha).resize(size, Image.BILINEAR))
    rgb = np.ascontiguousarray(np.asarray(rgb_img, dtype=np.uint8))
    # Working scale as actually realised (rounding), per axis the same up to 1/1024.
    scale = rgb.shape[1] / width
    if not grayscale:   # black-and-white photos are often saved as RGB
        sample = rgb[::8, ::8].astype(np.int16)
        grayscale = bool(np.abs(sample - sample[..., :1]).max() <= 6)
    return Photo(rgb=rgb, alpha=None if alpha is None else alpha.astype(np.float32) / 255.0,
                 width=width, height=height, scale=scale, encoded=bytes(data), format=fmt,
                 grayscale=grayscale, focal_35mm=focal_35mm)


_UNIT_MM = {2: 25.4, 3: 10.0, 4: 1.0}     # FocalPlaneResolutionUnit: inch, cm, mm


def _exif_focal_35mm(img: Image.Image) -> float | None:
    """FocalLengthIn35mmFilm; else FocalLength (mm) turned into pixels by the sensor's
    FocalPlaneX/YResolution (pixels per unit) and expressed for a 36 mm long side."""
    try:
        exif = img.getexif().get_ifd(0x8769)                  # the Exif IFD
        value = exif.get(0xA405)                              # FocalLengthIn35mmFilm
        if not value:
            f_mm, res = float(exif.get(0x920A) or 0), float(exif.get(0xA20E) or 0)
            unit = _UNIT_MM.get(int(exif.get(0xA210) or 2))
            long_px = max(int(exif.get(0xA002) or 0), int(exif.get(0xA003) or 0)) \
                or max(img.size)                              # ExifImageWidth/Height
            if not (f_mm > 0 and res > 0 and unit):
                return None
            f_px = f_mm * res / unit                          # mm * pixels per mm
            value = f_px / long_px * 36.0
        return float(value) if value and 8.0 <= float(value) <= 600.0 else None
    except Exception:      # malformed EXIF is common and never worth failing a photo for
        return None
