"""The back as one curve: target spine bones follow the source's spine by arc length.

Spines differ in bone count and in where their joints sit: CMU's LowerBack sits on the hips
joint and its Neck on Spine1 (zero-length segments), Anny has five spine bones to SMPL's
three. Aiming bone by bone at the next named joint fails there (a zero-length segment has no
direction), and the torso as a whole leans wrong (12 degrees on CMU clips). Instead the
source spine is the polyline hip centre -> spine joints -> neck; each target spine chain
covers the stretch between its role's joint and the next (a stretch of zero length is merged
into its neighbour), each bone the part of that stretch proportional to its length, aimed
along its chord. The bones then add up to the source's hip->neck direction.
"""

from __future__ import annotations

import numpy as np

from .. import rotations as Q
from .bone_map import Chain
from .source import SourceMotion
from .target_pose import TargetRest

SPINE_ROLES = ("pelvis", "spine1", "spine2", "spine3")


def spine_bones(target: TargetRest, chains: tuple[Chain, ...], roles: dict[str, int]
                ) -> list[int]:
    """The target's aimed spine bones, hips to neck, each the parent of the next; [] when
    the rig or the source has no such spine."""
    index = {n: i for i, n in enumerate(target.names)}
    if "neck" not in roles or not {"left_hip", "right_hip"} <= roles.keys():
        return []
    bones = sorted(index[b] for c in chains if c.aim and c.role in SPINE_ROLES
                   and c.role in roles for b in c.bones if b in index)
    if len(bones) < 2 or any(target.parents[b] != a for a, b in zip(bones, bones[1:])):
        return []
    return bones


def _source_path(m: SourceMotion) -> list[int]:
    """Source joints from the root up to the neck joint (root first)."""
    path, j = [], m.skeleton.roles["neck"]
    while j >= 0:
        path.append(j)
        j = int(m.skeleton.parents[j])
    return path[::-1]


def _at(points: np.ndarray, s: np.ndarray, u: float) -> np.ndarray:
    """Point at arc fraction u on a polyline (..., n, 3) with (n,) cumulative fractions s."""
    i = int(np.clip(np.searchsorted(s, u, side="right") - 1, 0, len(s) - 2))
    f = (u - s[i]) / max(s[i + 1] - s[i], 1e-12)
    return points[..., i, :] * (1 - f) + points[..., i + 1, :] * f


def _anchors(m: SourceMotion, target: TargetRest, chains: tuple[Chain, ...], bones: list[int],
             path: list[int], s_joint: np.ndarray, u: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Matching arc fractions (target u, source s): each spine chain starts where its role's
    joint sits. A role whose source segment has no length (CMU's Neck on Spine1) is dropped,
    so its bones share the neighbouring stretch instead of pointing nowhere."""
    index = {n: i for i, n in enumerate(target.names)}
    pairs = []
    for c in chains:
        j = m.skeleton.roles.get(c.role)
        if c.role in SPINE_ROLES and j in path and index.get(c.bones[0]) in bones:
            # The pelvis stretch starts at the hip centre, the others at their joint.
            ss = 0.0 if c.role == "pelvis" else s_joint[path.index(j)]
            pairs.append((u[bones.index(index[c.bones[0]])], ss))
    pairs.sort()
    kept = [pairs[0] if pairs else (0.0, 0.0)]
    for uu, ss in pairs[1:]:
        if ss > kept[-1][1] + 1e-6 and ss < 1.0 - 1e-6 and uu > kept[-1][0]:
            kept.append((uu, ss))
    kept.append((1.0, 1.0))
    return np.array([k[0] for k in kept]), np.array([k[1] for k in kept])


def spine_segments(m: SourceMotion, target: TargetRest, chains: tuple[Chain, ...],
                   bones: list[int], g: np.ndarray, p: np.ndarray
                   ) -> dict[int, tuple[np.ndarray, np.ndarray, int]]:
    """Bone -> ((3,) rest chord, (T, 3) posed chord, source joint whose rotation it takes)
    for the spine ``bones``; ``g``/``p`` are the source's world rotations and positions."""
    roles, rest = m.skeleton.roles, m.skeleton.rest
    hips = [roles["left_hip"], roles["right_hip"]]
    path = _source_path(m)
    rest_pts = np.concatenate([rest[hips].mean(0)[None], rest[path[1:]]])
    posed = np.concatenate([p[:, hips].mean(1)[:, None], p[:, path[1:]]], axis=1)
    length = np.linalg.norm(np.diff(rest_pts, axis=0), axis=1)
    if length.sum() < 1e-6:
        return {}
    s_joint = np.concatenate([[0.0], np.cumsum(length)]) / length.sum()   # per path joint
    keep = np.concatenate([[True], length > 1e-6])       # drop zero-length pieces
    rest_pts, posed, s = rest_pts[keep], posed[:, keep], s_joint[keep]
    owner = [o for o, k in zip(path[:-1], keep[1:]) if k]   # piece i moves with joint i
    t_len = np.linalg.norm(target.tails[bones] - target.heads[bones], axis=1)
    u = np.concatenate([[0.0], np.cumsum(t_len)]) / t_len.sum()
    au, asrc = _anchors(m, target, chains, bones, path, s_joint, u)
    v = np.interp(u, au, asrc)                           # bone ends on the source's arc
    out = {}
    for k, b in enumerate(bones):
        piece = int(np.clip(np.searchsorted(s, 0.5 * (v[k] + v[k + 1])) - 1, 0, len(owner) - 1))
        out[b] = (_at(rest_pts, s, v[k + 1]) - _at(rest_pts, s, v[k]),
                  _at(posed, s, v[k + 1]) - _at(posed, s, v[k]), owner[piece])
    return out


def fit_torso(m: SourceMotion, target: TargetRest, bones: list[int], delta: np.ndarray,
              p: np.ndarray, hip_rest: np.ndarray) -> np.ndarray:
    """Turn the spine ``bones`` together (world deltas (T, B, 4), changed in place and
    returned) so the target's hip-centre->neck direction is the source's each frame. Spine
    stretches of different relative lengths add up to a torso leaning a few degrees off; the
    shared turn is small, so each bone still follows its own stretch. ``hip_rest`` (3,):
    the target's rest hip centre."""
    roles = m.skeleton.roles
    kids = [i for i in range(len(target.names)) if target.parents[i] == bones[-1]]
    if not kids:
        return delta
    # The neck starts at the last spine bone's child on the midline (not a collar bone).
    neck = min(kids, key=lambda i: abs(target.heads[i, 0] - target.heads[bones[-1], 0]))
    ends = bones[1:] + [neck]
    root = max(int(target.parents[bones[0]]), 0)
    v = Q.rotate(delta[:, root], np.broadcast_to(target.heads[bones[0]] - hip_rest,
                                                  p[:, 0].shape))
    for b, e in zip(bones, ends):
        v += Q.rotate(delta[:, b], np.broadcast_to(target.heads[e] - target.heads[b], v.shape))
    hip_src = p[:, [roles["left_hip"], roles["right_hip"]]].mean(1)
    turn = Q.between(v, p[:, roles["neck"]] - hip_src)
    for b in bones:
        delta[:, b] = Q.multiply(turn, delta[:, b])
    return delta
