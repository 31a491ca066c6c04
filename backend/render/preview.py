"""Turntable previews of an avatar rendered as Gaussian splats (fast thumbnails for batches)."""

from __future__ import annotations


import numpy as np

from protocol import Camera, Pose, RiggedAvatar

from .api import rasterize_gaussians
from .avatar_gaussians import (RENDER_EPS2D, AvatarGaussians, as_tensors, avatar_gaussians,
                               pose_gaussians)
from .camera import orbit_camera


def preview_gaussian_count(size: int) -> int:
    """About one Gaussian per pixel of a view keeps the surface closed at that size."""
    return int(min(100_000, max(5_000, size * size)))


def turntable_cameras(g: AvatarGaussians, views: int, size: int) -> list[Camera]:
    """``views`` cameras evenly around the Gaussians' bounding box, the first one in front."""
    lo, hi = g.means.min(0), g.means.max(0)
    center = (lo + hi) / 2.0
    extent = float(max(hi[2] - lo[2], np.linalg.norm(hi[:2] - lo[:2])))
    return [orbit_camera(center, extent, 2 * np.pi * i / views, size=size) for i in range(views)]


def render_turntable(avatar: RiggedAvatar, views: int = 8, size: int = 256,
                     pose: Pose | None = None, count: int | None = None,
                     background=(1.0, 1.0, 1.0), device: str = "cpu",
                     backend: str = "auto") -> list[np.ndarray]:
    """-> ``views`` (size, size, 4) uint8 RGBA images of ``avatar`` (in ``pose``, else its own
    pose, else rest), turning counter-clockwise seen from above, starting from the front.
    ``count`` Gaussians (default: :func:`preview_gaussian_count` for ``size``)."""
    import torch
    if views < 1 or size < 8:
        raise ValueError("a preview needs at least 1 view and 8 pixels")
    count = count or preview_gaussian_count(size)
    g = pose_gaussians(avatar_gaussians(avatar, count), avatar, pose or avatar.pose)
    t = as_tensors(g, device=device)
    out = []
    with torch.no_grad():
        for cam in turntable_cameras(g, views, size):
            r = rasterize_gaussians(**t, camera=cam, background=background, backend=backend,
                                   eps2d=RENDER_EPS2D)
            rgba = torch.cat([r.image, r.alpha[..., None]], -1).clamp(0, 1)
            out.append((rgba.cpu().numpy() * 255 + 0.5).astype(np.uint8))
    return out


def contact_sheet(images: list[np.ndarray]) -> np.ndarray:
    """Views side by side in one row: (H, W * views, 4)."""
    return np.concatenate(images, axis=1)
