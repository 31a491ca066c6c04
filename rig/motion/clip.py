"""One call from a motion file to Blender-ready arrays: load, resample, then either apply a
SMPL-family clip directly to a SMPL-family avatar or retarget it (any other pairing)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Literal, Mapping

import numpy as np

from .. import rotations as Q
from .amass import load_smpl_npz
from .bone_map import chains_for
from .bvh import load_bvh
from .direct import apply_directly, can_apply_directly
from .errors import MotionError
from .feet import FootPoints
from .resample import resample
from .retarget import retarget
from .root_path import ROOT_MOTIONS
from .target_pose import TargetRest
from .source import SourceMotion

MOTION_SUFFIXES = (".npz", ".bvh")
# Formats only a host application can parse, added by that host: suffix -> reader(path) ->
# SourceMotion. The add-on registers ".fbx" (Blender's FBX importer; blender/fbx_motion.py).
HOST_READERS: dict[str, Callable[[Path], SourceMotion]] = {}
# "auto": direct for a SMPL-family clip on a SMPL-family avatar, else retarget.
Method = Literal["auto", "direct", "retarget"]


@dataclass
class RetargetedClip:
    """A clip ready to key onto an armature; frame k is at time k / fps seconds."""
    name: str                   # file stem, used as the action name
    fps: float                  # frames per second of the arrays below
    bone_names: list[str]       # B target bones, skeleton order
    rotations: np.ndarray       # (T, B, 4) float32 pose_bone.rotation_quaternion (w, x, y, z)
    root_location: np.ndarray   # (T, 3) float32 pose_bone.location of bone_names[0]
    source_duration: float      # seconds covered by the source clip
    source: SourceMotion        # the resampled source (for checks and drawing)
    mapped: list[str] = field(default_factory=list)      # bones driven by the clip
    warnings: list[str] = field(default_factory=list)
    method: str = "retarget"    # how the clip was put on the skeleton: "direct" or "retarget"
    info: str = ""              # one sentence saying so, for the user
    root_motion: str = "bone"   # who carries the horizontal travel: "bone", "object", "in_place"
    # (T, 3) float32 armature-space travel to add to the armature object's location
    # (root_motion "object"; None otherwise).
    object_location: np.ndarray | None = None
    contacts: np.ndarray | None = None   # (T, 2) bool: left/right foot planted (retargeting)

    @property
    def frame_count(self) -> int:
        return int(self.rotations.shape[0])


def load_motion(path: str | Path, source_fps: float | None = None) -> SourceMotion:
    """Read an AMASS/SMPL ``.npz`` or a ``.bvh`` into a SourceMotion (Blender axes, metres)."""
    path = Path(path)
    if path.is_dir():
        raise MotionError(f"'{path}' is a folder; choose a .npz or .bvh motion file.")
    if not path.is_file():
        raise MotionError(f"Motion file '{path}' does not exist.")
    suffix = path.suffix.lower()
    if suffix == ".npz":
        return load_smpl_npz(path, source_fps=source_fps)
    if suffix == ".bvh":
        return load_bvh(path)
    if suffix in HOST_READERS:
        return HOST_READERS[suffix](path)
    if suffix == ".fbx":
        raise MotionError(f"'{path.name}' is an FBX file, which only Blender can read; apply "
                          "it from Blender's Motion panel or with `doppel animate`.")
    raise MotionError(f"'{path.name}' is not a motion file Doppel reads; choose an AMASS/SMPL "
                      ".npz or a .bvh file.")


def prepare_clip(path: str | Path, skeleton, fps: float, in_place: bool = False,
                 source_fps: float | None = None, smpl_body: Mapping | None = None,
                 method: Method = "auto", root_motion: str | None = None,
                 plant_feet: bool = True, feet: FootPoints | None = None) -> RetargetedClip:
    """Load ``path``, resample it to ``fps`` and put it on ``skeleton`` (a protocol Skeleton,
    or anything with names/parents/heads/tails/matrices). ``smpl_body`` is a SMPL-family
    avatar's ``metadata["smpl"]`` (places the root exactly). ``method`` "auto" applies an
    AMASS/SMPL clip directly to a SMPL-family avatar and retargets every other pairing; the
    clip's ``method`` and ``info`` say which was used. ``root_motion``: "bone" (default:
    travel on the root bone, as game engines' root motion expects), "object" (travel on the
    armature object, ``clip.object_location``) or "in_place"; ``in_place=True`` is the old
    spelling of "in_place". Retargeting also grounds the feet (soles on z = 0 in contact) and
    with ``plant_feet`` holds contact feet still; ``feet`` are sole points of the avatar's
    mesh (``sole_points_from_mesh``; default: from its foot bones). Raises MotionError."""
    if fps is None or not (np.isfinite(fps) and fps > 0):
        raise MotionError(f"Target frame rate {fps} must be a positive number.")
    if method not in ("auto", "direct", "retarget"):
        raise MotionError(f"Unknown motion method {method!r}; use auto, direct or retarget.")
    root_motion = "in_place" if in_place else (root_motion or "bone")
    if root_motion not in ROOT_MOTIONS:
        raise MotionError(f"Unknown root motion {root_motion!r}; use "
                          f"{', '.join(ROOT_MOTIONS)}.")
    names = list(skeleton.names)
    chains = chains_for(names) if method == "retarget" else None
    source = load_motion(path, source_fps=source_fps)
    direct = method == "direct" or (method == "auto" and can_apply_directly(source.kind, names))
    if not direct and chains is None:
        chains = chains_for(names)
    duration = source.duration
    moved = resample(source, float(fps))
    target = TargetRest.from_skeleton(skeleton)
    warnings = list(source.warnings)
    travel = contacts = None
    if direct:
        out = apply_directly(moved, target, smpl_body=smpl_body,
                             in_place=root_motion != "bone")
        if root_motion == "object":      # what in-place took off the bone goes on the object
            travel = _direct_travel(moved, target, out, smpl_body)
        warnings += out.warnings
        info = (f"applied the {source.kind.upper()} clip's joint rotations directly to "
                f"{len(out.mapped)} SMPL joints (no retargeting)")
    else:
        out = retarget(moved, target, chains, root_motion=root_motion, plant_feet=plant_feet,
                       feet=feet)
        travel, contacts = out.object_location, out.contacts
        info = f"retargeted the {source.kind.upper() or 'clip'} onto {len(out.mapped)} bones"
    return RetargetedClip(name=source.name, fps=float(fps), bone_names=names,
                          rotations=out.rotations.astype(np.float32),
                          root_location=out.root_location.astype(np.float32),
                          source_duration=duration, source=moved, mapped=out.mapped,
                          warnings=warnings, method="direct" if direct else "retarget",
                          info=info, root_motion=root_motion,
                          object_location=None if travel is None else travel.astype(np.float32),
                          contacts=contacts)


def _direct_travel(moved: SourceMotion, target: TargetRest, held, smpl_body) -> np.ndarray:
    """(T, 3) horizontal travel a directly applied clip loses when held in place."""
    free = apply_directly(moved, target, smpl_body=smpl_body, in_place=False)
    diff = Q.rotate(target.rest_rot[0], free.root_location - held.root_location)
    diff[:, 2] = 0.0
    return diff
