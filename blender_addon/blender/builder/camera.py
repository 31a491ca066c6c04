"""Pass: optional photo camera -> a Blender camera that sees the avatar as the photo did, with
the source photo as its background image."""

from __future__ import annotations

import bpy
from mathutils import Matrix

from ...io.camera_params import camera_settings
from .material import image_from_bytes


def build_camera(avatar, name: str, collection, scene):
    cam = avatar.camera
    s = camera_settings(cam.fx, cam.fy, cam.cx, cam.cy, cam.width, cam.height,
                        cam.world_from_camera)
    data = bpy.data.cameras.new(name)
    data.sensor_fit = "HORIZONTAL"
    data.sensor_width = s.sensor_width_mm
    data.lens = s.lens_mm
    data.shift_x, data.shift_y = s.shift_x, s.shift_y
    data.clip_start, data.clip_end = 0.01, 1000.0
    obj = bpy.data.objects.new(name, data)
    obj.matrix_world = Matrix(s.matrix_world.tolist())
    collection.objects.link(obj)
    if avatar.source_image:
        bg = data.background_images.new()
        bg.image = image_from_bytes(avatar.source_image, f"{name}_photo")
        bg.alpha = 0.6
        data.show_background_images = True
    if scene.camera is None:
        # The first photo camera frames the render like the photo.
        scene.camera = obj
        scene.render.resolution_x, scene.render.resolution_y = s.resolution
        scene.render.pixel_aspect_x, scene.render.pixel_aspect_y = s.pixel_aspect
    return obj
