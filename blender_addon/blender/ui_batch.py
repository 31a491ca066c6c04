"""Batch import section: a folder of photos -> one reconstruct job per photo on the server,
avatars laid out in a grid inside their own collection, per-photo status in the panel, overall
progress in the status bar, Esc cancels (nothing half-built is left), failures are reported and
the batch goes on. The per-photo list, run key and client identity are saved in the .blend, so
reopening the file and pressing the button again resumes where it stopped.

Thumbnails: once an avatar is imported, the server's `preview` job renders a small front view
of it (io/batch_preview.py); the PNG becomes an image packed in the .blend (one per photo) that
the panel row shows as its icon. A failed preview only leaves the row without a picture."""

from __future__ import annotations

import uuid
from pathlib import Path

import bpy

from ..deps import protocol
from ..io.batch import BatchItem, BatchRunner, grid_position, plan_batch, plan_files
from ..io.batch_preview import PreviewQueue
from .builder import build_avatar
from .modal_loop import ModalLoop
from .panels import DoppelPanel, draw_props
from .properties import connect, reply_timeout

PHOTO_PROP = "doppel_photo_sha256"     # on each imported armature: the photo's content hash
THUMB_PREFIX = "Doppel thumbnail "     # + the photo's sha256[:16]: the row's image datablock
GROUP_SPACING = 0.8                   # metres between a group photo's people in rest pose
STATE_ICONS = {"pending": "TIME", "running": "SORTTIME", "done": "CHECKMARK",
               "skipped": "FORWARD", "failed": "ERROR", "cancelled": "CANCEL"}


class DoppelBatchItem(bpy.types.PropertyGroup):
    path: bpy.props.StringProperty()
    sha256: bpy.props.StringProperty()
    state: bpy.props.StringProperty(default="pending")
    message: bpy.props.StringProperty()
    attempt: bpy.props.IntProperty()
    job_id: bpy.props.StringProperty()
    thumbnail: bpy.props.PointerProperty(type=bpy.types.Image)


class PhotoRunState:
    """What a run over photos keeps in the .blend (per-photo rows, the run key and client
    identity that let a reopened file resume, overall progress): shared by Batch Import and
    Reconstruct settings, which add their own options."""
    items: bpy.props.CollectionProperty(type=DoppelBatchItem)
    run_key: bpy.props.StringProperty(options={"HIDDEN"})
    identity: bpy.props.StringProperty(options={"HIDDEN"})
    fraction: bpy.props.FloatProperty(subtype="FACTOR", min=0.0, max=1.0)


class DoppelBatchSettings(PhotoRunState, bpy.types.PropertyGroup):
    folder: bpy.props.StringProperty(name="Photos", subtype="DIR_PATH",
                                     description="Folder of photos, one person each")
    quality: bpy.props.EnumProperty(name="Quality", default="default",
                                    items=[("fast", "Fast", ""), ("default", "Default", ""),
                                           ("high", "High", "")])
    thumbnails: bpy.props.BoolProperty(name="Thumbnails", default=True,
                                       description="Show a small server render of each "
                                                   "imported avatar next to its photo")


def thumbnail_image(sha256: str, png: bytes):
    """The photo's thumbnail as an image datablock packed in the .blend (replaced if it
    exists), decoded by Blender from the PNG bytes."""
    name = THUMB_PREFIX + sha256[:16]
    old = bpy.data.images.get(name)
    if old is not None:
        bpy.data.images.remove(old)
    image = bpy.data.images.new(name, 8, 8, alpha=True)
    image.pack(data=png, data_len=len(png))
    image.source = "FILE"            # read the packed PNG instead of the 8x8 placeholder
    return image


def imported_hashes() -> set[str]:
    return {o[PHOTO_PROP] for o in bpy.data.objects if PHOTO_PROP in o}


class BatchSession:
    """One run of the batch in Blender: plans (resuming the saved list), steps the runner,
    imports each finished avatar into the grid and mirrors states into the scene."""

    job_kind = "reconstruct"

    def __init__(self, context, folder: str | None = None, *, settings=None,
                 paths: list[str] | None = None, posed: bool = False, with_camera: bool = False,
                 collection_name: str | None = None):
        """A folder batch (default), or explicit ``paths`` mirrored into ``settings`` (any
        property group with items/run_key/identity/fraction/quality, e.g. Reconstruct's)."""
        settings = settings or context.scene.doppel_batch
        saved = {i.sha256: i for i in settings.items} if settings.items else {}
        # sha256 -> image name; rows are rebuilt every tick, so the thumbnails live here
        self.thumbnails = {sha: i.thumbnail.name for sha, i in saved.items() if i.thumbnail}
        if paths is None:
            folder = Path(bpy.path.abspath(folder or settings.folder))
            items = plan_batch(folder, imported_hashes())
            coll_name = collection_name or f"Doppel Batch {folder.name}"
        else:
            items = plan_files([bpy.path.abspath(p) for p in paths])
            coll_name = collection_name or "Doppel Photos"
        for item in items:       # keep attempts (fresh request keys after failures/cancels)
            if item.sha256 in saved:
                item.attempt = saved[item.sha256].attempt
        if not settings.run_key:
            settings.run_key = uuid.uuid4().hex
        self.context, self.settings = context, settings
        self.posed, self.with_camera = posed, with_camera
        # `identity` keeps the server's owner token in the .blend (jobs belong to it, not to
        # a socket id); an old file's routing id there is simply not a valid token.
        self.client = connect(context, token=settings.identity or None)
        options = {"quality": settings.quality}
        if getattr(settings, "body_model", "anny") != "anny":   # Reconstruct's choice
            options["body_model"] = settings.body_model
        if getattr(settings, "max_people", 8) != 8:             # older servers lack it
            options["max_people"] = settings.max_people
        self.runner = BatchRunner(self.client, items, self.job_kind,
                                  lambda it: {"name": Path(it.path).stem, **options},
                                  run_key=settings.run_key, reply_timeout=reply_timeout(context))
        self.collection_name = coll_name
        self.imported: list = []
        self.previews: PreviewQueue | None = None
        if getattr(settings, "thumbnails", True):
            # its own socket: see io/batch_preview.py
            self.previews = PreviewQueue(connect(context), reply_timeout(context))
        self._sync()

    @property
    def active(self) -> bool:
        """The batch still runs, or thumbnails of imported avatars are still on their way."""
        return self.runner.active or (not self.runner.cancelled and self.previews is not None
                                      and self.previews.active)

    def tick(self) -> bool:
        """One step; returns True while the batch (or a thumbnail) still runs."""
        for item, avatar in self.runner.step():
            self._import(item, avatar)        # first: a thumbnail never delays an avatar
            if self.previews is not None:
                self.previews.request(item, avatar)
        if self.previews is not None:
            for item, png in self.previews.step():
                self.thumbnails[item.sha256] = thumbnail_image(item.sha256, png).name
        self._sync()
        return self.active

    def cancel(self) -> None:
        self.runner.cancel()
        if self.previews is not None:
            self.previews.cancel()
        self.settings.run_key = uuid.uuid4().hex    # cancelled jobs must not be handed back
        self._sync()

    def close(self) -> None:
        self.client.close()
        if self.previews is not None:
            self.previews.client.close()

    @property
    def collection(self):
        coll = bpy.data.collections.get(self.collection_name)
        if coll is None:
            coll = bpy.data.collections.new(self.collection_name)
            self.context.scene.collection.children.link(coll)
        return coll

    @property
    def failures(self) -> list[BatchItem]:
        return [i for i in self.runner.items if i.state == "failed"]

    def _import(self, item: BatchItem, avatar) -> None:
        index = len(self.collection.children)   # made on the first avatar: a batch that
        # imports nothing leaves the scene as it was
        count = len(self.runner.items)
        x, y = grid_position(index, count)
        people = [avatar, *avatar.companions]
        parent = self.collection
        if len(people) > 1:       # a group photo: its people together in one collection
            parent = bpy.data.collections.new(Path(item.path).stem)
            self.collection.children.link(parent)
        for k, person in enumerate(people):
            # One photo camera for the group: the people already stand where the photo
            # shows them in its world, so they all move by the same grid offset.
            built = build_avatar(person, self.context, parent_collection=parent,
                                 posed=self.posed, with_camera=self.with_camera and k == 0)
            side = 0.0 if self.posed else GROUP_SPACING * k   # rest poses side by side
            built.armature.location = (x + side, y, 0.0)
            if built.camera is not None:       # the photo camera moves with its avatars
                built.camera.location += built.armature.location
            built.armature[PHOTO_PROP] = item.sha256
            self.imported.append(built)

    def _sync(self) -> None:
        s = self.settings
        s.items.clear()
        for item in self.runner.items:
            row = s.items.add()
            row.name = Path(item.path).name
            for key in ("path", "sha256", "state", "message", "attempt", "job_id"):
                setattr(row, key, getattr(item, key))
            row.thumbnail = bpy.data.images.get(self.thumbnails.get(item.sha256, ""))
        s.fraction = self.runner.fraction
        token = getattr(self.client, "token", None)
        if token and s.identity != token:
            s.identity = token


class BatchRunOperator(ModalLoop):
    """The steps of Batch Import and Reconstruct on the shared modal loop (a mixin: Blender
    refuses a registered operator class as the base of another); ``make_session`` says which
    photos."""
    loop_label = "batch"
    script_timeout = 3600.0

    def make_session(self, context) -> BatchSession:
        return BatchSession(context)

    def loop_start(self, context) -> bool:
        try:
            self._session = self.make_session(context)
        except (OSError, protocol.ProtocolError) as exc:
            self.report({"ERROR"}, getattr(exc, "message", None) or str(exc))
            return False
        return True

    def loop_step(self, context) -> bool:
        return self._session.tick()

    def loop_cancel(self, context) -> None:
        self._session.cancel()

    def loop_progress(self, context) -> tuple[str, float]:
        runner = self._session.runner
        done = sum(1 for i in runner.items if i.finished)
        return f"{done}/{len(runner.items)} photos", runner.fraction

    def loop_finish(self, context) -> set:
        session = self._session
        session.close()
        for item in session.failures:
            self.report({"WARNING"}, f"{Path(item.path).name}: {item.message}")
        if session.runner.cancelled:
            self.report({"WARNING"}, f"batch cancelled after {len(session.imported)} avatars")
            return {"CANCELLED"}
        self.report({"INFO"}, f"imported {len(session.imported)} avatars, "
                              f"{len(session.failures)} failed")
        return {"FINISHED"}


class DOPPEL_OT_batch_import(BatchRunOperator, bpy.types.Operator):
    """Reconstruct every photo of the folder on the server and import the avatars in a grid"""
    bl_idname = "doppel.batch_import"
    bl_label = "Import Folder"


class DOPPEL_PT_batch(DoppelPanel, bpy.types.Panel):
    bl_label = "Batch Import"
    bl_order = 30
    bl_options = {"DEFAULT_CLOSED"}

    def draw(self, context):
        s = context.scene.doppel_batch
        layout = self.layout
        draw_props(layout, s, ("folder", "quality", "thumbnails"))
        layout.operator(DOPPEL_OT_batch_import.bl_idname, icon="FILE_FOLDER")
        draw_photo_states(layout, s)


def draw_photo_states(layout, settings) -> None:
    """Overall progress and one row per photo (thumbnail of its avatar once there, state icon,
    name, what went wrong)."""
    if not settings.items:
        return
    layout.progress(factor=settings.fraction, text=f"{settings.fraction * 100:.0f}%")
    col = layout.column(align=True)
    for item in settings.items:
        row = col.row()
        if item.thumbnail is not None:
            row.template_icon(icon_value=row.icon(item.thumbnail), scale=2.0)
        row.label(text=item.name, icon=STATE_ICONS.get(item.state, "DOT"))
        if item.message:
            row.label(text=item.message)


CLASSES = (DoppelBatchItem, DoppelBatchSettings, DOPPEL_OT_batch_import, DOPPEL_PT_batch)

POINTERS = (("Scene", "doppel_batch", DoppelBatchSettings),)
