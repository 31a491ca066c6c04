"""Where the retargeted body travels, and where that travel is keyed (root motion).

The target's hip centre follows the source's hip centre scaled by the ratio of leg lengths
(a child takes shorter steps), starting over the target's rest position. Root motion then
says who carries the horizontal travel:
- "bone": the root bone (pose_bone.location), what Unity's and Unreal's root motion read;
- "object": the armature object (its location keys); the root bone stays over the origin;
- "in_place": nobody; the hip centre is held over the rest position.
Height (bobbing, crouching, jumping) always stays on the root bone.
"""

from __future__ import annotations

import numpy as np

from .. import rotations as Q
from .bone_map import Chain
from .source import SourceMotion
from .target_pose import TargetRest

ROOT_MOTIONS = ("bone", "object", "in_place")


def leg_length(points: dict[str, np.ndarray]) -> float | None:
    """Hip->knee->ankle length averaged over sides, from role -> (3,) rest positions."""
    lengths = []
    for side in ("left", "right"):
        p = [points.get(f"{side}_{j}") for j in ("hip", "knee", "ankle")]
        if all(x is not None for x in p):
            lengths.append(np.linalg.norm(p[1] - p[0]) + np.linalg.norm(p[2] - p[1]))
    return float(np.mean(lengths)) if lengths else None


def first_bones(target: TargetRest, chains: tuple[Chain, ...]) -> dict[str, int]:
    """Role -> index of the first target bone of its chain."""
    index = {n: i for i, n in enumerate(target.names)}
    out = {}
    for c in chains:
        if c.bones[0] in index:
            out.setdefault(c.role, index[c.bones[0]])
    return out


def target_hip(target: TargetRest, chains: tuple[Chain, ...]) -> np.ndarray:
    """(3,) rest hip centre of the target (its root bone's head without two hips)."""
    first = first_bones(target, chains)
    if "left_hip" in first and "right_hip" in first:
        return 0.5 * (target.heads[first["left_hip"]] + target.heads[first["right_hip"]])
    return target.heads[0]


def source_scale(m: SourceMotion, target: TargetRest, chains: tuple[Chain, ...]) -> float:
    """Target length per source length: the ratio of leg lengths (else standing heights)."""
    first = first_bones(target, chains)
    src_len = leg_length({r: m.skeleton.rest[i] for r, i in m.skeleton.roles.items()})
    tgt_len = leg_length({r: target.heads[i] for r, i in first.items()})
    if src_len and tgt_len:
        return tgt_len / src_len
    return float(np.ptp(target.heads[:, 2]) / max(np.ptp(m.skeleton.rest[:, 2]), 1e-6))


def root_path(m: SourceMotion, target: TargetRest, chains: tuple[Chain, ...],
              p: np.ndarray, root_delta: np.ndarray) -> np.ndarray:
    """(T, 3) world position of the root bone's head that puts the target's hip centre on the
    scaled source hip path, travelling from over the rest position. ``p`` (T, J, 3) source
    joint positions, ``root_delta`` (T, 4) the root bone's world rotation."""
    roles = m.skeleton.roles
    if "left_hip" in roles and "right_hip" in roles:
        src_hip = 0.5 * (p[:, roles["left_hip"]] + p[:, roles["right_hip"]])
    else:
        src_hip = p[:, 0]
    tgt_hip = target_hip(target, chains)
    hip = src_hip * source_scale(m, target, chains)
    hip[:, :2] += tgt_hip[:2] - hip[:1, :2]
    return hip - Q.rotate(root_delta, np.broadcast_to(tgt_hip - target.heads[0], hip.shape))


def split_root_motion(target: TargetRest, chains: tuple[Chain, ...], head_world: np.ndarray,
                      root_delta: np.ndarray, mode: str
                      ) -> tuple[np.ndarray, np.ndarray | None]:
    """(T, 3) root bone head path with full travel -> (the root bone's path, (T, 3) object
    travel or None) for root motion ``mode``. Bone path + object travel = the full path."""
    if mode == "bone":
        return head_world, None
    tgt_hip = target_hip(target, chains)
    hip = head_world + Q.rotate(root_delta, np.broadcast_to(tgt_hip - target.heads[0],
                                                            head_world.shape))
    travel = np.zeros_like(head_world)
    travel[:, :2] = hip[:, :2] - tgt_hip[:2]
    return head_world - travel, (travel if mode == "object" else None)
