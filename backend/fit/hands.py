"""Fingers and wrists from MediaPipe Hands: 21 landmarks per hand -> Anny's finger bones
(flexion about each joint's hinge and spread, bounded to anatomical ranges; the thumb with
its own axes and ranges) and the wrist's orientation.

The legacy ``mp.solutions.hands`` graph (its palm detector and landmark models ship in the
0.10.21 wheel) runs on a crop around each wrist BlazePose found, so each hand is assigned to
the body's left or right by where it is, not by a guess from the hand alone; MediaPipe's own
handedness must agree (it labels as if the image were mirrored). A hand that is hidden,
tiny, not found or contradicts itself stays relaxed: a gentle natural curl (RELAXED), never
a fist, and its wrist keeps the body fit's orientation.

Angles are measured the same way on the photo's hand (MediaPipe's 3D world landmarks) and
on Anny's rest hand (its bone heads), so the bone rotation is their difference: at each
joint, with ``a`` the parent segment and ``u`` the direction the finger curls towards
(the palm's normal, or across the palm for the thumb, made perpendicular to ``a``),
flexion = atan2(b.u, b.a) and spread = the angle of the child segment ``b`` out of the
(a, u) plane. The wrist: the palm's frame (wrist -> middle knuckle, index -> pinky knuckle) on both hands
gives the hand's orientation relative to the viewing ray (weak perspective); the
difference from the fitted wrist is split into forearm twist (lowerarm02) and wrist swing.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

import numpy as np

from rig import rotations as Q

from .bone_edit import (
    angle_deg,
    bounded,
    camera_deltas,
    camera_rotations,
    ray_rotation,
    set_local,
    turn_bone,
)

_LOCK = threading.Lock()
_HANDS = None
# BlazePose indices per body side: wrist, elbow, (pinky, index, thumb) points.
BODY_SIDES = {"L": (15, 13, (17, 19, 21)), "R": (16, 14, (18, 20, 22))}
MP_LABEL = {"L": "Right", "R": "Left"}   # MediaPipe labels hands as if the photo were mirrored
MIN_VISIBILITY = 0.5      # BlazePose wrist visibility below which the hand counts as hidden
MIN_PALM_PX = 10.0        # wrist to middle knuckle, working px: smaller hands are guesses
MIN_KNUCKLE_RATIO = 0.2   # knuckle_ratio below which MediaPipe's 3D hand is not trusted
# Joints: (bone without side, parent segment, child segment, kind); segments are MediaPipe
# landmark index pairs. Fingers 2-5 (index..pinky) knuckle at 1 + 4 (f - 2) + 4.
JOINTS = [("finger1-1", (0, 1), (1, 2), "thumb_cmc"), ("finger1-2", (1, 2), (2, 3), "thumb_mcp"),
          ("finger1-3", (2, 3), (3, 4), "thumb_ip")]
for _f in (2, 3, 4, 5):
    _m = 4 * _f - 3
    JOINTS += [(f"finger{_f}-1", (0, _m), (_m, _m + 1), "mcp"),
               (f"finger{_f}-2", (_m, _m + 1), (_m + 1, _m + 2), "pip"),
               (f"finger{_f}-3", (_m + 1, _m + 2), (_m + 2, _m + 3), "dip")]
# Degrees: (flexion low, high, relative, spread limit). Finger flexion ranges are anatomical
# angles; the thumb's are changes from Anny's rest thumb (its rest axes are oblique). Spread
# is always a change from rest, kept small: MediaPipe's depth makes it the noisiest angle.
BOUNDS = {"mcp": (-15.0, 90.0, False, 12.0), "pip": (-5.0, 105.0, False, 0.0),
          "dip": (-5.0, 80.0, False, 0.0),
          "thumb_cmc": (-20.0, 25.0, True, 20.0),
          "thumb_mcp": (-10.0, 40.0, True, 10.0),
          "thumb_ip": (-10.0, 60.0, True, 5.0)}
# A relaxed hand: flexion per kind, in the same terms as BOUNDS; spread stays at rest.
RELAXED = {"mcp": 25.0, "pip": 35.0, "dip": 20.0,
           "thumb_cmc": 0.0, "thumb_mcp": 5.0, "thumb_ip": 10.0}
MAX_WRIST_SWING_DEG = 70.0
MAX_FOREARM_TWIST_DEG = 80.0


@dataclass
class HandSeen:
    """One hand MediaPipe found: (21, 3) world landmarks (metres, camera-aligned axes),
    (21, 2) working-image pixels, MediaPipe's handedness score."""

    world: np.ndarray
    pixels: np.ndarray
    score: float


def _hands():
    global _HANDS
    if _HANDS is None:
        import mediapipe as mp
        _HANDS = mp.solutions.hands.Hands(static_image_mode=True, max_num_hands=2,
                                          model_complexity=1, min_detection_confidence=0.5)
    return _HANDS


def detect_hand(rgb: np.ndarray, obs, side: str) -> HandSeen | str:
    """The hand at the body's ``side`` wrist ("L"/"R", the person's own), or why there is
    none ("hidden", "tiny", "not found")."""
    import cv2
    wrist_i, elbow_i, tips_i = BODY_SIDES[side]
    kp, vis = obs.keypoints.astype(np.float64), obs.visibility
    if vis[wrist_i] < MIN_VISIBILITY:
        return "hidden"
    wrist, tips = kp[wrist_i], kp[list(tips_i)].mean(0)
    forearm = float(np.linalg.norm(wrist - kp[elbow_i]))
    reach = float(np.linalg.norm(tips - wrist))
    if max(0.4 * forearm, reach) < MIN_PALM_PX:
        return "tiny"
    # A square around the hand: the forearm's length bounds the hand's (often foreshortened).
    centre = wrist + 0.6 * (tips - wrist)
    half = max(0.9 * forearm, 2.5 * reach, 20.0)
    h, w = rgb.shape[:2]
    x0, y0 = np.maximum(centre - half, 0).astype(int)
    x1, y1 = np.minimum(centre + half, [w, h]).astype(int)
    if x1 - x0 < 8 or y1 - y0 < 8:
        return "hidden"
    crop = rgb[y0:y1, x0:x1, :3]
    scale = 256.0 / max(crop.shape[:2])
    big = cv2.resize(crop, None, fx=scale, fy=scale,
                     interpolation=cv2.INTER_CUBIC if scale > 1 else cv2.INTER_AREA)
    with _LOCK:
        res = _hands().process(np.ascontiguousarray(big))
    best, best_d = None, np.inf
    for lm, hd, wl in zip(res.multi_hand_landmarks or [], res.multi_handedness or [],
                          res.multi_hand_world_landmarks or []):
        label = hd.classification[0]
        pix = np.array([[p.x * big.shape[1], p.y * big.shape[0]] for p in lm.landmark])
        pix = pix / scale + [x0, y0]
        palm = float(np.linalg.norm(pix[9] - pix[0]))
        d = float(np.linalg.norm(pix[0] - wrist))
        if label.label != MP_LABEL[side] or d > max(palm, 8.0) or d >= best_d:
            continue
        world = np.array([[p.x, p.y, p.z] for p in wl.landmark], np.float64)
        best, best_d = HandSeen(world, pix, float(label.score)), d
    if best is None:
        return "not found"
    if np.linalg.norm(best.pixels[9] - best.pixels[0]) < MIN_PALM_PX:
        return "tiny"
    return best


def rest_hand(skeleton, side: str) -> np.ndarray:
    """(21, 3) Anny's rest hand joints in MediaPipe's landmark order (armature space)."""
    names = skeleton.names
    heads, tails = np.asarray(skeleton.heads, np.float64), np.asarray(skeleton.tails, np.float64)
    pts = [tails[names.index(f"wrist.{side}")]]     # the palm's base, as MediaPipe's wrist
    for f in (1, 2, 3, 4, 5):
        pts += [heads[names.index(f"finger{f}-{k}.{side}")] for k in (1, 2, 3)]
        pts.append(tails[names.index(f"finger{f}-3.{side}")])
    return np.array(pts)


def _unit(v: np.ndarray) -> np.ndarray:
    return v / max(float(np.linalg.norm(v)), 1e-12)


def palm_normal(pts: np.ndarray, side: str) -> np.ndarray:
    """Unit normal out of the palm (the side fingers curl towards), for either hand."""
    n = _unit(np.cross(pts[5] - pts[17], pts[9] - pts[0]))
    return -n if side == "L" else n


def joint_angles(pts: np.ndarray, side: str) -> dict[str, tuple[float, float, np.ndarray,
                                                                 np.ndarray]]:
    """Per finger bone: (flexion, spread) in radians at its joint, and the joint's (a, u)
    unit axes (parent segment, curl direction), for 21 hand points in MediaPipe order."""
    n = palm_normal(pts, side)
    across = _unit(pts[17] - pts[5])           # index knuckle -> pinky knuckle
    out = {}
    for bone, (p0, p1), (c0, c1), kind in JOINTS:
        a = _unit(pts[p1] - pts[p0])
        b = pts[c1] - pts[c0]
        toward = across if kind in ("thumb_mcp", "thumb_ip") else n
        u = _unit(toward - (toward @ a) * a)
        s = np.cross(a, u)
        flex = float(np.arctan2(b @ u, b @ a))
        spread = float(np.arctan2(b @ s, np.hypot(b @ a, b @ u)))
        out[bone] = (flex, spread, a, u)
    return out


def finger_rotations(skeleton, side: str, seen: HandSeen | None
                     ) -> tuple[dict[str, np.ndarray], dict[str, float]]:
    """({bone name: local axis-angle}, {bone name: resulting flexion in degrees}) for the
    side's 15 finger bones: the photo's hand angles (bounded) when ``seen``, else RELAXED."""
    rest = joint_angles(rest_hand(skeleton, side), side)
    photo = joint_angles(seen.world, side) if seen is not None else None
    names = skeleton.names
    out, flexions = {}, {}
    for bone, _, _, kind in JOINTS:
        lo, hi, relative, spread_lim = BOUNDS[kind]
        flex0, spread0, a, u = rest[bone]
        if photo is None:
            flex = np.radians(RELAXED[kind]) + (flex0 if relative else 0.0)
            spread = spread0
        else:
            flex, spread = photo[bone][:2]
        base = flex0 if relative else 0.0
        d_flex = np.clip(flex - base, np.radians(lo), np.radians(hi)) + base - flex0
        d_spread = np.clip(spread - spread0, -np.radians(spread_lim), np.radians(spread_lim))
        # Rotating about s = a x u turns a towards u (flexion); about -u, towards s (spread).
        axis = d_flex * np.cross(a, u) - d_spread * u
        frame = np.asarray(skeleton.matrices[names.index(f"{bone}.{side}")], np.float64)
        out[f"{bone}.{side}"] = frame[:3, :3].T @ axis
        flexions[f"{bone}.{side}"] = round(float(np.degrees(flex0 + d_flex)), 1)
    return out, flexions


def hand_frame(pts: np.ndarray) -> np.ndarray:
    """(3, 3) orthonormal frame of a hand, columns: across the knuckles (index -> pinky),
    along the palm (wrist -> middle knuckle), their cross product. Built from directions
    only, as MediaPipe's 3D hand is often narrower across the knuckles than a real one."""
    along = _unit(pts[9] - pts[0])
    across = pts[17] - pts[5]
    across = _unit(across - (across @ along) * along)
    return np.stack([across, along, np.cross(across, along)], axis=1)


def knuckle_ratio(pts: np.ndarray) -> float:
    """Knuckle span over palm length: about 0.8 for a real hand; near 0 when the hand is
    seen edge-on and MediaPipe's depth could not recover its width."""
    return float(np.linalg.norm(pts[17] - pts[5]) / max(np.linalg.norm(pts[9] - pts[0]), 1e-9))


def hand_orientation(skeleton, side: str, seen: HandSeen, camera, work_scale: float
                     ) -> np.ndarray:
    """The rotation taking rest armature directions to the photo hand's camera directions."""
    rest = hand_frame(rest_hand(skeleton, side))
    u, v = seen.pixels[0]
    return ray_rotation(u, v, camera, work_scale) @ hand_frame(seen.world) @ rest.T


def turn_wrist(avatar, side: str, target: np.ndarray) -> float:
    """Turn forearm twist and wrist so the hand's camera orientation approaches ``target``
    (bounded); returns the applied angle in degrees."""
    names = avatar.skeleton.names
    turn = target @ camera_deltas(avatar)[names.index(f"wrist.{side}")].T
    # Twist about the forearm goes to the twist bone, the rest (swing) to the wrist.
    forearm = camera_rotations(avatar)[names.index(f"lowerarm02.{side}")][:, 1]
    q = Q.from_matrix(turn)
    twist = Q.normalize(np.concatenate([q[:1], (q[1:] @ forearm) * forearm]))
    twist_m = bounded(Q.to_matrix(twist), MAX_FOREARM_TWIST_DEG)
    swing = bounded(turn @ Q.to_matrix(twist).T, MAX_WRIST_SWING_DEG)
    turn_bone(avatar, f"lowerarm02.{side}", twist_m)
    turn_bone(avatar, f"wrist.{side}", swing)
    return angle_deg(swing @ twist_m)


def set_photo_hands(avatar, rgb: np.ndarray, obs, work_scale: float) -> None:
    """Pose ``avatar``'s finger bones (and turn its wrists) from the photo's hands;
    ``work_scale``: working-image px per original px. Notes per hand what was seen in
    ``metadata["hands"]``. Skeletons without Anny's finger bones are left as they are."""
    names = avatar.skeleton.names
    if "finger2-1.L" not in names or "lowerarm02.L" not in names:
        return
    note = {}
    for side in ("L", "R"):
        seen = detect_hand(rgb, obs, side) if obs is not None else "hidden"
        entry: dict = {"found": isinstance(seen, HandSeen)}
        target = None
        if isinstance(seen, HandSeen):
            ratio = knuckle_ratio(seen.world)
            entry["knuckle_ratio"] = round(ratio, 3)
            if ratio < MIN_KNUCKLE_RATIO:
                seen, entry["found"] = "seen edge-on", False
            else:
                target = hand_orientation(avatar.skeleton, side, seen, avatar.camera,
                                          work_scale)
        if not isinstance(seen, HandSeen):
            entry["relaxed_because"] = seen
        rotations, flexions = finger_rotations(avatar.skeleton, side,
                                               seen if isinstance(seen, HandSeen) else None)
        for bone, rotvec in rotations.items():
            set_local(avatar, bone, rotvec)
        if target is not None:
            entry["wrist_turn_deg"] = round(turn_wrist(avatar, side, target), 2)
        entry["flexion_deg"] = {bone.split(".")[0]: v for bone, v in flexions.items()}
        note[side] = entry
    avatar.metadata["hands"] = note
