"""Face parts (eyes, lashes, brows, teeth, tongue) as mesh layers fitted to an avatar's own
face, from the body model's template parts (bodies/anny_face_parts.py says where they come
from and how each is carried). Pure numpy; every producer gets them via avatar_build."""

from __future__ import annotations

import numpy as np

from protocol import MeshLayer, ShapeKeys

from .textures.eyes import IRIS_COLORS, eye_texture, eye_uvs

MIN_MOTION = 1e-4          # metres: keys that move a part less are left out of it
COLORS = {"teeth": (0.92, 0.89, 0.8, 1.0), "tongue": (0.72, 0.33, 0.33, 1.0),
          "eyelashes": (0.05, 0.04, 0.035, 1.0)}
DEFAULT_BROW = (0.035, 0.025, 0.018, 1.0)   # linear RGBA: dark brown when no hair colour


def similarity(src: np.ndarray, dst: np.ndarray) -> tuple[float, np.ndarray, np.ndarray]:
    """Umeyama: (s, R (3, 3), t (3,)) minimising |dst - (s R src + t)|^2; src, dst (M, 3)."""
    ms, md = src.mean(0), dst.mean(0)
    a, b = src - ms, dst - md
    u, sig, vt = np.linalg.svd(b.T @ a / len(src))
    d = np.ones(3)
    d[2] = np.sign(np.linalg.det(u @ vt)) or 1.0
    r = u @ np.diag(d) @ vt
    s = float((sig * d).sum() / max((a ** 2).sum() / len(src), 1e-18))
    return s, r, md - s * r @ ms


def _apply(s, r, t, p: np.ndarray) -> np.ndarray:
    return s * p @ r.T + t


def _place(part, template: np.ndarray, body: np.ndarray) -> np.ndarray:
    """(N, 3) float64 part vertices on the avatar's body (V, 3)."""
    s, r, t = similarity(template[part.neighbours], body[part.neighbours])
    if part.mode == "rigid":
        return _apply(s, r, t, part.vertices)
    # bound: each vertex keeps its offset from its anchor skin vertex, turned with the face
    offset = part.vertices - template[part.anchors]
    return body[part.anchors] + s * offset @ r.T


def _keys(part, template, body, placed, keys: ShapeKeys | None) -> ShapeKeys | None:
    if keys is None or part.keys == "none":
        return None
    names, deltas = [], []
    for name, d in zip(keys.names, keys.deltas):
        if part.keys == "jaw":
            if not name.startswith("jaw"):
                continue
            nb = body[part.neighbours]
            s, r, t = similarity(nb, nb + d[part.neighbours])
            delta = _apply(s, r, t, placed) - placed
        else:
            delta = d[part.anchors].astype(np.float64)
        if np.abs(delta).max() >= MIN_MOTION:
            names.append(name)
            deltas.append(delta)
    if not names:
        return None
    # the body's weights (a photo's expression): the teeth open as far as the lips
    values = None if keys.values is None else \
        np.asarray([keys.values[keys.index(n)] for n in names], np.float32)
    return ShapeKeys(names=names, deltas=np.stack(deltas).astype(np.float32), values=values)


def share_key_values(avatar) -> None:
    """Give every other layer's shape keys the body's weights by name (in place), so teeth,
    lashes and brows wear the expression set on the body after the avatar was built."""
    body = avatar.layer("body")
    keys = None if body is None else body.shape_keys
    if keys is None or keys.values is None:
        return
    for lay in avatar.layers:
        if lay is not body and lay.shape_keys is not None:
            sk = lay.shape_keys
            sk.values = np.asarray([keys.values[keys.index(n)] if n in keys.names else 0.0
                                    for n in sk.names], np.float32)


def face_layers(face_rig, body_vertices: np.ndarray, bone_names: list[str],
                body_keys: ShapeKeys | None = None, iris: str = "brown",
                brow_color: tuple[float, float, float, float] = DEFAULT_BROW
                ) -> list[MeshLayer]:
    """face_rig (.template (V, 3), .parts) of the body model, body_vertices (V, 3) the
    avatar's rest body (metres, feet on z = 0), its bone names and ARKit keys -> one MeshLayer
    per part, skinned to its bone with weight 1. iris: a key of IRIS_COLORS."""
    template = face_rig.template
    body = body_vertices.astype(np.float64)
    out = []
    for part in face_rig.parts:
        placed = _place(part, template, body)
        n = len(placed)
        layer = MeshLayer(role=part.role, name=part.name, vertices=placed.astype(np.float32),
                          faces=part.faces,
                          skin_indices=np.full((n, 1), bone_names.index(part.bone), np.int32),
                          skin_weights=np.ones((n, 1), np.float32),
                          base_color=COLORS.get(part.role, brow_color),
                          shape_keys=_keys(part, template, body, placed, body_keys))
        if part.role == "eyes":
            layer.uvs = eye_uvs(part.vertices, part.faces)     # on the template: forward -Y
            layer.texture = eye_texture(IRIS_COLORS[iris])
            layer.base_color = (0.9, 0.88, 0.85, 1.0)
        out.append(layer)
    return out
