"""Engine-rig export presets in headless Blender (bpy 5.0.1): an Anny avatar exported for
Unreal, Unity and Mixamo as FBX and GLB re-imports with Blender's own importers carrying the
preset's bone names and parent links, its mesh still skinned to them; the user's objects
keep their names; and the rename plan handles SMPL skeletons too."""

from __future__ import annotations

import numpy as np
import pytest

import bpy  # noqa: E402  (a missing bpy fails the run, never skips it)

from blender_addon.blender.builder import build_avatar  # noqa: E402
from blender_addon.blender.engine_export import export_engine  # noqa: E402
from rig.engine_rigs import family, plan  # noqa: E402

pytestmark = pytest.mark.blender


def _sided(pairs, lo_hi=("l", "r")):
    return [(c.format(s=s), p.format(s=s)) for s in lo_hi for c, p in pairs]


# (child, parent) links each engine's mapper needs.
REQUIRED = {
    "unreal": [("pelvis", "root"), ("spine_01", "pelvis"), ("spine_02", "spine_01"),
               ("spine_03", "spine_02"), ("spine_04", "spine_03"), ("spine_05", "spine_04"),
               ("neck_01", "spine_05"), ("head", "neck_02")] + _sided([
                   ("clavicle_{s}", "spine_05"), ("upperarm_{s}", "clavicle_{s}"),
                   ("lowerarm_{s}", "upperarm_{s}"), ("hand_{s}", "lowerarm_{s}"),
                   ("thigh_{s}", "pelvis"), ("calf_{s}", "thigh_{s}"), ("foot_{s}", "calf_{s}"),
                   ("ball_{s}", "foot_{s}"), ("index_01_{s}", "index_metacarpal_{s}"),
                   ("thumb_01_{s}", "hand_{s}")]),
    "unity": [("Spine", "Hips"), ("Chest", "Spine"), ("UpperChest", "Chest"),
              ("Neck", "UpperChest"), ("Head", "Neck")] + _sided([
                  ("{s}Shoulder", "UpperChest"), ("{s}UpperArm", "{s}Shoulder"),
                  ("{s}LowerArm", "{s}UpperArm"), ("{s}Hand", "{s}LowerArm"),
                  ("{s}UpperLeg", "Hips"), ("{s}LowerLeg", "{s}UpperLeg"),
                  ("{s}Foot", "{s}LowerLeg"), ("{s}Toes", "{s}Foot"),
                  ("{s}IndexProximal", "{s}Hand"), ("{s}ThumbDistal", "{s}ThumbIntermediate")],
                  ("Left", "Right")),
    "mixamo": [("mixamorig:Spine", "mixamorig:Hips"), ("mixamorig:Spine2", "mixamorig:Spine1"),
               ("mixamorig:Neck", "mixamorig:Spine2"), ("mixamorig:Head", "mixamorig:Neck")]
    + _sided([("mixamorig:{s}Shoulder", "mixamorig:Spine2"),
              ("mixamorig:{s}Arm", "mixamorig:{s}Shoulder"),
              ("mixamorig:{s}ForeArm", "mixamorig:{s}Arm"),
              ("mixamorig:{s}Hand", "mixamorig:{s}ForeArm"),
              ("mixamorig:{s}UpLeg", "mixamorig:Hips"), ("mixamorig:{s}Leg", "mixamorig:{s}UpLeg"),
              ("mixamorig:{s}Foot", "mixamorig:{s}Leg"),
              ("mixamorig:{s}ToeBase", "mixamorig:{s}Foot"),
              ("mixamorig:{s}HandIndex1", "mixamorig:{s}Hand")], ("Left", "Right")),
}
SHIN = {"unreal": "calf_l", "unity": "LeftLowerLeg", "mixamo": "mixamorig:LeftLeg"}


@pytest.fixture(scope="module")
def scene_avatar(anny_avatar):
    bpy.ops.wm.read_factory_settings(use_empty=True)
    built = build_avatar(anny_avatar, bpy.context)
    yield built
    bpy.ops.wm.read_factory_settings(use_empty=True)


def _import(path, fmt):
    before = set(bpy.data.objects)
    if fmt == "FBX":
        bpy.ops.import_scene.fbx(filepath=str(path))
    else:
        bpy.ops.import_scene.gltf(filepath=str(path))
    return [o for o in bpy.data.objects if o not in before]


@pytest.mark.parametrize("fmt", ["FBX", "GLB"])
@pytest.mark.parametrize("preset", ["unreal", "unity", "mixamo"])
def test_export_reimports_with_engine_bones(scene_avatar, preset, fmt, tmp_path):
    arm = scene_avatar.armature
    mesh = scene_avatar.meshes["body"]
    own_bones = [b.name for b in arm.data.bones]
    own_groups = [g.name for g in mesh.vertex_groups]
    counts = (len(bpy.data.objects), len(bpy.data.meshes), len(bpy.data.armatures),
              len(bpy.data.collections))
    path = export_engine(bpy.context, arm, tmp_path / f"{preset}.fbx", fmt, preset)
    assert path.is_file() and path.suffix == {"FBX": ".fbx", "GLB": ".glb"}[fmt]
    # The user's avatar is untouched and no copy is left behind.
    assert [b.name for b in arm.data.bones] == own_bones
    assert [g.name for g in mesh.vertex_groups] == own_groups
    assert counts == (len(bpy.data.objects), len(bpy.data.meshes), len(bpy.data.armatures),
                      len(bpy.data.collections))

    new = _import(path, fmt)
    try:
        got = next(o for o in new if o.type == "ARMATURE")
        bones = got.data.bones
        for child, parent in REQUIRED[preset]:
            assert child in bones, child
            assert bones[child].parent is not None and bones[child].parent.name == parent, \
                (child, bones[child].parent)
        assert "upperarm02.L" not in bones and "lowerleg02.L" not in bones   # twists merged
        skinned = next(o for o in new if o.type == "MESH" and o.vertex_groups)
        mods = [m for m in skinned.modifiers if m.type == "ARMATURE"]
        assert mods and mods[0].object == got
        shin = skinned.vertex_groups[SHIN[preset]].index
        weights = [g.weight for v in skinned.data.vertices for g in v.groups if g.group == shin]
        assert len(weights) > 100 and max(weights) > 0.9
        if preset == "unreal":
            assert bones["root"].head_local.length < 1e-4                   # at the origin
    finally:
        bpy.data.batch_remove(new)


def test_merged_weights_keep_every_vertex_fully_weighted(scene_avatar, tmp_path):
    """Twist weights add to the kept bone: per-vertex sums are unchanged."""
    mesh = scene_avatar.meshes["body"]
    want = np.array([sum(g.weight for g in v.groups) for v in mesh.data.vertices])
    path = export_engine(bpy.context, scene_avatar.armature, tmp_path / "u.fbx", "FBX", "unity")
    new = _import(path, "FBX")
    try:
        skinned = next(o for o in new if o.type == "MESH" and o.vertex_groups)
        got = np.array([sum(g.weight for g in v.groups) for v in skinned.data.vertices])
        assert got.shape == want.shape and np.abs(got - want).max() < 1e-3
    finally:
        bpy.data.batch_remove(new)


@pytest.mark.parametrize("model", ["smplh", "smplx"])
def test_smpl_family_avatar_exports_for_unreal(model, tmp_path, monkeypatch):
    """A SMPL-family avatar (stand-in model files) keeps its skin under UE5 names."""
    from backend.bodies.smpl_files import configure_smpl_dir
    from backend.jobs import JobContext, get_job
    from smpl_model_maker import write_model
    configure_smpl_dir(None)
    folder = tmp_path / "smpl_models"
    folder.mkdir()
    monkeypatch.setenv("DOPPEL_SMPL_DIR", str(folder))
    write_model(folder, model, "male", "pkl")
    avatar = get_job("body")({"body_model": model, "name": "S", "params": {}}, {},
                             JobContext("test-engine"))
    bpy.ops.wm.read_factory_settings(use_empty=True)
    built = build_avatar(avatar, bpy.context)
    path = export_engine(bpy.context, built.armature, tmp_path / "s.fbx", "FBX", "unreal")
    bpy.ops.wm.read_factory_settings(use_empty=True)
    new = _import(path, "FBX")
    bones = next(o for o in new if o.type == "ARMATURE").data.bones
    for child, parent in (("pelvis", "root"), ("thigh_l", "pelvis"), ("calf_r", "thigh_r"),
                          ("spine_03", "spine_02"), ("hand_l", "lowerarm_l"),
                          ("index_01_l", "hand_l"), ("head", "neck_01")):
        assert bones[child].parent.name == parent
    skinned = next(o for o in new if o.type == "MESH" and o.vertex_groups)
    assert {"thigh_l", "calf_l", "hand_r"} <= {g.name for g in skinned.vertex_groups}
    configure_smpl_dir(None)
    bpy.ops.wm.read_factory_settings(use_empty=True)


def test_smpl_skeleton_plans():
    names = ["pelvis", "left_hip", "right_hip", "spine1", "left_knee", "right_knee", "spine2",
             "left_ankle", "right_ankle", "spine3", "left_foot", "right_foot", "neck",
             "left_collar", "right_collar", "head", "left_shoulder", "right_shoulder",
             "left_elbow", "right_elbow", "left_wrist", "right_wrist", "left_hand",
             "right_hand"]
    parents = [-1, 0, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 9, 9, 12, 13, 14, 16, 17, 18, 19, 20,
               21]
    assert family(names) == "smpl"
    p = plan(names, parents, "unreal")
    assert p.rename["left_hip"] == "thigh_l" and p.parents["thigh_l"] == "pelvis"
    assert p.parents["pelvis"] == "root" and p.parents["upperarm_l"] == "clavicle_l"
    assert p.extras == ["left_hand", "right_hand"] and not p.merge
    u = plan(names, parents, "unity")
    assert u.parents["LeftToes"] == "LeftFoot" and u.parents["Head"] == "Neck"
    m = plan(names, parents, "mixamo")
    assert m.rename["spine3"] == "mixamorig:Spine2"
    with pytest.raises(ValueError, match="neither"):
        family(["a", "b"])
