"""How faithful a retargeted clip is, measured, not eyeballed (tests and benchmarks/motion.py).

1. Directions against Blender's own BVH importer (``bpy.ops.import_anim.bvh``): world-space
   directions of pelvis->neck, neck->head, head (head joint -> its end site), upper/lower arms
   and legs on the imported BVH armature vs the same segments of the avatar, after removing
   one constant heading (the importer keeps the file's facing, Doppel turns it to face -Y).
2. Feet: per clip, the share of the source's contact frames where the avatar's lowest foot
   point (its skinned mesh) is within +-2 cm (and +-1 cm) of z = 0, the lowest point over
   the clip, and the horizontal drift of a planted foot.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from rig.motion.bone_map import chains_for
from rig.motion.target_pose import TargetRest, posed_bones

# Segment -> (from point, to point); points are source roles, "hip_centre" or "head_end".
SEGMENTS = {
    "pelvis->neck": ("hip_centre", "neck"), "neck->head": ("neck", "head"),
    "head": ("head", "head_end"),
    **{f"{s}_{part}": (f"{s}_{a}", f"{s}_{b}") for s in ("left", "right")
       for part, a, b in (("upper_arm", "shoulder", "elbow"), ("lower_arm", "elbow", "wrist"),
                          ("upper_leg", "hip", "knee"), ("lower_leg", "knee", "ankle"))},
}
GROUPS = {"spine": ("pelvis->neck",), "neck": ("neck->head",), "head": ("head",),
          "arms": tuple(k for k in SEGMENTS if k.endswith("_arm")),
          "legs": tuple(k for k in SEGMENTS if k.endswith("_leg"))}


def angle_deg(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Degrees between vectors a and b (..., 3)."""
    cos = np.sum(a * b, -1) / np.maximum(np.linalg.norm(a, axis=-1)
                                         * np.linalg.norm(b, axis=-1), 1e-12)
    return np.degrees(np.arccos(np.clip(cos, -1.0, 1.0)))


def blender_bvh_points(path: str | Path, roles: dict[str, int], joint_names: list[str],
                       frames: np.ndarray) -> dict[str, np.ndarray]:
    """Import ``path`` with Blender's own BVH importer (in a fresh empty scene) and return the
    world positions (len(frames), 3) of every point SEGMENTS uses, at 0-based BVH frames
    ``frames``. ``roles``/``joint_names`` are the loader's (role -> joint index, names)."""
    import bpy
    bpy.ops.wm.read_factory_settings(use_empty=True)
    bpy.ops.import_anim.bvh(filepath=str(path))
    arm = bpy.context.active_object
    scene = bpy.context.scene
    wanted = {p for seg in SEGMENTS.values() for p in seg}
    out = {p: np.zeros((len(frames), 3)) for p in wanted}
    bones = arm.pose.bones
    for i, f in enumerate(frames):
        scene.frame_set(int(f) + 1)                 # the importer keys BVH frame 0 at frame 1
        mw = arm.matrix_world
        for p in wanted:
            if p == "hip_centre":
                a = mw @ bones[joint_names[roles["left_hip"]]].head
                b = mw @ bones[joint_names[roles["right_hip"]]].head
                out[p][i] = 0.5 * (np.array(a) + np.array(b))
            elif p == "head_end":                   # the head's end site is its bone's tail
                out[p][i] = np.array(mw @ bones[joint_names[roles["head"]]].tail)
            elif p in roles:
                out[p][i] = np.array(mw @ bones[joint_names[roles[p]]].head)
    bpy.ops.wm.read_factory_settings(use_empty=True)
    return out


def avatar_points(skeleton, rotations: np.ndarray, root_location: np.ndarray
                  ) -> dict[str, np.ndarray]:
    """The same points on a posed target skeleton: (T, 3) each, armature space. A role's
    point is the head of the first bone of its chain; "head_end" is the head chain's tail."""
    target = TargetRest.from_skeleton(skeleton)
    heads, tails = posed_bones(target, np.asarray(rotations, np.float64),
                               np.asarray(root_location, np.float64))
    index = {n: i for i, n in enumerate(target.names)}
    first = {}
    for c in chains_for(target.names):
        first.setdefault(c.role, c)
    out = {r: heads[:, index[c.bones[0]]] for r, c in first.items()}
    out["hip_centre"] = 0.5 * (out["left_hip"] + out["right_hip"])
    out["head_end"] = tails[:, index[first["head"].bones[-1]]]
    return out


def heading_fit(ref: dict, got: dict) -> float:
    """Yaw (radians about +Z) that best turns the reference's horizontal segment directions
    onto the avatar's, over every segment and frame (one constant, least squares)."""
    cross = dot = 0.0
    for a, b in SEGMENTS.values():
        r, g = ref[b] - ref[a], got[b] - got[a]
        cross += np.sum(r[:, 0] * g[:, 1] - r[:, 1] * g[:, 0])
        dot += np.sum(r[:, 0] * g[:, 0] + r[:, 1] * g[:, 1])
    return float(np.arctan2(cross, dot))


def direction_errors(ref: dict, got: dict) -> dict[str, np.ndarray]:
    """Segment -> (T,) degrees between reference and avatar directions, heading removed."""
    yaw = heading_fit(ref, got)
    c, s = np.cos(yaw), np.sin(yaw)
    turn = np.array([[c, -s, 0.0], [s, c, 0.0], [0.0, 0.0, 1.0]])
    return {k: angle_deg((ref[b] - ref[a]) @ turn.T, got[b] - got[a])
            for k, (a, b) in SEGMENTS.items()}


def group_summary(errors: dict[str, np.ndarray]) -> dict[str, tuple[float, float]]:
    """Group -> (median, max) degrees over its segments and frames."""
    out = {}
    for g, segs in GROUPS.items():
        e = np.concatenate([errors[s] for s in segs])
        out[g] = (float(np.median(e)), float(np.max(e)))
    return out


def mesh_feet(avatar):
    """The avatar's sole points from its body mesh (what prepare_clip's ``feet`` takes)."""
    from rig.motion.feet import sole_points_from_mesh
    layer = avatar.layers[0]
    return sole_points_from_mesh(list(avatar.skeleton.names), avatar.skeleton.parents,
                                 layer.vertices, layer.skin_indices, layer.skin_weights)


def bvh_direction_errors(path: str | Path, avatar, fps: float = 30.0, **clip_options):
    """Retarget BVH ``path`` onto ``avatar`` (its mesh's soles grounded) and compare with
    Blender's import of it -> (segment -> (T,) degrees, the RetargetedClip)."""
    from rig.motion import load_motion, prepare_clip
    source = load_motion(path)
    skeleton = avatar.skeleton
    clip = prepare_clip(path, skeleton, fps, feet=mesh_feet(avatar), **clip_options)
    frames = np.round(np.arange(clip.frame_count) * source.fps / fps).astype(int)
    frames = np.minimum(frames, source.frame_count - 1)
    ref = blender_bvh_points(path, source.skeleton.roles, source.skeleton.names, frames)
    got = avatar_points(skeleton, clip.rotations, clip.root_location)
    return direction_errors(ref, got), clip


def foot_vertices(avatar, chains=None):
    """[left, right] vertex indices of the avatar's body mesh bound mostly (> 50 %) to a foot
    or toe bone, and that layer."""
    from rig.motion.feet import foot_bones
    sk = avatar.skeleton
    layer = avatar.layers[0]
    chains = chains or chains_for(list(sk.names))
    idx, w = np.asarray(layer.skin_indices), np.asarray(layer.skin_weights, np.float64)
    out = []
    for bones in foot_bones(list(sk.names), np.asarray(sk.parents), chains):
        share = (w * np.isin(idx, list(bones))).sum(1) / np.maximum(w.sum(1), 1e-12)
        out.append(np.flatnonzero(share > 0.5))
    return out, layer


def feet_report(avatar, clip) -> dict:
    """Feet of ``clip`` (a RetargetedClip on ``avatar``) measured on the avatar's skinned
    mesh (every vertex of each foot, all its skin weights, Blender's LBS): per foot and
    frame the lowest point; over the source's contact frames the share within +-1 / +-2 cm
    of z = 0, the lowest point over the clip, and the largest horizontal drift of a planted
    foot (its toes' mean head, from where the contact began)."""
    from rig.kinematics import posed_bone_matrices
    from rig.skinning import linear_blend_skinning, skinning_matrices
    sk = avatar.skeleton
    feet, layer = foot_vertices(avatar)
    posed = posed_bone_matrices(np.asarray(sk.matrices, np.float64), sk.parents,
                                clip.rotations.astype(np.float64),
                                (np.asarray(sk.matrices, np.float64)[0, :3, :3]
                                 @ clip.root_location.astype(np.float64).T).T)
    if clip.object_location is not None:
        posed[..., :3, 3] += clip.object_location[:, None].astype(np.float64)
    low = np.zeros((clip.frame_count, 2))
    ball = np.zeros((clip.frame_count, 2, 3))
    names = list(sk.names)
    for s, (verts, side) in enumerate(zip(feet, "LR")):
        v = np.asarray(layer.vertices, np.float64)[verts]
        for t in range(clip.frame_count):
            skin = skinning_matrices(sk.matrices, posed[t])
            low[t, s] = linear_blend_skinning(v, layer.skin_indices[verts],
                                              layer.skin_weights[verts], skin)[:, 2].min()
        toes = [i for i, n in enumerate(names) if n.startswith("toe") and n.endswith(
            f"-1.{side}")] or [names.index(f"foot.{side}")]
        ball[:, s] = posed[:, toes][..., :3, 3].mean(1)
    contacts = np.asarray(clip.contacts, bool)
    on = low[contacts]
    drift = 0.0
    for s in (0, 1):
        c = np.concatenate([[0], contacts[:, s].astype(np.int8), [0]])
        edges = np.flatnonzero(np.diff(c))
        for a, b in zip(edges[::2], edges[1::2]):
            d = np.linalg.norm(ball[a:b, s, :2] - ball[a, s, :2], axis=1).max()
            drift = max(drift, float(d))
    return {"contact_frames": int(contacts.sum()), "within_1cm": float(np.mean(np.abs(on) <= 0.01)),
            "within_2cm": float(np.mean(np.abs(on) <= 0.02)), "lowest_m": float(low.min()),
            "drift_m": drift, "low": low, "contacts": contacts}
