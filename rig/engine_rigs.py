"""Bone names and hierarchy game engines expect (Unreal's UE5 mannequin, Unity's Humanoid
avatar mapper, Mixamo), for Doppel's two skeleton families (Anny's 104 bones, SMPL/SMPL-H/
SMPL-X joints), and the plan that turns an avatar's skeleton into one.

Policy (the same for every preset):
- a bone the preset names is renamed;
- an unnamed bone *between* named ones (Anny's twist halves upperarm02/lowerarm02/
  upperleg02/lowerleg02, its pelvis.L/R hip bones, shoulder01, extra spine/neck bones,
  hand metacarpals where the engine has none) is removed and its skin weights are merged
  into the nearest kept ancestor, so each engine chain is a clean parent -> child line;
- an unnamed bone with no named bone below it (other toes, eyes where the engine has none)
  is kept under its own name as an extra child, which the engines' mappers ignore.
Pure Python: used by the Blender exporter and its tests.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Sequence

SIDES = (("L", "l", "Left"), ("R", "r", "Right"))
FINGERS = ("thumb", "index", "middle", "ring", "pinky")
UNITY_FINGERS = ("Thumb", "Index", "Middle", "Ring", "Little")
MIXAMO_FINGERS = ("Thumb", "Index", "Middle", "Ring", "Pinky")
UNITY_PHALANX = ("Proximal", "Intermediate", "Distal")


def _anny(preset: str) -> dict[str, str]:
    """Anny bone -> engine bone for ``preset``."""
    if preset == "unreal":
        out = {"root": "pelvis", "spine05": "spine_01", "spine04": "spine_02",
               "spine03": "spine_03", "spine02": "spine_04", "spine01": "spine_05",
               "neck01": "neck_01", "neck02": "neck_02", "head": "head"}
    elif preset == "unity":
        out = {"root": "Hips", "spine05": "Spine", "spine03": "Chest", "spine01": "UpperChest",
               "neck01": "Neck", "head": "Head", "eye.L": "LeftEye", "eye.R": "RightEye"}
    else:
        out = {"root": "Hips", "spine05": "Spine", "spine03": "Spine1", "spine01": "Spine2",
               "neck01": "Neck", "head": "Head", "eye.L": "LeftEye", "eye.R": "RightEye"}
    for s, lo, side in SIDES:
        limbs = {"clavicle": ("clavicle_l", "Shoulder", "Shoulder"),
                 "upperarm01": ("upperarm_l", "UpperArm", "Arm"),
                 "lowerarm01": ("lowerarm_l", "LowerArm", "ForeArm"),
                 "wrist": ("hand_l", "Hand", "Hand"),
                 "upperleg01": ("thigh_l", "UpperLeg", "UpLeg"),
                 "lowerleg01": ("calf_l", "LowerLeg", "Leg"),
                 "foot": ("foot_l", "Foot", "Foot"),
                 # Anny has five toes and no ball bone: the middle toe's first bone plays it.
                 "toe3-1": ("ball_l", "Toes", "ToeBase")}
        for anny, (ue, unity, mixamo) in limbs.items():
            out[f"{anny}.{s}"] = {"unreal": ue[:-1] + lo, "unity": side + unity,
                                  "mixamo": side + mixamo}[preset]
        # Anny's finger1 is the thumb (no metacarpal); finger2..5 hang off metacarpal1..4.
        for k, finger in enumerate(FINGERS, start=1):
            for j in (1, 2, 3):
                out[f"finger{k}-{j}.{s}"] = {
                    "unreal": f"{finger}_0{j}_{lo}",
                    "unity": f"{side}{UNITY_FINGERS[k - 1]}{UNITY_PHALANX[j - 1]}",
                    "mixamo": f"{side}Hand{MIXAMO_FINGERS[k - 1]}{j}"}[preset]
            if k > 1 and preset == "unreal":
                out[f"metacarpal{k - 1}.{s}"] = f"{finger}_metacarpal_{lo}"
    return out


def _smpl(preset: str) -> dict[str, str]:
    """SMPL-family joint -> engine bone (a SMPL joint's bone runs to its child joint)."""
    spine = {"unreal": ("pelvis", "spine_01", "spine_02", "spine_03", "neck_01", "head"),
             "unity": ("Hips", "Spine", "Chest", "UpperChest", "Neck", "Head"),
             "mixamo": ("Hips", "Spine", "Spine1", "Spine2", "Neck", "Head")}[preset]
    out = dict(zip(("pelvis", "spine1", "spine2", "spine3", "neck", "head"), spine))
    if preset == "unity":
        out.update({"jaw": "Jaw", "left_eye_smplhf": "LeftEye", "right_eye_smplhf": "RightEye"})
    for _, lo, side in SIDES:
        smpl = side.lower()
        limbs = {"collar": ("clavicle", "Shoulder", "Shoulder"),
                 "shoulder": ("upperarm", "UpperArm", "Arm"),
                 "elbow": ("lowerarm", "LowerArm", "ForeArm"), "wrist": ("hand", "Hand", "Hand"),
                 "hip": ("thigh", "UpperLeg", "UpLeg"), "knee": ("calf", "LowerLeg", "Leg"),
                 "ankle": ("foot", "Foot", "Foot"), "foot": ("ball", "Toes", "ToeBase")}
        for joint, (ue, unity, mixamo) in limbs.items():
            out[f"{smpl}_{joint}"] = {"unreal": f"{ue}_{lo}", "unity": side + unity,
                                      "mixamo": side + mixamo}[preset]
        for k, finger in enumerate(FINGERS):
            for j in (1, 2, 3):
                out[f"{smpl}_{finger}{j}"] = {
                    "unreal": f"{finger}_0{j}_{lo}",
                    "unity": f"{side}{UNITY_FINGERS[k]}{UNITY_PHALANX[j - 1]}",
                    "mixamo": f"{side}Hand{MIXAMO_FINGERS[k]}{j}"}[preset]
    return out


@dataclass(frozen=True)
class Preset:
    key: str                   # "unreal", "unity", "mixamo"
    label: str
    prefix: str = ""           # put before every engine name ("mixamorig:")
    root: str | None = None    # a bone added at the origin, parent of the hips


PRESETS = {
    "unreal": Preset("unreal", "Unreal (UE5 mannequin)", root="root"),
    "unity": Preset("unity", "Unity Humanoid"),
    "mixamo": Preset("mixamo", "Mixamo", prefix="mixamorig:"),
}


@dataclass
class RigPlan:
    """What the exporter does to a copy of the skeleton."""
    rename: dict[str, str]                   # kept bone -> its name in the export
    merge: dict[str, str]                    # removed bone -> kept bone taking its weights
    parents: dict[str, str | None]           # export name -> export parent name (None: top)
    root: str | None = None                  # added bone at the origin, parent of the hips
    extras: list[str] = field(default_factory=list)   # kept under their own names


def family(names: Sequence[str]) -> str:
    """"anny", "smpl", or raise ValueError for a skeleton neither family names."""
    names = set(names)
    if {"spine05", "upperarm01.L", "upperleg01.L"} <= names:
        return "anny"
    if {"pelvis", "left_hip", "left_shoulder", "spine3"} <= names:
        return "smpl"
    raise ValueError("engine presets know Anny and SMPL-family skeletons; this one has "
                     f"neither's bone names ({', '.join(list(names)[:4])}...)")


def engine_names(names: Sequence[str], preset: str) -> dict[str, str]:
    """Source bone -> engine bone name (prefix included) for the bones the preset names."""
    p = PRESETS[preset]
    table = _anny(preset) if family(names) == "anny" else _smpl(preset)
    return {n: p.prefix + table[n] for n in names if n in table}


def plan(names: Sequence[str], parents: Sequence[int], preset: str) -> RigPlan:
    """The rename/merge/keep plan for a skeleton (names, parent indices, parents first)."""
    named = engine_names(names, preset)
    n = len(names)
    below = [False] * n                     # a named bone somewhere below (not itself)
    for i in range(n - 1, -1, -1):
        p = parents[i]
        if p >= 0 and (below[i] or names[i] in named):
            below[p] = True
    rename, merge, extras = {}, {}, []
    kept_as: list[str | None] = [None] * n   # bone -> the kept source bone it folds into
    for i, name in enumerate(names):
        p = parents[i]
        if name in named or not below[i] or p < 0:
            rename[name] = named.get(name, name)
            kept_as[i] = name
            if name not in named:
                extras.append(name)
        else:
            kept_as[i] = kept_as[p]
            merge[name] = kept_as[p]
    out_parents: dict[str, str | None] = {}
    root = PRESETS[preset].root
    for i, name in enumerate(names):
        if name in rename:
            p = parents[i]
            out_parents[rename[name]] = rename[kept_as[p]] if p >= 0 else root
    if root is not None:
        out_parents[root] = None
    return RigPlan(rename=rename, merge=merge, parents=out_parents, root=root, extras=extras)
