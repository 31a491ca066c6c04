"""The avatar's feet as retargeting needs them: which bones make each foot, points on its
soles (skinned like the mesh), the ball of the foot, and posed bone heads.

Sole points come from the avatar's real skinned mesh when the caller has it (the lowest
vertices bound to the foot and toe bones: what Blender draws touching the floor); without a
mesh they are the foot and toe bone heads and tails dropped to the rest floor, each riding
its bone rigidly (good to ~1-2 cm, since a sole is flat under those bones at rest).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .. import rotations as Q
from .bone_map import Chain
from .target_pose import TargetRest

SOLE_BAND = 0.25      # fraction of the ankle's rest height that counts as "sole"
PER_FOOT = 160        # sole points kept per foot (enough to find the lowest one)
TOP_K = 4             # skin weights kept per point


@dataclass
class FootPoints:
    """Points on the soles, skinned to the target's bones."""
    points: np.ndarray     # (N, 3) rest armature-space positions, metres
    indices: np.ndarray    # (N, k) int bone indices
    weights: np.ndarray    # (N, k) float weights summing to 1
    side: np.ndarray       # (N,) 0 = left foot, 1 = right foot


def foot_bones(names: list[str], parents, chains: tuple[Chain, ...]) -> list[set[int]]:
    """[left, right]: each foot's ankle-chain bones and all their descendants (toes)."""
    index = {n: i for i, n in enumerate(names)}
    out = []
    for side in ("left", "right"):
        feet = {index[b] for c in chains if c.role == f"{side}_ankle" for b in c.bones
                if b in index}
        for i in range(len(names)):                      # parents come first
            if parents[i] in feet:
                feet.add(i)
        out.append(feet)
    return out


def sole_points_from_mesh(names: list[str], parents, vertices: np.ndarray,
                          skin_indices: np.ndarray, skin_weights: np.ndarray,
                          chains: tuple[Chain, ...] | None = None) -> FootPoints | None:
    """The lowest vertices of each foot of a skinned mesh: (V, 3) rest armature-space
    vertices (metres), (V, k) skin bone indices and weights, for bones ``names`` with
    ``parents``. None when the mesh has no foot vertices."""
    if chains is None:
        from .bone_map import chains_for
        chains = chains_for(list(names))
    v = np.asarray(vertices, np.float64)
    idx = np.asarray(skin_indices, np.int64)
    w = np.asarray(skin_weights, np.float64)
    pts, ids, wts, sides = [], [], [], []
    for side, bones in enumerate(foot_bones(names, parents, chains)):
        on_foot = (w * np.isin(idx, list(bones))).sum(1) > 0.5 * w.sum(1)
        if not on_foot.any():
            return None
        z = v[on_foot, 2]
        top = z.min() + SOLE_BAND * max(float(np.ptp(z)), 1e-3)
        pick = np.flatnonzero(on_foot)[z <= top]
        pick = pick[np.linspace(0, len(pick) - 1, min(PER_FOOT, len(pick))).astype(int)]
        order = np.argsort(-w[pick], axis=1)[:, :TOP_K]
        top_w = np.take_along_axis(w[pick], order, 1)
        pts.append(v[pick])
        ids.append(np.take_along_axis(idx[pick], order, 1))
        wts.append(top_w / np.maximum(top_w.sum(1, keepdims=True), 1e-12))
        sides.append(np.full(len(pick), side))
    return FootPoints(np.concatenate(pts), np.concatenate(ids), np.concatenate(wts),
                      np.concatenate(sides))


def sole_points_from_bones(target: TargetRest, chains: tuple[Chain, ...]) -> FootPoints:
    """Foot and toe bone heads and tails dropped onto the rest floor (z = 0 when the feet
    stand on it at rest, else the lowest of those points), each bound to its bone."""
    pts, ids, sides = [], [], []
    for side, bones in enumerate(foot_bones(target.names, target.parents, chains)):
        bones = sorted(bones)
        ends = np.concatenate([target.heads[bones], target.tails[bones]])
        floor = ends[:, 2].min()
        floor = 0.0 if 0.0 <= floor < 0.1 else floor
        ends[:, 2] = floor
        pts.append(ends)
        ids.append(np.array(bones + bones)[:, None])
        sides.append(np.full(len(ends), side))
    ids_all = np.concatenate(ids)
    return FootPoints(np.concatenate(pts), ids_all, np.ones(ids_all.shape),
                      np.concatenate(sides))


def bone_heads(target: TargetRest, delta: np.ndarray, head_world: np.ndarray) -> np.ndarray:
    """(T, B, 3) world bone heads from (T, B, 4) world deltas and the (T, 3) root head:
    head_b = head_parent + D_parent (rest offset)."""
    heads = np.empty(delta.shape[:2] + (3,))
    for b, p in enumerate(target.parents):
        if p < 0:
            heads[:, b] = head_world + Q.rotate(delta[:, b], np.broadcast_to(
                target.heads[b] - target.heads[0], head_world.shape))
        else:
            heads[:, b] = heads[:, p] + Q.rotate(delta[:, p], np.broadcast_to(
                target.heads[b] - target.heads[p], head_world.shape))
    return heads


def skin(feet: FootPoints, target: TargetRest, delta: np.ndarray, heads: np.ndarray
         ) -> np.ndarray:
    """(T, N, 3) posed sole points: sum_k w_k (head_b + D_b (x - rest head_b))."""
    out = np.zeros((delta.shape[0], len(feet.points), 3))
    for k in range(feet.indices.shape[1]):
        b = feet.indices[:, k]
        local = feet.points - target.heads[b]                       # (N, 3)
        moved = heads[:, b] + Q.rotate(delta[:, b], np.broadcast_to(local, out.shape))
        out += feet.weights[None, :, k, None] * moved
    return out


def ball_points(target: TargetRest, chains: tuple[Chain, ...]) -> list[tuple[int, np.ndarray]]:
    """[left, right]: (foot bone, (3,) rest ball of the foot) - the mean of its toes' heads,
    or the foot bone's tail when it has no toes. It stays put from flat foot to heel off."""
    index = {n: i for i, n in enumerate(target.names)}
    out = []
    for side in ("left", "right"):
        bones = [index[b] for c in chains if c.role == f"{side}_ankle" for b in c.bones
                 if b in index]
        foot = bones[-1]
        toes = [i for i in range(len(target.names)) if target.parents[i] == foot]
        out.append((foot, target.heads[toes].mean(0) if toes else target.tails[foot]))
    return out
