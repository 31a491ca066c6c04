"""Cameras that frame objects: bounds in world space and a camera placed to see them whole.
Shared by headless renders and turntables."""

from __future__ import annotations

import math

import bpy
import numpy as np
from mathutils import Matrix, Vector


def world_bounds(objects) -> tuple[np.ndarray, np.ndarray]:
    """(min (3,), max (3,)) of the objects' evaluated bounding boxes, metres."""
    corners = [np.array([obj.matrix_world @ Vector(c) for c in obj.bound_box])
               for obj in objects if obj.type in {"MESH", "CURVE", "SURFACE", "FONT"}]
    if not corners:
        return np.zeros(3), np.ones(3)
    pts = np.concatenate(corners)
    return pts.min(0), pts.max(0)


def fit_distance(lo: np.ndarray, hi: np.ndarray, lens_mm: float = 50.0,
                 sensor_mm: float = 36.0, margin: float = 1.15) -> float:
    """Distance from the bounds' centre at which a camera sees the bounding sphere whole."""
    radius = float(np.linalg.norm(hi - lo)) / 2.0
    half_fov = math.atan(sensor_mm / 2.0 / lens_mm)
    return max(radius * margin / math.sin(half_fov), 0.1)


def look_at(position, target) -> Matrix:
    """World matrix of a camera at ``position`` looking at ``target`` with world Z up."""
    direction = Vector(target) - Vector(position)
    rot = direction.to_track_quat("-Z", "Y").to_matrix().to_4x4()
    rot.translation = Vector(position)
    return rot


def framing_camera(scene, objects, name: str = "Doppel Camera", azimuth: float = 0.0,
                   elevation: float = math.radians(10.0), lens_mm: float = 50.0):
    """A camera object (linked to the scene) looking at ``objects`` from the front (-Y),
    turned by ``azimuth`` radians about Z and raised by ``elevation``. Returns
    (camera object, centre (3,), distance)."""
    lo, hi = world_bounds(objects)
    centre = (lo + hi) / 2.0
    dist = fit_distance(lo, hi, lens_mm)
    data = bpy.data.cameras.new(name)
    data.lens = lens_mm
    data.clip_end = max(100.0, dist * 4)
    cam = bpy.data.objects.new(name, data)
    scene.collection.objects.link(cam)
    cam.matrix_world = look_at(orbit_position(centre, dist, azimuth, elevation), centre)
    return cam, centre, dist


def orbit_position(centre, distance: float, azimuth: float, elevation: float) -> Vector:
    """Point at ``distance`` from ``centre``; azimuth 0 is in front (-Y), counter-clockwise."""
    c = Vector(tuple(float(x) for x in centre))
    return c + distance * Vector((math.sin(azimuth) * math.cos(elevation),
                                  -math.cos(azimuth) * math.cos(elevation),
                                  math.sin(elevation)))
