"""Key a face CSV (ARKit weights per frame) onto a Doppel avatar's shape keys, in bulk.

One action per CSV, named after the file, with one slot per animated mesh's shape-key
datablock (Blender 5 layered actions: slot -> layer -> keyframe strip -> channelbag); each
curve is ``key_blocks["jawOpen"].value``, written with keyframe_points.add + foreach_set.
Everything is checked before the scene is touched; a failure while writing removes the new
action and gives every mesh its previous one back.
"""

from __future__ import annotations

import importlib
import math

import bpy
import numpy as np

from ..deps import rig
from .avatar_lookup import avatar_meshes, check_avatar, scene_fps

LINEAR = 1           # Keyframe.interpolation enum value of 'LINEAR'


def _csv_module():
    return importlib.import_module(rig.__name__ + ".motion.arkit_csv")


def face_meshes(arm, names: list[str]) -> list:
    """The avatar's meshes whose shape keys include at least one of ``names``."""
    out = []
    for obj in avatar_meshes(arm):
        key = obj.data.shape_keys
        if key is not None and any(n in key.key_blocks for n in names):
            out.append(obj)
    return out


def _curve(fcurves, path: str, frames: np.ndarray, values: np.ndarray, linear) -> None:
    fc = fcurves.new(path)
    points = fc.keyframe_points
    points.add(len(frames))
    co = np.empty(2 * len(frames), np.float32)
    co[0::2], co[1::2] = frames, values
    points.foreach_set("co", co)
    points.foreach_set("interpolation", linear)


def apply_face_clip(arm, clip, scene, start_frame: int = 1):
    """Write ``clip`` (rig.motion.arkit_csv.FaceClip at the scene rate or any rate) onto the
    shape keys of armature ``arm``'s meshes; returns the action. Frame k lands at
    start + k * scene_fps / clip.fps."""
    check_avatar(arm)
    meshes = face_meshes(arm, clip.names)
    if not meshes:
        raise rig.motion.MotionError(
            f"'{arm.name}' has no ARKit face shape keys; import an Anny avatar made by this "
            "Doppel (older avatars have no face keys), then apply the face CSV again.")
    frames = start_frame + np.arange(clip.frame_count) * (scene_fps(scene) / clip.fps)
    weights = np.ascontiguousarray(clip.weights.T, dtype=np.float32)       # (K, T)
    linear = np.full(len(frames), LINEAR, np.int8)
    keys = [obj.data.shape_keys for obj in meshes]
    previous = [(k.animation_data.action, k.animation_data.action_slot)
                if k.animation_data else (None, None) for k in keys]
    action = bpy.data.actions.new(clip.name)
    try:
        layer = action.layers.new("Layer")
        strip = layer.strips.new(type="KEYFRAME")
        for obj, key in zip(meshes, keys):
            slot = action.slots.new(id_type="KEY", name=obj.name)
            fcurves = strip.channelbag(slot, ensure=True).fcurves
            for name, values in zip(clip.names, weights):
                if name in key.key_blocks:
                    path = f'key_blocks["{bpy.utils.escape_identifier(name)}"].value'
                    _curve(fcurves, path, frames, values, linear)
            anim = key.animation_data or key.animation_data_create()
            if anim.action is not None:
                anim.action.use_fake_user = True        # the earlier take survives saving
            anim.action = action
            anim.action_slot = slot
    except Exception:
        for key, (old, old_slot) in zip(keys, previous):
            if key.animation_data is not None:
                key.animation_data.action = old
                if old is not None and old_slot is not None:
                    key.animation_data.action_slot = old_slot
        bpy.data.actions.remove(action)
        raise
    scene.frame_start = int(start_frame)
    scene.frame_end = int(math.ceil(frames[-1] - 1e-6))
    return action


def apply_face_file(arm, path: str, scene, fps: float | None = None, start_frame: int = 1,
                    source_fps: float | None = None):
    """Read, resample (to ``fps`` or the scene's rate) and key a face CSV; (action, clip).
    Raises MotionError with the scene unchanged."""
    check_avatar(arm)
    clip = _csv_module().prepare_face_clip(path, fps or scene_fps(scene), source_fps)
    return apply_face_clip(arm, clip, scene, start_frame=start_frame), clip
