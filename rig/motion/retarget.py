"""Retarget a SourceMotion onto a target skeleton (protocol ``Skeleton``) in world space.

Step by step, for T frames, J source joints, B target bones:
1. Source forward kinematics: world rotation G_j (T,J,4) and position P_j (T,J,3).
2. Rest alignment A per chain (fixed): the rotation taking the target chain's rest direction
   onto the source segment's rest direction, composed onto the parent chain's alignment so
   twist stays consistent down a limb (T-pose arms vs Anny's A-pose arms, BVH rests).
3. World delta per bone D_b = G_role * A, corrected by the small rotation that makes the chain
   point exactly at the posed source child (joints between them, e.g. CMU's Neck1). Bones in
   no chain inherit their parent's D (they keep their rest shape relative to it).
4. Blender local rotation Q_b = R_b^-1 D_parent^-1 D_b R_b, with R_b the bone's rest rotation:
   what ``pose_bone.rotation_quaternion`` holds.
5. Root location: the target hip centre follows the source hip centre scaled by the ratio of
   leg lengths, starting over the origin (or held over it for in-place).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .. import rotations as Q
from .bone_map import SEGMENT_CHILD, Chain
from .source import SourceMotion, world_transforms
from .target_pose import TargetRest

IDENTITY = np.array([1.0, 0.0, 0.0, 0.0])


@dataclass
class Retargeted:
    rotations: np.ndarray      # (T, B, 4) float64 pose_bone.rotation_quaternion (w, x, y, z)
    root_location: np.ndarray  # (T, 3) float64 pose_bone.location of bone 0 (its rest frame)
    world_delta: np.ndarray    # (T, B, 4) world rotation applied to each rest bone
    mapped: list[str]          # target bones driven by the source


def _chain_index(target: TargetRest, chains: tuple[Chain, ...], roles: dict[str, int]):
    """Chains the source can drive, as (role joint, bone indices), parents first."""
    index = {n: i for i, n in enumerate(target.names)}
    usable = [(c, [index[b] for b in c.bones]) for c in chains if c.role in roles]
    return sorted(usable, key=lambda cb: cb[1][0])


def _aim_child(m: SourceMotion, role: str) -> int | None:
    """The source joint a role's segment points at (its child that is the next role)."""
    side = "right" if role.startswith("right") else "left"
    child = SEGMENT_CHILD.get(role.replace("right", "left"))
    if child is None:
        return None
    child = child.replace("left", side)
    return m.skeleton.roles.get(child)


def leg_length(points: dict[str, np.ndarray]) -> float | None:
    """Hip->knee->ankle length averaged over sides, from role -> (3,) rest positions."""
    lengths = []
    for side in ("left", "right"):
        p = [points.get(f"{side}_{j}") for j in ("hip", "knee", "ankle")]
        if all(x is not None for x in p):
            lengths.append(np.linalg.norm(p[1] - p[0]) + np.linalg.norm(p[2] - p[1]))
    return float(np.mean(lengths)) if lengths else None


def retarget(m: SourceMotion, target: TargetRest, chains: tuple[Chain, ...],
             in_place: bool = False, ground: bool = True) -> Retargeted:
    """``in_place``: no horizontal root travel. ``ground``: one constant vertical shift so the
    feet meet the floor as in the rest pose (the source's own floor and body proportions
    differ from the avatar's)."""
    t_count, b_count = m.frame_count, len(target.names)
    roles, rest = m.skeleton.roles, m.skeleton.rest
    g, p = world_transforms(m)                                        # step 1

    delta = np.empty((t_count, b_count, 4))
    align = np.tile(IDENTITY, (b_count, 1))
    starts = {bones[0]: (chain, bones) for chain, bones in _chain_index(target, chains, roles)}
    member = {b: bones[0] for _, bones in starts.values() for b in bones}
    for b in range(b_count):                                  # parents come before children
        parent = target.parents[b]
        if b in member and member[b] != b:                    # inside a chain: as its first bone
            delta[:, b], align[b] = delta[:, member[b]], align[member[b]]
            continue
        a = align[parent] if parent >= 0 else IDENTITY
        if b not in starts:                                   # undriven: rigid with the parent
            delta[:, b] = delta[:, parent] if parent >= 0 else IDENTITY
            align[b] = a
            continue
        chain, bones = starts[b]
        j = roles[chain.role]
        k = _aim_child(m, chain.role) if chain.aim else None
        tdir = target.tails[bones[-1]] - target.heads[b]
        segment = rest[k] - rest[j] if k is not None else np.zeros(3)
        if np.linalg.norm(segment) > 1e-6 and np.linalg.norm(tdir) > 1e-6:
            a = Q.multiply(Q.between(Q.rotate(a, tdir), segment), a)              # step 2
            d = Q.multiply(g[:, j], a)
            now = Q.rotate(d, np.broadcast_to(tdir, (t_count, 3)))
            d = Q.multiply(Q.between(now, p[:, k] - p[:, j]), d)                   # step 3
        else:
            d = Q.multiply(g[:, j], a)
        delta[:, b], align[b] = d, a
    mapped = sorted(target.names[b] for b in member)

    parents = target.parents                                                      # step 4
    d_parent = np.where((parents >= 0)[None, :, None], delta[:, np.maximum(parents, 0)], IDENTITY)
    r, r_inv = target.rest_rot[None], Q.conjugate(target.rest_rot)[None]
    local = Q.multiply(Q.multiply(r_inv, Q.multiply(Q.conjugate(d_parent), delta)), r)
    local = Q.make_continuous(Q.normalize(local))

    head_world = _root_path(m, target, chains, p, delta[:, 0], in_place)          # step 5
    if ground:
        head_world[:, 2] += _ground_offset(target, chains, delta, head_world)
    location = _to_root_frame(target, head_world)
    return Retargeted(rotations=local, root_location=location, world_delta=delta,
                      mapped=mapped)


def _to_root_frame(target: TargetRest, head_world: np.ndarray) -> np.ndarray:
    """pose_bone.location of a parentless bone is in its rest frame, relative to its rest head."""
    return Q.rotate(Q.conjugate(target.rest_rot[0]), head_world - target.heads[0])


def _ground_offset(target: TargetRest, chains: tuple[Chain, ...], delta: np.ndarray,
                   head_world: np.ndarray) -> float:
    """Metres to raise the clip so its feet's usual low point (10th percentile over frames of
    the lowest foot/toe point) sits where the rest pose's feet sit."""
    index = {n: i for i, n in enumerate(target.names)}
    feet = {index[b] for c in chains if c.role.endswith("_ankle") for b in c.bones if b in index}
    for i in range(len(target.names)):                       # add toes: descendants of feet
        if target.parents[i] in feet:
            feet.add(i)
    if not feet:
        return 0.0
    needed = set(feet)
    for i in feet:                                           # and every ancestor of them
        while target.parents[i] >= 0:
            i = int(target.parents[i])
            needed.add(i)
    # World heads from the world deltas: head_b = head_parent + D_parent (rest offset).
    heads = {}
    for i in sorted(needed):
        p = target.parents[i]
        if p < 0:
            heads[i] = head_world + Q.rotate(delta[:, i], np.broadcast_to(
                target.heads[i] - target.heads[0], head_world.shape))
        else:
            heads[i] = heads[p] + Q.rotate(delta[:, p], np.broadcast_to(
                target.heads[i] - target.heads[p], head_world.shape))
    low = np.min([np.minimum(heads[i][:, 2], (heads[i] + Q.rotate(delta[:, i], np.broadcast_to(
        target.tails[i] - target.heads[i], head_world.shape)))[:, 2]) for i in feet], axis=0)
    rest_low = min(target.heads[sorted(feet), 2].min(), target.tails[sorted(feet), 2].min())
    return float(rest_low - np.percentile(low, 10))


def _root_path(m: SourceMotion, target: TargetRest, chains: tuple[Chain, ...],
                   p: np.ndarray, root_delta: np.ndarray, in_place: bool) -> np.ndarray:
    roles = m.skeleton.roles
    index = {n: i for i, n in enumerate(target.names)}
    first = {c.role: index[c.bones[0]] for c in chains if c.bones[0] in index}
    hips = [r for r in ("left_hip", "right_hip") if r in roles and r in first]
    if len(hips) == 2:
        src_hip = 0.5 * (p[:, roles[hips[0]]] + p[:, roles[hips[1]]])
        tgt_hip = 0.5 * (target.heads[first[hips[0]]] + target.heads[first[hips[1]]])
    else:
        src_hip, tgt_hip = p[:, 0], target.heads[0]
    src_len = leg_length({r: m.skeleton.rest[i] for r, i in roles.items()})
    tgt_len = leg_length({r: target.heads[i] for r, i in first.items()})
    if src_len and tgt_len:
        scale = tgt_len / src_len
    else:   # no legs to compare: compare standing heights instead
        scale = np.ptp(target.heads[:, 2]) / max(np.ptp(m.skeleton.rest[:, 2]), 1e-6)
    hip = src_hip * scale
    hip[:, :2] = 0.0 if in_place else hip[:, :2] - hip[:1, :2]
    hip[:, :2] += tgt_hip[:2]
    # World position of the root bone's head that puts the hip centre there.
    return hip - Q.rotate(root_delta, np.broadcast_to(tgt_hip - target.heads[0], hip.shape))
