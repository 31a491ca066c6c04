"""Which target bones each source role drives.

A ``Chain`` is a run of target bones (parent first) that together play one source joint's
segment, e.g. Anny's upperleg01.L + upperleg02.L play SMPL's left_hip -> left_knee. With
``aim`` set, the chain (first head -> last tail) is turned to point where the source segment
points; otherwise it takes the source joint's rotation as is. Bones in no chain keep their
rest pose relative to their parent (fingers when the clip has none, toes).
"""

from __future__ import annotations

from dataclasses import dataclass

from .errors import MotionError


@dataclass(frozen=True)
class Chain:
    role: str                  # source role (SMPL joint name)
    bones: tuple[str, ...]     # target bone names, each the parent of the next
    aim: bool = True           # point the chain along the source segment


def _sided(side: str) -> list[Chain]:
    s = "L" if side == "left" else "R"
    chains = [
        Chain(f"{side}_hip", (f"upperleg01.{s}", f"upperleg02.{s}")),
        Chain(f"{side}_knee", (f"lowerleg01.{s}", f"lowerleg02.{s}")),
        Chain(f"{side}_ankle", (f"foot.{s}",)),
        Chain(f"{side}_collar", (f"clavicle.{s}", f"shoulder01.{s}")),
        Chain(f"{side}_shoulder", (f"upperarm01.{s}", f"upperarm02.{s}")),
        Chain(f"{side}_elbow", (f"lowerarm01.{s}", f"lowerarm02.{s}")),
        Chain(f"{side}_wrist", (f"wrist.{s}",), aim=False),
        Chain(f"{side}_eye", (f"eye.{s}",), aim=False),
    ]
    # SMPL+H / SMPL-X fingers: Anny's finger1 is the thumb, finger2..5 index..little.
    for finger, k in (("thumb", 1), ("index", 2), ("middle", 3), ("ring", 4), ("pinky", 5)):
        for j in (1, 2, 3):
            chains.append(Chain(f"{side}_{finger}{j}", (f"finger{k}-{j}.{s}",), aim=False))
    return chains


# Anny's spine has five bones, neck three; they are spread over SMPL's pelvis, spine1-3 and
# neck by height along the back.
ANNY_CHAINS: tuple[Chain, ...] = (
    Chain("pelvis", ("root",), aim=False),
    Chain("pelvis", ("spine05",)),
    Chain("spine1", ("spine04", "spine03")),
    Chain("spine2", ("spine02",)),
    Chain("spine3", ("spine01",)),
    Chain("neck", ("neck01", "neck02", "neck03")),
    # Aimed like the neck: left unaimed, the head would inherit the neck's straightening
    # (Anny's neck leans ~20 degrees further forward at rest than CMU's) and tilt back.
    Chain("head", ("head",)),
    *_sided("left"),
    *_sided("right"),
)

# The joint each role's segment points at (SMPL tree). SMPL-family rigs name their bones
# after the joints (any case, "L_Hip" or "left_hip").
SEGMENT_CHILD = {
    "pelvis": None, "spine1": "spine2", "spine2": "spine3", "spine3": "neck", "neck": "head",
    "head": None, "left_hip": "left_knee", "left_knee": "left_ankle", "left_ankle": "left_foot",
    "left_collar": "left_shoulder", "left_shoulder": "left_elbow", "left_elbow": "left_wrist",
    "left_wrist": None, "left_foot": None,
}
# Segments whose end is no body joint: the head ends at the top of the head (a BVH end site,
# role "head_end"); the pelvis segment runs from the hip centre to spine1 (see retarget).
SEGMENT_END = {"head": "head_end"}
_SMPL_SHORT = {"left": "l", "right": "r"}


def _smpl_chains(names: list[str]) -> tuple[Chain, ...] | None:
    lookup = {n.lower().replace("_", ""): n for n in names}
    chains = []
    for role, child in SEGMENT_CHILD.items():
        for side in ("left", "right") if role.startswith("left") else (None,):
            r = role.replace("left", side) if side else role
            keys = {r.replace("_", "")}
            if side:
                keys.add(r.replace(f"{side}_", _SMPL_SHORT[side]))
            bone = next((lookup[k] for k in keys if k in lookup), None)
            if bone is not None:
                chains.append(Chain(r, (bone,), aim=child is not None or r in SEGMENT_END))
    if len(chains) < 10:
        return None
    # Fingers, jaw, eyes: bones named like the clip's joints take their rotations as they are.
    used = {c.bones[0] for c in chains}
    chains += [Chain(n.lower().replace("_smplhf", ""), (n,), aim=False)
               for n in names if n not in used]
    return tuple(chains)


def chains_for(bone_names: list[str]) -> tuple[Chain, ...]:
    """The chains for a target skeleton: Anny's, or an SMPL-named rig's. Raises MotionError
    for a skeleton Doppel cannot drive."""
    present = set(bone_names)
    anny = [c for c in ANNY_CHAINS if all(b in present for b in c.bones)]
    if len(anny) >= 20:
        return tuple(anny)
    smpl = _smpl_chains(bone_names)
    if smpl:
        return smpl
    raise MotionError("The selected armature's bones match no skeleton Doppel can animate "
                      "(Anny or SMPL); select an avatar imported by Doppel.")
