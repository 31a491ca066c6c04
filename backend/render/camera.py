"""Cameras for splatting: protocol.Camera (Blender convention) -> OpenCV view matrix + K.

Pixel convention (same as protocol.Camera, gsplat and OpenCV): (cx, cy) from the image's
top-left corner, y down, pixel (i, j) covers [i, i+1) x [j, j+1) so its centre is i + 0.5.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from protocol import Camera

# Blender cameras look down -Z with +Y up; OpenCV (and every splat rasteriser) looks down +Z
# with +Y down. Flipping Y and Z converts one camera frame into the other.
_BLENDER_TO_OPENCV = np.diag([1.0, -1.0, -1.0, 1.0])


@dataclass(frozen=True)
class SplatCamera:
    """A pinhole camera as rasterisers want it."""

    viewmat: np.ndarray   # (4, 4) float64, OpenCV camera-from-world (x right, y down, z forward)
    K: np.ndarray         # (3, 3) float64 intrinsics in pixels
    width: int
    height: int

    @property
    def center(self) -> np.ndarray:
        """(3,) camera position in world space, metres."""
        return np.linalg.inv(self.viewmat)[:3, 3]


def splat_camera(cam: Camera) -> SplatCamera:
    """protocol.Camera (world_from_camera in Blender's convention) -> SplatCamera."""
    viewmat = _BLENDER_TO_OPENCV @ np.linalg.inv(np.asarray(cam.world_from_camera, np.float64))
    K = np.array([[cam.fx, 0.0, cam.cx], [0.0, cam.fy, cam.cy], [0.0, 0.0, 1.0]])
    return SplatCamera(viewmat=viewmat, K=K, width=int(cam.width), height=int(cam.height))


def look_at(eye: np.ndarray, target: np.ndarray, up=(0.0, 0.0, 1.0)) -> np.ndarray:
    """(4, 4) world_from_camera of a Blender camera at ``eye`` looking at ``target``, Z up."""
    eye, target = np.asarray(eye, np.float64), np.asarray(target, np.float64)
    back = eye - target
    back /= np.linalg.norm(back)
    right = np.cross(np.asarray(up, np.float64), back)
    if np.linalg.norm(right) < 1e-9:       # looking straight up or down: any right will do
        right = np.cross((0.0, 1.0, 0.0), back)
    right /= np.linalg.norm(right)
    m = np.eye(4)
    m[:3, 0], m[:3, 1], m[:3, 2], m[:3, 3] = right, np.cross(back, right), back, eye
    return m


def orbit_camera(center: np.ndarray, height_m: float, azimuth_rad: float, size: int = 256,
                 fov_deg: float = 30.0, margin: float = 1.15) -> Camera:
    """A square protocol.Camera on a horizontal circle around ``center`` (metres, Z up) that
    frames an object ``height_m`` tall. Azimuth 0 looks at the front (from -Y towards +Y),
    positive azimuth turns the camera counter-clockwise seen from above."""
    f = 0.5 * size / np.tan(np.radians(fov_deg) / 2.0)
    distance = margin * 0.5 * height_m / np.tan(np.radians(fov_deg) / 2.0)
    c = np.asarray(center, np.float64)
    eye = c + distance * np.array([np.sin(azimuth_rad), -np.cos(azimuth_rad), 0.0])
    return Camera(fx=f, fy=f, cx=size / 2.0, cy=size / 2.0, width=size, height=size,
                  world_from_camera=look_at(eye, c).astype(np.float32))
