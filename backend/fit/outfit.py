"""Recognise the Outfit (backend.garments.outfit) a person wears from the photo's segmentation.

Decisions read the label image against the fitted body projected into the photo:
- skirt/dress/coat vs trousers: is the person mask between the legs (below the crotch, above
  the hem) filled with cloth, and is the cloth there wider than the legs under it;
- dress/coat vs skirt: the cloth below the hips has the chest's colour (one garment);
  coat vs dress: sleeves of that colour or a hem above the knee;
- hems and sleeve ends: where the cloth stops along the body's own leg_s / arm_s;
- hair length: how far hair pixels fall below the projected skull base.
A one-piece garment relabels its pixels in the segmentation (dress: lower, coat: outerwear).
"""

from __future__ import annotations

from dataclasses import asdict
from itertools import pairwise

import cv2
import numpy as np
from scipy import ndimage

from ..garments.outfit import SEGMENT_LABELS, Outfit
from .segmentation import PARTS, Segmentation

L = {name: i for i, name in enumerate(SEGMENT_LABELS)}
P = {name: i for i, name in enumerate(PARTS)}
CLOTH = (L["upper"], L["lower"], L["outerwear"])
SAME_COLOUR = 12.0      # Lab distance (Delta E 76) below which two regions are one fabric
LONG_HAIR = 0.065       # metres below the skull base: hair reaching the neck (dev set)


def recognise_outfit(seg: Segmentation) -> Outfit:
    """The Outfit shown in ``seg``; may relabel ``seg.labels`` for one-piece garments."""
    conf: dict[str, float] = {}
    chest = _region_colour(seg, (seg.part == P["chest"]) & np.isin(seg.labels, CLOTH))
    fill = _between_legs_fill(seg)
    below = _region_colour(seg, _between_legs(seg) & np.isin(seg.labels, CLOTH))
    if below is None:
        below = _region_colour(seg, (seg.part == P["leg"]) & (seg.leg_s < 0.35)
                               & np.isin(seg.labels, CLOTH))
    hem = _hem(seg, CLOTH, below)
    one_piece = chest is not None and below is not None \
        and float(np.linalg.norm(chest - below)) < SAME_COLOUR
    sleeve = _sleeve(seg)
    outerwear, top, outer_hem, outer_open = "none", "tshirt", 0.1, False
    conf["bottom"] = round(min(1.0, abs(fill - 0.5) * 2 + 0.3), 2)
    if fill > 0.5 and one_piece and (sleeve > 0.6 or hem < 0.45):
        # A one-piece garment with sleeves or ending above the knee: a coat over a bottom.
        outerwear, outer_hem = "coat", hem
        conf["outerwear"] = 0.5
        _relabel_one_piece(seg, L["outerwear"], chest)
        outer_open = _coat_open(seg)
    elif fill > 0.5:
        bottom = "dress" if one_piece else "skirt"
        if one_piece:
            top = "none"
            _relabel_one_piece(seg, L["lower"], chest)
        bottom_hem = hem
    if outerwear != "none" or fill <= 0.5:
        bottom_hem = _hem(seg, (L["lower"],), lowest=True)
        bottom = "shorts" if bottom_hem < 0.55 else "trousers"
    if top != "none":
        top = "tank" if sleeve < 0.08 else "tshirt" if sleeve < 0.6 else "longsleeve"
    hair, hair_len = _hair(seg)
    shoes = _shoes(seg)
    conf["hair"] = min(1.0, 0.5 + abs(hair_len - LONG_HAIR) * 10)
    colours = {name: tuple(int(c) for c in rgb) for name, rgb in _label_rgb(seg).items()}
    return Outfit(top=top, bottom=bottom, outerwear=outerwear, shoes=shoes, hair=hair,
                  sleeve=round(sleeve, 3), bottom_hem=round(bottom_hem, 3),
                  outerwear_hem=round(outer_hem, 3), outerwear_open=outer_open,
                  hair_length=round(hair_len, 3),
                  colours=colours, confidence={k: round(v, 2) for k, v in conf.items()},
                  unrecognised=_unrecognised(seg))


def outfit_dict(outfit: Outfit) -> dict:
    """JSON-able form for avatar metadata."""
    out = asdict(outfit)
    out["colours"] = {k: list(v) for k, v in outfit.colours.items()}
    return out


def _label_rgb(seg: Segmentation) -> dict[str, np.ndarray]:
    return {name: seg.rgb[seg.labels == k].reshape(-1, 3).mean(0).round()
            for k, name in enumerate(SEGMENT_LABELS) if k and (seg.labels == k).sum() >= 20}


def _region_colour(seg: Segmentation, sel: np.ndarray) -> np.ndarray | None:
    return np.median(seg.lab[sel], axis=0) if sel.sum() >= 30 else None


def _between_legs(seg: Segmentation) -> np.ndarray:
    """Pixels off the naked body, between its two legs, from the crotch to the knees."""
    legs = seg.on_body & (seg.part == P["leg"])
    top = int(seg.rows.get("crotch", 0)) + 2
    bottom = int(seg.rows.get("knee", seg.labels.shape[0]))
    out = np.zeros_like(legs)
    for y in range(max(top, 0), min(bottom, legs.shape[0])):
        left = np.nonzero(legs[y] & (seg.side[y] > 0))[0]
        right = np.nonzero(legs[y] & (seg.side[y] < 0))[0]
        if left.size and right.size:
            a, b = sorted((right.mean(), left.mean()))
            xs = np.arange(int(a), int(b) + 1)
            out[y, xs] = ~legs[y, xs]
    return out


def _between_legs_fill(seg: Segmentation) -> float:
    """Fraction of the rows from the crotch half-way to the knees in which the gap between
    the body's legs holds no background: one garment around both legs (skirt, dress, coat);
    trousers open a gap soon below the crotch."""
    gap = _between_legs(seg)
    # Rows where the naked legs themselves touch say nothing: keep those with a real gap.
    rows = np.nonzero(gap.sum(axis=1) >= max(4, 0.01 * seg.labels.shape[0]))[0]
    if rows.size < 3:
        return 0.0
    closed = [np.isin(seg.labels[y][gap[y]], CLOTH).all() for y in rows]
    return float(np.mean(closed))


def _hem(seg: Segmentation, labels, colour: np.ndarray | None = None,
         lowest: bool = False) -> float:
    """leg_s where cloth of ``labels`` (and of ``colour``, when given) stops going down the
    legs (0 hip .. 1 ankle): the lowest row whose leg pixels are mostly that cloth, mapped to
    leg_s by the fitted body's legs in that row."""
    leg_rows = np.isin(seg.part, (P["leg"], P["foot"]))
    is_cloth = np.isin(seg.labels, labels)
    if colour is not None:
        is_cloth &= np.linalg.norm(seg.lab - colour, axis=-1) < 1.5 * SAME_COLOUR
    y0 = int(seg.rows.get("crotch", 0)) - 5
    ys = np.arange(max(y0, 0), seg.labels.shape[0])
    frac = np.array([is_cloth[y][leg_rows[y]].mean() if leg_rows[y].any() else 0.0 for y in ys])
    covered = frac > 0.5
    if not covered.any():
        return -0.1
    if lowest:                  # trousers: the lowest covered row (a coat may hide the top)
        y_hem = int(ys[covered].max())
    else:                       # a skirt: the first run of covered rows ends at its hem
        start = int(np.argmax(covered))
        run = np.argmin(covered[start:]) if not covered[start:].all() else len(ys) - start
        y_hem = int(ys[start + run - 1])
    s = seg.leg_s[y_hem][seg.on_body[y_hem] & np.isfinite(seg.leg_s[y_hem])]
    if s.size == 0:
        return 1.0
    return float(np.clip(np.median(s), 0.0, 1.0))


def _coat_open(seg: Segmentation) -> bool:
    """Is the coat worn open below the waist: down the upper half of the thighs, does the
    middle fifth of the coat's extent in most rows show something else (trousers, legs)?"""
    coat = seg.labels == L["outerwear"]
    top = int(seg.rows.get("crotch", 0))
    bottom = int(top + 0.5 * (seg.rows.get("knee", top) - top))
    open_rows = []
    for y in range(max(top, 0), min(bottom, coat.shape[0])):
        xs = np.flatnonzero(coat[y])
        if len(xs) < 10:
            continue
        a, b = xs.min(), xs.max()
        mid = coat[y, int(a + 0.4 * (b - a)):int(a + 0.6 * (b - a)) + 1]
        open_rows.append(mid.mean() < 0.5)
    return len(open_rows) >= 5 and float(np.mean(open_rows)) > 0.6


def _sleeve(seg: Segmentation) -> float:
    """arm_s where the sleeve ends: cloth fraction of arm pixels per arm_s bin, from the
    shoulder down, stops being the majority."""
    arm = np.isin(seg.part, (P["arm"], P["hand"])) & np.isfinite(seg.arm_s)
    if arm.sum() < 30:
        return 0.3
    s = seg.arm_s[arm]
    cloth = np.isin(seg.labels[arm], CLOTH)
    edges = np.linspace(0.0, 1.0, 11)
    end = 0.0
    for a, b in pairwise(edges):
        sel = (s >= a) & (s < b)
        if sel.sum() < 5:
            continue
        if cloth[sel].mean() < 0.5:
            break
        end = b
    return float(end)


def _hair(seg: Segmentation) -> tuple[str, float]:
    hair = (seg.labels == L["hair"]).astype(np.uint8)
    n, comp, stats, _ = cv2.connectedComponentsWithStats(hair, connectivity=8)
    if n <= 1 or stats[1:, cv2.CC_STAT_AREA].max() < 30:
        return "none", 0.0
    main = comp == 1 + int(np.argmax(stats[1:, cv2.CC_STAT_AREA]))
    ys = np.nonzero(main)[0]
    bottom = float(np.percentile(ys, 99))
    skull = seg.rows.get("skull_base", float(ys.min()))
    length = max(0.0, (bottom - skull) * seg.metres_per_px)
    return ("long" if length > LONG_HAIR else "short"), length


def _shoes(seg: Segmentation) -> str:
    feet = seg.part == P["foot"]
    if feet.sum() < 20:
        return "sneakers"
    shoe = (seg.labels[feet] == L["shoes"]).mean()
    if shoe < 0.4:
        return "none"
    shin = (seg.part == P["leg"]) & (seg.leg_s > 0.8)
    if shin.sum() > 20 and (seg.labels[shin] == L["shoes"]).mean() > 0.5:
        return "boots"
    return "sneakers"


def _unrecognised(seg: Segmentation) -> list[str]:
    """Cloth labels with much of their area far off the body above the hips (a cape, wings,
    a costume): no template fits those; they are left to offset layers."""
    far = ndimage.distance_transform_edt(~seg.on_body) * seg.metres_per_px > 0.12
    above = np.arange(seg.labels.shape[0])[:, None] < seg.rows.get("hip", 0.0)
    out = []
    for name in ("upper", "outerwear"):
        mine = seg.labels == L[name]
        if mine.sum() > 200 and (mine & far & above).sum() > 0.25 * mine.sum():
            out.append(name)
    return out


def _relabel_one_piece(seg: Segmentation, label: int, colour: np.ndarray) -> None:
    """Cloth pixels of the one-piece garment's colour take ``label``."""
    cloth = np.isin(seg.labels, CLOTH)
    d = np.linalg.norm(seg.lab - colour, axis=-1)
    seg.labels[cloth & (d < 1.5 * SAME_COLOUR) & (seg.part != P["arm"])] = label
