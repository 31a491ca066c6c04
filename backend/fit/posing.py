"""Pose a RiggedAvatar in numpy exactly as Blender will, and express it in its photo's camera.

Blender's rule for a pose bone c with parent p: M_c = M_p (R_p^-1 R_c) B_c, where R are rest
bone-to-armature matrices and B_c = rotation_quaternion (plus location for the root). Doppel's
Pose.location is an armature-space translation of the root: M_0 = T(location) R_0 B_0. Doing it
here without bpy lets the CLI write camera-space meshes and lets tests check the contract.
"""

from __future__ import annotations

import numpy as np
from scipy.spatial.transform import Rotation

from protocol import RiggedAvatar

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


def posed_bone_matrices(avatar: RiggedAvatar) -> np.ndarray:
    """(B, 4, 4) armature-space matrices of the posed bones (rest when there is no pose)."""
    sk = avatar.skeleton
    rest = sk.matrices.astype(np.float64)
    b = sk.bone_count
    basis = np.tile(np.eye(4), (b, 1, 1))
    loc = np.zeros(3)
    if avatar.pose is not None:
        q = avatar.pose.rotations.astype(np.float64)             # w, x, y, z
        basis[:, :3, :3] = Rotation.from_quat(q[:, [1, 2, 3, 0]]).as_matrix()
        loc = avatar.pose.location.astype(np.float64)
    out = np.zeros_like(rest)
    for c in range(b):
        p = int(sk.parents[c])
        if p < 0:
            m = rest[c] @ basis[c]
            m[:3, 3] += loc
        else:
            m = out[p] @ np.linalg.inv(rest[p]) @ rest[c] @ basis[c]
        out[c] = m
    return out


def posed_vertices(avatar: RiggedAvatar, layer: int = 0) -> np.ndarray:
    """(V, 3) armature-space vertices of a layer after linear blend skinning."""
    lay = avatar.layers[layer]
    skin = posed_bone_matrices(avatar) @ np.linalg.inv(avatar.skeleton.matrices.astype(np.float64))
    v = np.concatenate([lay.vertices.astype(np.float64), np.ones((len(lay.vertices), 1))], 1)
    mats = np.einsum("vk,vkij->vij", lay.skin_weights.astype(np.float64),
                     skin[lay.skin_indices])
    return np.einsum("vij,vj->vi", mats, v)[:, :3]


def posed_joints(avatar: RiggedAvatar) -> dict[str, np.ndarray]:
    """Named joints (see JOINTS / SMPL_JOINTS, plus "pelvis" between the hips), armature
    space, posed."""
    mats = posed_bone_matrices(avatar)
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
