"""Turntable renders: a camera orbiting an avatar (radius fitted to its bounds), three-point
lighting, a seamless cyclorama backdrop in a light grey world (studio.py), rendered frame by
frame into a PNG sequence (optionally an MP4 through Blender's FFmpeg output). Frame-by-frame so a modal operator can show progress
and cancel between frames; the avatar's own animation plays along (frame_set per frame).

Everything it adds lives in the "Doppel Turntable" collection, replaced on the next setup.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import bpy

from .framing import fit_distance, look_at, orbit_position, world_bounds
from .studio import add_cyclorama, add_three_point_lights, set_world

COLLECTION = "Doppel Turntable"
ENGINES = {"WORKBENCH": "BLENDER_WORKBENCH", "EEVEE": "BLENDER_EEVEE", "CYCLES": "CYCLES"}


@dataclass
class Turntable:
    scene: object
    camera: object
    centre: tuple
    distance: float
    elevation: float
    frames: int
    frame_start: int
    output_dir: Path

    def frame_path(self, i: int) -> Path:
        return self.output_dir / f"turntable_{i:04d}.png"

    def render_frame(self, i: int) -> Path:
        """Render orbit step ``i`` (0..frames-1) to its PNG."""
        scene = self.scene
        scene.frame_set(self.frame_start + i)
        scene.render.image_settings.file_format = "PNG"
        scene.render.filepath = str(self.frame_path(i))
        bpy.ops.render.render(write_still=True)
        return self.frame_path(i)


def setup_turntable(context, objects, output_dir, frames: int = 72,
                    elevation: float = math.radians(10.0), engine: str = "WORKBENCH",
                    resolution: int = 512, floor: bool = True) -> Turntable:
    """Camera orbit (keyed, one full turn over ``frames`` frames starting at the scene's
    frame_start), lights and floor around ``objects``; render settings for ``engine`` (one of
    WORKBENCH, EEVEE, CYCLES) at ``resolution`` pixels square."""
    if frames < 1:
        raise ValueError("a turntable needs at least one frame")
    scene = context.scene
    remove_turntable()
    coll = bpy.data.collections.new(COLLECTION)
    scene.collection.children.link(coll)
    lo, hi = world_bounds(objects)
    centre = tuple(float(c) for c in (lo + hi) / 2.0)
    distance = fit_distance(lo, hi)

    cam_data = bpy.data.cameras.new("Turntable Camera")
    cam_data.lens = 50.0
    cam_data.clip_end = max(100.0, distance * 4)
    camera = bpy.data.objects.new("Turntable Camera", cam_data)
    coll.objects.link(camera)
    start = scene.frame_start
    for i in range(frames):
        azimuth = 2.0 * math.pi * i / frames
        camera.matrix_world = look_at(orbit_position(centre, distance, azimuth, elevation),
                                      centre)
        camera.keyframe_insert("location", frame=start + i)
        camera.keyframe_insert("rotation_euler", frame=start + i)
    scene.camera = camera
    scene.frame_end = start + frames - 1
    _three_point_lights(coll, centre, distance)
    if floor:
        _floor(coll, lo, hi, distance)
    _render_settings(scene, engine, resolution)
    out = Path(bpy.path.abspath(str(output_dir))).resolve()
    out.mkdir(parents=True, exist_ok=True)
    return Turntable(scene, camera, centre, distance, elevation, frames, start, out)


def remove_turntable() -> None:
    coll = bpy.data.collections.get(COLLECTION)
    if coll is None:
        return
    for obj in list(coll.objects):
        data = obj.data
        bpy.data.objects.remove(obj)
        mats = list(data.materials) if data is not None and data.id_type == "MESH" else []
        if data is not None and data.users == 0:
            {"CAMERA": bpy.data.cameras, "LIGHT": bpy.data.lights,
             "MESH": bpy.data.meshes}[data.id_type].remove(data)
        for mat in mats:
            if mat is not None and mat.users == 0:
                bpy.data.materials.remove(mat)
    bpy.data.collections.remove(coll)


def render_movie(turntable: Turntable, path) -> Path:
    """Render the whole orbit again as an H.264 MP4 (Blender's FFmpeg output)."""
    scene = turntable.scene
    settings = scene.render.image_settings
    if hasattr(settings, "media_type"):        # Blender 5.0 splits images from videos
        settings.media_type = "VIDEO"
    settings.file_format = "FFMPEG"
    scene.render.ffmpeg.format = "MPEG4"
    scene.render.ffmpeg.codec = "H264"
    out = Path(path).resolve()
    scene.render.filepath = str(out)
    scene.render.use_file_extension = False
    try:
        bpy.ops.render.render(animation=True)
    finally:
        if hasattr(settings, "media_type"):
            settings.media_type = "IMAGE"
        settings.file_format = "PNG"
        scene.render.use_file_extension = True
    return out


def _three_point_lights(coll, centre, distance: float) -> None:
    add_three_point_lights(coll, centre, distance)


def _floor(coll, lo, hi, distance: float) -> None:
    add_cyclorama(coll, lo, hi, distance, "Turntable Backdrop")
    set_world(bpy.context.scene)


def _render_settings(scene, engine: str, resolution: int) -> None:
    if engine not in ENGINES:
        raise ValueError(f"engine must be one of {', '.join(ENGINES)}, got {engine!r}")
    render = scene.render
    render.engine = ENGINES[engine]
    render.resolution_x = render.resolution_y = int(resolution)
    render.resolution_percentage = 100
    render.film_transparent = False                  # the backdrop and world show behind
    if engine == "WORKBENCH":
        scene.display.shading.light = "STUDIO"
        scene.display.shading.color_type = "TEXTURE"
    elif engine == "CYCLES":
        scene.cycles.device = "CPU"
        scene.cycles.samples = 32
        scene.cycles.use_denoising = False
