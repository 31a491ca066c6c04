"""Shared implementation for body models whose parameters are named numbers in ranges (Anny).
The interface itself is protocol.py; models need not inherit from this."""

from __future__ import annotations

from typing import Mapping

import numpy as np

from ..errors import JobInputError


class ScalarParamsBody:
    """``check_params`` for models whose parameters are ``parameter_defaults``' names, each a
    number within ``parameter_ranges``."""

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
