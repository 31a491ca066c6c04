"""The body registry: name -> BodyModel (protocol.py), each entry with its availability.

Entries are registered with factories that import their model lazily, so listing models (the
server's hello) loads neither torch nor any model, and no model module imports this one.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Callable

from ..errors import JobInputError
from .protocol import BodyModel
from .smpl_files import MODEL_KINDS, ModelKind
from .smpl_files import unavailable_reason as smpl_unavailable_reason

DEFAULT_BODY_MODEL = "anny"


@dataclass(frozen=True)
class BodyEntry:
    """One registered model. ``check`` (optional) returns None when the model can be built
    now, else the user-facing sentence saying why not (e.g. licensed files absent); it is
    asked on every listing, so it must be cheap (existence checks, no loading)."""

    name: str
    factory: Callable[[], BodyModel]
    check: Callable[[], str | None] | None = None

    def unavailable_reason(self) -> str | None:
        return None if self.check is None else self.check()

    def available(self) -> bool:
        return self.unavailable_reason() is None


_ENTRIES: dict[str, BodyEntry] = {}
_INSTANCES: dict[str, BodyModel] = {}
_LOCK = threading.Lock()


def register_body_model(name: str, factory: Callable[[], BodyModel],
                        unavailable: Callable[[], str | None] | None = None) -> BodyEntry:
    """Register (or replace) a body model; see BodyEntry for ``unavailable``."""
    entry = BodyEntry(name, factory, unavailable)
    with _LOCK:
        _ENTRIES[name] = entry
        _INSTANCES.pop(name, None)
    return entry


def registered_body_models() -> list[str]:
    """Every registered name, available or not."""
    return sorted(_ENTRIES)


def available_body_models() -> list[str]:
    """Models usable now (what the server's hello offers)."""
    return sorted(n for n, e in _ENTRIES.items() if e.available())


def body_entry(name: str) -> BodyEntry:
    """The registered entry for ``name``; JobInputError when there is none."""
    entry = _ENTRIES.get(name) if isinstance(name, str) else None
    if entry is None:
        raise JobInputError(f"unknown body model {name!r}; available: "
                            f"{', '.join(available_body_models())}")
    return entry


def unavailable_reason(name: str) -> str | None:
    """None when ``name`` is registered and usable now, else why not (a user-facing sentence)."""
    entry = _ENTRIES.get(name)
    if entry is None:
        return f"unknown body model {name!r}; available: {', '.join(available_body_models())}"
    return entry.unavailable_reason()


def get_body_model(name: str = DEFAULT_BODY_MODEL) -> BodyModel:
    """The process-wide instance of a body model (built once: Anny takes seconds to load).
    Raises JobInputError when ``name`` is unknown or unavailable."""
    entry = body_entry(name)
    reason = entry.unavailable_reason()
    if reason is not None:
        raise JobInputError(reason)
    with _LOCK:
        if name not in _INSTANCES:
            _INSTANCES[name] = entry.factory()
        return _INSTANCES[name]


def _anny() -> BodyModel:
    from .anny_body import AnnyBody     # torch + anny: only when first used
    return AnnyBody()


def _smpl_factory(model: ModelKind) -> Callable[[], BodyModel]:
    def build() -> BodyModel:
        from .smpl_body import SMPLFamilyBody     # torch + smplx: only when first used
        return SMPLFamilyBody(model)
    return build


def _register_builtin() -> None:
    register_body_model("anny", _anny)
    # SMPL-family models: offered only while the user's licensed model files are present.
    for model in MODEL_KINDS:
        register_body_model(model, _smpl_factory(model),
                            unavailable=lambda m=model: smpl_unavailable_reason(m))


_register_builtin()
