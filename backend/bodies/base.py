"""The body-model interface every producer uses: parameters -> rest mesh, skeleton, skin
weights, UVs; forward kinematics for fitting; and -> RiggedAvatar.

A new body model implements :class:`BodyModel` and registers with :func:`register_body_model`
(optionally with an availability check, as the SMPL family does: see smpl_files.py).
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping

import numpy as np

BodyParams = Mapping[str, float]


class JobInputError(ValueError):
    """Bad user input to a job (parameters, photo...). The message is shown to the user."""

    def __init__(self, message: str, code: str = "bad_params"):
        super().__init__(message)
        self.code = code


@dataclass
class RestBody:
    """A body in rest pose, Blender axes (Z up, -Y forward), metres, feet on z = 0."""

    vertices: np.ndarray      # (V, 3) float32
    faces: np.ndarray         # (F, 3) int32
    uvs: np.ndarray | None    # (F, 3, 2) float32 per face corner
    skin_indices: np.ndarray  # (V, k) int32
    skin_weights: np.ndarray  # (V, k) float32, rows sum to 1
    bone_names: list[str]
    parents: np.ndarray       # (B,) int32
    heads: np.ndarray         # (B, 3) float32
    tails: np.ndarray         # (B, 3) float32
    matrices: np.ndarray      # (B, 4, 4) float32 rest bone frames, Blender convention
    warnings: list[str] = field(default_factory=list)  # for the user (avatar metadata)
    metadata: dict[str, Any] = field(default_factory=dict)  # model-specific, JSON-able


class BodyModel:
    """Interface. ``name`` identifies the model in `hello` and in avatar metadata."""

    name: str = ""
    parameter_defaults: dict[str, float] = {}
    parameter_ranges: dict[str, tuple[float, float]] = {}

    def check_params(self, params: Mapping[str, object]) -> dict[str, float]:
        """Fill defaults and reject unknown names, non-numbers and out-of-range values."""
        unknown = sorted(set(params) - set(self.parameter_defaults))
        if unknown:
            raise JobInputError(f"unknown {self.name} parameter(s) {', '.join(unknown)}; valid: "
                                f"{', '.join(self.parameter_defaults)}")
        out = dict(self.parameter_defaults)
        for key, value in params.items():
            if type(value) not in (int, float) or not np.isfinite(value):
                raise JobInputError(f"{self.name} parameter '{key}' must be a number, "
                                    f"got {value!r}")
            lo, hi = self.parameter_ranges[key]
            if not lo <= value <= hi:
                raise JobInputError(f"{self.name} parameter '{key}' = {value} is outside "
                                    f"{lo}..{hi}")
            out[key] = float(value)
        return out

    def rest_body(self, params: BodyParams) -> RestBody:
        raise NotImplementedError


_FACTORIES: dict[str, Callable[[], BodyModel]] = {}
_UNAVAILABLE: dict[str, Callable[[], str | None]] = {}
_INSTANCES: dict[str, BodyModel] = {}
_LOCK = threading.Lock()


def register_body_model(name: str, factory: Callable[[], BodyModel],
                        unavailable: Callable[[], str | None] | None = None) -> None:
    """Register a body model. ``unavailable`` (optional) returns None when the model can be
    built now, else the sentence telling the user why not (e.g. licensed files absent); it is
    asked on every listing, so it must be cheap (file-existence checks, no loading)."""
    _FACTORIES[name] = factory
    if unavailable is None:
        _UNAVAILABLE.pop(name, None)
    else:
        _UNAVAILABLE[name] = unavailable


def unavailable_reason(name: str) -> str | None:
    """None when ``name`` is registered and usable now, else why not (a user-facing sentence)."""
    if name not in _FACTORIES:
        return f"unknown body model {name!r}; available: {', '.join(available_body_models())}"
    check = _UNAVAILABLE.get(name)
    return None if check is None else check()


def available_body_models() -> list[str]:
    """Models usable now (what the server's hello offers): registered and not unavailable."""
    return sorted(n for n in _FACTORIES
                  if n not in _UNAVAILABLE or _UNAVAILABLE[n]() is None)


def get_body_model(name: str = "anny") -> BodyModel:
    """The process-wide instance of a body model (built once: Anny takes seconds to load)."""
    if name not in _FACTORIES:
        raise JobInputError(f"unknown body model {name!r}; available: "
                            f"{', '.join(available_body_models())}")
    reason = unavailable_reason(name)
    if reason is not None:
        raise JobInputError(reason)
    with _LOCK:
        if name not in _INSTANCES:
            _INSTANCES[name] = _FACTORIES[name]()
        return _INSTANCES[name]


def _register_builtin() -> None:
    from .anny_body import AnnyBody
    register_body_model("anny", AnnyBody)
    # SMPL-family models: offered only while the user's licensed model files are present.
    from .smpl_files import register_smpl_family
    register_smpl_family(register_body_model)


_register_builtin()
