"""Avatar -> Gaussians: splat silhouettes match Blender's render of the mesh, posing moves the
splats with the skeleton, the .ply export reads back with the 3DGS fields."""

from __future__ import annotations

import numpy as np
import pytest

from backend.render import orbit_camera, rasterize_gaussians
from backend.render.avatar_gaussians import (RENDER_EPS2D, as_tensors, avatar_gaussians,
                                            pose_gaussians)
from backend.render.preview import turntable_cameras
from rig.avatar_pose import skinning_matrices
from rig.skinning import blend_transforms, skin_points
from protocol import Pose

SIZE = 256


@pytest.fixture(scope="module")
def gaussians(anny_avatar):
    return avatar_gaussians(anny_avatar, count=100_000)


def _blender_silhouette(vertices: np.ndarray, faces: np.ndarray, camera) -> np.ndarray:
    """(H, W) bool: pixels Blender's render covers with the mesh (alpha > 0.5). Uses a scene
    of its own and removes it afterwards, so other tests' Blender state is left alone."""
    import bpy
    import tempfile
    from pathlib import Path

    import mathutils
    from PIL import Image

    from blender_addon.io.camera_params import camera_settings

    scene = bpy.data.scenes.new("splat_silhouette")
    mesh = bpy.data.meshes.new("silhouette")
    mesh.from_pydata(vertices.tolist(), [], faces.tolist())
    obj = bpy.data.objects.new("silhouette", mesh)
    scene.collection.objects.link(obj)
    s = camera_settings(camera.fx, camera.fy, camera.cx, camera.cy, camera.width,
                        camera.height, camera.world_from_camera)
    cam_data = bpy.data.cameras.new("silhouette_cam")
    cam_data.lens, cam_data.sensor_width = s.lens_mm, s.sensor_width_mm
    cam_data.sensor_fit = "HORIZONTAL"
    cam_data.shift_x, cam_data.shift_y = s.shift_x, s.shift_y
    cam_data.clip_start, cam_data.clip_end = 0.01, 100.0
    cam = bpy.data.objects.new("silhouette_cam", cam_data)
    cam.matrix_world = mathutils.Matrix([list(r) for r in s.matrix_world])
    scene.collection.objects.link(cam)
    scene.camera = cam
    # Cycles on the CPU: Workbench needs an OpenGL context that headless machines lack.
    scene.render.engine = "CYCLES"
    scene.cycles.device = "CPU"
    scene.cycles.samples = 1
    scene.cycles.use_denoising = False
    scene.cycles.filter_width = 0.01             # one ray through each pixel centre
    scene.cycles.max_bounces = 0
    scene.render.resolution_x, scene.render.resolution_y = s.resolution
    scene.render.resolution_percentage = 100
    scene.render.film_transparent = True
    scene.render.image_settings.file_format = "PNG"
    scene.render.image_settings.color_mode = "RGBA"
    try:
        with tempfile.TemporaryDirectory() as tmp:
            scene.render.filepath = str(Path(tmp) / "silhouette.png")
            bpy.ops.render.render(write_still=True, scene=scene.name)
            rgba = np.asarray(Image.open(scene.render.filepath))
    finally:
        bpy.data.objects.remove(obj)
        bpy.data.objects.remove(cam)
        bpy.data.meshes.remove(mesh)
        bpy.data.cameras.remove(cam_data)
        bpy.data.scenes.remove(scene)
    return rgba[..., 3] > 127


def _iou(a: np.ndarray, b: np.ndarray) -> float:
    return float((a & b).sum() / max((a | b).sum(), 1))


def _splat_silhouette(g, camera) -> np.ndarray:
    r = rasterize_gaussians(**as_tensors(g), camera=camera, backend="torch",
                            eps2d=RENDER_EPS2D)
    return r.alpha.numpy() > 0.5


@pytest.mark.blender
def test_splat_silhouette_matches_blender_mesh_render(anny_avatar, gaussians):
    layer = anny_avatar.layers[0]
    for camera in turntable_cameras(gaussians, views=4, size=SIZE)[:2]:   # front and side
        mesh = _blender_silhouette(layer.vertices, layer.faces, camera)
        splat = _splat_silhouette(gaussians, camera)
        assert mesh.sum() > 0.05 * SIZE * SIZE            # the body fills a real part of it
        assert _iou(mesh, splat) >= 0.95


@pytest.mark.blender
def test_posed_splats_follow_the_skinned_mesh(anny_avatar, gaussians):
    sk = anny_avatar.skeleton
    rot = np.tile(np.array([1.0, 0.0, 0.0, 0.0], np.float32), (sk.bone_count, 1))
    # Swing both upper arms by 60 degrees about their local X axes and bend the left knee.
    for name, deg in (("upperarm01.L", 60.0), ("upperarm01.R", 60.0), ("lowerleg01.L", 50.0)):
        half = np.radians(deg) / 2
        rot[sk.names.index(name)] = (np.cos(half), np.sin(half), 0.0, 0.0)
    pose = Pose(rotations=rot, location=np.array([0.0, 0.0, 0.05], np.float32))
    posed = pose_gaussians(gaussians, anny_avatar, pose)
    layer = anny_avatar.layers[0]
    tf = blend_transforms(skinning_matrices(sk, pose), layer.skin_indices, layer.skin_weights)
    posed_verts = skin_points(layer.vertices, tf)
    camera = orbit_camera((posed.means.min(0) + posed.means.max(0)) / 2, 2.0, 0.0, size=SIZE)
    mesh = _blender_silhouette(posed_verts, layer.faces, camera)
    assert _iou(mesh, _splat_silhouette(posed, camera)) >= 0.95
    # ... and the pose really changed the picture.
    rest_mesh = _blender_silhouette(layer.vertices, layer.faces, camera)
    assert _iou(mesh, rest_mesh) < 0.9


def test_gaussians_cover_every_layer_flat_and_coloured_from_the_texture(anny_avatar, gaussians):
    assert 95_000 <= len(gaussians) <= 105_000
    # Flat along the surface: the thin axis (local z) is the triangle normal.
    assert np.allclose(gaussians.scales[:, 2], gaussians.scales[:, 0] * 0.1)
    lay = anny_avatar.layers[0]
    v = lay.vertices
    assert (gaussians.means.min(0) >= v.min(0) - 1e-4).all()
    assert (gaussians.means.max(0) <= v.max(0) + 1e-4).all()
    # The default skin texture is a mid-light tone: colours come from it, not the base colour.
    mean_rgb = gaussians.colors.mean(0)
    assert np.allclose(mean_rgb, np.array([224, 172, 140]) / 255.0, atol=0.03)
    assert np.allclose(gaussians.skin_weights.sum(1), 1.0, atol=1e-5)


def test_rest_pose_leaves_gaussians_where_they_are(anny_avatar, gaussians):
    sk = anny_avatar.skeleton
    identity = Pose(rotations=np.tile([1.0, 0.0, 0.0, 0.0], (sk.bone_count, 1)).astype(np.float32),
                    location=np.zeros(3, np.float32))
    posed = pose_gaussians(gaussians, anny_avatar, identity)
    assert np.abs(posed.means - gaussians.means).max() < 1e-5
    dots = np.abs((posed.rotations * gaussians.rotations).sum(1))
    assert dots.min() > 1 - 1e-5
