"""Pose an avatar's layers with its body model's own forward kinematics: the body as the model
skins it, and every other layer with linear blend skinning under the same bone transforms
(what Blender's armature modifier does). Used by the poke-through checks.

Poses are given as world-axis rotations per bone (axis-angle, radians, applied about the
bone's head in its rest orientation), e.g. {"upperleg01.L": (-0.4, 0, 0)} swings the left leg
forward (-X rotation lifts a downward limb towards -Y, the front).
"""

from __future__ import annotations

from typing import Mapping

import numpy as np

from protocol import RiggedAvatar
from rig import rotations as Q

FIXED_POSES: dict[str, dict[str, tuple[float, float, float]]] = {
    "walk": {"upperleg01.L": (-0.45, 0, 0), "upperleg01.R": (0.3, 0, 0),
             "lowerleg01.R": (0.5, 0, 0), "lowerleg01.L": (0.15, 0, 0),
             "upperarm01.L": (0.35, 0, 0), "upperarm01.R": (-0.35, 0, 0)},
    "stride_wide": {"upperleg01.L": (0, -0.25, 0), "upperleg01.R": (0, 0.25, 0)},
    "knee_lift": {"upperleg01.L": (-0.7, 0, 0), "lowerleg01.L": (0.9, 0, 0)},
    "reach": {"upperarm01.L": (-0.8, 0, 0.3), "upperarm01.R": (-0.5, 0, -0.3),
              "lowerarm01.L": (0, 0, 0.6), "spine02": (0, 0, 0.25), "neck02": (0, 0, 0.35)},
    "bow": {"spine03": (0.25, 0, 0), "spine02": (0.15, 0, 0), "neck01": (0.2, 0, 0)},
}


def local_rotations(avatar: RiggedAvatar, pose: Mapping[str, tuple[float, float, float]]
                    ) -> np.ndarray:
    """World-axis rotations per bone name -> (B, 4) local quaternions (w, x, y, z), the form
    Blender's pose bones (and protocol.Pose) use."""
    names = avatar.skeleton.names
    quats = np.zeros((len(names), 4))
    quats[:, 0] = 1.0
    for bone, rotvec in pose.items():
        j = names.index(bone)
        r_rest = avatar.skeleton.matrices[j, :3, :3].astype(np.float64)
        quats[j] = Q.from_matrix(r_rest.T @ Q.axis_angle_to_matrix(np.asarray(rotvec)) @ r_rest)
    return quats


def bone_transforms(avatar: RiggedAvatar, pose: Mapping[str, tuple[float, float, float]] |
                    np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Pose as world-axis rotations per bone, or (B, 4) local quaternions (w, x, y, z) ->
    ((B, 4, 4) armature-space skinning transforms, posed body vertices (V, 3)), both in
    the avatar's frame (feet on z = 0 at rest; the root stays in place)."""
    from ..bodies import DEFAULT_BODY_MODEL, get_body_model
    model = get_body_model(avatar.metadata.get("body_model", DEFAULT_BODY_MODEL))
    quats = local_rotations(avatar, pose) if isinstance(pose, Mapping) else np.asarray(pose)
    return model.pose_bones(avatar.metadata["params"], quats)


# --- the pose a generated avatar is delivered in ----------------------------------------------

STANDING_POSES = ("a", "t", "relaxed", "walk", "contrapposto")


def _arm_drop(avatar: RiggedAvatar, side: str) -> float:
    """Angle (radians) of the rest upper arm below the horizontal."""
    names, heads = avatar.skeleton.names, avatar.skeleton.heads
    d = heads[names.index(f"lowerarm01.{side}")] - heads[names.index(f"upperarm01.{side}")]
    return float(np.arctan2(-d[2], abs(d[0])))


def standing_pose(avatar: RiggedAvatar, name: str, rng: np.random.Generator
                  ) -> dict[str, tuple[float, float, float]]:
    """World-axis rotations per bone for a STANDING_POSES name, with a seeded touch of
    variation; "a" is the rest pose (empty). Arm angles come from the avatar's own rest arms,
    so a T-pose is level for every body."""
    if name == "a":
        return {}
    jitter = float(rng.uniform(-1.0, 1.0))
    out: dict[str, tuple[float, float, float]] = {}
    for side, sign in (("L", 1.0), ("R", -1.0)):
        drop = _arm_drop(avatar, side)
        if name == "t":                       # raise to level: about -Y for the left arm
            out[f"upperarm01.{side}"] = (0.0, -sign * drop, 0.0)
        elif name in ("relaxed", "contrapposto"):
            down = np.radians(80.0 + 2.0 * jitter)      # arms near the sides, clear of hips
            out[f"upperarm01.{side}"] = (0.0, sign * (down - drop), 0.0)
            out[f"lowerarm01.{side}"] = (-0.15, 0.0, 0.0)   # elbows soft, hands forward
    if name == "walk":
        out.update(FIXED_POSES["walk"])
    if name == "contrapposto":                # weight on the right leg, hips and head turn
        out.update({"upperleg01.L": (-0.12, 0.08, 0.0), "lowerleg01.L": (0.22, 0.0, 0.0),
                    "spine04": (0.0, 0.05, 0.0), "neck02": (0.0, 0.0, 0.12 * (1 + jitter / 3))})
    return out
