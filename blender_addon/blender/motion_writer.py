"""Key a RetargetedClip onto a Doppel avatar's armature as one action, in bulk.

One action per clip, named after the file, assigned to the armature. Blender 4.4+ (5.x
included) gets a layered action (slot -> layer -> keyframe strip -> channelbag F-curves);
4.2-4.3 the legacy ``action.fcurves``. Keys are written with ``keyframe_points.add`` and
``foreach_set`` (no per-key Python calls). Everything is checked before the scene is touched,
and a failure while writing removes the new action and restores the previous one.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from types import SimpleNamespace

import bpy
import numpy as np

from ..deps import rig
from . import fbx_motion  # noqa: F401  (registers the .fbx reader with rig.motion)
from .avatar_lookup import check_avatar, scene_fps
from .builder import AVATAR_PROP, build_avatar

LINEAR = 1          # Keyframe.interpolation enum value of 'LINEAR'
HOME_PROP = "doppel_motion_home"    # object location before root motion went on the object


def avatar_smpl_body(obj) -> dict | None:
    """The avatar's ``metadata["smpl"]`` (SMPL-family bodies record their model, betas and
    rest pelvis there), read from the armature's Doppel property; None for other bodies."""
    try:
        meta = json.loads(obj[AVATAR_PROP])
    except (KeyError, TypeError, ValueError):
        return None
    smpl = meta.get("smpl") if isinstance(meta, dict) else None
    return smpl if isinstance(smpl, dict) else None


def armature_skeleton(obj) -> SimpleNamespace:
    """The armature's rest skeleton in protocol Skeleton terms (names, parents, heads, tails,
    (B,4,4) bone->armature matrices), read from Blender so any producer's avatar works."""
    bones = obj.data.bones
    n = len(bones)
    heads = np.empty(n * 3, np.float32)
    tails = np.empty(n * 3, np.float32)
    mats = np.empty(n * 16, np.float32)
    bones.foreach_get("head_local", heads)
    bones.foreach_get("tail_local", tails)
    bones.foreach_get("matrix_local", mats)
    index = {b.name: i for i, b in enumerate(bones)}
    parents = np.array([index[b.parent.name] if b.parent else -1 for b in bones], np.int64)
    # foreach_get flattens matrices column by column.
    matrices = mats.reshape(n, 4, 4).transpose(0, 2, 1)
    order = np.arange(n)
    if (parents >= order).any():           # retargeting walks parents before children
        depth = np.zeros(n, np.int64)
        for i in range(n):
            j = i
            while parents[j] >= 0:
                depth[i] += 1
                j = parents[j]
        order = np.argsort(depth, kind="stable")
        new_index = np.empty(n, np.int64)
        new_index[order] = np.arange(n)
        parents = np.where(parents[order] >= 0, new_index[np.maximum(parents[order], 0)], -1)
    names = list(index)
    return SimpleNamespace(names=[names[i] for i in order], parents=parents,
                           heads=heads.reshape(n, 3)[order], tails=tails.reshape(n, 3)[order],
                           matrices=matrices[order])


def _new_fcurves(action, obj):
    """F-curve collection to write into and the slot to assign (None on legacy Blender)."""
    if hasattr(action, "layers"):                          # Blender 4.4+: layered actions
        slot = action.slots.new(id_type="OBJECT", name=obj.name)
        strip = action.layers.new("Layer").strips.new(type="KEYFRAME")
        return strip.channelbag(slot, ensure=True).fcurves, slot, True
    return action.fcurves, None, False


def _write_curve(fcurves, layered: bool, path: str, index: int, group: str,
                 frames: np.ndarray, values: np.ndarray, linear: np.ndarray) -> None:
    if not layered:
        fc = fcurves.new(path, index=index, action_group=group)
    else:
        try:
            fc = fcurves.new(path, index=index, group_name=group)
        except TypeError:           # 4.4's channelbag F-curves take no group name
            fc = fcurves.new(path, index=index)
    points = fc.keyframe_points
    points.add(len(frames))
    co = np.empty(2 * len(frames), np.float32)
    co[0::2] = frames
    co[1::2] = values
    points.foreach_set("co", co)
    # Linear between samples (one key per frame): handles are never evaluated, so the
    # costly handle pass is skipped.
    points.foreach_set("interpolation", linear)


def object_travel(obj, clip) -> np.ndarray | None:
    """(T, 3) float32 object location keys for a clip whose root motion goes on the object:
    the object's current location plus the clip's armature-space travel turned and scaled
    into the object's parent space (so a moved or turned avatar walks from where it stands);
    None for other clips."""
    travel = getattr(clip, "object_location", None)
    if travel is None:
        return None
    travel = np.asarray(travel, np.float64)
    if travel.shape != (np.asarray(clip.rotations).shape[0], 3) or not np.isfinite(travel).all():
        raise rig.motion.MotionError(f"Clip '{clip.name}' has unusable root motion.")
    basis = np.array(obj.matrix_basis)
    return (home_location(obj) + travel @ basis[:3, :3].T).astype(np.float32)


def home_location(obj) -> np.ndarray:
    """Where the avatar stands between clips: its location before the first clip that put
    root motion on the object (kept on the object; its animated location is the travel)."""
    if HOME_PROP not in obj.keys():
        obj[HOME_PROP] = list(obj.location)
    return np.array(obj[HOME_PROP], np.float64)


def apply_clip(obj, clip: rig.motion.RetargetedClip, scene, start_frame: int = 1):
    """Write ``clip`` onto armature ``obj`` as a new action starting at ``start_frame`` and
    return it. A previous action is kept (fake user) so it survives saving. Keys land at
    exact scene times: frame = start + k * scene_fps / clip.fps."""
    check_avatar(obj)
    pose_bones = obj.pose.bones
    missing = [n for n in clip.bone_names if n not in pose_bones]
    if missing:
        shown = ", ".join(missing[:3]) + ("..." if len(missing) > 3 else "")
        raise rig.motion.MotionError(f"'{obj.name}' lacks bones the clip was made for ({shown}); "
                          "retarget it to this avatar again.")
    rot = np.asarray(clip.rotations, np.float32)
    loc = np.asarray(clip.root_location, np.float32)
    usable = rot.ndim == 3 and rot.shape[0] > 0 and loc.shape == (rot.shape[0], 3)
    if not (usable and np.isfinite(rot).all() and np.isfinite(loc).all()):
        raise rig.motion.MotionError(f"Clip '{clip.name}' has no usable frames.")
    frames = start_frame + np.arange(rot.shape[0]) * (scene_fps(scene) / clip.fps)
    travel = object_travel(obj, clip)

    anim = obj.animation_data
    previous = (anim.action, getattr(anim, "action_slot", None)) if anim else (None, None)
    action = bpy.data.actions.new(clip.name)
    try:
        fcurves, slot, layered = _new_fcurves(action, obj)
        rot_t = np.ascontiguousarray(rot.transpose(1, 2, 0))          # (B, 4, T)
        linear = np.full(len(frames), LINEAR, np.int8)
        for b, name in enumerate(clip.bone_names):
            path = f'pose.bones["{bpy.utils.escape_identifier(name)}"].rotation_quaternion'
            for i in range(4):
                _write_curve(fcurves, layered, path, i, name, frames, rot_t[b, i], linear)
        root = clip.bone_names[0]
        path = f'pose.bones["{bpy.utils.escape_identifier(root)}"].location'
        for i in range(3):
            _write_curve(fcurves, layered, path, i, root, frames, loc[:, i], linear)
        if travel is not None:      # root motion on the object: same action, same slot
            for i in range(3):
                _write_curve(fcurves, layered, "location", i, "Object Transforms", frames,
                             travel[:, i], linear)
        if previous[0] is not None:
            previous[0].use_fake_user = True
        anim = obj.animation_data or obj.animation_data_create()
        anim.action = action
        if layered:
            anim.action_slot = slot
    except Exception:
        bpy.data.actions.remove(action)
        if obj.animation_data is not None and previous[0] is not None:
            obj.animation_data.action = previous[0]
            if previous[1] is not None:
                obj.animation_data.action_slot = previous[1]
        raise
    for name in clip.bone_names:
        pose_bones[name].rotation_mode = "QUATERNION"
    if travel is None and HOME_PROP in obj.keys():     # back home after an object-motion clip
        obj.location = obj[HOME_PROP]
    scene.frame_start = int(start_frame)
    scene.frame_end = int(math.ceil(frames[-1] - 1e-6))
    return action


def apply_motion_file(obj, path: str, scene, fps: float | None = None, in_place: bool = False,
                      start_frame: int = 1, source_fps: float | None = None,
                      method: str = "auto", root_motion: str | None = None,
                      plant_feet: bool = True):
    """Read ``path``, put it on avatar ``obj`` (directly for an AMASS clip on a SMPL-family
    avatar, else retargeted with its mesh's soles on the floor; see prepare_clip) and key it;
    the add-on's and `doppel animate`'s one entry point. ``fps`` None means the scene's rate;
    ``root_motion`` "bone" (default), "object" or "in_place" (``in_place=True`` is the old
    spelling); ``plant_feet`` holds contact feet still. Raises MotionError with the scene
    unchanged."""
    from .motion_feet import armature_feet
    check_avatar(obj)
    if Path(path).suffix.lower() == ".csv":        # ARKit face weights -> shape keys
        from .face_motion import apply_face_file
        return apply_face_file(obj, path, scene, fps=fps, start_frame=start_frame,
                               source_fps=source_fps)
    skeleton = armature_skeleton(obj)
    clip = rig.motion.prepare_clip(path, skeleton, fps or scene_fps(scene),
                                   in_place=in_place, source_fps=source_fps,
                                   smpl_body=avatar_smpl_body(obj), method=method,
                                   root_motion=root_motion, plant_feet=plant_feet,
                                   feet=armature_feet(obj, skeleton))
    return apply_clip(obj, clip, scene, start_frame=start_frame), clip


def animate_blend(avatar, motion_path, out_blend, fps: float | None = None,
                  in_place: bool = False, start_frame: int = 1,
                  source_fps: float | None = None, method: str = "auto",
                  root_motion: str | None = None, plant_feet: bool = True):
    """Headless `doppel animate`: a fresh scene, the avatar built at rest, the clip applied as
    the add-on does, the .blend saved; returns (action name, the RetargetedClip). ``fps``
    also becomes the scene's rate, so playback is real time."""
    bpy.ops.wm.read_factory_settings(use_empty=True)
    scene = bpy.context.scene
    if fps:
        scene.render.fps = max(1, round(fps))
        scene.render.fps_base = scene.render.fps / fps
    built = build_avatar(avatar, bpy.context, posed=False, with_camera=False)
    action, clip = apply_motion_file(built.armature, str(motion_path), scene,
                                     in_place=in_place, start_frame=start_frame,
                                     source_fps=source_fps, method=method,
                                     root_motion=root_motion, plant_feet=plant_feet)
    out = Path(out_blend).resolve()
    out.parent.mkdir(parents=True, exist_ok=True)
    bpy.ops.wm.save_as_mainfile(filepath=str(out), compress=True)
    return action.name, clip
