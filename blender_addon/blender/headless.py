"""Headless conversion: .doppel files -> a saved .blend (+ an optional small Workbench render),
and a motion clip keyed onto an avatar. The server side's one way into the add-on (`doppel
blend`, `doppel animate`, the demo; an import-linter contract keeps it so); runs wherever
`bpy` imports (the bpy module or Blender -b)."""

from __future__ import annotations

import math
from pathlib import Path

import bpy

from .builder import build_avatar
from .framing import framing_camera
from .studio import add_studio
from .motion_writer import animate_blend
from .turntable import setup_turntable

__all__ = ["animate_blend", "build_blend", "render_workbench"]

RENDER_SIZE = 320     # pixels, square


def build_blend(avatars, out_blend, render_png=None, posed: bool = True,
                turntable_dir=None, turntable_frames: int = 12,
                turntable_resolution: int = 256) -> list[str]:
    """Build ``avatars`` (protocol.RiggedAvatar, already loaded and checked, so a bad file
    never leaves a half-made scene) side by side in a fresh scene, optionally render a still and a Workbench turntable
    (``turntable_frames`` PNGs in ``turntable_dir``, kept in the saved scene), and save
    ``out_blend``.
    Returns the avatar collection names."""
    bpy.ops.wm.read_factory_settings(use_empty=True)
    context = bpy.context
    names, built_all = [], []
    offset = 0.0
    for avatar in avatars:
        built = build_avatar(avatar, context, posed=posed, with_camera=False)
        lo, hi = _bounds_x(avatar)
        built.armature.location.x = offset - lo    # lay avatars out in a row along +X
        offset += (hi - lo) + 0.3
        names.append(built.collection.name)
        built_all.append(built)
    context.view_layer.update()
    if render_png is not None:
        meshes = [m for b in built_all for m in b.meshes.values()]
        render_workbench(context.scene, meshes, render_png)
    if turntable_dir is not None:
        meshes = [m for b in built_all for m in b.meshes.values()]
        table = setup_turntable(context, meshes, turntable_dir, frames=turntable_frames,
                                engine="WORKBENCH", resolution=turntable_resolution)
        for i in range(turntable_frames):
            table.render_frame(i)
    out = Path(out_blend).resolve()
    out.parent.mkdir(parents=True, exist_ok=True)
    bpy.ops.wm.save_as_mainfile(filepath=str(out), compress=True)
    return names


def _bounds_x(avatar) -> tuple[float, float]:
    xs = [float(v) for lay in avatar.layers for v in (lay.vertices[:, 0].min(),
                                                          lay.vertices[:, 0].max())]
    return min(xs), max(xs)


def render_workbench(scene, objects, png_path, size: int = RENDER_SIZE) -> None:
    """A small textured Workbench still of ``objects`` seen from the front, in the studio
    (cyclorama backdrop, light grey world)."""
    add_studio(scene, objects, lights=False)        # Workbench lights with its studio light
    cam, _, _ = framing_camera(scene, objects, elevation=math.radians(8.0))
    scene.camera = cam
    scene.render.engine = "BLENDER_WORKBENCH"
    scene.display.shading.light = "STUDIO"
    scene.display.shading.color_type = "TEXTURE"
    scene.display.shading.show_shadows = True
    scene.render.resolution_x = scene.render.resolution_y = size
    scene.render.resolution_percentage = 100
    scene.render.image_settings.file_format = "PNG"
    scene.render.film_transparent = False
    out = Path(png_path).resolve()
    out.parent.mkdir(parents=True, exist_ok=True)
    scene.render.filepath = str(out)
    bpy.ops.render.render(write_still=True)
