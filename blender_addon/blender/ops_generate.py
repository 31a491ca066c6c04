"""Generate people on the server and import them; swap a garment layer between two of them.

Each imported generated avatar is also kept as a ``.doppel`` file (next to the saved .blend in
``doppel_avatars/``, else in Blender's temp folder), named on its armature as ``doppel_file``:
Swap Layer sends both avatars' files to the server's `transfer` job, which refits the layer.
"""

from __future__ import annotations

import random
from pathlib import Path

import bpy

from ..deps import protocol
from .avatar_lookup import avatar_armature
from .builder import build_avatar
from .job_operator import POLL_INTERVAL, JobOperator

FILE_PROP, ROLE_PROP = "doppel_file", "doppel_role"
SPACING = 0.9          # metres between people added in one go


def avatar_folder() -> Path:
    if bpy.data.filepath:
        return Path(bpy.path.abspath("//doppel_avatars"))
    return Path(bpy.app.tempdir or ".") / "doppel_avatars"


def import_kept(context, avatar, location=(0.0, 0.0, 0.0)):
    """Build ``avatar``, keep its file, and tag each layer object with its role."""
    built = build_avatar(avatar, context)
    folder = avatar_folder()
    folder.mkdir(parents=True, exist_ok=True)
    # The name came from the server: one safe file name, checked to stay inside the folder.
    path = protocol.save_avatar(avatar, protocol.safe_child(folder, built.collection.name,
                                                            protocol.FILE_SUFFIX))
    built.armature[FILE_PROP] = str(path)
    built.armature.location = location
    for layer in avatar.layers:
        built.meshes[layer.name][ROLE_PROP] = layer.role
    return built


class DOPPEL_OT_roll_seed(bpy.types.Operator):
    """Pick a random seed"""
    bl_idname = "doppel.roll_seed"
    bl_label = "Random Seed"
    bl_options = {"REGISTER", "UNDO"}

    def execute(self, context):
        context.scene.doppel_generate.seed = random.randrange(0, 2**31 - 1)
        return {"FINISHED"}


class DOPPEL_OT_generate(JobOperator, bpy.types.Operator):
    """Generate dressed people (seed, seed+1, ...) on the Doppel server and import them"""
    bl_idname = "doppel.generate"
    bl_label = "Add People"
    bl_options = {"REGISTER", "UNDO"}
    job_kind = "generate"

    def _seed(self, context) -> int:
        return context.scene.doppel_generate.seed + getattr(self, "_index", 0)

    def job_params(self, context) -> dict:
        s = context.scene.doppel_generate
        seed = self._seed(context)
        return {"seed": seed, "attributes": s.attributes(), "name": f"Doppel_{seed}"}

    def on_result(self, context, avatar) -> set:
        i = getattr(self, "_index", 0)
        built = import_kept(context, avatar, (i * SPACING, 0.0, 0.0))
        self.report({"INFO"}, f"added {built.collection.name}")
        return {"FINISHED"}

    def _remaining(self, context) -> bool:
        return getattr(self, "_index", 0) + 1 < context.scene.doppel_generate.count

    def execute(self, context):
        self._index, result = 0, {"CANCELLED"}
        while True:
            result = JobOperator.execute(self, context)
            if result != {"FINISHED"} or not self._remaining(context):
                return result
            self._index += 1

    def invoke(self, context, event):
        self._index = 0
        return JobOperator.invoke(self, context, event)

    def modal(self, context, event):
        result = JobOperator.modal(self, context, event)
        if result == {"FINISHED"} and self._remaining(context):
            self._index += 1                  # next seed: same modal handler, new job
            if self._start(context):
                wm = context.window_manager
                self._timer = wm.event_timer_add(POLL_INTERVAL, window=context.window)
                wm.progress_begin(0, 100)
                return {"RUNNING_MODAL"}
        return result


def layer_role(obj) -> str | None:
    if obj is None or obj.type != "MESH":
        return None
    return obj.get(ROLE_PROP)


class DOPPEL_OT_swap_layer(JobOperator, bpy.types.Operator):
    """Put the active garment layer on the avatar chosen in "Onto", refitted to its body
    (its own layer of that kind is replaced)"""
    bl_idname = "doppel.swap_layer"
    bl_label = "Swap Layer"
    bl_options = {"REGISTER", "UNDO"}
    job_kind = "transfer"

    @classmethod
    def poll(cls, context):
        obj = context.active_object
        arm = avatar_armature(obj)
        target = context.scene.doppel_generate.swap_target
        return (layer_role(obj) not in (None, "body") and arm is not None and
                FILE_PROP in arm and target is not None and target != arm)

    def _avatars(self, context):
        source = avatar_armature(context.active_object)
        target = context.scene.doppel_generate.swap_target
        return source, target

    def job_params(self, context) -> dict:
        return self._request[0]

    def job_inputs(self, context) -> dict:
        return self._request[1]

    def _start(self, context) -> bool:
        source, target = self._avatars(context)
        try:
            a = protocol.load_avatar(bpy.path.abspath(source[FILE_PROP]))
            b = protocol.load_avatar(bpy.path.abspath(target[FILE_PROP]))
        except protocol.ProtocolError as exc:
            self.report({"ERROR"}, exc.message)
            return False
        desc_a, arrays_a = protocol.avatar_to_parts(a, prefix="from/")
        desc_b, arrays_b = protocol.avatar_to_parts(b, prefix="to/")
        role = layer_role(context.active_object)
        self._request = ({"layer": role, "from": desc_a, "to": desc_b},
                         {**arrays_a, **arrays_b})
        self._target_name = target.name
        return JobOperator._start(self, context)

    def on_result(self, context, avatar) -> set:
        old = bpy.data.objects.get(self._target_name)
        location = tuple(old.location) if old is not None else (0.0, 0.0, 0.0)
        if old is not None:                      # replace the target avatar as a whole
            collection = old.users_collection[0]
            for obj in list(collection.objects):
                bpy.data.objects.remove(obj)
            bpy.data.collections.remove(collection)
        built = import_kept(context, avatar, location)
        context.scene.doppel_generate.swap_target = built.armature
        self.report({"INFO"}, f"{built.collection.name} now wears the "
                              f"{self._request[0]['layer']}")
        return {"FINISHED"}


CLASSES = (DOPPEL_OT_roll_seed, DOPPEL_OT_generate, DOPPEL_OT_swap_layer)
