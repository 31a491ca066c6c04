"""A photo studio around avatars: a seamless cyclorama (a round floor that curves up into a
wall all around, so every turntable angle sees backdrop, never sky), a light grey world, and
three-point lighting (key, fill, rim). Used by turntables and headless previews."""

from __future__ import annotations

import math

import bpy
import numpy as np

from .framing import fit_distance, look_at, orbit_position, world_bounds

WORLD_COLOR = (0.7, 0.7, 0.72)       # linear: light grey around the backdrop, no black sky
WORLD_STRENGTH = 0.15                # EEVEE/Cycles: a soft ambient inside the cyclorama
LIGHT_POWER = 40.0                   # watts per square metre of camera distance (key light)
BACKDROP_COLOR = (0.46, 0.46, 0.47, 1.0)
SEGMENTS = 64                        # around the cyclorama
COVE_STEPS = 8                       # along the quarter circle between floor and wall


def cyclorama_profile(floor_radius: float, cove: float, height: float) -> np.ndarray:
    """(P, 2) (radius, z) points of the backdrop's cross-section, metres: flat floor out to
    ``floor_radius``, a quarter circle of radius ``cove`` up into a wall of ``height``."""
    pts = [(0.0, 0.0), (floor_radius * 0.5, 0.0)]
    for i in range(COVE_STEPS + 1):
        a = 0.5 * math.pi * i / COVE_STEPS
        pts.append((floor_radius + cove * math.sin(a), cove * (1.0 - math.cos(a))))
    pts.append((floor_radius + cove, height))
    return np.asarray(pts)


def add_cyclorama(coll, lo, hi, distance: float, name: str = "Studio Backdrop"):
    """A revolved cyclorama mesh centred under ``lo``/``hi`` (world bounds, (3,)) with its
    floor at the lowest point; wide enough that a camera at ``distance`` stays inside."""
    profile = cyclorama_profile(distance * 1.6, distance * 0.6, distance * 2.5)
    cx, cy, z0 = float(lo[0] + hi[0]) / 2.0, float(lo[1] + hi[1]) / 2.0, float(lo[2])
    ang = np.linspace(0.0, 2.0 * math.pi, SEGMENTS, endpoint=False)
    r, z = profile[1:, 0], profile[1:, 1]
    ring = np.stack([cx + r[:, None] * np.cos(ang), cy + r[:, None] * np.sin(ang),
                     z0 + np.broadcast_to(z[:, None], (len(r), SEGMENTS))], axis=-1)
    verts = [(cx, cy, z0)] + [tuple(p) for p in ring.reshape(-1, 3).tolist()]
    faces = [(0, 1 + (j + 1) % SEGMENTS, 1 + j) for j in range(SEGMENTS)]   # centre fan
    for i in range(len(r) - 1):
        a, b = 1 + i * SEGMENTS, 1 + (i + 1) * SEGMENTS
        faces += [(a + j, a + (j + 1) % SEGMENTS, b + (j + 1) % SEGMENTS, b + j)
                  for j in range(SEGMENTS)]
    me = bpy.data.meshes.new(name)
    me.from_pydata(verts, [], faces)
    me.shade_smooth()
    mat = bpy.data.materials.new(name)
    if mat.node_tree is None:
        mat.use_nodes = True
    bsdf = next((n for n in mat.node_tree.nodes if n.type == "BSDF_PRINCIPLED"), None)
    if bsdf is not None:
        bsdf.inputs["Base Color"].default_value = BACKDROP_COLOR
        bsdf.inputs["Roughness"].default_value = 0.9
    mat.diffuse_color = BACKDROP_COLOR
    me.materials.append(mat)
    obj = bpy.data.objects.new(name, me)
    # Workbench casts the ring wall's shadow across the inside of the backdrop (a bright
    # crescent over a dark floor); the backdrop only receives shadows.
    obj.display.show_shadows = False
    coll.objects.link(obj)
    return obj


STUDIO_COLLECTION = "Doppel Studio"


def add_studio(scene, objects, lights: bool = True):
    """Backdrop (+ three-point lights) around ``objects`` framed as one group, in a fresh
    "Doppel Studio" collection (replacing an old one), and the light grey world. Returns the
    backdrop object."""
    old = bpy.data.collections.get(STUDIO_COLLECTION)
    if old is not None:
        for obj in list(old.objects):
            bpy.data.objects.remove(obj)
        bpy.data.collections.remove(old)
    coll = bpy.data.collections.new(STUDIO_COLLECTION)
    scene.collection.children.link(coll)
    lo, hi = world_bounds(objects)
    distance = fit_distance(lo, hi)
    backdrop = add_cyclorama(coll, lo, hi, distance)
    if lights:
        add_three_point_lights(coll, (lo + hi) / 2.0, distance)
    set_world(scene)
    return backdrop


def set_world(scene) -> None:
    """A light grey world: Workbench shows its colour, EEVEE/Cycles light with it."""
    world = scene.world or bpy.data.worlds.new("Doppel Studio")
    scene.world = world
    world.color = WORLD_COLOR
    if world.node_tree is None and hasattr(world, "use_nodes"):
        world.use_nodes = True
    if world.node_tree is not None:
        bg = next((n for n in world.node_tree.nodes if n.type == "BACKGROUND"), None)
        if bg is not None:
            bg.inputs["Color"].default_value = (*WORLD_COLOR, 1.0)
            bg.inputs["Strength"].default_value = WORLD_STRENGTH


def add_three_point_lights(coll, centre, distance: float) -> list:
    """Key (front left, high), fill (front right, low, weaker), rim (behind, high): area
    lights aimed at ``centre``, power scaled with ``distance`` so exposure stays steady."""
    power = LIGHT_POWER * distance * distance
    out = []
    for name, azimuth, elevation, share in (("Key", -0.6, 0.6, 1.0), ("Fill", 0.9, 0.3, 0.35),
                                            ("Rim", math.pi, 0.8, 0.6)):
        data = bpy.data.lights.new(f"Studio {name}", "AREA")
        data.energy = power * share
        data.size = distance * 0.5
        light = bpy.data.objects.new(f"Studio {name}", data)
        light.matrix_world = look_at(orbit_position(centre, distance, azimuth, elevation),
                                     centre)
        coll.objects.link(light)
        out.append(light)
    return out
