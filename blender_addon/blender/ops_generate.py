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
from .job_operator import JobOperator

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
        return context.scene.doppel_generate.seed + self._index

    def job_params(self, context) -> dict:
        s = context.scene.doppel_generate
        seed = self._seed(context)
        return {"seed": seed, "attributes": s.attributes(), "name": f"Doppel_{seed}"}

    def on_result(self, context, avatar) -> set:
        built = import_kept(context, avatar, (self._index * SPACING, 0.0, 0.0))
        self.report({"INFO"}, f"added {built.collection.name}")
        return {"FINISHED"}

    def loop_start(self, context) -> bool:
        self._index, self._outcome = 0, None
        return JobOperator.loop_start(self, context)

    def loop_step(self, context) -> bool:
        """One job per person, one after the other: each is imported as soon as it arrives."""
        if JobOperator.loop_step(self, context):
            return True
        if self._watch.state != "done" or \
                self._index + 1 >= context.scene.doppel_generate.count:
            return False                   # loop_finish imports the last one, or reports
        self._outcome = {"CANCELLED"}      # stays so if this import or the next start fails
        if JobOperator.loop_finish(self, context) != {"FINISHED"}:
            return False
        self._index += 1                   # next seed: same loop, a new job
        if not JobOperator.loop_start(self, context):
            return False
        self._outcome = None
        return True

    def loop_progress(self, context) -> tuple[str, float]:
        stage, fraction = JobOperator.loop_progress(self, context)
        count = context.scene.doppel_generate.count
        return f"person {self._index + 1}/{count}: {stage}", (self._index + fraction) / count

    def loop_finish(self, context) -> set:
        return self._outcome or JobOperator.loop_finish(self, context)


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

    def loop_start(self, context) -> bool:
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
        return JobOperator.loop_start(self, context)

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
