"""Where the expression fit looks on an Anny face: a few vertices found from the ARKit
targets themselves (no hand-picked indices), so they follow the mesh if Anny changes.

upper/lower lip: on the face's midline the jawOpen motion jumps at the lip seam; the upper
lip is the vertex just above the jump, the lower lip the one just below. Lids: the upper lid
is the vertex eyeBlink moves most; the lower lid the vertex (that blink leaves in place)
nearest to where blink puts it. Mouth corners: the vertices mouthSmile moves most.
"""

from __future__ import annotations

import numpy as np

from rig.arkit import ARKIT_NAMES


def _key(deltas: np.ndarray, name: str) -> np.ndarray:
    return deltas[ARKIT_NAMES.index(name)]


def lip_points(rest: np.ndarray, deltas: np.ndarray) -> tuple[int, int]:
    """(upper lip, lower lip) vertex indices at the mouth's midline seam."""
    jaw = _key(deltas, "jawOpen")[:, 2]
    head = np.any(deltas != 0, axis=(0, 2))
    front = rest[head, 1].min()
    mid = np.nonzero(head & (np.abs(rest[:, 0]) < 2e-3) & (rest[:, 1] < front + 0.03))[0]
    mid = mid[np.argsort(-rest[mid, 2])]             # top to bottom
    jump = np.argmin(np.diff(jaw[mid]))              # largest step down in motion
    return int(mid[jump]), int(mid[jump + 1])


def lid_points(rest: np.ndarray, deltas: np.ndarray, side: str) -> tuple[int, int]:
    """(upper lid, lower lid) vertex indices of the ``side`` ("Left"/"Right") eye."""
    blink = _key(deltas, f"eyeBlink{side}")
    moved = np.linalg.norm(blink, axis=1)
    up = int(np.argmax(moved))
    closed = rest[up] + blink[up]
    still = np.nonzero(moved < 0.2 * moved[up])[0]
    low = still[np.argmin(np.linalg.norm(rest[still] - closed, axis=1))]
    return up, int(low)


def corner_point(deltas: np.ndarray, side: str) -> int:
    return int(np.argmax(np.linalg.norm(_key(deltas, f"mouthSmile{side}"), axis=1)))


def _midline_face(rest: np.ndarray, deltas: np.ndarray) -> np.ndarray:
    """Indices of the face's midline vertices (those some key moves, at x ~ 0)."""
    face = np.any(deltas != 0, axis=(0, 2))
    return np.nonzero(face & (np.abs(rest[:, 0]) < 2e-3))[0]


def nose_tip(rest: np.ndarray, deltas: np.ndarray) -> int:
    """The most forward midline vertex of the face (the body faces -Y)."""
    mid = _midline_face(rest, deltas)
    return int(mid[np.argmin(rest[mid, 1])])


def chin_point(rest: np.ndarray, deltas: np.ndarray) -> int:
    """The chin's most forward midline vertex (its prominence, below the lower lip), among
    those jawOpen carries at least half as far as its largest motion."""
    mid = _midline_face(rest, deltas)
    jaw = np.linalg.norm(_key(deltas, "jawOpen")[mid], axis=1)
    low = rest[lip_points(rest, deltas)[1], 2]
    chin = mid[(jaw > 0.5 * jaw.max()) & (rest[mid, 2] < low - 0.012)]
    return int(chin[np.argmin(rest[chin, 1])])


def bridge_point(rest: np.ndarray, deltas: np.ndarray) -> int:
    """The most forward midline vertex at eye height (the nose bridge between the eyes)."""
    mid = _midline_face(rest, deltas)
    eyes = np.mean([rest[list(lid_points(rest, deltas, s))].mean(0)[2] for s in ("Left", "Right")])
    near = mid[np.abs(rest[mid, 2] - eyes) < 0.006]
    return int(near[np.argmin(rest[near, 1])])
