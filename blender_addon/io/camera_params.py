"""protocol.Camera (pinhole intrinsics in pixels) -> Blender camera settings, without bpy.

Pixel convention: (cx, cy) measured from the image's top-left corner, y down (as OpenCV and
every photo library). Blender frames with a sensor of fixed width (HORIZONTAL fit), a focal
length in millimetres and a lens shift in units of the image width.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

SENSOR_WIDTH_MM = 36.0


@dataclass
class BlenderCameraSettings:
    lens_mm: float
    sensor_width_mm: float
    shift_x: float              # fraction of the image width
    shift_y: float
    resolution: tuple[int, int]  # (width, height) pixels
    pixel_aspect: tuple[float, float]  # (x, y); (1, 1) when fx == fy
    matrix_world: np.ndarray    # (4, 4) float64, camera looks down its -Z, +Y up


def camera_settings(fx: float, fy: float, cx: float, cy: float, width: int, height: int,
                    world_from_camera: np.ndarray) -> BlenderCameraSettings:
    # Non-square pixels: Blender stretches pixels instead of having two focal lengths.
    aspect = (1.0, fx / fy) if fy <= fx else (fy / fx, 1.0)
    return BlenderCameraSettings(
        lens_mm=float(fx) * SENSOR_WIDTH_MM / float(width),
        sensor_width_mm=SENSOR_WIDTH_MM,
        shift_x=(width / 2.0 - cx) / width,
        shift_y=(cy - height / 2.0) / width,
        resolution=(int(width), int(height)),
        pixel_aspect=aspect,
        matrix_world=np.asarray(world_from_camera, dtype=np.float64))


def project_points(settings: BlenderCameraSettings, points: np.ndarray) -> np.ndarray:
    """(N, 3) world points -> (N, 2) pixel coordinates (top-left origin, y down) as the
    Blender camera configured by ``settings`` would render them (square pixels)."""
    cam_from_world = np.linalg.inv(settings.matrix_world)
    p = (np.asarray(points, dtype=np.float64) @ cam_from_world[:3, :3].T) + cam_from_world[:3, 3]
    w, h = settings.resolution
    f = settings.lens_mm / settings.sensor_width_mm * w
    depth = -p[:, 2]
    u = w / 2.0 - settings.shift_x * w + f * p[:, 0] / depth
    v = h / 2.0 + settings.shift_y * w - f * p[:, 1] / depth
    return np.stack([u, v], axis=1)
