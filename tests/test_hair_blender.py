"""A reconstructed avatar's hair cards in real headless Blender: the hair layer is its own
object under the armature with the alpha-clipped hair material, and it turns with the head."""

from __future__ import annotations

import bpy  # a missing bpy fails the run, never skips it
import numpy as np
import pytest

from blender_addon.blender.builder import build_avatar

pytestmark = pytest.mark.blender


def evaluated(obj) -> np.ndarray:
    mesh = obj.evaluated_get(bpy.context.evaluated_depsgraph_get()).data
    out = np.empty(len(mesh.vertices) * 3, dtype=np.float32)
    mesh.vertices.foreach_get("co", out)
    return out.reshape(-1, 3)


def test_reconstructed_hair_cards_import_with_the_hair_material_and_follow_the_head(
        shared_data):
    from backend.fit.pipeline import reconstruct_photo
    photo = shared_data / "devset_clothed" / "sample_0006" / "image.png"
    avatar = reconstruct_photo(photo.read_bytes(), "sample_0006").avatar
    lay = avatar.layer("hair")
    assert lay is not None and lay.material == "hair_cards"
    bpy.ops.wm.read_factory_settings(use_empty=True)
    built = build_avatar(avatar, bpy.context)
    obj = built.meshes[lay.name]
    assert obj.parent == built.armature and len(obj.data.polygons) == len(lay.faces)
    mat = obj.data.materials[0]
    bsdf = next(n for n in mat.node_tree.nodes if n.type == "BSDF_PRINCIPLED")
    clip = bsdf.inputs["Alpha"].links[0].from_node
    assert clip.type == "MATH" and clip.operation == "ROUND"
    assert clip.inputs[0].links[0].from_node.type == "TEX_IMAGE"
    assert not mat.use_backface_culling
    # nod the head: the hair goes with it (the cards are skinned to the head, not left behind)
    before = evaluated(obj)
    head = built.armature.pose.bones["head"]
    head.rotation_mode = "XYZ"
    head.rotation_euler = (0.5, 0.0, 0.0)
    bpy.context.view_layer.update()
    moved = np.linalg.norm(evaluated(obj) - before, axis=1)
    top = before[:, 2] > np.percentile(before[:, 2], 80)
    assert np.median(moved[top]) > 0.03
    bpy.ops.wm.read_factory_settings(use_empty=True)
