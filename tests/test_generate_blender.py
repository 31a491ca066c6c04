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
