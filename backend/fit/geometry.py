"""Camera and mesh geometry the fit shares across body models (torch): pinhole projection,
vertex normals, and the body's orientation from MediaPipe's world landmarks."""

from __future__ import annotations

import numpy as np
import torch


def vertex_normals(verts: torch.Tensor, faces: torch.Tensor) -> torch.Tensor:
    """(V, 3), (F, 3) -> (V, 3) unit area-weighted normals."""
    a, b, c = verts[faces[:, 0]], verts[faces[:, 1]], verts[faces[:, 2]]
    fn = torch.cross(b - a, c - a, dim=1)
    n = torch.zeros_like(verts)
    for k in range(3):
        n = n.index_add(0, faces[:, k], fn)
    return n / n.norm(dim=1, keepdim=True).clamp_min(1e-9)


def project(points: torch.Tensor, f: float, cx: float, cy: float) -> torch.Tensor:
    """(N, 3) camera-space points (OpenCV) -> (N, 2) pixels."""
    z = points[:, 2:3].clamp_min(1e-3)
    return torch.cat([f * points[:, :1] / z + cx, f * points[:, 1:2] / z + cy], dim=1)


def rotation_from_world_landmarks(world: np.ndarray, visibility: np.ndarray) -> np.ndarray:
    """MediaPipe's camera-aligned 3D landmarks -> (3, 3) rotation taking Anny's model axes
    (+X the person's left, +Z up, -Y forward) into the camera frame."""
    lh, rh, ls, rs = world[23], world[24], world[11], world[12]
    left = (lh - rh) + (ls - rs)
    up = 0.5 * (ls + rs) - 0.5 * (lh + rh)
    up /= max(np.linalg.norm(up), 1e-6)
    left = left - up * (left @ up)
    left /= max(np.linalg.norm(left), 1e-6)
    y = np.cross(up, left)            # model +Y = Z x X
    return np.stack([left, y, up], axis=1).astype(np.float32)
