"""A motion clip as read from a file, normalised to Blender axes.

Every loader (AMASS/SMPL ``.npz``, BVH) returns a ``SourceMotion``: a joint tree whose rest
frames are all identity (true of SMPL and BVH: a joint's rotation turns the rest offsets of
its children), expressed in Blender axes (metres, Z up, -Y forward, +X the body's left), and
per-frame local joint rotations plus the root joint's world position.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .. import rotations as Q
from ..kinematics import forward_kinematics
from .errors import MotionError

# Roles: the joints retargeting understands, named as SMPL names them. Loaders tag the joints
# they can identify; bone maps attach target bones to roles.
BODY_ROLES = (
    "pelvis", "left_hip", "right_hip", "spine1", "left_knee", "right_knee", "spine2",
    "left_ankle", "right_ankle", "spine3", "left_foot", "right_foot", "neck", "left_collar",
    "right_collar", "head", "left_shoulder", "right_shoulder", "left_elbow", "right_elbow",
    "left_wrist", "right_wrist",
)


@dataclass
class SourceSkeleton:
    names: list[str]            # J joint names as in the file
    parents: np.ndarray         # (J,) int64, -1 for the root; parents come first
    rest: np.ndarray            # (J, 3) float64 rest joint positions, metres, Blender axes
    roles: dict[str, int] = field(default_factory=dict)   # role -> joint index

    @property
    def joint_count(self) -> int:
        return len(self.names)


@dataclass
class SourceMotion:
    name: str                   # clip name (file stem)
    skeleton: SourceSkeleton
    fps: float                  # source frames per second
    rotations: np.ndarray       # (T, J, 4) float64 local rotations (w, x, y, z), Blender axes
    root_position: np.ndarray   # (T, 3) float64 world position of joint 0, metres, Blender axes
    kind: str = ""              # "smplh", "smplx", "smpl", "body", "bvh"
    gender: str = ""            # as the file says, if it does
    unit: str = "m"             # length unit the file was written in (BVH: detected)
    warnings: list[str] = field(default_factory=list)

    @property
    def frame_count(self) -> int:
        return int(self.rotations.shape[0])

    @property
    def duration(self) -> float:
        """Seconds from the first to the last frame."""
        return (self.frame_count - 1) / self.fps


def check_motion(m: SourceMotion) -> SourceMotion:
    """Raise MotionError for clips nothing sensible can be made of."""
    t, j = m.rotations.shape[:2]
    if t == 0:
        raise MotionError(f"'{m.name}' has no frames of motion.")
    if not (np.isfinite(m.fps) and m.fps > 0):
        raise MotionError(f"'{m.name}' has frame rate {m.fps}; it must be a positive number.")
    if m.root_position.shape != (t, 3):
        raise MotionError(f"'{m.name}': root translation has {m.root_position.shape[0]} frames "
                          f"but the rotations have {t}.")
    if j != m.skeleton.joint_count:
        raise MotionError(f"'{m.name}': {j} joint rotations for {m.skeleton.joint_count} joints.")
    for what, arr in (("rotations", m.rotations), ("translations", m.root_position)):
        if not np.isfinite(arr).all():
            bad = int(np.nonzero(~np.isfinite(arr.reshape(t, -1)).all(axis=1))[0][0])
            raise MotionError(f"'{m.name}' contains NaN or infinite {what} (first at frame "
                              f"{bad}); re-export the clip.")
    return m


def world_transforms(m: SourceMotion) -> tuple[np.ndarray, np.ndarray]:
    """Forward kinematics: (T, J, 4) world rotations and (T, J, 3) world joint positions."""
    sk = m.skeleton
    root = int(np.nonzero(sk.parents < 0)[0][0])
    identity = np.tile([1.0, 0.0, 0.0, 0.0], (sk.joint_count, 1))      # joints have no rest turn
    return forward_kinematics(identity, sk.rest, sk.parents, m.rotations,
                              m.root_position - sk.rest[root])


def reframe(m: SourceMotion, world: np.ndarray, rest: np.ndarray) -> SourceMotion:
    """Change axes in place: ``world`` (4,) quaternion turns the file's world axes into
    Blender's, ``rest`` (4,) turns the file's rest-pose axes into Blender's. Joint world
    poses are unchanged; only the frames they are written in move."""
    sk = m.skeleton
    sk.rest = Q.rotate(rest, sk.rest)
    rest_inv = Q.conjugate(rest)
    # G' = world * G * rest^-1 for every joint's world rotation G, which makes each local
    # rest * L * rest^-1 and the root's world * L * rest^-1.
    m.rotations = Q.multiply(Q.multiply(rest, m.rotations), rest_inv)
    roots = sk.parents < 0
    m.rotations[:, roots] = Q.multiply(Q.multiply(world, rest_inv), m.rotations[:, roots])
    m.root_position = Q.rotate(world, m.root_position)
    return m
