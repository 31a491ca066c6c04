"""Poses between SMPL-family parameters, SMPL-family avatars and Anny avatars.

Two conversions, both numpy only (the maths also runs on the add-on side, which has no scipy):

1. SMPL axis-angle <-> Blender pose quaternions on a SMPL-family avatar (no retargeting).
   SMPL joint frames are the identity at rest, so a local rotation R (SMPL's Y-up axes)
   becomes ``C^T A R A^T C`` for a bone with rest frame C (A = SMPL_TO_BLENDER). The root
   also carries the clip's world: AMASS worlds are already Z up, so there the root becomes
   ``C^T R A^T C`` (``world="z_up"``); SMPL's own Y-up world gives ``C^T A R A^T C``
   (``world="y_up"``).

2. Skeleton -> skeleton on shared joints (Anny <-> SMPL family), by rest alignment: each
   mapped target bone copies its source bone's world rotation change, after first turning its
   rest direction onto the source's rest direction (so an A-pose source moves a T-pose target
   into an A-pose). Root bones copy the world change without alignment. Unmapped target bones
   keep their rest relation to their parent; unmapped source bones' rotations reach the
   target through the next mapped bone below them. Going there and back gives the mapped
   bones their original world rotations.

Quaternions are (w, x, y, z) like ``pose_bone.rotation_quaternion``; rest frames are a
Skeleton's (B, 4, 4) matrices (+Y head -> tail).
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

from .. import rotations as Q
from ..kinematics import world_rotations
from .amass import SMPL_TO_BLENDER as _SMPL_TO_BLENDER_Q
from .direct import ALIASES, locals_to_pose

quat_to_matrix, matrix_to_quat = Q.to_matrix, Q.from_matrix
SMPL_TO_BLENDER = quat_to_matrix(_SMPL_TO_BLENDER_Q)     # (3, 3): SMPL's Y-up axes -> Z-up


def _smpl_to_anny() -> dict[str, str]:
    """SMPL joint -> Anny bone. Anny has five spine bones and three neck bones to SMPL's three
    and one; SMPL's are matched by height along the back (as the motion retargeter does) and
    the others stay at rest relative to their parent. Anny's finger1 is the thumb."""
    table = {"pelvis": "root", "spine1": "spine04", "spine2": "spine02", "spine3": "spine01",
             "neck": "neck01", "head": "head",
             "left_eye_smplhf": "eye.L", "right_eye_smplhf": "eye.R"}
    for side, s in (("left", "L"), ("right", "R")):
        table.update({
            f"{side}_hip": f"upperleg01.{s}", f"{side}_knee": f"lowerleg01.{s}",
            f"{side}_ankle": f"foot.{s}", f"{side}_collar": f"clavicle.{s}",
            f"{side}_shoulder": f"upperarm01.{s}", f"{side}_elbow": f"lowerarm01.{s}",
            f"{side}_wrist": f"wrist.{s}",
        })
        for finger, n in (("thumb", 1), ("index", 2), ("middle", 3), ("ring", 4), ("pinky", 5)):
            for k in (1, 2, 3):
                table[f"{side}_{finger}{k}"] = f"finger{n}-{k}.{s}"
    return table


SMPL_TO_ANNY = _smpl_to_anny()
ROOTS = {"pelvis", "root"}


# ---- 1. SMPL parameters <-> SMPL-family avatar pose ---------------------------------------
def _check_world(world: str) -> None:
    if world not in ("z_up", "y_up"):
        raise ValueError(f"world must be 'z_up' (AMASS) or 'y_up' (SMPL's own), got {world!r}")


def smpl_to_pose(axis_angle: np.ndarray, clip_joints: Sequence[str], bone_names: Sequence[str],
                 rest_matrices: np.ndarray, world: str = "z_up") -> np.ndarray:
    """(T, J, 3) SMPL-family local axis-angles for joints ``clip_joints`` -> (T, B, 4) pose
    quaternions for an avatar with bones ``bone_names`` (SMPL names) and (B, 4, 4) rest frames.
    Joints are matched by name (the first must be the root); bones the clip lacks stay at
    rest, so an SMPL-H clip drives an SMPL or SMPL-X avatar on every joint they share."""
    _check_world(world)
    r = Q.axis_angle_to_matrix(axis_angle)                  # (T, J, 3, 3), SMPL axes
    a = SMPL_TO_BLENDER
    local = a @ r @ a.T
    if world == "z_up":
        local[:, 0] = r[:, 0] @ a.T
    return blender_locals_to_pose(matrix_to_quat(local), clip_joints, bone_names, rest_matrices)


def blender_locals_to_pose(local_quats: np.ndarray, clip_joints: Sequence[str],
                           bone_names: Sequence[str], rest_matrices: np.ndarray) -> np.ndarray:
    """Direct application (no retargeting) of a SMPL-family clip already in Blender axes:
    (T, J, 4) joint rotations whose rest frames are the identity (the root's carrying the
    world, as the motion reader's ``SourceMotion`` holds them) -> (T, B, 4) pose quaternions
    ``C^T L C`` for the avatar's bones, matched by SMPL joint name; unmatched bones stay at
    rest. One implementation, the add-on's (it runs inside Blender without the server)."""
    return locals_to_pose(local_quats, clip_joints, bone_names, rest_matrices)


def pose_to_smpl(quats: np.ndarray, bone_names: Sequence[str], rest_matrices: np.ndarray,
                 clip_joints: Sequence[str], world: str = "z_up") -> np.ndarray:
    """Inverse of :func:`smpl_to_pose`: (T, B, 4) -> (T, J, 3); joints the avatar lacks get 0."""
    _check_world(world)
    q = np.asarray(quats, dtype=np.float64)
    index = {n: i for i, n in enumerate(bone_names)}
    c = np.asarray(rest_matrices, dtype=np.float64)[:, :3, :3]
    a = SMPL_TO_BLENDER
    out = np.zeros((q.shape[0], len(clip_joints), 3))
    for j, name in enumerate(clip_joints):
        b = index.get(ALIASES.get(name, name))
        if b is None:
            continue
        g = c[b] @ quat_to_matrix(q[:, b]) @ c[b].T
        r = g @ a if (j == 0 and world == "z_up") else a.T @ g @ a
        out[:, j] = Q.matrix_to_axis_angle(r)
    return out


def smpl_root_offset(trans: np.ndarray, pelvis_native: np.ndarray, rest_pelvis: np.ndarray,
                     lift: float = 0.0, world: str = "z_up") -> np.ndarray:
    """(T, 3) SMPL ``trans`` -> (T, 3) armature-space displacement of the root bone's head
    from its rest position (Pose.location). ``pelvis_native`` is the avatar's rest pelvis in
    SMPL axes (metadata["smpl"]["pelvis_native"]), ``rest_pelvis`` its head in Blender axes,
    ``lift`` the metres the rest body was raised to stand on z = 0. SMPL rotates the root
    about the pelvis and adds ``trans``: the pelvis sits at trans + pelvis_native."""
    _check_world(world)
    trans = np.asarray(trans, dtype=np.float64)
    pelvis = np.asarray(pelvis_native, dtype=np.float64)
    if world == "z_up":        # AMASS: the world is already Blender's
        return trans + pelvis - np.asarray(rest_pelvis, dtype=np.float64)
    return trans @ SMPL_TO_BLENDER.T + (pelvis @ SMPL_TO_BLENDER.T + [0, 0, lift]
                                        - np.asarray(rest_pelvis, dtype=np.float64))


# ---- 2. skeleton -> skeleton on shared joints --------------------------------------------
def transfer_pose(src_names: Sequence[str], src_parents: np.ndarray, src_rest: np.ndarray,
                  src_quats: np.ndarray, dst_names: Sequence[str], dst_parents: np.ndarray,
                  dst_rest: np.ndarray, mapping: dict[str, str]) -> np.ndarray:
    """(T, Bs, 4) source pose -> (T, Bd, 4) target pose by rest alignment (module docstring).
    ``mapping``: source bone name -> target bone name; names absent on either side are
    skipped. Rest frames are (B, 4, 4) or (B, 3, 3)."""
    cs = np.asarray(src_rest, dtype=np.float64)[:, :3, :3]
    cd = np.asarray(dst_rest, dtype=np.float64)[:, :3, :3]
    ws = world_rotations(cs, np.asarray(src_parents), quat_to_matrix(src_quats))
    s_index = {n: i for i, n in enumerate(src_names)}
    source_of = {d: s_index[s] for s, d in mapping.items() if s in s_index}
    t = ws.shape[0]
    wd = np.empty((t, len(dst_names), 3, 3))
    local = np.tile(np.eye(3), (t, len(dst_names), 1, 1))
    for b, (name, p) in enumerate(zip(dst_names, dst_parents)):
        parent_world = cd[b] if p < 0 else wd[:, p] @ (cd[p].T @ cd[b])
        a = source_of.get(name)
        if a is None:
            wd[:, b] = parent_world
            continue
        align = np.eye(3) if name in ROOTS or src_names[a] in ROOTS else \
            quat_to_matrix(Q.between(cd[b][:, 1], cs[a][:, 1]))
        wd[:, b] = ws[:, a] @ cs[a].T @ align @ cd[b]
        local[:, b] = np.swapaxes(parent_world, -1, -2) @ wd[:, b]
    return matrix_to_quat(local)


def scale_root_motion(location: np.ndarray, src_rest_pelvis: np.ndarray,
                      dst_rest_pelvis: np.ndarray) -> np.ndarray:
    """(T, 3) root displacement scaled by the ratio of rest pelvis heights (leg length)."""
    ratio = float(dst_rest_pelvis[2]) / max(float(src_rest_pelvis[2]), 1e-6)
    return np.asarray(location, dtype=np.float64) * ratio


def smpl_to_anny_mapping(smpl_names: Sequence[str]) -> dict[str, str]:
    """SMPL bone -> Anny bone for the joints this SMPL-family skeleton has."""
    return {s: a for s, a in SMPL_TO_ANNY.items() if s in smpl_names}


def anny_to_smpl_mapping(smpl_names: Sequence[str]) -> dict[str, str]:
    return {a: s for s, a in smpl_to_anny_mapping(smpl_names).items()}
