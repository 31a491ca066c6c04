"""Per-corner UVs for an SMPL-family mesh from a published UV layout (.obj, e.g. smplx_uv.obj).

The .obj holds the model's vertices in the model's order and faces ``f v/vt ...``; its face
order need not match the model's, so faces are matched by their vertex sets.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np


def read_uv_obj(path: Path, faces: np.ndarray, n_vertices: int) -> np.ndarray | None:
    """(F, 3, 2) float32 UVs for ``faces`` (F, 3), or None when the .obj does not fit this
    mesh (other vertex count, or a model face it lacks) or cannot be read."""
    uv: list[tuple[float, float]] = []
    corners: dict[tuple[int, ...], tuple[tuple[int, ...], tuple[int, ...]]] = {}
    n_v = 0
    try:
        with open(path, encoding="utf-8", errors="replace") as fh:
            for line in fh:
                if line.startswith("v "):
                    n_v += 1
                elif line.startswith("vt "):
                    parts = line.split()
                    uv.append((float(parts[1]), float(parts[2])))
                elif line.startswith("f "):
                    refs = [c.split("/") for c in line.split()[1:]]
                    if len(refs) != 3 or any(len(r) < 2 or not r[1] for r in refs):
                        return None          # quads or faces without UVs: not an SMPL layout
                    vs = tuple(int(r[0]) - 1 for r in refs)
                    ts = tuple(int(r[1]) - 1 for r in refs)
                    corners[tuple(sorted(vs))] = (vs, ts)
    except (OSError, ValueError, IndexError):
        return None
    if n_v != n_vertices or not uv:
        return None
    table = np.asarray(uv, dtype=np.float32)
    out = np.zeros((len(faces), 3, 2), dtype=np.float32)
    for i, face in enumerate(faces.tolist()):
        hit = corners.get(tuple(sorted(face)))
        if hit is None:
            return None
        vs, ts = hit
        out[i] = table[[ts[vs.index(v)] for v in face]]
    return out
