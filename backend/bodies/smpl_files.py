"""Where the user's licensed SMPL / SMPL-H / SMPL-X model files live, and whether they are there.

Doppel never bundles or downloads these files (their licences forbid it). A user who has them
puts them in one folder, the *SMPL folder*, chosen in this order:

1. the server setting (``configure_smpl_dir``),
2. the environment variable ``DOPPEL_SMPL_DIR``,
3. the weights folder (``$DOPPEL_WEIGHTS_DIR``, default ``~/.cache/doppel/weights``).

Inside it, files are named as the ``smplx`` package expects, either in a per-model subfolder
(smplx's own layout) or flat::

    smpl/SMPL_NEUTRAL.pkl   smpl/SMPL_MALE.npz     ...   (.pkl or .npz; neutral/male/female)
    smplh/SMPLH_MALE.pkl    smplh/male/model.npz   ...   (the second form is AMASS's download)
    smplx/SMPLX_NEUTRAL.npz smplx/smplx_uv.obj     ...   (UV layout: optional)

Everything here is cheap (existence checks only): the registry (registry.py) asks on every
listing.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Literal

from ..weights import load_manifest, sha256_file, weights_dir

ModelKind = Literal["smpl", "smplh", "smplx"]
MODEL_KINDS: tuple[ModelKind, ...] = ("smpl", "smplh", "smplx")
GENDERS = ("neutral", "male", "female")
SMPL_DIR_ENV = "DOPPEL_SMPL_DIR"

LABELS = {"smpl": "SMPL", "smplh": "SMPL-H", "smplx": "SMPL-X"}
JOINT_COUNTS = {"smpl": 24, "smplh": 52, "smplx": 55}
# smplx's default extension per model first: that is what the official downloads carry.
EXTENSIONS = {"smpl": ("pkl", "npz"), "smplh": ("pkl", "npz"), "smplx": ("npz", "pkl")}
# UV layouts published next to the models (SMPL-H shares SMPL's topology, so SMPL's UVs fit).
UV_FILES = {"smpl": ("smpl_uv.obj",), "smplh": ("smplh_uv.obj", "smpl_uv.obj"),
            "smplx": ("smplx_uv.obj",)}
# smplx.vertex_ids has keypoint vertex ids per topology; SMPL shares SMPL-H's mesh.
VERTEX_ID_TOPOLOGY = {"smpl": "smplh", "smplh": "smplh", "smplx": "smplx"}
# Per-gender subfolder files (AMASS's SMPL-H download: smplh/male/model.npz).
GENDER_FOLDER_FILES = {"smplh": ("model.npz",)}
README_HINT = "see weights/README.md"

_configured_dir: Path | None = None


def configure_smpl_dir(path: str | os.PathLike | None) -> None:
    """Server setting: use this SMPL folder (None: back to the environment / default)."""
    global _configured_dir
    _configured_dir = None if path is None else Path(path).expanduser()


def smpl_dir() -> Path:
    """The SMPL folder in effect now (see the module docstring for the order)."""
    if _configured_dir is not None:
        return _configured_dir
    env = os.environ.get(SMPL_DIR_ENV)
    return Path(env).expanduser() if env else weights_dir()


def candidate_paths(model: ModelKind, gender: str, root: Path | None = None) -> list[Path]:
    """Every place a model file for (model, gender) may be, in order of preference."""
    root = smpl_dir() if root is None else root
    stem = f"{model.upper()}_{gender.upper()}"
    out = []
    for ext in EXTENSIONS[model]:
        out += [root / model / f"{stem}.{ext}", root / f"{stem}.{ext}"]
        if ext == "pkl":   # the MPI downloads spell the gender in lower case
            out += [root / model / f"{model.upper()}_{gender}.pkl"]
    out += [root / model / gender / name for name in GENDER_FOLDER_FILES.get(model, ())]
    return out


def find_model_file(model: ModelKind, gender: str) -> Path | None:
    """The first existing file for (model, gender), or None."""
    return next((p for p in candidate_paths(model, gender) if p.is_file()), None)


def available_genders(model: ModelKind) -> list[str]:
    """Genders whose model file is present, in GENDERS order."""
    return [g for g in GENDERS if find_model_file(model, g) is not None]


def missing_message(model: ModelKind) -> str:
    """The user-facing sentence for a model whose files are absent."""
    root = smpl_dir()
    names = " or ".join(f"{model.upper()}_NEUTRAL.{ext}" for ext in EXTENSIONS[model])
    return (f"{LABELS[model]} model files not found at {root / model} (expected e.g. {names}; "
            f"set {SMPL_DIR_ENV} to the folder holding them); {README_HINT}")


def unavailable_reason(model: ModelKind) -> str | None:
    """None when at least one gender of ``model`` is present, else ``missing_message``."""
    return None if available_genders(model) else missing_message(model)


def find_uv_file(model: ModelKind) -> Path | None:
    root = smpl_dir()
    for name in UV_FILES[model]:
        for path in (root / model / name, root / name):
            if path.is_file():
                return path
    return None


def expected_sha256(path: Path) -> str:
    """The manifest's digest for this file ("" when the manifest gives none or lacks it)."""
    root = smpl_dir()
    try:
        entries = load_manifest()
    except (OSError, ValueError):
        return ""     # a broken manifest is `doppel weights check`'s business, not ours
    for e in entries:
        if e.base_env == SMPL_DIR_ENV and e.sha256 and (root / e.path) == path:
            return e.sha256.lower()
    return ""


def verify_digest(path: Path) -> str | None:
    """None when the file matches its manifest digest (or none is known), else the problem."""
    want = expected_sha256(path)
    if not want:
        return None
    got = sha256_file(path)
    if got != want:
        return (f"{path} does not match the sha256 in the weights manifest (got {got[:12]}..., "
                f"expected {want[:12]}...): the file is damaged or a different release")
    return None
