"""A posed RiggedAvatar's joints and vertices (posed by the rig core exactly as Blender will),
expressed in its photo's camera: what the CLI's camera-space meshes and the tests use."""

from __future__ import annotations

import numpy as np

from protocol import FACE_ROLES, RiggedAvatar
from rig.avatar_pose import posed_bone_matrices, posed_layer_vertices, skinning_matrices
from rig.skinning import linear_blend_skinning

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


def posed_layers(avatar: RiggedAvatar, face_parts: bool = False
                 ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The whole dressed avatar as one posed mesh: every layer (body, top, bottom, outerwear,
    shoes, hair, ...) skinned with its own weights, armature space. Returns (V, 3) vertices,
    (F, 3) triangles (quads split) and (F,) the layer index of each triangle. The face parts
    (eyes, lashes, brows, teeth, tongue) are left out unless ``face_parts``: they sit inside
    or on the head and only add noise to silhouettes and surface distances."""
    skin = skinning_matrices(avatar.skeleton, avatar.pose)
    verts, tris, owner, base = [], [], [], 0
    for i, lay in enumerate(avatar.layers):
        if (lay.role in FACE_ROLES and not face_parts) or not len(lay.faces):
            continue
        v = linear_blend_skinning(lay.vertices, lay.skin_indices, lay.skin_weights, skin)
        f = np.asarray(lay.faces, np.int64)
        if f.shape[1] == 4:
            f = np.concatenate([f[:, [0, 1, 2]], f[:, [0, 2, 3]]])
        verts.append(v)
        tris.append(f + base)
        owner.append(np.full(len(f), i, np.int32))
        base += len(v)
    return np.concatenate(verts), np.concatenate(tris), np.concatenate(owner)


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


def camera_space_mesh(avatar: RiggedAvatar, face_parts: bool = False
                      ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """posed_layers in the photo's OpenCV camera frame (metres)."""
    v, tri, owner = posed_layers(avatar, face_parts)
    return to_camera(v, camera_from_world(avatar)), tri, owner
