""""Use the clip's body": the shape (betas) and gender an AMASS/SMPL ``.npz`` was captured
with, as ``body`` job parameters for a SMPL-family avatar (the add-on sends them to the
server; ``doppel animate --use-clip-body`` uses the backend's own reader, which also knows
which genders are installed)."""

from __future__ import annotations

import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Mapping

import numpy as np

from .amass import _gender
from .errors import MotionError

GENDERS = ("neutral", "male", "female")
BETA_RANGE = (-5.0, 5.0)      # the body job's limits (standard deviations)
MAX_BETAS = 300               # SMPL-X's full shape space


@dataclass
class ClipBody:
    gender: str                # "neutral", "male", "female", or "" when the clip says none
    betas: list[float]         # shape coefficients, clamped to BETA_RANGE
    warnings: list[str] = field(default_factory=list)


def read_clip_body(path: str | Path) -> ClipBody:
    """The ``betas`` and ``gender`` of an AMASS/SMPL ``.npz``. Raises MotionError."""
    path = Path(path)
    name = path.name
    if path.suffix.lower() != ".npz":
        raise MotionError(f"'{name}' carries no SMPL body (betas, gender); the clip's body "
                          "needs an AMASS/SMPL .npz clip.")
    try:
        with np.load(path, allow_pickle=False) as data:      # never unpickle a download
            if "betas" not in data.files:
                raise MotionError(f"'{name}' has no 'betas', so it has no body to use; "
                                  "apply it without the clip's body.")
            betas = np.asarray(data["betas"]).reshape(-1)
            gender = _gender(data).lower()
    except (OSError, ValueError, zipfile.BadZipFile) as exc:
        if isinstance(exc, MotionError):
            raise
        raise MotionError(f"Cannot read the body of clip '{name}' ({exc}).") from None
    if betas.dtype.kind not in "fiu" or not np.isfinite(betas).all():
        raise MotionError(f"'{name}' has unusable 'betas' (non-finite or not numbers).")
    warnings = []
    lo, hi = BETA_RANGE
    if ((betas < lo) | (betas > hi)).any():
        warnings.append(f"'{name}' has shape coefficients outside {lo:g}..{hi:g}; clamped.")
    betas = np.clip(betas.astype(np.float64), lo, hi)[:MAX_BETAS]
    if gender not in GENDERS:
        if gender:
            warnings.append(f"'{name}' says gender {gender!r}; the avatar's is kept.")
        gender = ""
    return ClipBody(gender=gender, betas=[float(b) for b in betas], warnings=warnings)


def clip_body_job(path: str | Path, smpl_body: Mapping | None, name: str
                  ) -> tuple[dict, list[str]]:
    """``body`` job parameters that rebuild a SMPL-family avatar (its ``metadata["smpl"]``)
    with the clip's body, and warnings. Raises MotionError for other avatars."""
    if not isinstance(smpl_body, Mapping) or "model" not in smpl_body:
        raise MotionError("Using the clip's body needs a SMPL, SMPL-H or SMPL-X avatar (made "
                          "from the SMPL model files); turn the option off for this avatar.")
    body = read_clip_body(path)
    gender = body.gender or str(smpl_body.get("gender", "neutral"))
    return ({"body_model": str(smpl_body["model"]), "name": name,
             "params": {"gender": gender, "betas": body.betas}}, body.warnings)
