"""SMPL-family joints -> Blender bones: names, axis change, tails and rest frames.

SMPL's native frame is Y up, +Z forward, +X the body's left. Blender's is Z up, -Y forward,
+X the body's left, so a point maps as (x, y, z) -> (x, -z, y) (``SMPL_TO_BLENDER``).

SMPL joints are points with no orientation (every joint's rest frame is the identity), so the
bones are our choice. The choice, used everywhere (skeleton, pose conversion):

* tail: towards the *main child* joint (pelvis -> spine1, spine3 -> neck, wrist -> middle
  finger base / SMPL's hand joint, neck -> head; the only child otherwise). Leaves continue
  their parent bone's direction for half its length, except the head (straight up, as long
  as the neck), the feet and eyes (straight forward), so no tail sinks into the floor.
* roll: local Z is the world's forward (-Y) made perpendicular to the bone; for bones that
  point (nearly) forward or backward, the world's up (+Z) instead. A vertical bone thus gets
  Blender's roll 0 (local X = world X).

Because SMPL's joint frames are the identity, a SMPL local rotation R (native axes) becomes
the Blender pose rotation C^T (A R A^T) C for a bone whose rest frame is C (see rig.motion.pose_transfer).
"""

from __future__ import annotations

import numpy as np
from smplx.joint_names import JOINT_NAMES, SMPLH_JOINT_NAMES

# Blender point = SMPL_TO_BLENDER @ SMPL point.
SMPL_TO_BLENDER = np.array([[1.0, 0.0, 0.0], [0.0, 0.0, -1.0], [0.0, 1.0, 0.0]])

JOINT_NAMES_BY_MODEL = {
    "smpl": list(JOINT_NAMES[:22]) + ["left_hand", "right_hand"],
    "smplh": list(SMPLH_JOINT_NAMES[:52]),
    "smplx": list(JOINT_NAMES[:55]),
}

# Joints with several children: which child the bone points at.
MAIN_CHILD = {"pelvis": "spine1", "spine3": "neck", "neck": "head",
              "left_wrist": ("left_middle1", "left_hand"),
              "right_wrist": ("right_middle1", "right_hand")}
FORWARD_LEAVES = ("left_foot", "right_foot", "left_eye_smplhf", "right_eye_smplhf")
UP_LEAVES = ("head",)
MIN_BONE = 0.01          # metres; Blender drops zero-length bones
LEAF_FRACTION = 0.5      # a leaf's length as a fraction of its parent bone's

_FORWARD = np.array([0.0, -1.0, 0.0])
_UP = np.array([0.0, 0.0, 1.0])


def joint_names(model: str, count: int) -> list[str]:
    """The SMPL names for a model with ``count`` joints (raises ValueError on a mismatch)."""
    names = JOINT_NAMES_BY_MODEL[model]
    if count != len(names):
        raise ValueError(f"{model} has {len(names)} joints, the file has {count}")
    return names


def _main_child(j: int, names: list[str], children: list[list[int]]) -> int | None:
    kids = children[j]
    want = MAIN_CHILD.get(names[j])
    if want is not None:
        for w in (want,) if isinstance(want, str) else want:
            if w in names and names.index(w) in kids:
                return names.index(w)
    return kids[0] if len(kids) == 1 else None


def bone_tails(names: list[str], parents: np.ndarray, heads: np.ndarray) -> np.ndarray:
    """(B, 3) tails for (B, 3) heads in Blender axes (metres), by the rule in the docstring."""
    b = len(names)
    children: list[list[int]] = [[] for _ in range(b)]
    for j, p in enumerate(parents):
        if p >= 0:
            children[p].append(j)
    tails = np.zeros_like(heads)
    for j in range(b):        # parents come first, so a parent's tail is known before a leaf's
        child = _main_child(j, names, children)
        p = int(parents[j])
        if child is not None and np.linalg.norm(heads[child] - heads[j]) >= MIN_BONE:
            tails[j] = heads[child]
            continue
        parent_len = np.linalg.norm(tails[p] - heads[p]) if p >= 0 else 0.1
        length = max(LEAF_FRACTION * parent_len, 2 * MIN_BONE)
        if names[j] in UP_LEAVES or p < 0:
            direction = _UP
            length = max(parent_len, 4 * MIN_BONE)     # the head: about a neck's length
        elif names[j] in FORWARD_LEAVES:
            direction = _FORWARD
        else:
            direction = heads[j] - heads[p]
            n = np.linalg.norm(direction)
            direction = direction / n if n > 1e-6 else _UP
        tails[j] = heads[j] + length * direction
    return tails


def rest_frames(heads: np.ndarray, tails: np.ndarray) -> np.ndarray:
    """(B, 4, 4) Blender rest matrices: +Y head -> tail, Z by the roll rule, origin at head."""
    y = tails - heads
    y = y / np.linalg.norm(y, axis=1, keepdims=True)
    ref = np.where((np.abs(y @ _FORWARD) > 0.9)[:, None], _UP, _FORWARD)
    z = ref - (ref * y).sum(axis=1, keepdims=True) * y
    z /= np.linalg.norm(z, axis=1, keepdims=True)
    x = np.cross(y, z)
    mats = np.zeros((len(heads), 4, 4))
    mats[:, :3, 0], mats[:, :3, 1], mats[:, :3, 2] = x, y, z
    mats[:, :3, 3] = heads
    mats[:, 3, 3] = 1.0
    return mats
