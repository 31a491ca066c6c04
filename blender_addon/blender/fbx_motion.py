"""Read an FBX animation (Mixamo's or any armature's) as a rig.motion SourceMotion.

Only Blender can parse FBX, so the file is imported with Blender's own importer into a
temporary scene (the user's scene, frame rate and selection are never touched), the
armature's rest frames and its action's F-curves are read in bulk, and everything the import
made is removed again, whatever happens. Importing this module registers the reader for
``.fbx`` with rig.motion, so prepare_clip / `doppel animate` / the Motion panel take FBX.
"""

from __future__ import annotations

import importlib
from pathlib import Path

import bpy
import numpy as np

from ..deps import rig

# By name, so the vendored copy (blender_addon.rig) is used inside the extension.
_armature_motion = importlib.import_module(f"{rig.__name__}.motion.armature_motion")

# bpy.data collections an FBX import can add to; new items in them are removed afterwards.
_STORES = ("objects", "meshes", "armatures", "actions", "materials", "images", "textures",
           "cameras", "lights", "collections", "node_groups", "curves", "worlds")


def load_fbx_motion(path: str | Path) -> rig.motion.SourceMotion:
    """The first armature's animation in ``path`` as a SourceMotion (Blender axes, metres,
    sampled at the file's key spacing). Raises MotionError naming the file and the
    problem; nothing imported is left in the blend data."""
    path = Path(path)
    name = path.name
    if not path.is_file():
        raise rig.motion.MotionError(f"Motion file '{path}' does not exist.")
    before = {s: set(getattr(bpy.data, s)) for s in _STORES}
    scene = bpy.data.scenes.new("doppel_fbx_import")
    try:
        try:
            with _in_scene(scene):
                bpy.ops.import_scene.fbx(filepath=str(path), use_anim=True,
                                         ignore_leaf_bones=False, use_image_search=False,
                                         use_custom_props=False,
                                         automatic_bone_orientation=False)
        except (RuntimeError, ValueError, TypeError, KeyError, AttributeError,
                IndexError, AssertionError) as exc:
            # The importer raises whatever its parser hits on a broken file.
            first = str(exc).strip().splitlines()[-1:] or [type(exc).__name__]
            raise rig.motion.MotionError(f"'{name}' cannot be read as an FBX file "
                                         f"({first[0]}).") from None
        arm = _armature(scene, name)
        return _sample(arm, path.stem, name, scene.render.fps / scene.render.fps_base)
    finally:
        _remove_new(before)
        bpy.data.scenes.remove(scene)


class _in_scene:
    """Show ``scene`` in the window while the importer runs (it sets the scene's frame rate
    and units and links into the active view layer), then the user's scene again."""

    def __init__(self, scene):
        self.scene, self.window, self.old = scene, bpy.context.window, None

    def __enter__(self):
        if self.window is not None:
            self.old = self.window.scene
            self.window.scene = self.scene
            self.override = bpy.context.temp_override()
        else:                                  # blender -b without a window
            self.override = bpy.context.temp_override(scene=self.scene,
                                                      view_layer=self.scene.view_layers[0])
        self.override.__enter__()

    def __exit__(self, *exc):
        self.override.__exit__(*exc)
        if self.old is not None:
            self.window.scene = self.old
        return False


def _armature(scene, name: str):
    arms = [o for o in scene.objects if o.type == "ARMATURE"]
    if not arms:
        raise rig.motion.MotionError(f"'{name}' holds no armature (skeleton), so there is no "
                                     "body motion in it; export the FBX with its armature.")
    # The armature with the most bones is the body (props and cameras may have their own).
    arm = max(arms, key=lambda o: len(o.data.bones))
    if arm.animation_data is None or arm.animation_data.action is None:
        raise rig.motion.MotionError(f"'{name}' has an armature but no animation; export it "
                                     "with animation baked (Mixamo: 'With Skin' or 'Without "
                                     "Skin', FBX Binary).")
    return arm


def _fcurves(action):
    if getattr(action, "is_action_layered", False):
        return [fc for layer in action.layers for strip in layer.strips
                for bag in strip.channelbags for fc in bag.fcurves]
    return list(action.fcurves)


def _bones(arm):
    """Bone names parents-first in the first root's tree (the body), and their parents."""
    bones = arm.data.bones
    roots = [b for b in bones if b.parent is None]
    root = max(roots, key=lambda b: len(b.children_recursive))
    order = [root]
    for b in order:                       # breadth-first: parents always come first
        order.extend(b.children)
    index = {b.name: i for i, b in enumerate(order)}
    parents = np.array([index[b.parent.name] if b.parent else -1 for b in order], np.int64)
    return order, parents


def _sample(arm, stem: str, name: str, scene_fps: float) -> rig.motion.SourceMotion:
    bones, parents = _bones(arm)
    names = [b.name for b in bones]
    curves: dict[tuple[str, str], dict[int, np.ndarray]] = {}
    prefix = 'pose.bones["'
    for fc in _fcurves(arm.animation_data.action):
        path = fc.data_path
        if not path.startswith(prefix) or len(fc.keyframe_points) == 0:
            continue
        bone, _, prop = path[len(prefix):].partition('"].')
        # Only rotations and the root's travel are used: skip reading the rest (scales,
        # other bones' locations), which is most of the keys.
        if prop not in ("rotation_quaternion", "rotation_euler") and \
                (prop != "location" or bone != names[0]):
            continue
        co = np.empty(2 * len(fc.keyframe_points), np.float32)    # float32: the fast path
        fc.keyframe_points.foreach_get("co", co)
        curves.setdefault((bone, prop), {})[fc.array_index] = co.reshape(-1, 2).astype(
            np.float64)
    if not curves:
        raise rig.motion.MotionError(f"'{name}' has an armature but its animation moves no "
                                     "bones.")
    times = np.unique(np.concatenate([c[:, 0] for per in curves.values()
                                      for c in per.values()]).round(4))
    step = float(np.median(np.diff(times))) if len(times) > 1 else 1.0
    frames = np.arange(int(round((times[-1] - times[0]) / step)) + 1) * step + times[0]
    rot = np.zeros((len(frames), len(names), 4))
    rot[..., 0] = 1.0
    pose_bones = arm.pose.bones
    for b, bone in enumerate(names):
        rot[:, b] = _rotation(curves, bone, pose_bones[bone].rotation_mode, frames)
    loc = np.zeros((len(frames), 3))
    for i, c in curves.get((names[0], "location"), {}).items():
        loc[:, i] = np.interp(frames, c[:, 0], c[:, 1])
    n = len(bones)
    mats = np.empty(n * 16, np.float32)
    tails = np.empty(n * 3, np.float32)
    arm.data.bones.foreach_get("matrix_local", mats)
    arm.data.bones.foreach_get("tail_local", tails)
    index = {b.name: i for i, b in enumerate(arm.data.bones)}
    pick = np.array([index[n_] for n_ in names])
    # foreach_get flattens matrices column by column.
    mats = mats.reshape(-1, 4, 4).transpose(0, 2, 1)[pick].astype(np.float64)
    tails = tails.reshape(-1, 3)[pick].astype(np.float64)
    world = np.array(arm.matrix_world, np.float64)
    return _armature_motion.motion_from_armature(
        stem, names, parents, mats, tails, world, rot, loc, scene_fps / step, file_name=name)


def _rotation(curves, bone: str, mode: str, frames: np.ndarray) -> np.ndarray:
    """(T, 4) pose_bone rotation of ``bone`` at ``frames`` (identity where unkeyed)."""
    out = np.zeros((len(frames), 4))
    out[:, 0] = 1.0
    quat = curves.get((bone, "rotation_quaternion"))
    euler = curves.get((bone, "rotation_euler"))
    if quat:
        for i, c in quat.items():
            out[:, i] = np.interp(frames, c[:, 0], c[:, 1])
        return rig.rotations.normalize(out)
    if euler and mode in ("XYZ", "XZY", "YXZ", "YZX", "ZXY", "ZYX"):
        angles = np.zeros((len(frames), 3))
        for i, c in euler.items():
            angles[:, i] = np.interp(frames, c[:, 0], c[:, 1])
        # Blender's "XYZ" applies X first: R = Rz Ry Rx, i.e. intrinsic "ZYX".
        order = mode[::-1]
        return rig.rotations.from_euler(angles[:, ["XYZ".index(a) for a in order]], order)
    return out


def _remove_new(before: dict) -> None:
    new = [item for s in _STORES for item in getattr(bpy.data, s) if item not in before[s]]
    if new:
        bpy.data.batch_remove(new)


def register_reader() -> None:
    """Make rig.motion.load_motion (and so prepare_clip) read ``.fbx`` through Blender."""
    rig.motion.clip.HOST_READERS[".fbx"] = load_fbx_motion


register_reader()
