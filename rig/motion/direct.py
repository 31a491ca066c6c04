"""A SMPL-family clip straight onto a SMPL-family avatar: no retargeting.

A SMPL / SMPL-H / SMPL-X avatar (Doppel's ``body`` job) has one bone per SMPL joint, named as
``smplx`` names them, and rests in the model's own T-pose. A SMPL-family clip gives each joint
a local rotation about a rest frame that is the identity, so the clip's rotations apply as
they are, only rewritten in each bone's rest frame:

    pose_bone.rotation_quaternion = C^T L C

with C the bone's rest rotation (bone -> armature) and L the ``SourceMotion`` local rotation
(Blender axes, identity rest frames; the root's also carries the clip's world). Joints match
by name; bones the clip lacks (SMPL-X's jaw under an SMPL-H clip, fingers under a plain SMPL
clip) stay at rest.

Root: SMPL turns the body about its pelvis and adds ``trans``, so the pelvis sits at
``trans + pelvis_native`` in the clip's world (AMASS worlds are Z up like Blender's;
``pelvis_native`` is the avatar's rest pelvis in SMPL's own axes, which the body job stores in
``metadata["smpl"]``). Height is kept exactly (AMASS floors are at z = 0); across the floor
the clip starts over the avatar's rest position, as retargeted clips do, or stays there when
``in_place``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Mapping, Sequence

import numpy as np

from .. import rotations as Q
from .errors import MotionError
from .smpl_skeleton import PELVIS_REST
from .source import BODY_ROLES, SourceMotion
from .target_pose import TargetRest

# SourceMotion kinds that are SMPL-family clips (AMASS SMPL+H, SMPL-X, plain SMPL, body only).
SMPL_CLIP_KINDS = ("smplh", "smplx", "smpl", "body")
# The motion reader names SMPL-X's eyes without the suffix ``smplx`` gives the avatar's bones.
ALIASES = {"left_eye": "left_eye_smplhf", "right_eye": "right_eye_smplhf"}


@dataclass
class DirectPose:
    rotations: np.ndarray      # (T, B, 4) float64 pose_bone.rotation_quaternion (w, x, y, z)
    root_location: np.ndarray  # (T, 3) float64 pose_bone.location of bone 0 (its rest frame)
    mapped: list[str]          # bones driven by the clip
    warnings: list[str] = field(default_factory=list)


def is_smpl_rig(bone_names: Sequence[str]) -> bool:
    """True for a skeleton whose root is ``pelvis`` and which has every SMPL body joint under
    its exact SMPL name: the rigs Doppel's SMPL-family body job makes."""
    names = list(bone_names)
    return bool(names) and names[0] == "pelvis" and set(BODY_ROLES) <= set(names)


def can_apply_directly(kind: str, bone_names: Sequence[str]) -> bool:
    """A SMPL-family clip (SourceMotion.kind) onto a SMPL-family rig."""
    return kind in SMPL_CLIP_KINDS and is_smpl_rig(bone_names)


def rest_rotations(rest_matrices: np.ndarray) -> np.ndarray:
    """(B, 4, 4) or (B, 3, 3) bone -> armature rest frames -> (B, 4) unit quaternions."""
    m = np.asarray(rest_matrices, dtype=np.float64)[:, :3, :3]
    return Q.from_matrix(m / np.linalg.norm(m, axis=1, keepdims=True))


def locals_to_pose(local_quats: np.ndarray, clip_joints: Sequence[str],
                   bone_names: Sequence[str], rest_matrices: np.ndarray) -> np.ndarray:
    """(T, J, 4) clip joint rotations in Blender axes with identity rest frames (a
    SourceMotion's) -> (T, B, 4) pose quaternions ``C^T L C`` (w >= 0) for bones
    ``bone_names`` with (B, 4, 4) rest frames, matched by SMPL joint name; others stay at
    rest (identity)."""
    return _pose_from_locals(local_quats, clip_joints, bone_names,
                             rest_rotations(rest_matrices))


def _pose_from_locals(local_quats, clip_joints, bone_names, c: np.ndarray) -> np.ndarray:
    """:func:`locals_to_pose` with (B, 4) rest rotations ``c``."""
    q = np.asarray(local_quats, dtype=np.float64)
    index = {ALIASES.get(n, n): j for j, n in enumerate(clip_joints)}
    out = np.zeros((q.shape[0], len(bone_names), 4))
    out[..., 0] = 1.0
    for b, name in enumerate(bone_names):
        j = index.get(name)
        if j is not None:
            out[:, b] = Q.multiply(Q.multiply(Q.conjugate(c[b]), q[:, j]), c[b])
    out = Q.normalize(out)
    return np.where(out[..., :1] < 0, -out, out)


def pelvis_path(m: SourceMotion, pelvis_native: Sequence[float] | None) -> np.ndarray:
    """(T, 3) world pelvis positions for an avatar whose rest pelvis is ``pelvis_native``
    (SMPL axes, metres). The reader placed the clip's root at trans + the SMPL template's
    pelvis; the avatar's own pelvis replaces the template's. None keeps the template's."""
    if pelvis_native is None:
        return np.array(m.root_position, dtype=np.float64)
    return m.root_position + (np.asarray(pelvis_native, dtype=np.float64) - PELVIS_REST)


def apply_directly(m: SourceMotion, target: TargetRest, smpl_body: Mapping | None = None,
                   in_place: bool = False) -> DirectPose:
    """Pose ``target`` (a SMPL-family rig) with SMPL-family clip ``m`` (already resampled).
    ``smpl_body`` is the avatar's ``metadata["smpl"]`` (for its rest pelvis). Raises
    MotionError when the clip or the rig is not SMPL-family."""
    if not can_apply_directly(m.kind, target.names):
        raise MotionError(f"'{m.name}' cannot be applied directly: that needs an AMASS/SMPL "
                          "clip and an avatar made from a SMPL, SMPL-H or SMPL-X body.")
    warnings = []
    pelvis_native = (smpl_body or {}).get("pelvis_native")
    if pelvis_native is not None:
        pelvis_native = np.asarray(pelvis_native, dtype=np.float64).reshape(-1)
        if pelvis_native.shape != (3,) or not np.isfinite(pelvis_native).all():
            raise MotionError("The avatar's SMPL data has an unusable 'pelvis_native'; "
                              "rebuild the avatar with Doppel's body job.")
    else:
        warnings.append("The avatar does not record its SMPL pelvis; the clip's root follows "
                        "the SMPL template's, which may sit a few centimetres off.")
    rotations = Q.make_continuous(_pose_from_locals(m.rotations, m.skeleton.names,
                                                    target.names, target.rest_rot))
    offset = pelvis_path(m, pelvis_native) - target.heads[0]
    # Across the floor: start over the rest position (or stay there), as retargeting does.
    offset[:, :2] = 0.0 if in_place else offset[:, :2] - offset[:1, :2]
    location = Q.rotate(Q.conjugate(target.rest_rot[0]), offset)
    clip_names = {ALIASES.get(n, n) for n in m.skeleton.names}
    mapped = sorted(n for n in target.names if n in clip_names)
    return DirectPose(rotations=rotations, root_location=location, mapped=mapped,
                      warnings=warnings)
