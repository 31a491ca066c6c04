"""RiggedAvatar -> Blender objects, in named passes (armature, meshes + skin, materials, pose,
camera), all inside a new collection named after the avatar.

Blender handles go into a :class:`BuiltAvatar` side table; the protocol objects are never
written to. Importing the same avatar twice gives two avatars (Blender makes names unique).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field

import bpy

from .armature import build_armature
from .camera import build_camera
from .material import build_material
from .mesh import build_mesh
from .pose import apply_pose

AVATAR_PROP = "doppel_avatar"   # custom property on the armature object: JSON metadata


@dataclass
class BuiltAvatar:
    collection: object
    armature: object
    meshes: dict = field(default_factory=dict)     # layer name -> mesh object
    materials: list = field(default_factory=list)
    camera: object | None = None

    @property
    def objects(self) -> list:
        return [self.armature, *self.meshes.values(), *([self.camera] if self.camera else [])]


def build_avatar(avatar, context=None, collection_name: str | None = None,
                 posed: bool = True, with_camera: bool = True,
                 parent_collection=None) -> BuiltAvatar:
    """Build ``avatar`` (protocol.RiggedAvatar) in ``context.scene``.

    posed: apply avatar.pose when present (otherwise the rest pose shows).
    with_camera: add the photo camera when the avatar has one.
    """
    context = context or bpy.context
    scene = context.scene
    collection = bpy.data.collections.new(collection_name or avatar.name)
    (parent_collection or scene.collection).children.link(collection)
    name = collection.name     # unique ("Body.001" for a second import)

    sk = avatar.skeleton
    arm = build_armature(sk, name, collection, context)
    arm[AVATAR_PROP] = json.dumps({"name": avatar.name, **avatar.metadata}, default=str)
    built = BuiltAvatar(collection=collection, armature=arm)
    for layer in avatar.layers:
        obj = build_mesh(layer, f"{name}_{layer.name}", arm, sk.names, collection)
        mat = build_material(layer, f"{name}_{layer.name}")
        obj.data.materials.append(mat)
        built.meshes[layer.name] = obj
        built.materials.append(mat)
    if posed and avatar.pose is not None:
        apply_pose(arm, sk, avatar.pose)
    if with_camera and avatar.camera is not None:
        built.camera = build_camera(avatar, f"{name}_camera", collection, scene)
    for obj in context.view_layer.objects:
        obj.select_set(False)
    arm.select_set(True)
    context.view_layer.objects.active = arm
    return built


def remove_avatar(built: BuiltAvatar) -> None:
    """Delete everything ``build_avatar`` made (used when an import is cancelled)."""
    datas = [o.data for o in built.objects if o is not None]
    for obj in built.objects:
        bpy.data.objects.remove(obj)
    for data in datas:
        store = {"MESH": bpy.data.meshes, "ARMATURE": bpy.data.armatures,
                 "CAMERA": bpy.data.cameras}.get(getattr(data, "id_type", ""))
        if store is not None and data.users == 0:
            store.remove(data)
    for mat in built.materials:
        bpy.data.materials.remove(mat)
    bpy.data.collections.remove(built.collection)


__all__ = ["AVATAR_PROP", "BuiltAvatar", "build_avatar", "remove_avatar"]
