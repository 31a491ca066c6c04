"""A posed RiggedAvatar's joints and vertices (posed by the rig core exactly as Blender will),
expressed in its photo's camera: what the CLI's camera-space meshes and the tests use."""

from __future__ import annotations

import numpy as np

from protocol import RiggedAvatar
from rig.avatar_pose import posed_bone_matrices, posed_layer_vertices

# Output joint name -> (bone, where): "head" = bone head, "mid" = midpoint of head and tail.
# Anny's bones; SMPL-family skeletons use SMPL_JOINTS.
JOINTS = {
    "neck": ("neck01", "head"), "head": ("head", "mid"),
    "left_hip": ("upperleg01.L", "head"), "right_hip": ("upperleg01.R", "head"),
    "left_knee": ("lowerleg01.L", "head"), "right_knee": ("lowerleg01.R", "head"),
    "left_ankle": ("foot.L", "head"), "right_ankle": ("foot.R", "head"),
    "left_shoulder": ("upperarm01.L", "head"), "right_shoulder": ("upperarm01.R", "head"),
    "left_elbow": ("lowerarm01.L", "head"), "right_elbow": ("lowerarm01.R", "head"),
    "left_wrist": ("wrist.L", "head"), "right_wrist": ("wrist.R", "head"),
}
SMPL_JOINTS = {"neck": ("neck", "head"), "head": ("head", "mid"),
               **{f"{side}_{j}": (f"{side}_{s}", "head") for side in ("left", "right")
                  for j, s in (("hip", "hip"), ("knee", "knee"), ("ankle", "ankle"),
                               ("shoulder", "shoulder"), ("elbow", "elbow"),
                               ("wrist", "wrist"))}}
CV_FROM_BLENDER_CAM = np.diag([1.0, -1.0, -1.0, 1.0])   # OpenCV camera axes <-> Blender's


def posed_vertices(avatar: RiggedAvatar, layer: int = 0) -> np.ndarray:
    """(V, 3) armature-space vertices of a layer after linear blend skinning."""
    return posed_layer_vertices(avatar.skeleton, avatar.pose, avatar.layers[layer])


def posed_joints(avatar: RiggedAvatar) -> dict[str, np.ndarray]:
    """Named joints (see JOINTS / SMPL_JOINTS, plus "pelvis" between the hips), armature
    space, posed."""
    mats = posed_bone_matrices(avatar.skeleton, avatar.pose)
    sk = avatar.skeleton
    rel = mats @ np.linalg.inv(sk.matrices.astype(np.float64))
    out = {}
    table = JOINTS if JOINTS["neck"][0] in sk.names else SMPL_JOINTS
    for name, (bone, where) in table.items():
        i = sk.names.index(bone)
        head = (rel[i] @ np.append(sk.heads[i], 1.0))[:3]
        tail = (rel[i] @ np.append(sk.tails[i], 1.0))[:3]
        out[name] = head if where == "head" else 0.5 * (head + tail)
    out["pelvis"] = 0.5 * (out["left_hip"] + out["right_hip"])
    return out


def camera_from_world(avatar: RiggedAvatar) -> np.ndarray:
    """(4, 4) OpenCV camera (x right, y down, z forward) from armature/world space."""
    if avatar.camera is None:
        raise ValueError("this avatar has no camera")
    world_from_cv = avatar.camera.world_from_camera.astype(np.float64) @ CV_FROM_BLENDER_CAM
    return np.linalg.inv(world_from_cv)


def to_camera(points: np.ndarray, cam_from_world: np.ndarray) -> np.ndarray:
    return points @ cam_from_world[:3, :3].T + cam_from_world[:3, 3]


def project_to_photo(avatar: RiggedAvatar, points_world: np.ndarray) -> np.ndarray:
    """(N, 3) world points -> (N, 2) pixels of the original photo."""
    cam = avatar.camera
    p = to_camera(points_world, camera_from_world(avatar))
    z = np.maximum(p[:, 2], 1e-6)
    return np.stack([cam.fx * p[:, 0] / z + cam.cx, cam.fy * p[:, 1] / z + cam.cy], axis=1)
