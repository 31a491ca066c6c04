"""Generated avatars in real headless Blender: one object per layer under the armature, every
layer deforms with it, and the garments move with the body they cover."""

from __future__ import annotations

import numpy as np
import pytest

import bpy  # noqa: E402  (a missing bpy fails the run, never skips it)

from backend.generate import generate_avatar  # noqa: E402
from blender_addon.blender.builder import build_avatar  # noqa: E402

pytestmark = pytest.mark.blender


def evaluated(obj) -> np.ndarray:
    mesh = obj.evaluated_get(bpy.context.evaluated_depsgraph_get()).data
    out = np.empty(len(mesh.vertices) * 3, dtype=np.float32)
    mesh.vertices.foreach_get("co", out)
    return out.reshape(-1, 3)


def test_generated_avatar_imports_one_deforming_object_per_layer():
    bpy.ops.wm.read_factory_settings(use_empty=True)
    avatar = generate_avatar(9, {"top": "jacket", "bottom": "trousers", "hair": "long",
                                 "shoes": "boots"})
    built = build_avatar(avatar, bpy.context)
    arm = built.armature
    assert sorted(built.meshes) == sorted(lay.name for lay in avatar.layers)
    for lay in avatar.layers:
        obj = built.meshes[lay.name]
        assert obj.parent is arm and len(obj.data.vertices) == len(lay.vertices)
        mods = [m for m in obj.modifiers if m.type == "ARMATURE"]
        assert mods and mods[0].object is arm, f"{lay.role} is not skinned to the armature"
    rest = {name: evaluated(obj) for name, obj in built.meshes.items()}
    # bend the left knee: trousers and boots go with the shin, the head's hair stays
    pb = arm.pose.bones["lowerleg01.L"]
    pb.rotation_mode = "QUATERNION"
    pb.rotation_quaternion = (0.8, 0.6, 0.0, 0.0)
    bpy.context.view_layer.update()
    moved = {name: np.linalg.norm(evaluated(obj) - rest[name], axis=1).max()
             for name, obj in built.meshes.items()}
    for name in ("body", "bottom_trousers", "shoes_boots"):
        assert moved[name] > 0.1, f"{name} did not follow the knee"
    assert moved["hair_long"] < 1e-4 and moved["top_jacket"] < 0.02
    bpy.ops.wm.read_factory_settings(use_empty=True)


@pytest.fixture
def addon():
    import blender_addon
    bpy.ops.wm.read_factory_settings(use_empty=True)
    blender_addon.register()
    yield bpy.context
    if hasattr(bpy.types, "DOPPEL_PT_generate"):
        blender_addon.unregister()
    bpy.ops.wm.read_factory_settings(use_empty=True)


def test_panel_offers_exactly_the_generator_attributes():
    from backend.generate import CHOICES as BACKEND
    from blender_addon.blender.ui_generate import CHOICES as PANEL
    for key, values in PANEL.items():
        assert values == BACKEND[key], key
    assert set(BACKEND) == set(PANEL)


def test_generate_two_people_then_swap_hair_between_them(addon, live_server):
    import json
    addon.window_manager.doppel_connection.address = live_server
    s = addon.scene.doppel_generate
    s.seed, s.count, s.top, s.hair = 60, 2, "jacket", "long"
    assert bpy.ops.doppel.generate() == {"FINISHED"}
    arms = sorted((o for o in bpy.data.objects if o.type == "ARMATURE" and "doppel_file" in o),
                  key=lambda o: o.location.x)
    assert len(arms) == 2 and arms[1].location.x > arms[0].location.x + 0.5
    roles = {c["doppel_role"] for c in arms[0].children if c.type == "MESH"}
    assert {"body", "top", "hair"} <= roles
    s.seed, s.count, s.hair = 70, 1, "bun"
    assert bpy.ops.doppel.generate() == {"FINISHED"}
    bun = next(o for o in bpy.data.objects if o.type == "ARMATURE" and
               any(c.name.endswith("hair_bun") for c in o.children))
    bun_name = bun.name
    s.swap_target = bun
    addon.view_layer.objects.active = next(c for c in arms[1].children
                                           if c.get("doppel_role") == "hair")
    assert bpy.ops.doppel.swap_layer() == {"FINISHED"}
    target = s.swap_target
    assert target.name == bun_name, "the avatar is replaced in place"
    hairs = [c for c in target.children if c.get("doppel_role") == "hair"]
    assert len(hairs) == 1 and hairs[0].name.endswith("hair_long")
    assert json.loads(target["doppel_avatar"])["transferred"] == {"hair": "Doppel_61"}


def _input_link(bsdf, socket: str):
    links = bsdf.inputs[socket].links
    return links[0].from_node if links else None


def test_materials_are_matte_cloth_layered_skin_and_alpha_hair_and_exports_keep_them(tmp_path):
    import json
    import struct

    from blender_addon.blender.export import export_avatar
    bpy.ops.wm.read_factory_settings(use_empty=True)
    avatar = generate_avatar(12, {"top": "longsleeve", "bottom": "trousers",
                                  "bottom_pattern": "denim", "shoes": "boots",
                                  "hair": "ponytail"})
    built = build_avatar(avatar, bpy.context)
    bsdfs = {}
    for lay in avatar.layers:
        mat = built.meshes[lay.name].data.materials[0]
        bsdf = next(n for n in mat.node_tree.nodes if n.type == "BSDF_PRINCIPLED")
        bsdfs[lay.role] = (mat, bsdf)
        if lay.texture:      # exporters find the image straight on Base Color
            assert _input_link(bsdf, "Base Color").type == "TEX_IMAGE", lay.name
    for role in ("top", "bottom"):
        mat, bsdf = bsdfs[role]
        assert bsdf.inputs["Roughness"].default_value >= 0.8, role
        assert bsdf.inputs["Specular IOR Level"].default_value <= 0.25, role
        bump = _input_link(bsdf, "Normal")
        assert bump is not None and bump.type == "BUMP", f"{role}: no weave"
    assert bsdfs["shoes"][1].inputs["Roughness"].default_value >= 0.55        # leather
    _, skin = bsdfs["body"]
    assert skin.inputs["Subsurface Weight"].default_value > 0.1
    assert _input_link(skin, "Roughness") is not None, "skin roughness varies"
    mat, hair = bsdfs["hair"]
    clip = _input_link(hair, "Alpha")
    assert clip.type == "MATH" and clip.operation == "ROUND"
    assert clip.inputs[0].links[0].from_socket.name == "Alpha"
    assert not mat.use_backface_culling
    # glTF: the hair is alpha-masked, skin and cloth keep their textures
    path = export_avatar(bpy.context, built.armature, tmp_path / "crowd.glb", "GLB")
    data = path.read_bytes()
    (n,) = struct.unpack_from("<I", data, 12)
    gltf = json.loads(data[20:20 + n])
    by_name = {m["name"]: m for m in gltf["materials"]}
    hair_mat = next(m for k, m in by_name.items() if k.endswith("hair_ponytail"))
    assert hair_mat["alphaMode"] == "MASK"
    assert "baseColorTexture" in hair_mat["pbrMetallicRoughness"]
    body_mat = next(m for k, m in by_name.items() if k.endswith("_body"))
    assert "baseColorTexture" in body_mat["pbrMetallicRoughness"]
    bpy.ops.wm.read_factory_settings(use_empty=True)
