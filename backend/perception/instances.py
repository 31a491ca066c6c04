"""Split the person masks of several people into one instance mask each.

Each person's landmark run segments "person" in its own region, so where people stand close
every mask also holds a bit of the neighbours. The union of the masks is split by the people's
skeletons: each person's limbs, torso and head drawn as thick strokes (their width scales with
the torso), painted back to front, so where two bodies overlap the nearer one (depth order)
owns the pixels; pixels no stroke covers go to the nearest stroke, within reach of a body.
"""

from __future__ import annotations

from dataclasses import replace

import cv2
import numpy as np
from scipy import ndimage

from .base import PersonObservation

LIMBS = ((11, 13), (13, 15), (12, 14), (14, 16), (23, 25), (25, 27), (24, 26), (26, 28),
         (27, 29), (29, 31), (28, 30), (30, 32), (11, 12), (23, 24), (0, 11), (0, 12))
TORSO = (11, 12, 24, 23)
HANDS = ((15, 17), (15, 19), (15, 21), (17, 19), (16, 18), (16, 20), (16, 22), (18, 20))
REACH = 0.45       # pixels farther than this many torso lengths from a body belong to nobody
HIDDEN_VIS = 0.45  # visibility of a landmark a nearer person covers: under 0.5 (not "seen"
                   # anywhere downstream), its keypoint weight in the fit (vis^2 = 0.2) about
                   # that of one the body hides itself (body_fit.OCCLUDED_W), so a guess


def torso_px(obs: PersonObservation) -> float:
    """Shoulder-to-hip length or shoulder width, whichever is larger (pixels)."""
    kp = obs.keypoints
    return float(max(np.linalg.norm(kp[[11, 12]].mean(0) - kp[[23, 24]].mean(0)),
                     np.linalg.norm(kp[11] - kp[12]), 1.0))


def foot_y(obs: PersonObservation) -> float:
    """Image row where the person stands: the lowest visible foot point, or, feet hidden,
    where a standing body's feet would be (hips + ~1.8 torso lengths)."""
    kp, vis = obs.keypoints, obs.visibility
    feet = [i for i in (27, 28, 29, 30, 31, 32) if vis[i] > 0.5]
    if feet:
        return float(kp[feet, 1].max())
    return float(kp[[23, 24], 1].mean() + 1.8 * torso_px(obs))


def depth_order(people: list[PersonObservation]) -> list[int]:
    """Indices front to back. People on one floor seen from above the feet: the lower the
    feet in the image, the nearer (ties and hidden feet fall back on size)."""
    return sorted(range(len(people)),
                  key=lambda i: (-foot_y(people[i]), -torso_px(people[i])))


def body_strokes(obs: PersonObservation, shape: tuple[int, int], hands: bool = False,
                 min_vis: float = 0.3, torso_vis: float | None = None) -> np.ndarray:
    """(h, w) bool: the person's skeleton drawn with body-like widths (with the hands: wrist
    to finger points, when asked), through landmarks more visible than ``min_vis`` (the
    torso's corners: ``torso_vis``, by default the same)."""
    h, w = shape
    t = torso_px(obs)
    kp, vis = obs.keypoints, obs.visibility
    canvas = np.zeros((h, w), np.uint8)
    if (vis[list(TORSO)] > (min_vis if torso_vis is None else torso_vis)).sum() >= 3:
        cv2.fillPoly(canvas, [kp[list(TORSO)].round().astype(np.int32)], 1)
    width = max(2, round(0.22 * t))
    for a, b in LIMBS + (HANDS if hands else ()):
        if vis[a] > min_vis and vis[b] > min_vis:
            cv2.line(canvas, _px(kp[a]), _px(kp[b]), 1, width)
    if vis[0] > min_vis:
        cv2.circle(canvas, _px(kp[0]), max(2, round(0.28 * t)), 1, -1)
    return canvas.astype(bool)


def skeleton_overlap(people: list[PersonObservation], shape: tuple[int, int]) -> np.ndarray:
    """(n, n): how much of person i's skeleton lies on person j's body (j's strokes with its
    hands, grown by a fifth of its torso), the larger of the share of i's visible landmarks
    and the share of i's stroke area there. A landmark model that read a hand, an arm or a
    leg as a whole person scores ~0.9-1 on its owner; neighbours, even half hidden ones,
    score under ~0.45 on each other (the shared group photos)."""
    h, w = shape
    near, own, pts = [], [], []
    for q in people:
        grow = max(1, round(0.2 * torso_px(q)))
        near.append(cv2.dilate(body_strokes(q, shape, hands=True).astype(np.uint8),
                               cv2.getStructuringElement(cv2.MORPH_ELLIPSE,
                                                         (2 * grow + 1,) * 2)) > 0)
        own.append(body_strokes(q, shape))
        xy = q.keypoints[q.visibility > 0.5].round().astype(int)
        pts.append(xy[(xy[:, 0] >= 0) & (xy[:, 0] < w) & (xy[:, 1] >= 0) & (xy[:, 1] < h)])
    out = np.zeros((len(people), len(people)))
    for i in range(len(people)):
        for j in range(len(people)):
            if i != j:
                on_pts = near[j][pts[i][:, 1], pts[i][:, 0]].mean() if len(pts[i]) else 0.0
                on_area = (own[i] & near[j]).sum() / max(own[i].sum(), 1)
                out[i, j] = max(float(on_pts), float(on_area))
    return out


def _px(p: np.ndarray) -> tuple[int, int]:
    return round(float(p[0])), round(float(p[1]))


def hide_covered(people: list[PersonObservation], order: list[int],
                 shape: tuple[int, int]) -> list[PersonObservation]:
    """The people (same order) with every landmark that lies on a nearer person's body (its
    seen strokes with hands, about as wide as its limbs) turned to a guess: visibility at
    most HIDDEN_VIS. The landmark model still places a half-hidden person's limbs behind
    the one in front, often right on that person's arm or leg; seen as sure points they
    would pull the fit onto the front person and claim its pixels in the split."""
    h, w = shape
    out = list(people)
    front = np.zeros(shape, np.uint8)
    for i in order:                                 # front to back
        p = people[i]
        xy = p.keypoints.round().astype(int)
        inside = (xy[:, 0] >= 0) & (xy[:, 0] < w) & (xy[:, 1] >= 0) & (xy[:, 1] < h)
        covered = np.zeros(len(xy), bool)
        covered[inside] = front[xy[inside, 1], xy[inside, 0]] > 0
        vis = np.where(covered, np.minimum(p.visibility, HIDDEN_VIS), p.visibility)
        out[i] = replace(p, visibility=vis.astype(np.float32))
        front |= body_strokes(out[i], shape, hands=True, min_vis=HIDDEN_VIS).astype(np.uint8)
    return out


def split_people(people: list[PersonObservation], shape: tuple[int, int]
                 ) -> tuple[list[PersonObservation], list[np.ndarray]]:
    """One depth order for both: the people with what nearer people cover marked hidden
    (hide_covered), and their instance masks."""
    order = depth_order(people)
    people = hide_covered(people, order, shape)
    return people, instance_masks(people, shape, order)


def instance_masks(people: list[PersonObservation], shape: tuple[int, int],
                   order: list[int] | None = None) -> list[np.ndarray]:
    """One (h, w) bool mask per person (same order), disjoint, inside the union of their
    segmentation masks. Limbs and head draw only through landmarks surer than HIDDEN_VIS: a
    hidden limb's guess claims none of the front person's pixels. The torso draws from
    its guessed corners too (the nearer people paint over it): else a half-hidden person's
    torso, seen only as a strip between two others, would go to them."""
    if not people:
        return []
    order = depth_order(people) if order is None else order
    union = np.zeros(shape, bool)
    for p in people:
        union |= p.mask > 0.5
    labels = np.full(shape, -1, np.int32)
    for i in reversed(order):                       # back first: the nearer paints over
        labels[body_strokes(people[i], shape, hands=True, min_vis=HIDDEN_VIS,
                            torso_vis=0.3)] = i
    # Nearest stroke for the rest of the union, and how far it is.
    dist, (iy, ix) = ndimage.distance_transform_edt(labels < 0, return_indices=True)
    nearest = labels[iy, ix]
    reach = np.array([REACH * torso_px(p) for p in people])
    own = union & (nearest >= 0) & (dist <= reach[np.maximum(nearest, 0)])
    return [own & (nearest == i) for i in range(len(people))]
