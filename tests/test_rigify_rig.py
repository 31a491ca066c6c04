"""Rigify control rig for an Anny avatar, headless (bpy 5.0.1 with its bundled Rigify): the
generated rig has IK controls, its DEF- bones deform copies of the avatar's meshes (moving
foot_ik.L moves the left shin, not the right), the avatar itself is hidden and unchanged,
and a skeleton that is not Anny's is refused with nothing left behind."""

from __future__ import annotations

import numpy as np
import pytest

import bpy  # noqa: E402  (a missing bpy fails the run, never skips it)

from blender_addon.blender.builder import build_avatar  # noqa: E402
from blender_addon.blender.rigify_rig import RigifyError, build_rigify  # noqa: E402

pytestmark = pytest.mark.blender


def _evaluated(obj) -> np.ndarray:
    depsgraph = bpy.context.evaluated_depsgraph_get()
    ev = obj.evaluated_get(depsgraph)
    mesh = ev.to_mesh()
    co = np.empty(3 * len(mesh.vertices), np.float32)
    mesh.vertices.foreach_get("co", co)
    ev.to_mesh_clear()
    return co.reshape(-1, 3)


def _weighted(obj, group: str, at_least: float = 0.5) -> list[int]:
    gi = obj.vertex_groups[group].index
    return [v.index for v in obj.data.vertices for g in v.groups
            if g.group == gi and g.weight >= at_least]


def test_rigify_rig_moves_the_shin_with_foot_ik(anny_avatar):
    bpy.ops.wm.read_factory_settings(use_empty=True)
    built = build_avatar(anny_avatar, bpy.context, posed=False)
    arm, body = built.armature, built.meshes["body"]
    bones, groups = [b.name for b in arm.data.bones], [g.name for g in body.vertex_groups]
    rig = build_rigify(bpy.context, arm)
    assert {"hand_ik.L", "hand_ik.R", "foot_ik.L", "foot_ik.R", "torso", "root"} \
        <= set(rig.pose.bones.keys())
    skinned = next(o for o in rig.children if o.type == "MESH")
    assert [m.object for m in skinned.modifiers if m.type == "ARMATURE"] == [rig]
    deform = {b.name for b in rig.data.bones if b.use_deform}
    assert {g.name for g in skinned.vertex_groups} <= deform          # only DEF- bones
    assert all(n.startswith("DEF-") for n in deform)
    left, right = _weighted(skinned, "DEF-shin.L"), _weighted(skinned, "DEF-shin.R")
    assert len(left) > 100 and len(right) > 100
    rest = _evaluated(skinned)
    assert np.abs(rest - _evaluated(body)).max() < 1e-3                # binds in place
    rig.pose.bones["foot_ik.L"].location = (0.0, 0.3, 0.2)             # lift the foot
    posed = _evaluated(skinned)
    assert np.linalg.norm(posed[left] - rest[left], axis=1).mean() > 0.05
    assert np.linalg.norm(posed[right] - rest[right], axis=1).max() < 1e-4
    # The avatar is hidden, not changed.
    assert arm.hide_get() and body.hide_get()
    assert [b.name for b in arm.data.bones] == bones
    assert [g.name for g in body.vertex_groups] == groups
    bpy.ops.wm.read_factory_settings(use_empty=True)


def test_not_anny_is_refused_and_leaves_nothing():
    bpy.ops.wm.read_factory_settings(use_empty=True)
    bpy.ops.object.armature_add()
    arm = bpy.context.active_object
    counts = (len(bpy.data.objects), len(bpy.data.collections), len(bpy.data.armatures))
    with pytest.raises(RigifyError, match="not an Anny skeleton"):
        build_rigify(bpy.context, arm)
    assert counts == (len(bpy.data.objects), len(bpy.data.collections),
                      len(bpy.data.armatures))
    bpy.ops.wm.read_factory_settings(use_empty=True)


def test_export_panel_operators(anny_avatar, tmp_path):
    """The Export panel offers the engine presets and Rigify; both operators work."""
    import blender_addon
    from panel_layout import draw_panel
    bpy.ops.wm.read_factory_settings(use_empty=True)
    blender_addon.register()
    try:
        arm = build_avatar(anny_avatar, bpy.context).armature
        layout = draw_panel(bpy.types.DOPPEL_PT_export, bpy.context)
        assert layout.operators == ["doppel.export"] * 5 + ["doppel.rigify"]
        path = tmp_path / "ue.fbx"
        assert bpy.ops.doppel.export(filepath=str(path), format="FBX", rig="unreal") \
            == {"FINISHED"}
        assert path.is_file() and "pelvis" not in arm.data.bones     # the scene is unchanged
        assert bpy.ops.doppel.rigify() == {"FINISHED"}
        assert bpy.context.active_object.name.endswith("_rig")
    finally:
        blender_addon.unregister()
        bpy.ops.wm.read_factory_settings(use_empty=True)


def test_failure_after_generation_removes_the_rig(anny_avatar, monkeypatch):
    from blender_addon.blender import rigify_rig
    bpy.ops.wm.read_factory_settings(use_empty=True)
    built = build_avatar(anny_avatar, bpy.context, posed=False)

    def broken(*_):
        raise RuntimeError("binding failed")
    monkeypatch.setattr(rigify_rig, "_bind", broken)
    stores = ("objects", "collections", "armatures", "meshes", "texts")
    counts = [len(getattr(bpy.data, s)) for s in stores]
    with pytest.raises(RuntimeError, match="binding failed"):
        build_rigify(bpy.context, built.armature)
    assert counts == [len(getattr(bpy.data, s)) for s in stores]
    assert not built.armature.hide_get()
    bpy.ops.wm.read_factory_settings(use_empty=True)
