"""Root motion on import (issue 15 part 3): the clip's travel goes on the root bone (game
engines' root motion), on the armature object, or nowhere; the body moves the same in the
first two. Checked on the numbers, in headless Blender (bpy 5.0.1) through the Motion
panel's operator, and through `doppel animate --root-motion`."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import bpy  # noqa: E402  (a missing bpy fails the run, never skips it)

from rig.motion import MotionError, prepare_clip  # noqa: E402
from rig.motion.target_pose import TargetRest, posed_bones  # noqa: E402
from motion_scene import apply, avatar  # noqa: E402,F401  (avatar: fixture)

pytestmark = pytest.mark.blender


@pytest.fixture(scope="module")
def walk(shared_data):
    return shared_data / "motions" / "bvh" / "walk.bvh"


def world_heads(skeleton, clip) -> np.ndarray:
    """(T, B, 3) bone heads in the armature's parent space: the bone pose plus any object
    travel."""
    heads, _ = posed_bones(TargetRest.from_skeleton(skeleton), clip.rotations.astype(float),
                           clip.root_location.astype(float))
    if clip.object_location is not None:
        heads = heads + clip.object_location[:, None].astype(float)
    return heads


def test_root_motion_modes_put_the_travel_where_they_say(walk, anny_avatar):
    sk = anny_avatar.skeleton
    root = sk.names.index("root")
    bone = prepare_clip(walk, sk, 30.0, root_motion="bone")
    obj = prepare_clip(walk, sk, 30.0, root_motion="object")
    still = prepare_clip(walk, sk, 30.0, root_motion="in_place")
    alias = prepare_clip(walk, sk, 30.0, in_place=True)
    assert (bone.root_motion, obj.root_motion, still.root_motion) == ("bone", "object",
                                                                        "in_place")
    assert bone.object_location is None and still.object_location is None
    bone_heads, _ = posed_bones(TargetRest.from_skeleton(sk), bone.rotations.astype(float),
                                bone.root_location.astype(float))
    assert np.linalg.norm(bone_heads[-1, root, :2] - bone_heads[0, root, :2]) > 1.0
    # Object: the travel is on the object, the bone stays over the origin, height on the bone.
    travel = obj.object_location
    assert np.linalg.norm(travel[-1, :2] - travel[0, :2]) > 1.0
    assert np.allclose(travel[0], 0.0) and np.allclose(travel[:, 2], 0.0)
    obj_bone, _ = posed_bones(TargetRest.from_skeleton(sk), obj.rotations.astype(float),
                              obj.root_location.astype(float))
    assert np.ptp(obj_bone[:, root, :2], axis=0).max() < 0.15
    assert np.abs(world_heads(sk, obj) - world_heads(sk, bone)).max() < 1e-4
    # In place: nobody travels; the old keyword says the same.
    still_heads = world_heads(sk, still)
    assert np.ptp(still_heads[:, root, :2], axis=0).max() < 0.15
    assert np.allclose(alias.root_location, still.root_location)
    assert np.abs(still_heads[:, root, 2] - bone_heads[:, root, 2]).max() < 1e-4
    with pytest.raises(MotionError, match="root motion"):
        prepare_clip(walk, sk, 30.0, root_motion="hips")


def test_direct_smpl_clip_takes_root_motion_too(shared_data):
    """An AMASS clip applied directly (no retargeting) honours the choice as well."""
    from types import SimpleNamespace
    from rig.motion.smpl_skeleton import smpl_family_skeleton
    from rig.motion.amass import SMPL_TO_BLENDER
    from rig import rotations as Q
    sk = smpl_family_skeleton("smplh")
    heads = Q.rotate(SMPL_TO_BLENDER, sk.rest)
    mats = np.tile(np.eye(4), (len(sk.names), 1, 1))
    mats[:, :3, 3] = heads
    rig = SimpleNamespace(names=sk.names, parents=sk.parents, heads=heads,
                          tails=heads + [0, 0, 0.05], matrices=mats)
    path = shared_data / "motions" / "amass" / "hbp_amass_sample_female_120fps.npz"
    bone = prepare_clip(path, rig, 30.0)
    obj = prepare_clip(path, rig, 30.0, root_motion="object")
    assert bone.method == obj.method == "direct"
    assert np.abs(world_heads(rig, obj) - world_heads(rig, bone)).max() < 1e-4
    assert np.ptp(obj.root_location[:, :2], axis=0).max() < 1e-6


def _root_world(arm, frame) -> np.ndarray:
    bpy.context.scene.frame_set(frame)
    return np.array(arm.matrix_world @ arm.pose.bones["root"].head)


def test_panel_root_motion_in_blender(avatar, walk):
    arm = avatar
    arm.location = (2.0, 0.0, 0.0)                     # the user put the avatar somewhere
    s = bpy.context.scene.doppel_motion
    assert s.root_motion == "BONE" and s.plant_feet and not s.in_place
    assert apply(walk) == {"FINISHED"}
    last = bpy.context.scene.frame_end
    bone_path = [_root_world(arm, f) for f in (1, 40, last)]
    assert np.linalg.norm(bone_path[-1][:2] - bone_path[0][:2]) > 1.0
    assert np.allclose(arm.matrix_world.translation, (2.0, 0.0, 0.0))
    assert apply(walk, root_motion="OBJECT") == {"FINISHED"}
    curves = arm.animation_data.action.layers[0].strips[0].channelbags[0].fcurves
    assert {fc.data_path for fc in curves} >= {"location"}
    obj_path = [_root_world(arm, f) for f in (1, 40, last)]
    assert np.abs(np.array(obj_path) - np.array(bone_path)).max() < 1e-3   # same motion
    bpy.context.scene.frame_set(last)
    assert np.linalg.norm(np.array(arm.location)[:2] - (2.0, 0.0)) > 1.0   # object travels
    assert abs(arm.pose.bones["root"].head[1]) < 0.2                      # bone does not
    assert apply(walk, in_place=True) == {"FINISHED"}                    # the old checkbox
    assert s.root_motion == "IN_PLACE"
    assert np.allclose(arm.location, (2.0, 0.0, 0.0))                     # back home
    bpy.context.scene.frame_set(last)
    assert np.linalg.norm(_root_world(arm, last)[:2] - (2.0, 0.0)) < 0.2


def test_doppel_animate_root_motion_object(anny_avatar_file, walk, tmp_path):
    out = tmp_path / "walk_object.blend"
    doppel = str(Path(sys.executable).with_name("doppel"))
    cmd = [doppel, "animate", str(anny_avatar_file), str(walk), "--out", str(out),
           "--fps", "30", "--root-motion", "object"]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert "root motion object" in done.stdout
    clash = subprocess.run(cmd + ["--in-place"], capture_output=True, text=True, timeout=300)
    assert clash.returncode == 1 and "--in-place" in clash.stderr
    bpy.ops.wm.open_mainfile(filepath=str(out))
    scene = bpy.context.scene
    arm = next(o for o in scene.objects if o.type == "ARMATURE")
    scene.frame_set(scene.frame_end)
    assert np.linalg.norm(np.array(arm.location)[:2]) > 1.0
    bpy.ops.wm.read_factory_settings(use_empty=True)
