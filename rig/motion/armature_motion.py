"""A SourceMotion from an animated armature sampled in Blender (the FBX reader's bpy-free
half): rest bone frames, per-frame pose-bone rotations and the root's location, as Blender
stores them, become identity-rest joint rotations in Blender world axes and metres."""

from __future__ import annotations

import numpy as np

from .. import rotations as Q
from .bvh import UNITS, _detect_units, _face_minus_y
from .errors import MotionError
from .mixamo import armature_roles
from .source import SourceMotion, SourceSkeleton, check_motion

# Fewest body roles a clip must name to be retargeted (hips plus one limb chain).
MIN_ROLES = 4


def motion_from_armature(name: str, names: list[str], parents: np.ndarray,
                         rest_matrices: np.ndarray, tails: np.ndarray, world: np.ndarray,
                         pose_rotations: np.ndarray, root_location: np.ndarray,
                         fps: float, file_name: str = "") -> SourceMotion:
    """Build a SourceMotion.

    names, parents: B bones, parents first (-1 for roots; the first root is the clip's).
    rest_matrices: (B, 4, 4) bone -> armature rest matrices (Bone.matrix_local).
    tails: (B, 3) rest tails in armature space (leaf bones get an end joint there).
    world: (4, 4) armature object -> world matrix (may hold a scale, e.g. 0.01 for cm files).
    pose_rotations: (T, B, 4) pose_bone.rotation_quaternion (w, x, y, z), the bone's frame.
    root_location: (T, 3) pose_bone.location of the root bone, in its rest frame.
    """
    file_name = file_name or name
    b = len(names)
    lin = np.asarray(world, np.float64)[:3, :3]
    scale = float(np.cbrt(abs(np.linalg.det(lin)))) or 1.0
    obj_rot = Q.from_matrix(lin / scale)
    rest_rot = Q.from_matrix(rest_matrices[:, :3, :3] / np.linalg.norm(
        rest_matrices[:, :3, :3], axis=1, keepdims=True))
    # A pose-bone rotation q acts in the bone's rest frame R; in world axes the joint turns
    # by O R q R^-1 O^-1 relative to its parent's turn, whatever the bones' rolls are.
    frame = Q.multiply(obj_rot, rest_rot)                              # (B, 4)
    local = Q.multiply(Q.multiply(frame, pose_rotations), Q.conjugate(frame))
    heads = _to_world(world, rest_matrices[:, :3, 3])
    root = 0
    root_arm = rest_matrices[root, :3, 3] + np.einsum("ij,tj->ti", rest_matrices[root, :3, :3],
                                                      root_location)
    root_pos = _to_world(world, root_arm)
    # Leaf bones end at their tails: the end joint gives the last segment a direction. A leaf
    # that already is an end site (Mixamo's HeadTop_End, an exporter's "<bone>_end") needs
    # none: FBX stores no tails, so its head is the only exact end position.
    leaves = [i for i in range(b) if i not in set(parents.tolist())
              and not names[i].lower().endswith("end")]
    all_names = list(names) + [f"{names[i]}_end" for i in leaves]
    all_parents = np.concatenate([parents, np.array(leaves, np.int64)]).astype(np.int64)
    rest = np.concatenate([heads, _to_world(world, tails[leaves])])
    rot = np.concatenate([local, np.tile([1.0, 0.0, 0.0, 0.0],
                                         (local.shape[0], len(leaves), 1))], axis=1)
    up = 2                                           # Blender's importer already made Z up
    unit, fix = _detect_units(rest, up)
    skeleton = SourceSkeleton(names=all_names, parents=all_parents, rest=rest * fix)
    motion = SourceMotion(name=name, skeleton=skeleton, fps=float(fps), rotations=rot,
                          root_position=root_pos * fix, kind="fbx",
                          unit=_unit_name(scale * fix))
    skeleton.roles = armature_roles(all_names, all_parents)
    if len(skeleton.roles) < MIN_ROLES or "pelvis" not in skeleton.roles:
        shown = ", ".join(names[:6]) + ("..." if len(names) > 6 else "")
        raise MotionError(f"'{file_name}': the skeleton's joint names ({shown}) are not ones "
                          "Doppel recognises (Mixamo's, or Hips/LeftUpLeg/LeftFoot/LeftHand "
                          "style names), so the clip cannot be retargeted.")
    _face_minus_y(motion)
    return check_motion(motion)


def _to_world(world: np.ndarray, points: np.ndarray) -> np.ndarray:
    return np.asarray(points, np.float64) @ np.asarray(world, np.float64)[:3, :3].T \
        + np.asarray(world, np.float64)[:3, 3]


def _unit_name(metres_per_unit: float) -> str:
    """The file unit closest to ``metres_per_unit`` (FBX files from Mixamo are in cm)."""
    return min(UNITS, key=lambda u: abs(np.log(metres_per_unit / UNITS[u])))
