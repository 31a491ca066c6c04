"""Names that came from elsewhere (a server, a file) made safe to use as file names.

Both sides use this: the server for anything it writes by name, the add-on and CLI for every
avatar / collection name a server sends. ``safe_stem`` turns any text into one plain file
name component; ``inside`` resolves a path and refuses one that leaves its folder (``..``,
absolute parts, symlinks pointing out).
"""

from __future__ import annotations

import os
import re
import unicodedata
from pathlib import Path

MAX_STEM_CHARS = 100
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")
_RESERVED = {"con", "prn", "aux", "nul", *(f"com{i}" for i in range(10)),
             *(f"lpt{i}" for i in range(10))}


def safe_stem(name: object, fallback: str = "avatar") -> str:
    """One file-name component from any text: ASCII letters, digits, ``._-`` only (anything
    else, path separators and spaces included, becomes ``_``), no ``..``, no leading or
    trailing dots, not a reserved Windows name, at most MAX_STEM_CHARS characters. Never
    empty (``fallback`` instead)."""
    text = unicodedata.normalize("NFKC", str(name)) if name is not None else ""
    text = _UNSAFE.sub("_", text)
    text = re.sub(r"\.{2,}", "_", text).strip(" ._")[:MAX_STEM_CHARS].strip(" ._")
    if not text or text.lower().split(".")[0] in _RESERVED:
        text = fallback if text == "" else f"{fallback}_{text}"
    return text


def inside(folder: str | os.PathLike, *parts: str) -> Path:
    """``folder/parts...`` resolved; ValueError when the result is not inside ``folder``."""
    root = Path(folder).resolve()
    path = root.joinpath(*parts).resolve()
    if path != root and root not in path.parents:
        raise ValueError(f"{path} is outside {root}")
    return path


def safe_child(folder: str | os.PathLike, name: object, suffix: str = "",
               fallback: str = "avatar") -> Path:
    """The path of a file for ``name`` inside ``folder`` (``safe_stem(name) + suffix``),
    resolved and checked to stay inside it."""
    return inside(folder, safe_stem(name, fallback) + suffix)
