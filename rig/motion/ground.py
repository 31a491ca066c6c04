"""Feet on the floor: contact from the source, soles on z = 0, planted feet held still.

1. Contacts (contact.py) are read from the source, per frame and foot.
2. The body's height: per frame, the offset that puts the higher contact foot's lowest sole
   point on z = 0, bridged over frames without contact and smoothed (0.1 s), so the source's
   drifting floor and the avatar's other proportions vanish without jitter.
3. Residuals go to two-bone leg IK (rig/ik.py): a contact foot's sole is put exactly on the
   floor and (``plant``) its ball held where it landed (mean over the contact); the body is
   lowered where a stretched leg could not reach. Corrections fade out over 0.2 s after a
   contact; a swinging foot is only ever lifted, never left under the floor.
The foot keeps its world orientation throughout (only thigh and shin turn), so the sole
moves rigidly with the ankle and one IK solve per frame is exact.
"""

from __future__ import annotations

import numpy as np

from .. import rotations as Q
from ..ik import two_bone_ik
from .bone_map import Chain
from .contact import foot_contacts
from .feet import FootPoints, ball_points, bone_heads, skin, sole_points_from_bones
from .root_path import leg_length
from .source import SourceMotion
from .target_pose import TargetRest

SMOOTH_S = 0.1        # Gaussian sigma of the body's height offset, seconds
FADE_S = 0.2          # a correction fades out over this long after a contact
REACH = 0.995         # fraction of the full leg length IK may stretch to


def _gauss(x: np.ndarray, sigma: float) -> np.ndarray:
    """Gaussian smoothing along axis 0 with edge padding (sigma in frames)."""
    if sigma < 0.5 or len(x) < 3:
        return x
    r = int(3 * sigma)
    k = np.exp(-0.5 * (np.arange(-r, r + 1) / sigma) ** 2)
    k /= k.sum()
    pad = np.pad(x, (r, r), mode="edge")
    return np.convolve(pad, k, mode="valid")


def _rolling_max(x: np.ndarray, half: int) -> np.ndarray:
    pad = np.pad(x, (half, half), mode="edge")
    return np.lib.stride_tricks.sliding_window_view(pad, 2 * half + 1).max(-1)


def _legs(target: TargetRest, chains: tuple[Chain, ...]):
    """Per side: (thigh bones, shin bones, hip bone, knee bone, ankle bone) or None."""
    index = {n: i for i, n in enumerate(target.names)}
    out = []
    for side in ("left", "right"):
        bones = {c.role: [index[b] for b in c.bones if b in index] for c in chains
                 if c.role.startswith(side)}
        need = [f"{side}_{j}" for j in ("hip", "knee", "ankle")]
        if not all(bones.get(r) for r in need):
            return None
        thigh, shin, foot = (bones[r] for r in need)
        out.append((thigh, shin, thigh[0], shin[0], foot[0]))
    return out


def _height_offset(low: np.ndarray, contacts: np.ndarray, fps: float) -> np.ndarray:
    """(T,) metres to add to the body's height from (T, 2) lowest sole points."""
    t = np.arange(len(low))
    any_c = contacts.any(1)
    if not any_c.any():      # never touches (a clip in the air): feet's usual low on the floor
        return np.full(len(low), -float(np.percentile(low.min(1), 5)))
    need = -np.where(contacts, low, 0.0).sum(1) / np.maximum(contacts.sum(1), 1)
    need = np.interp(t, t[any_c], need[any_c])
    return _gauss(need, SMOOTH_S * fps)


def _fade(corr: np.ndarray, on: np.ndarray, frames: int) -> np.ndarray:
    """(T, 3) corrections set on contact frames ``on`` -> faded linearly to zero over
    ``frames`` frames on either side of each contact."""
    out = np.where(on[:, None], corr, 0.0)
    idx = np.flatnonzero(on)
    off = np.flatnonzero(~on)
    if len(idx) == 0 or frames < 1 or len(off) == 0:
        return out
    k = np.searchsorted(idx, off)                      # first contact frame after each t
    prev, nxt = idx[np.maximum(k - 1, 0)], idx[np.minimum(k, len(idx) - 1)]
    wp = np.where(k > 0, np.maximum(0.0, 1 - (off - prev) / frames), 0.0)
    wn = np.where(k < len(idx), np.maximum(0.0, 1 - (nxt - off) / frames), 0.0)
    total = np.maximum(1.0, wp + wn)
    out[off] = (wp / total)[:, None] * corr[prev] + (wn / total)[:, None] * corr[nxt]
    return out


def _runs(on: np.ndarray) -> list[tuple[int, int]]:
    edges = np.flatnonzero(np.diff(np.concatenate([[0], on.astype(np.int8), [0]])))
    return list(zip(edges[::2], edges[1::2]))


def place_feet(m: SourceMotion, target: TargetRest, chains: tuple[Chain, ...],
               delta: np.ndarray, head_world: np.ndarray, p: np.ndarray,
               feet: FootPoints | None = None, plant: bool = True):
    """(T, B, 4) world deltas, (T, 3) root head path, (T, J, 3) source joint positions ->
    (deltas with the legs corrected, root head path with its height placed, (T, 2) bool
    contacts). ``feet``: sole points (feet.py); ``plant``: hold contact feet still."""
    legs = _legs(target, chains)
    if legs is None:
        return delta, head_world, None
    delta, head_world = delta.copy(), head_world.copy()
    feet = feet if feet is not None else sole_points_from_bones(target, chains)
    src_leg = leg_length({r: m.skeleton.rest[i] for r, i in m.skeleton.roles.items()})
    contacts = foot_contacts(m, p, src_leg or 1.0)
    heads = bone_heads(target, delta, head_world)
    soles = skin(feet, target, delta, heads)
    low = np.stack([soles[:, feet.side == s, 2].min(1) for s in (0, 1)], 1)      # (T, 2)

    offset = _height_offset(low, contacts, m.fps)                              # step 2
    head_world[:, 2] += offset
    heads[..., 2] += offset[:, None]
    low += offset[:, None]

    balls = ball_points(target, chains)
    ball = np.stack([heads[:, f] + Q.rotate(delta[:, f], np.broadcast_to(
        r - target.heads[f], heads[:, 0].shape)) for f, r in balls], 1)        # (T, 2, 3)
    shift = np.zeros((len(low), 2, 3))                                         # step 3
    for s in (0, 1):
        for a, b in _runs(contacts[:, s]) if plant else ():
            shift[a:b, s, :2] = ball[a:b, s, :2].mean(0) - ball[a:b, s, :2]
    lengths = [np.linalg.norm(target.heads[k] - target.heads[h])
               + np.linalg.norm(target.heads[a] - target.heads[k]) for _, _, h, k, a in legs]
    for _ in range(3):                       # lower the body where a leg cannot reach
        shift[..., 2] = np.where(contacts, -low, 0.0)
        drop = np.zeros(len(low))
        for s, (_, _, h, _, a) in enumerate(legs):
            v = heads[:, h] - (heads[:, a] + shift[:, s])
            reach = np.sqrt(np.maximum((REACH * lengths[s]) ** 2 - (v[:, :2] ** 2).sum(1), 0))
            drop = np.maximum(drop, np.where(contacts[:, s], v[:, 2] - reach, 0.0))
        if drop.max() <= 1e-4:
            break
        half = max(1, int(round(0.1 * m.fps)))
        drop = np.maximum(_gauss(_rolling_max(drop, 2 * half), half), drop)
        head_world[:, 2] -= drop
        heads[..., 2] -= drop[:, None]
        low -= drop[:, None]

    # No foot on the floor (a rest pose's first frame, a jump): a foot under the floor
    # lifts the body rather than bending the leg.
    lift = np.where(contacts.any(1), 0.0, np.maximum(-low.min(1), 0.0))
    head_world[:, 2] += lift
    heads[..., 2] += lift[:, None]
    low += lift[:, None]
    shift[..., 2] = np.where(contacts, -low, 0.0)       # contact soles exactly on z = 0
    fade = int(round(FADE_S * m.fps))
    for s, (thigh, shin, h, k, a) in enumerate(legs):
        corr = _fade(shift[:, s], contacts[:, s], fade)
        corr[:, 2] = np.maximum(corr[:, 2], -low[:, s])          # never under the floor
        moving = np.linalg.norm(corr, axis=1) > 1e-6
        if not moving.any():
            continue
        # A straight leg bends about the pelvis' left-right axis (knee forward).
        lateral = Q.rotate(delta[moving, 0], np.broadcast_to([1.0, 0.0, 0.0],
                                                             (int(moving.sum()), 3)))
        upper, lower = two_bone_ik(heads[moving, h], heads[moving, k], heads[moving, a],
                                   heads[moving, a] + corr[moving], fallback_axis=lateral)
        for b in thigh:
            delta[moving, b] = Q.multiply(upper, delta[moving, b])
        for b in shin:
            delta[moving, b] = Q.multiply(Q.multiply(upper, lower), delta[moving, b])
    return delta, head_world, contacts
