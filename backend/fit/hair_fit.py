"""Reconstructed hair as hair cards (garments/hair_cards.py, the cards generate wears), chosen
and sized from what the photo shows:

- style from how far the photo's hair falls below the skull base (Outfit.hair_length): short
  hair on the skull, a bob to the neck and shoulders, long hair below them; a bun when the hair
  region rises well above the head's top; long hair hangs in front of the shoulders when the
  photo shows hair over the chest, behind them otherwise;
- the cards are cut where the photo's hair ends (hair framing the face is followed below the
  chin by its colour: hair over a top is often labelled as the top), and their volume around
  the head is one template mode (``hair.volume``: the cards move out from the head's centre,
  less towards the face; the opaque cap under them stays on the scalp) that garment_fit fits
  to the person's silhouette with the other garments, so the head's outline is the hair's,
  not a helmet's or a sheet's;
- colour: the photo's hair pixels tint the strand atlas (the cards' UVs point into it; baking
  the photo onto cards would give every card a smear of the whole head).
The layer keeps role "hair" (Swap Layer, `doppel transfer`) and hair_cards' skinning.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from ..garments.body_regions import BodyRegions
from ..garments.hair_cards import CURLY, CardPiece, hair_card_piece, sized_strands
from ..garments.hair_texture import CAP_U_START, strand_atlas
from ..garments.outfit import SEGMENT_LABELS, Outfit
from .garment_templates import Mode, Template, hat

SHORT_BELOW = 0.04     # metres of hair below the skull base: less is short hair on the skull
SHOULDER_ROOM = 0.03   # hair this far below the neck's base lies on the shoulders: long
NAPE = 0.02            # metres short hair reaches below the skull base at the least
VOLUME_HI = 0.04       # metres the fit may add around the head (big hair), ...
VOLUME_LO = -0.006     # ... or take off the style's own volume
BUN_ABOVE = 0.06       # metres of hair above the head's top, ...
BUN_WIDTH = 0.11       # ... narrower than this there (a cap or big hair is wider): a bun
FRONT_SHARE = 0.3      # share of the hair below the shoulders lying over the chest: in front
DENSITY = 0.6          # share of generate's cards: the fit rasterises them every few steps
HAIR_DE = 15.0         # Lab distance (Delta E 76) within which a pixel has the hair's colour
STRIP = 0.05           # metres beside the face where hair framing it hangs
LONGEST = 0.5          # metres below the skull base: hair followed no further (a dark top)
HAIR = SEGMENT_LABELS.index("hair")
FACE = SEGMENT_LABELS.index("face")
CLOTH = tuple(SEGMENT_LABELS.index(k) for k in ("upper", "outerwear"))


def card_style(outfit: Outfit, r: BodyRegions, above_top: float = 0.0) -> str:
    """The hair_cards style closest to the photo's hair (outfit.hair must not be "none")."""
    if above_top > BUN_ABOVE:
        return "bun"
    below = outfit.hair_length
    if outfit.hair == "short" and below < SHORT_BELOW:
        return "short"
    if below < r.z["skull_base"] - r.z["neck"] + SHOULDER_ROOM:
        return "bob" if below >= SHORT_BELOW else "short"
    return "long"


def photo_hair(seg, head_top_row: float | None) -> tuple[float, bool]:
    """(metres of hair above the head's top row, whether long hair lies over the chest) from
    the segmentation ``seg`` (fit/segmentation.Segmentation); (0, False) without one."""
    if seg is None:
        return 0.0, False
    from .segmentation import P
    hair = seg.labels == HAIR
    if hair.sum() < 30:
        return 0.0, False
    rows = np.nonzero(hair.any(1))[0]
    above = 0.0
    if head_top_row is not None:
        above = max(0.0, (head_top_row - float(np.percentile(np.nonzero(hair)[0], 1)))
                    * seg.metres_per_px)
        top = hair[:max(int(head_top_row - 0.02 / max(seg.metres_per_px, 1e-9)), 0)]
        cols = np.nonzero(top.any(0))[0]
        if not len(cols) or np.ptp(cols) * seg.metres_per_px > BUN_WIDTH:
            above = 0.0
    shoulder = seg.rows.get("skull_base", float(rows.min())) + 0.1 / max(seg.metres_per_px,
                                                                         1e-9)
    low = hair & (np.arange(hair.shape[0])[:, None] > shoulder)
    front = low.sum() > 30 and (low & (seg.part == P["chest"])).sum() > FRONT_SHARE * low.sum()
    return above, bool(front)


def hanging_below(seg) -> float | None:
    """Metres below the skull base that hair framing the face hangs down to, following its
    colour below the chin, or None when the photo cannot tell. Hair over a top is often
    labelled as the top (the chest's prior), so the hair label alone ends at the chin; but
    hair-coloured pixels continuing the strips beside the face straight down are the hair,
    unless the top between them has the hair's colour too (then nothing tells them apart)."""
    if seg is None:
        return None
    face, hair = seg.labels == FACE, seg.labels == HAIR
    if face.sum() < 30 or hair.sum() < 30:
        return None
    mpp = max(seg.metres_per_px, 1e-9)
    fy, fx = np.nonzero(face)
    chin = int(np.percentile(fy, 98))
    x0, x1 = int(np.percentile(fx, 2)), int(np.percentile(fx, 98))
    band = max(int(STRIP / mpp), 2)
    h, w = hair.shape
    # hair, or cloth of the hair's colour (never skin: red hair is close to it)
    like = (np.linalg.norm(seg.lab - np.median(seg.lab[hair], axis=0), axis=-1) < HAIR_DE) \
        & np.isin(seg.labels, (HAIR, *CLOTH))
    quarter = (x1 - x0) // 4
    centre = like[chin + band:chin + 3 * band, x0 + quarter:x1 - quarter]
    if centre.size == 0 or centre.mean() > 0.3:
        return None
    skull = seg.rows.get("skull_base", float(chin))
    stop = min(h - 1, int(skull + LONGEST / mpp))
    lowest = None
    for a, b in ((max(x0 - band, 0), x0), (x1, min(x1 + band, w))):
        if b <= a or not hair[max(chin - band, 0):chin + 1, a:b].any():
            continue                           # no hair framing the face on this side
        row, gap = chin, 0
        while row < stop and gap <= 3:
            row += 1
            gap = 0 if like[row, a:b].sum() >= 2 else gap + 1
        end = row - gap
        lowest = end if lowest is None else max(lowest, end)
    if lowest is None:
        return None
    return max(0.0, (lowest - skull) * mpp)


def hair_card_template(r: BodyRegions, skin, outfit: Outfit, seg=None,
                       head_top_row: float | None = None) -> Template | None:
    """The photo's hair as a card template with its volume mode, or None (no hair, bald)."""
    if outfit.hair == "none":
        return None
    above, front = photo_hair(seg, head_top_row)
    hanging = hanging_below(seg)
    if hanging is not None and hanging > outfit.hair_length + 0.02:
        # hair down over the top, labelled as the top: it hangs in front of the shoulders
        outfit, front = replace(outfit, hair="long", hair_length=round(hanging, 3)), True
    style = card_style(outfit, r, above)
    bottom_z = r.z["skull_base"] - max(outfit.hair_length, NAPE)
    strands = sized_strands(r, style, bottom_z, density=DENSITY)
    if front and style == "long":       # hair falls forward over the shoulders
        strands = tuple(replace(g, back=-0.25) for g in strands)
    rng = np.random.default_rng([11, int(1000 * outfit.hair_length)])
    piece = hair_card_piece(r, skin, style, rng, strands)
    cap = np.zeros(len(piece.vertices), dtype=bool)
    cap[piece.faces[(piece.uvs[:, :, 0] >= CAP_U_START).all(1)].ravel()] = True
    return Template("hair", style, [piece], [_volume_mode(r, piece.vertices, bottom_z, cap)])


def _volume_mode(r: BodyRegions, v: np.ndarray, bottom_z: float, cap: np.ndarray) -> Mode:
    """Cards (not the ``cap`` under them, which stays on the scalp) move out from the head's
    centre (horizontally below it, so hanging hair
    spreads instead of lengthening); towards the face less (hair over the brow would be a
    visor); three knots from the crown down to the cut, so the fit can widen the top and
    the hanging part apart."""
    c = r.head_center.astype(np.float64)
    d = v.astype(np.float64) - c
    d[d[:, 2] < 0, 2] = 0.0
    d /= np.maximum(np.linalg.norm(d, axis=1, keepdims=True), 1e-9)
    front = 0.5 * (1.0 - d[:, 1] / np.maximum(np.hypot(d[:, 0], d[:, 1]), 1e-9))
    t = (r.z["top"] - v[:, 2]) / max(r.z["top"] - min(bottom_z, r.z["skull_base"]), 1e-6)
    ctrl = hat(t, 3) * ((1.0 - 0.85 * front ** 2) * ~cap)[:, None]
    return Mode("hair.volume", d, ctrl, VOLUME_HI, lo=VOLUME_LO)


def trim_to_photo(fitted, camera, target: np.ndarray, below_z: float, margin_px: int = 2):
    """The fitted hair garment with the card faces below rest height ``below_z`` (the eyes)
    that stand outside the person's mask in the photo (beyond ``margin_px``) taken off:
    hanging strands end where the photo's hair does (no tips flaring out at the jaw). Above
    it the volume mode fits the outline, and trimming there would crop the crown flat. The
    cap is kept whole; vertices stay (unused ones are harmless)."""
    import cv2
    piece = fitted.template.pieces[0]
    cap = (piece.uvs[:, :, 0] >= CAP_U_START).all(1)
    z = np.maximum(fitted.posed[:, 2], 1e-3)
    px = np.floor(np.stack([camera.f * fitted.posed[:, 0] / z + camera.cx,
                            camera.f * fitted.posed[:, 1] / z + camera.cy], 1)).astype(int)
    h, w = target.shape
    grown = cv2.dilate(target.astype(np.uint8), np.ones((2 * margin_px + 1,) * 2, np.uint8)) > 0
    ok = (px[:, 0] >= 0) & (px[:, 0] < w) & (px[:, 1] >= 0) & (px[:, 1] < h)
    inside = np.zeros(len(px), dtype=bool)
    inside[ok] = grown[px[ok, 1], px[ok, 0]]
    high = (fitted.piece.vertices[fitted.piece.faces, 2] >= below_z).any(1)
    keep = cap | high | inside[fitted.piece.faces].all(1)
    if keep.all():
        return fitted
    trimmed = replace(piece, faces=piece.faces[keep], uvs=piece.uvs[keep])
    return replace(fitted, template=replace(fitted.template, pieces=[trimmed]),
                   piece=replace(fitted.piece, faces=fitted.piece.faces[keep]))


def card_piece(fitted) -> CardPiece:
    """A fitted hair garment (garment_fit.FittedGarment) with its cards' atlas UVs back (the
    fit merges its one piece, which keeps the vertex and face order)."""
    return CardPiece(**vars(fitted.piece), uvs=fitted.template.pieces[0].uvs)


def hair_atlas(colour: tuple[int, int, int], style: str, rng: np.random.Generator):
    """(RGBA PNG, base colour) of the strand atlas in the photo's hair colour."""
    return strand_atlas(colour, rng, curly=style in CURLY)


def head_top_row(body_posed: np.ndarray, r: BodyRegions, camera) -> float:
    """Image row of the fitted (naked) head's top in the photo."""
    top = body_posed[int(np.argmax(r.vertices[:, 2]))]
    return float(camera.f * top[1] / max(top[2], 1e-6) + camera.cy)
