"""BVH files whose rest pose is not the avatar's: the same CMU walk rewritten with a bent
rest (elbow and knee bent 40 degrees, arm lowered 45 degrees into an A-pose in the offsets,
the channels compensating so the motion is unchanged) and with other Euler channel orders,
still match Blender's own import of the rewritten file (real bpy)."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.spatial.transform import Rotation

import bpy  # noqa: F401  (a missing bpy fails the run, never skips it)

from benchmarks.motion_quality import (blender_bvh_points, bvh_direction_errors,
                                       group_summary)
from rig.motion import load_motion

pytestmark = pytest.mark.blender


def _layout(lines):
    """Joint name -> (line of its OFFSET, first rotation data column, rotation axes like
    "ZYX"); rotation channels are consecutive in these files."""
    out, column, name = {}, 0, None
    for i, line in enumerate(lines):
        words = line.split()
        if words[:1] in (["ROOT"], ["JOINT"]):
            name = words[1]
        elif words[:1] == ["OFFSET"] and name is not None and name not in out:
            out[name] = [i, None, ""]
        elif words[:1] == ["CHANNELS"]:
            rot = [k for k, w in enumerate(words[2:]) if w.endswith("rotation")]
            out[name][1] = column + rot[0] if rot else None     # first rotation column
            out[name][2] = "".join(words[2 + k][0] for k in rot)
            column += int(words[1])
        elif words[:2] == ["End", "Site"]:
            name = None
    return out


def rewrite(text: str, bends: dict[str, tuple[str, np.ndarray]], order: str | None = None):
    """``bends``: joint -> (its only child, rotation R about that joint in file axes). The
    child's rest offset becomes R @ offset; joint channels L -> L R^-1, child's R L, so
    world poses stay. ``order``: rewrite every rotation channel triple in this order."""
    head, motion = text.split("MOTION")
    lines = head.splitlines()
    layout = _layout(lines)
    rows = motion.strip().splitlines()
    values = np.array([r.split() for r in rows[2:]], dtype=np.float64)
    rots = {}
    for joint, (_, col, axes) in layout.items():
        if col is not None and len(axes) == 3:        # upper case: intrinsic, as BVH
            rots[joint] = (col, axes, Rotation.from_euler(axes, values[:, col:col + 3],
                                                           degrees=True))
    for joint, (child, r) in bends.items():
        line = layout[child][0]
        offset = np.array(lines[line].split()[1:4], dtype=np.float64)
        lines[line] = "OFFSET " + " ".join(f"{v:.6f}" for v in r.apply(offset))
        s, a, rot = rots[joint]
        rots[joint] = (s, a, rot * r.inv())
        s, a, rot = rots[child]
        rots[child] = (s, a, r * rot)
    for joint, (start, axes, rot) in rots.items():
        new_axes = order or axes
        values[:, start:start + 3] = rot.as_euler(new_axes, degrees=True)
        if order:
            i = layout[joint][0] + 1
            words = lines[i].split()
            pos = [w for w in words[2:] if w.endswith("position")]
            lines[i] = f"CHANNELS {words[1]} " + " ".join(pos + [f"{x}rotation" for x in order])
    body = [" ".join(f"{x:.6f}" for x in row) for row in values]
    return "\n".join(lines) + "\nMOTION\n" + "\n".join(rows[:2] + body) + "\n"


@pytest.mark.parametrize("variant", ["bent_rest", "a_pose", "xyz_order", "yzx_order"])
def test_unusual_rests_and_channel_orders_match_blender(shared_data, anny_avatar, tmp_path,
                                                       variant):
    src = shared_data / "motions" / "bvh" / "walk.bvh"
    bend = Rotation.from_euler("Z", 40, degrees=True)
    bends, order = {}, None
    if variant == "bent_rest":
        bends = {"LeftForeArm": ("LeftHand", bend), "RightLeg": ("RightFoot", bend),
                 "LeftLeg": ("LeftFoot", Rotation.from_euler("X", -40, degrees=True))}
    elif variant == "a_pose":
        bends = {"LeftArm": ("LeftForeArm", Rotation.from_euler("Z", -45, degrees=True)),
                 "RightArm": ("RightForeArm", Rotation.from_euler("Z", 45, degrees=True))}
    else:
        order = variant[:3].upper()
    path = tmp_path / f"walk_{variant}.bvh"
    path.write_text(rewrite(src.read_text(), bends, order))
    # The rewrite keeps the motion: Blender shows the same world joints for both files.
    m = load_motion(src)
    frames = np.arange(0, m.frame_count, 7)
    a = blender_bvh_points(src, m.skeleton.roles, m.skeleton.names, frames)
    b = blender_bvh_points(path, m.skeleton.roles, m.skeleton.names, frames)
    size = np.ptp(np.concatenate(list(a.values())), axis=0).max()
    assert max(np.abs(a[k] - b[k]).max() for k in a) < 1e-4 * size
    rest = load_motion(path).skeleton.rest
    if bends:
        assert np.abs(rest - m.skeleton.rest).max() > 0.05          # the rest really differs
    summary = group_summary(bvh_direction_errors(path, anny_avatar)[0])
    for group, (median, worst) in summary.items():
        assert median <= 5.0 and worst <= 15.0, (variant, group, median, worst)
