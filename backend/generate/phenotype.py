"""Body shapes for generated avatars: Anny phenotypes drawn from Anny's own calibrated,
age-conditioned distributions (``anny.shape_distribution``, fitted to WHO growth data).

We sample with numpy from the distributions' Beta parameters instead of calling their
``sample()``, so a seed gives the same body on every machine without touching torch's RNG.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any, Mapping

import numpy as np
import torch

_AGE_RANGES = {"adult": (20.0, 64.0), "child": (4.0, 12.0), "teen": (13.0, 19.0),
               "elderly": (65.0, 88.0), "any": (2.0, 88.0)}  # years


@lru_cache(maxsize=1)
def _distribution():
    from anny.shape_distribution import SimpleShapeDistribution
    from ..bodies import get_body_model
    return SimpleShapeDistribution(get_body_model("anny").model)


def sample_phenotype(seed: int, outfit: Mapping[str, Any]) -> dict[str, float]:
    """Anny phenotype (gender, age, muscle, weight, height, proportions; 0..1) for a seed.

    ``outfit`` holds the resolved attributes: gender (female/male), age (adult/child/teen/elderly/any)
    and optional numeric overrides for height, weight, muscle, proportions."""
    rng = np.random.default_rng([int(seed), 1])
    dist = _distribution()
    female = outfit["gender"] == "female"
    # Anny's gender is continuous (0 male .. 1 female); real people cluster at the ends
    gender = float(rng.uniform(0.8, 1.0) if female else rng.uniform(0.0, 0.2))
    lo, hi = _AGE_RANGES[outfit["age"]]
    years = torch.tensor([rng.uniform(lo, hi)], dtype=torch.float32)
    with torch.no_grad():
        age = dist.morphological_age_mapping.morphological_to_anny_age(years)
    params = {"gender": gender, "age": float(np.clip(age[0].item(), 0.0, 1.0))}
    kind = "girls" if female else "boys"
    for name in ("height", "weight", "muscle", "proportions"):
        cond = getattr(dist, f"{kind}_conditional_{name}_distribution")
        with torch.no_grad():
            a, b = cond.get_distribution_params(age)
        value = float(rng.beta(max(float(a[0]), 0.05), max(float(b[0]), 0.05)))
        params[name] = float(outfit.get(name, value))
    # round so the file (JSON metadata) is stable and readable
    return {k: round(float(np.clip(v, 0.0, 1.0)), 4) for k, v in params.items()}
