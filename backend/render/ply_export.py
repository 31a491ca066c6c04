"""Gaussians -> the standard 3DGS ``.ply`` that splat viewers and editors read.

Binary little-endian, one ``vertex`` element of float32 properties in the order of the 3DGS
reference implementation: x y z, nx ny nz (zeros), f_dc_0..2 (degree-0 SH), f_rest_* (optional,
zeros; the reference 3DGS loader wants 45 of them for degree 3), opacity (logit), scale_0..2
(log of the standard deviations), rot_0..3 (quaternion w, x, y, z; viewers normalise it).
Positions stay in the avatar's frame (metres, Z up), which Blender-based splat add-ons expect;
viewers that assume Y down can flip on import.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from .avatar_gaussians import AvatarGaussians
from .sh import rgb_to_sh_dc

REST_COUNTS = {0: 0, 1: 9, 2: 24, 3: 45}   # f_rest_* count per SH degree


def gaussian_fields(g: AvatarGaussians, sh_degree: int = 0) -> dict[str, np.ndarray]:
    """Ordered {property name: (N,) float32} in 3DGS layout."""
    if sh_degree not in REST_COUNTS:
        raise ValueError(f"sh_degree must be 0..3, got {sh_degree}")
    n = len(g)
    eps = 1e-6
    op = np.clip(g.opacities.astype(np.float64), eps, 1 - eps)
    fields: dict[str, np.ndarray] = {}
    for i, axis in enumerate("xyz"):
        fields[axis] = g.means[:, i]
    for axis in ("nx", "ny", "nz"):
        fields[axis] = np.zeros(n, np.float32)
    dc = rgb_to_sh_dc(g.colors.astype(np.float64))
    for i in range(3):
        fields[f"f_dc_{i}"] = dc[:, i]
    for i in range(REST_COUNTS[sh_degree]):
        fields[f"f_rest_{i}"] = np.zeros(n, np.float32)
    fields["opacity"] = np.log(op / (1 - op))
    log_s = np.log(np.maximum(g.scales.astype(np.float64), 1e-12))
    for i in range(3):
        fields[f"scale_{i}"] = log_s[:, i]
    q = g.rotations / np.linalg.norm(g.rotations, axis=1, keepdims=True)
    for i in range(4):
        fields[f"rot_{i}"] = q[:, i]
    return {k: np.ascontiguousarray(v, dtype=np.float32) for k, v in fields.items()}


def write_splat_ply(g: AvatarGaussians, path: str | os.PathLike, sh_degree: int = 0) -> Path:
    """Write ``g`` as a 3DGS .ply at ``path`` (atomically). Returns the path."""
    fields = gaussian_fields(g, sh_degree)
    header = ["ply", "format binary_little_endian 1.0", f"element vertex {len(g)}"]
    header += [f"property float {name}" for name in fields]
    header.append("end_header")
    table = np.empty(len(g), dtype=[(name, "<f4") for name in fields])
    for name, values in fields.items():
        table[name] = values
    path = Path(path)
    tmp = path.with_name(path.name + ".part")
    with open(tmp, "wb") as fh:
        fh.write(("\n".join(header) + "\n").encode("ascii"))
        fh.write(table.tobytes())
    os.replace(tmp, path)
    return path
