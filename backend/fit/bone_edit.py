"""Small corrections to a posed avatar's bones, stated in camera terms: "turn this bone by R
in the photo's camera" becomes the Blender pose rotation that does it (rig core maths).

Used after the body fit by the face-driven head (head.py) and the hands (hands.py): they
estimate where a bone should point in the camera, compare with where the fit put it, and
turn it by the (bounded) difference.
"""

from __future__ import annotations

import numpy as np

from rig import rotations as Q
from rig.avatar_pose import posed_bone_matrices

from .posing import camera_from_world


def camera_rotations(avatar) -> np.ndarray:
    """(B, 3, 3) posed bone orientations in the photo's OpenCV camera frame."""
    mats = posed_bone_matrices(avatar.skeleton, avatar.pose)
    return camera_from_world(avatar)[:3, :3] @ mats[:, :3, :3]


def camera_deltas(avatar) -> np.ndarray:
    """(B, 3, 3) per bone: the rotation taking rest armature directions to camera directions
    (posed camera orientation times the rest orientation's inverse). Bone-frame free, so
    it compares across rigs whose bones have other rest frames (e.g. the dev sets' truth)."""
    rest = np.asarray(avatar.skeleton.matrices, np.float64)[:, :3, :3]
    return camera_rotations(avatar) @ np.transpose(rest, (0, 2, 1))


def turn_bone(avatar, name: str, turn_cam: np.ndarray) -> None:
    """Turn bone ``name`` (and so its children) about its head by the camera-frame rotation
    ``turn_cam`` (3, 3): G' = W G in armature space, so the local pose rotation becomes
    L' = L G^T W G (G the bone's posed orientation, W the turn in armature axes)."""
    i = avatar.skeleton.names.index(name)
    cam = camera_from_world(avatar)[:3, :3]
    g = posed_bone_matrices(avatar.skeleton, avatar.pose)[i, :3, :3]
    w = cam.T @ turn_cam @ cam
    local = Q.to_matrix(avatar.pose.rotations[i].astype(np.float64))
    avatar.pose.rotations[i] = Q.from_matrix(local @ g.T @ w @ g).astype(np.float32)


def set_local(avatar, name: str, rotvec: np.ndarray) -> None:
    """Set bone ``name``'s pose rotation to the axis-angle ``rotvec`` (its rest frame)."""
    i = avatar.skeleton.names.index(name)
    avatar.pose.rotations[i] = Q.from_axis_angle(np.asarray(rotvec, np.float64)).astype(
        np.float32)


def bounded(rot: np.ndarray, max_deg: float) -> np.ndarray:
    """The rotation ``rot`` (3, 3) with its angle capped at ``max_deg`` (same axis)."""
    aa = Q.matrix_to_axis_angle(rot)
    ang = float(np.linalg.norm(aa))
    cap = np.radians(max_deg)
    if ang > cap:
        aa = aa * (cap / ang)
    return Q.axis_angle_to_matrix(aa)


def angle_deg(rot: np.ndarray) -> float:
    """Rotation angle of (3, 3) ``rot`` in degrees."""
    return float(np.degrees(np.arccos(np.clip((np.trace(rot) - 1.0) / 2.0, -1.0, 1.0))))


def ray_rotation(u: float, v: float, camera, work_scale: float = 1.0) -> np.ndarray:
    """(3, 3) rotation taking the optical axis onto the viewing ray through working-image
    pixel (u, v). An orientation a detector reads off a crop (weak perspective: the crop
    is seen straight on) is relative to that ray, not to the optical axis."""
    fx, fy = camera.fx * work_scale, camera.fy * work_scale
    cx, cy = camera.cx * work_scale, camera.cy * work_scale
    ray = np.array([(u - cx) / fx, (v - cy) / fy, 1.0])
    return Q.to_matrix(Q.between(np.array([0.0, 0.0, 1.0]), ray))


def similarity_rotation(src: np.ndarray, dst: np.ndarray, weights: np.ndarray | None = None
                        ) -> tuple[np.ndarray, float, float]:
    """Umeyama/Kabsch: rotation R (3, 3, det +1) and scale s with dst ~ s R src + t, and the
    weighted RMS residual over the RMS spread of dst (0 = exact fit)."""
    w = np.ones(len(src)) if weights is None else np.asarray(weights, np.float64)
    w = w / w.sum()
    ms, md = w @ src, w @ dst
    a, b = src - ms, dst - md
    u, sv, vt = np.linalg.svd((b * w[:, None]).T @ a)
    d = np.diag([1.0, 1.0, np.sign(np.linalg.det(u @ vt))])
    r = u @ d @ vt
    s = float((sv * np.diag(d)).sum() / max(w @ (a * a).sum(1), 1e-12))
    res = b - s * a @ r.T
    spread = np.sqrt(w @ (b * b).sum(1))
    return r, s, float(np.sqrt(w @ (res * res).sum(1)) / max(spread, 1e-12))
