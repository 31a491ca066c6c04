"""What an artist takes out of Blender: turntable renders and FBX / glTF exports, through the
add-on's operators in real headless Blender (bpy 5.0.1)."""

from __future__ import annotations

import hashlib

import numpy as np
import pytest

import bpy  # noqa: E402  (a missing bpy fails the run, never skips it)

import blender_addon  # noqa: E402

pytestmark = pytest.mark.blender


@pytest.fixture
def avatar(anny_avatar_file):
    """A registered add-on and one imported (active) avatar: its armature."""
    bpy.ops.wm.read_factory_settings(use_empty=True)
    blender_addon.register()
    assert bpy.ops.doppel.import_avatar(filepath=str(anny_avatar_file)) == {"FINISHED"}
    yield bpy.context.view_layer.objects.active
    blender_addon.unregister()
    bpy.ops.wm.read_factory_settings(use_empty=True)


def test_turntable_of_8_frames_gives_8_distinct_pngs(avatar, tmp_path):
    from PIL import Image
    settings = bpy.context.scene.doppel_turntable
    settings.frames, settings.resolution, settings.engine = 8, 48, "WORKBENCH"
    settings.output_dir = str(tmp_path / "tt")
    assert bpy.ops.doppel.turntable() == {"FINISHED"}
    frames = sorted((tmp_path / "tt").glob("turntable_*.png"))
    assert len(frames) == 8
    assert len({hashlib.sha256(f.read_bytes()).hexdigest() for f in frames}) == 8
    # The avatar is in every frame: the image centre differs from the background corner.
    for f in frames:
        img = np.asarray(Image.open(f).convert("RGB"), dtype=np.int32)
        assert img.shape == (48, 48, 3)
        assert np.abs(img[14:34, 20:28] - img[0, 0]).sum(-1).max() > 40
    # Rerunning replaces the rig instead of piling up cameras.
    assert bpy.ops.doppel.turntable() == {"FINISHED"}
    assert len([o for o in bpy.data.objects if o.type == "CAMERA"]) == 1


def test_turntable_movie_is_an_mp4(avatar, tmp_path):
    settings = bpy.context.scene.doppel_turntable
    settings.frames, settings.resolution, settings.movie = 4, 32, True
    settings.output_dir = str(tmp_path)
    assert bpy.ops.doppel.turntable() == {"FINISHED"}
    movie = (tmp_path / "turntable.mp4").read_bytes()
    assert movie[4:8] == b"ftyp" and len(movie) > 1000
    assert len(list(tmp_path.glob("turntable_*.png"))) == 4


def test_a_turntable_that_cannot_be_set_up_leaves_no_half_rig(avatar, tmp_path, monkeypatch):
    from blender_addon.blender import turntable

    def no_floor(*args):
        raise OSError("disk full")
    monkeypatch.setattr(turntable, "_floor", no_floor)      # after camera and lights exist
    before = {name: set(getattr(bpy.data, name)) for name in ("objects", "collections",
                                                              "cameras", "lights")}
    bpy.context.scene.doppel_turntable.output_dir = str(tmp_path)
    with pytest.raises(RuntimeError, match="cannot set up the turntable: disk full"):
        bpy.ops.doppel.turntable()
    assert {name: set(getattr(bpy.data, name)) for name in before} == before


def test_a_frame_that_fails_is_reported_and_the_run_stops(avatar, tmp_path, monkeypatch):
    from blender_addon.blender import turntable
    rendered = []

    def render_frame(self, i):
        if i == 2:
            raise RuntimeError("GPU lost")
        rendered.append(i)
    monkeypatch.setattr(turntable.Turntable, "render_frame", render_frame)
    settings = bpy.context.scene.doppel_turntable
    settings.frames, settings.output_dir = 6, str(tmp_path)
    with pytest.raises(RuntimeError, match="Doppel turntable failed: GPU lost"):
        bpy.ops.doppel.turntable()
    assert rendered == [0, 1]

def counts(objects) -> tuple[int, int]:
    arms = [o for o in objects if o.type == "ARMATURE"]
    # (the glTF importer adds an Icosphere as bone display shape: skinned meshes only)
    meshes = [o for o in objects if o.type == "MESH" and o.vertex_groups]
    assert len(arms) == 1 and len(meshes) == 8       # the body + 7 face parts (eyes, teeth..)
    body = max(meshes, key=lambda o: len(o.data.vertices))
    return len(arms[0].data.bones), len(body.data.vertices)


@pytest.mark.parametrize("fmt", ["FBX", "GLB"])
def test_export_and_reimport_keep_bones_and_vertices(avatar, anny_avatar, tmp_path, fmt):
    path = tmp_path / f"avatar.{fmt.lower()}"
    assert bpy.ops.doppel.export(filepath=str(path), format=fmt) == {"FINISHED"}
    assert path.stat().st_size > 500_000             # mesh + embedded texture
    bpy.ops.wm.read_factory_settings(use_empty=True)
    if fmt == "FBX":
        bpy.ops.import_scene.fbx(filepath=str(path))
    else:
        bpy.ops.import_scene.gltf(filepath=str(path), merge_vertices=True)
    bones, verts = counts(bpy.data.objects)
    # glTF drops vertices no face uses (Anny's own eyeballs and tongue: the face layers'
    # eyes and tongue replace them); FBX keeps them
    used = len(np.unique(anny_avatar.layer("body").faces))
    assert (bones, verts) == (104, 13718 if fmt == "FBX" else used)
    mesh = max((o for o in bpy.data.objects if o.type == "MESH" and o.vertex_groups),
               key=lambda o: len(o.data.vertices))
    assert len(mesh.vertex_groups) >= 100           # skin weights came along
    assert any(img.packed_file is not None or img.has_data for img in bpy.data.images)
