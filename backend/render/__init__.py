"""Gaussian splats: one rasterise call with run-time backends (gsplat, diff-gaussian-rasterization,
a pure-torch reference), avatar -> skinned Gaussians, 3DGS .ply export and turntable previews.

Importing this package never needs a GPU or any optional backend.
"""

from .api import RenderResult, available_backends, rasterize_gaussians
from .camera import SplatCamera, orbit_camera, splat_camera

__all__ = ["RenderResult", "SplatCamera", "available_backends", "orbit_camera",
           "rasterize_gaussians", "splat_camera"]
