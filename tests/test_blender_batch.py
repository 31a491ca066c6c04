"""Batch import in headless Blender (bpy 5.0.1) against a live server running the real
reconstruct and preview jobs: real photos, a broken one, thumbnails, skipping, cancelling."""

from __future__ import annotations

import time

import numpy as np
import pytest

import bpy  # noqa: E402  (a missing bpy fails the run, never skips it)

import blender_addon  # noqa: E402
from panel_layout import draw_panel  # noqa: E402

pytestmark = [pytest.mark.blender, pytest.mark.slow]

PHOTOS = ("single/ryota.png", "single/pexels-anete-lusina-4793258.jpg")


@pytest.fixture
def addon(live_server):
    bpy.ops.wm.read_factory_settings(use_empty=True)
    blender_addon.register()
    bpy.context.window_manager.doppel_connection.address = live_server
    bpy.context.scene.doppel_batch.quality = "fast"
    yield bpy.context
    blender_addon.unregister()
    bpy.ops.wm.read_factory_settings(use_empty=True)


@pytest.fixture
def photo_folder(shared_data, tmp_path):
    folder = tmp_path / "photos"
    folder.mkdir()
    for rel in PHOTOS:
        (folder / rel.split("/")[1]).symlink_to(shared_data / "photos" / rel)
    (folder / "broken.jpg").write_bytes(b"this is not a JPEG at all" * 10)
    return folder


def avatars() -> list:
    return [o for o in bpy.data.objects if o.type == "ARMATURE" and "doppel_avatar" in o]


def person_mask(image) -> np.ndarray:
    """(H, W) bool: thumbnail pixels the avatar covers (the preview's background is
    transparent white)."""
    w, h = image.size
    px = np.empty(w * h * 4, np.float32)
    image.pixels.foreach_get(px)
    px = px.reshape(h, w, 4)
    return (px[..., 3] > 0.5) & (px[..., :3].min(-1) < 0.95)


def test_batch_imports_photos_in_a_grid_and_reports_the_broken_one(addon, photo_folder):
    settings = addon.scene.doppel_batch
    settings.folder = str(photo_folder)
    assert bpy.ops.doppel.batch_import() == {"FINISHED"}
    arms = avatars()
    assert len(arms) == 2
    assert {round(a.location.x, 3) for a in arms} == {0.0, 1.5}        # side by side
    batch = bpy.data.collections["Doppel Batch photos"]
    assert {c.name for c in batch.children} == {"ryota", "pexels-anete-lusina-4793258"}
    states = {i.name: (i.state, i.message) for i in settings.items}
    assert states["broken.jpg"][0] == "failed" and states["broken.jpg"][1]
    assert states["ryota.png"][0] == "done"
    # Each imported photo got a thumbnail from the server's preview job, packed in the .blend;
    # the person stands in it (covers a good part, taller than wide); the broken one has none.
    thumbs = {i.name: i.thumbnail for i in settings.items}
    assert thumbs["broken.jpg"] is None
    ryota = thumbs["ryota.png"]
    assert ryota is not None and ryota.packed_file is not None and tuple(ryota.size) == (96, 96)
    mask = person_mask(ryota)
    assert 0.05 < mask.mean() < 0.6
    rows, cols = np.nonzero(mask.any(1))[0], np.nonzero(mask.any(0))[0]
    assert np.ptp(rows) > 1.5 * np.ptp(cols)
    assert thumbs["pexels-anete-lusina-4793258.jpg"] is not None
    # The panel shows them, one per imported row.
    panel = draw_panel(bpy.types.DOPPEL_PT_batch, addon)
    assert {im.name for im in panel.icons} == {ryota.name, thumbs[
        "pexels-anete-lusina-4793258.jpg"].name}
    # Running the batch again imports nothing new: the photos are recognised by content.
    start = time.monotonic()
    bpy.ops.doppel.batch_import()
    assert len(avatars()) == 2
    assert {i.name: i.state for i in settings.items}["ryota.png"] == "skipped"
    assert time.monotonic() - start < 20
    assert {i.name: i.thumbnail for i in settings.items}["ryota.png"] == ryota   # kept


def test_cancel_mid_batch_leaves_no_partial_objects(addon, photo_folder):
    from blender_addon.blender.ui_batch import BatchSession
    addon.scene.doppel_batch.folder = str(photo_folder)
    objects_before = set(bpy.data.objects)
    session = BatchSession(addon)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        session.tick()
        watch = session.runner.watch
        if watch is not None and watch.state == "running":
            break
        time.sleep(0.05)
    job_id = session.runner.current.job_id
    assert job_id
    session.cancel()
    assert not session.tick()
    # The server stops the job.
    for _ in range(100):
        state = session.client.status(job_id)[0]["state"]
        if state == "cancelled":
            break
        time.sleep(0.1)
    session.close()
    assert state == "cancelled"
    assert set(bpy.data.objects) == objects_before and not bpy.data.meshes
    # The cancelled photo stays to do (a later run resumes it with a fresh request key).
    items = {i.name: i for i in addon.scene.doppel_batch.items}
    assert items["broken.jpg"].state == "failed"
    cancelled = next(i for i in items.values() if i.job_id == job_id)
    assert cancelled.state == "pending" and cancelled.attempt == 1


def test_an_interrupted_batch_resumes_the_same_server_job(addon, shared_data, tmp_path):
    from blender_addon.blender.ui_batch import BatchSession
    folder = tmp_path / "one"
    folder.mkdir()
    (folder / "ryota.png").symlink_to(shared_data / "photos" / "single" / "ryota.png")
    addon.scene.doppel_batch.folder = str(folder)
    first = BatchSession(addon)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and not (first.runner.watch and first.runner.watch.job_id):
        first.tick()
        time.sleep(0.05)
    job_id = first.runner.current.job_id
    first.close()                       # Blender quits without cancelling; the job goes on
    # Next session (same .blend state): the server hands back the job it is already running.
    second = BatchSession(addon)
    second.previews.size = 4096       # the preview job refuses this: the thumbnail is lost...
    deadline = time.monotonic() + 300
    while second.tick() and time.monotonic() < deadline:
        time.sleep(0.05)
    second.close()
    (item,) = addon.scene.doppel_batch.items
    assert item.state == "done" and item.job_id == job_id
    assert len(avatars()) == 1       # ...never the avatar
    assert item.thumbnail is None and item.message == ""
    assert "size" in second.previews.failures[item.sha256]
