"""Find the body joints (SMPL role names) in a BVH tree from joint names and structure.

Names alone are ambiguous across exporters (CMU's "LeftShoulder" is a collar bone in one
file and the shoulder joint in another), so only the hands and feet are found by name; the
limbs are then read up the tree (wrist -> elbow -> shoulder -> collar, ankle -> knee -> hip)
and the spine is the path from the root to the joint the collars hang from.
"""

from __future__ import annotations

import re

import numpy as np


def _norm(name: str) -> str:
    return re.sub(r"[^a-z0-9]", "", name.rsplit(":", 1)[-1].lower())


def _find(names: list[str], words: tuple[str, ...], side: str) -> int | None:
    s, full = side[0], side
    normed = [_norm(n) for n in names]
    for word in words:
        wanted = {f"{full}{word}", f"{s}{word}", f"{word}{full}", f"{word}{s}"}
        for i, n in enumerate(normed):
            if n in wanted:
                return i
    return None


def _ancestors(i: int, parents: np.ndarray) -> list[int]:
    out = []
    while i >= 0:
        out.append(i)
        i = int(parents[i])
    return out


def find_roles(names: list[str], parents: np.ndarray) -> dict[str, int]:
    """Role name -> joint index for the joints that could be identified."""
    roles: dict[str, int] = {"pelvis": 0}
    children = {i: [c for c in range(len(names)) if parents[c] == i] for i in range(len(names))}
    head = next((i for i, n in enumerate(names) if _norm(n) == "head"), None)
    head_path = set(_ancestors(head, parents)) if head is not None else set()
    if head is not None:
        roles["head"] = head
        # The head's own direction: its end site (top of the head) when the file has one.
        ends = [c for c in children[head] if names[c] == f"{names[head]}_end"]
        if ends or len(children[head]) == 1:
            roles["head_end"] = (ends or children[head])[0]
    chest = None
    for side in ("left", "right"):
        ankle = _find(names, ("ankle", "foot"), side)
        if ankle is not None and parents[ankle] > 0 and parents[parents[ankle]] > 0:
            roles[f"{side}_ankle"] = ankle
            roles[f"{side}_knee"] = int(parents[ankle])
            roles[f"{side}_hip"] = int(parents[parents[ankle]])
            if children[ankle]:
                roles[f"{side}_foot"] = toe = children[ankle][0]
                if children[toe]:                  # the toe's end site: the tip of the foot
                    roles[f"{side}_toe_end"] = children[toe][0]
        wrist = _find(names, ("wrist", "hand"), side)
        if wrist is not None and parents[wrist] > 0 and parents[parents[wrist]] > 0:
            roles[f"{side}_wrist"] = wrist
            roles[f"{side}_elbow"] = elbow = int(parents[wrist])
            roles[f"{side}_shoulder"] = shoulder = int(parents[elbow])
            collar = int(parents[shoulder])
            # A collar hangs off the chest; if the shoulder's parent is on the path to the
            # head it is the chest itself.
            if collar > 0 and collar not in head_path and len(children[collar]) < 3:
                roles[f"{side}_collar"] = collar
                collar = int(parents[collar])
            chest = collar if chest is None else chest
    if chest is not None and chest > 0:
        spine = list(reversed(_ancestors(chest, parents)))[1:]       # root excluded
        roles["spine3"] = spine[-1]
        if len(spine) >= 2:
            roles["spine1"] = spine[0]
        if len(spine) >= 3:
            roles["spine2"] = spine[(len(spine) - 1) // 2]
        if head is not None and chest in head_path:
            path = list(reversed(_ancestors(head, parents)))
            after = path[path.index(chest) + 1:-1]
            if after:
                roles["neck"] = after[0]
    return roles
