"""What every job kind is given: its parameters, its binary inputs and a context through which
it reports progress and learns that it was cancelled."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Mapping

import numpy as np

from protocol import RiggedAvatar

from ..errors import JobCancelled, JobInputError


@dataclass
class JobContext:
    job_id: str
    report: Callable[[str, float], None] = lambda stage, fraction: None
    is_cancelled: Callable[[], bool] = lambda: False
    warnings: list[str] = field(default_factory=list)
    debug: dict | None = None     # in-process callers only: jobs may leave debug images here

    def progress(self, stage: str, fraction: float) -> None:
        """Report progress (fraction 0..1 of the whole job) and stop here if cancelled."""
        self.check_cancelled()
        self.report(stage, min(max(float(fraction), 0.0), 1.0))

    def check_cancelled(self) -> None:
        if self.is_cancelled():
            raise JobCancelled(self.job_id)


# A job: (params, inputs, context) -> avatar. Raises JobInputError for bad user input.
JobFn = Callable[[Mapping[str, Any], Mapping[str, np.ndarray], JobContext], RiggedAvatar]


def reject_unknown_options(params: Mapping[str, Any], allowed: set[str], kind: str) -> None:
    """Raise JobInputError naming the options of ``params`` a ``kind`` job does not take."""
    extra = sorted(set(params) - allowed)
    if extra:
        raise JobInputError(f"unknown {kind} job option(s) {', '.join(extra)}; valid: "
                            f"{', '.join(sorted(allowed))}")


def avatar_name(params: Mapping[str, Any], default: str) -> str:
    """The job's ``name`` option (the avatar and its Blender collection), stripped; absent
    means ``default``, an empty one is refused."""
    name = params.get("name", default)
    if not isinstance(name, str) or not name.strip():
        raise JobInputError("'name' must be a non-empty string")
    return name.strip()
