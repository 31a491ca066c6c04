"""RiggedAvatar -> Blender objects, in named passes (armature, meshes + skin, shape keys,
materials, pose, camera), all inside a new collection named after the avatar.

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
from .shape_keys import build_shape_keys

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
        return [o for o in (self.armature, *self.meshes.values(), self.camera) if o is not None]


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

    built = BuiltAvatar(collection=collection, armature=None)
    try:
        _build_passes(avatar, built, name, context, posed, with_camera)
    except Exception:
        remove_avatar(built)     # never leave half an avatar behind
        raise
    arm = built.armature
    for obj in context.view_layer.objects:
        obj.select_set(False)
    arm.select_set(True)
    context.view_layer.objects.active = arm
    return built


def _build_passes(avatar, built: BuiltAvatar, name: str, context, posed: bool,
                  with_camera: bool) -> None:
    sk = avatar.skeleton
    arm = built.armature = build_armature(sk, name, built.collection, context)
    arm[AVATAR_PROP] = json.dumps({"name": avatar.name, **avatar.metadata}, default=str)
    for layer in avatar.layers:
        obj = build_mesh(layer, f"{name}_{layer.name}", arm, sk.names, built.collection)
        built.meshes[layer.name] = obj
        build_shape_keys(obj, layer)
        mat = build_material(layer, f"{name}_{layer.name}")
        built.materials.append(mat)
        obj.data.materials.append(mat)
    if posed and avatar.pose is not None:
        apply_pose(arm, sk, avatar.pose)
    if with_camera and avatar.camera is not None:
        built.camera = build_camera(avatar, f"{name}_camera", built.collection, context.scene)


def remove_avatar(built: BuiltAvatar) -> None:
    """Delete everything ``build_avatar`` made (used when an import fails or is cancelled)."""
    if bpy.context.mode != "OBJECT":
        bpy.ops.object.mode_set(mode="OBJECT")
    # Also whatever a pass created before it failed (it is in the collection already).
    objects = list({*built.objects, *built.collection.all_objects})
    datas = [o.data for o in objects if o.data is not None]
    images = [bg.image for d in datas if d.id_type == "CAMERA"
              for bg in d.background_images if bg.image]
    for mat in built.materials:
        images += [n.image for n in mat.node_tree.nodes if n.type == "TEX_IMAGE" and n.image]
    for obj in objects:
        bpy.data.objects.remove(obj)
    stores = {"MESH": bpy.data.meshes, "ARMATURE": bpy.data.armatures,
              "CAMERA": bpy.data.cameras}
    for data in datas:
        if data.users == 0 and data.id_type in stores:
            stores[data.id_type].remove(data)
    for mat in built.materials:
        bpy.data.materials.remove(mat)
    for img in set(images):
        if img.users == 0:
            bpy.data.images.remove(img)
    bpy.data.collections.remove(built.collection)


__all__ = ["AVATAR_PROP", "BuiltAvatar", "build_avatar", "remove_avatar"]
