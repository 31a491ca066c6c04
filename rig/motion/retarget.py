"""Retarget a SourceMotion onto a target skeleton (protocol ``Skeleton``) in world space.

Step by step, for T frames, J source joints, B target bones:
1. Source forward kinematics: world rotation G_j (T,J,4) and position P_j (T,J,3).
2. Rest alignment A per chain (fixed): the rotation taking the target chain's rest direction
   onto the source segment's rest direction, composed onto the parent chain's alignment so
   twist stays consistent down a limb (T-pose arms vs Anny's A-pose arms, BVH rests).
3. World delta per bone D_b = G_role * A, corrected by the small rotation that makes the chain
   point exactly along the posed source segment (joints between them, e.g. CMU's Neck1).
   Bones in no chain inherit their parent's D (they keep their rest shape relative to it).
4. Root path (root_path.py): the hip centre follows the source's, scaled by leg length.
5. Feet (ground.py): contacts from the source, the body lowered or raised so the soles meet
   z = 0, planted feet held still by two-bone leg IK.
6. Blender local rotation Q_b = R_b^-1 D_parent^-1 D_b R_b, with R_b the bone's rest rotation:
   what ``pose_bone.rotation_quaternion`` holds; root motion goes where the caller asks.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .. import rotations as Q
from .bone_map import SEGMENT_CHILD, SEGMENT_END, Chain
from .ground import FootPoints, place_feet
from .root_path import ROOT_MOTIONS, root_path, split_root_motion, target_hip
from .source import SourceMotion, world_transforms
from .spine import fit_torso, spine_bones, spine_segments
from .target_pose import TargetRest

IDENTITY = np.array([1.0, 0.0, 0.0, 0.0])


@dataclass
class Retargeted:
    rotations: np.ndarray      # (T, B, 4) float64 pose_bone.rotation_quaternion (w, x, y, z)
    root_location: np.ndarray  # (T, 3) float64 pose_bone.location of bone 0 (its rest frame)
    world_delta: np.ndarray    # (T, B, 4) world rotation applied to each rest bone
    mapped: list[str]          # target bones driven by the source
    object_location: np.ndarray | None = None   # (T, 3) armature-space travel for the object
    contacts: np.ndarray | None = None          # (T, 2) bool, left/right foot on the floor


def _chain_index(target: TargetRest, chains: tuple[Chain, ...], roles: dict[str, int]):
    """Chains the source can drive, as (role joint, bone indices), parents first."""
    index = {n: i for i, n in enumerate(target.names)}
    usable = [(c, [index[b] for b in c.bones]) for c in chains if c.role in roles]
    return sorted(usable, key=lambda cb: cb[1][0])


def _child_role(role: str) -> str | None:
    """The role a segment points at (SMPL tree, or its end point such as the head's top)."""
    side = "right" if role.startswith("right") else "left"
    child = SEGMENT_END.get(role) or SEGMENT_CHILD.get(role.replace("right", "left"))
    return None if child is None else child.replace("left", side)


def _segment(m: SourceMotion, role: str, g: np.ndarray, p: np.ndarray, tdir: np.ndarray):
    """The source segment a chain is aimed along: ((3,) rest vector, (T, 3) posed vectors),
    or None when the source has none. Rest positions are the skeleton's, posed ones P."""
    roles, rest = m.skeleton.roles, m.skeleton.rest
    j = roles[role]
    if role == "pelvis":
        # The pelvis runs from the hip centre up to the spine: CMU's hip joints sit ~10 cm
        # below and in front of its spine base, Anny's level with it.
        if not {"left_hip", "right_hip", "spine1"} <= roles.keys():
            return None
        hips = [roles["left_hip"], roles["right_hip"]]
        k = roles["spine1"]
        return (rest[k] - rest[hips].mean(0), p[:, k] - p[:, hips].mean(1))
    child = _child_role(role)
    k = roles.get(child) if child else None
    if k is not None:
        return rest[k] - rest[j], p[:, k] - p[:, j]
    if role in SEGMENT_END:
        # No end site (SMPL): take the source's rest head to be held like the target's, so
        # the head turns by the source head's own rotation, not by the neck's alignment.
        return tdir, Q.rotate(g[:, j], np.broadcast_to(tdir, p[:, j].shape))
    return None


def _aim(a: np.ndarray, tdir: np.ndarray, rest_seg: np.ndarray, posed_seg: np.ndarray,
         g_j: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Steps 2-3 for one chain: parent alignment ``a`` (4,), the chain's rest direction
    ``tdir`` (3,), the source segment at rest (3,) and posed (T, 3), the source joint's world
    rotations (T, 4) -> ((T, 4) world delta, (4,) the chain's alignment)."""
    if np.linalg.norm(rest_seg) <= 1e-6 or np.linalg.norm(tdir) <= 1e-6:
        return Q.multiply(g_j, a), a                 # nothing to aim along: rotation only
    a = Q.multiply(Q.between(Q.rotate(a, tdir), rest_seg), a)                    # step 2
    d = Q.multiply(g_j, a)
    now = Q.rotate(d, np.broadcast_to(tdir, posed_seg.shape))
    return Q.multiply(Q.between(now, posed_seg), d), a                           # step 3


def world_deltas(m: SourceMotion, target: TargetRest, chains: tuple[Chain, ...],
                 g: np.ndarray, p: np.ndarray) -> tuple[np.ndarray, list[str]]:
    """Steps 2-3: (T, B, 4) world rotation of every target bone from its rest, and the names
    of the bones the source drives. ``g``, ``p``: the source's world rotations and joint
    positions (``world_transforms``)."""
    b_count = len(target.names)
    roles = m.skeleton.roles
    delta = np.empty((m.frame_count, b_count, 4))
    align = np.tile(IDENTITY, (b_count, 1))
    starts = {bones[0]: (chain, bones) for chain, bones in _chain_index(target, chains, roles)}
    member = {b: bones[0] for _, bones in starts.values() for b in bones}
    back = spine_bones(target, chains, roles)
    curve = spine_segments(m, target, chains, back, g, p) if back else {}
    for b in curve:                           # each spine bone aimed on its own (spine.py)
        member[b] = b
    for b in range(b_count):                                  # parents come before children
        parent = target.parents[b]
        if b in member and member[b] != b:                    # inside a chain: as its first bone
            delta[:, b], align[b] = delta[:, member[b]], align[member[b]]
            continue
        a = align[parent] if parent >= 0 else IDENTITY
        if b in curve:
            rest_seg, posed_seg, j = curve[b]
            delta[:, b], align[b] = _aim(a, target.tails[b] - target.heads[b], rest_seg,
                                         posed_seg, g[:, j])
            continue
        if b not in starts:                                   # undriven: rigid with the parent
            delta[:, b] = delta[:, parent] if parent >= 0 else IDENTITY
            align[b] = a
            continue
        chain, bones = starts[b]
        j = roles[chain.role]
        tdir = target.tails[bones[-1]] - target.heads[b]
        seg = _segment(m, chain.role, g, p, tdir) if chain.aim else None
        if seg is not None:
            delta[:, b], align[b] = _aim(a, tdir, seg[0], seg[1], g[:, j])
        else:
            delta[:, b], align[b] = Q.multiply(g[:, j], a), a
    if curve:
        fit_torso(m, target, back, delta, p, target_hip(target, chains))
    return delta, sorted(target.names[b] for b in member)


def retarget(m: SourceMotion, target: TargetRest, chains: tuple[Chain, ...],
             in_place: bool = False, ground: bool = True, root_motion: str = "bone",
             plant_feet: bool = True, feet: FootPoints | None = None) -> Retargeted:
    """``root_motion``: "bone" (travel on the root bone), "object" (horizontal travel returned
    as ``object_location`` for the armature object; the bone stays over the origin) or
    "in_place" (no horizontal travel); ``in_place=True`` is the old spelling of the last.
    ``ground``: soles on z = 0 where the source's feet are in contact; ``plant_feet``: also
    hold contact feet still with leg IK. ``feet``: sole points of the avatar's mesh (else
    derived from the foot and toe bones)."""
    if root_motion not in ROOT_MOTIONS:
        raise ValueError(f"root_motion must be one of {ROOT_MOTIONS}, got {root_motion!r}")
    if in_place:
        root_motion = "in_place"
    g, p = world_transforms(m)                                              # step 1
    delta, mapped = world_deltas(m, target, chains, g, p)
    head_world = root_path(m, target, chains, p, delta[:, 0])               # step 4
    contacts = None
    if ground:                                                              # step 5
        delta, head_world, contacts = place_feet(m, target, chains, delta, head_world, p,
                                                 feet=feet, plant=plant_feet)
    parents = target.parents                                                # step 6
    d_parent = np.where((parents >= 0)[None, :, None], delta[:, np.maximum(parents, 0)], IDENTITY)
    r, r_inv = target.rest_rot[None], Q.conjugate(target.rest_rot)[None]
    local = Q.multiply(Q.multiply(r_inv, Q.multiply(Q.conjugate(d_parent), delta)), r)
    local = Q.make_continuous(Q.normalize(local))
    bone_world, travel = split_root_motion(target, chains, head_world, delta[:, 0],
                                           root_motion)
    return Retargeted(rotations=local, root_location=_to_root_frame(target, bone_world),
                      world_delta=delta, mapped=mapped, object_location=travel,
                      contacts=contacts)


def _to_root_frame(target: TargetRest, head_world: np.ndarray) -> np.ndarray:
    """pose_bone.location of a parentless bone is in its rest frame, relative to its rest head."""
    return Q.rotate(Q.conjugate(target.rest_rot[0]), head_world - target.heads[0])
