"""Pass: optional Pose -> pose bones (local quaternions + root translation)."""

from __future__ import annotations

import numpy as np


def apply_pose(armature_obj, skeleton, pose) -> None:
    bones = armature_obj.pose.bones
    for pb in bones:
        pb.rotation_mode = "QUATERNION"
    quats = np.asarray(pose.rotations, dtype=np.float32)
    quats = quats / np.linalg.norm(quats, axis=1, keepdims=True)
    # Blender orders pose bones depth-first, which need not be the skeleton's order (SMPL's
    # is breadth-first): match by name.
    index = {name: i for i, name in enumerate(skeleton.names)}
    order = np.array([index[pb.name] for pb in bones])
    bones.foreach_set("rotation_quaternion", np.ascontiguousarray(quats[order]).ravel())
    # pose_bone.location is in the bone's rest frame; Pose.location is in armature space.
    for b in np.flatnonzero(np.asarray(skeleton.parents) < 0):
        rest_rot = np.asarray(skeleton.matrices[b][:3, :3], dtype=np.float64)
        bones[skeleton.names[int(b)]].location = rest_rot.T @ np.asarray(pose.location,
                                                                         dtype=np.float64)
