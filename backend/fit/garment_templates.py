"""An Outfit on a fitted Anny body -> garment templates with a few fit parameters each.

A template is a garment of the shared library (backend/garments) at its tightest, plus
*modes*: per vertex a rest-space direction and hat-function weights over a handful of knots
along the garment (the rings of a skirt, bands down a sleeve or a trouser leg). Its rest
vertices are ``base + sum_m direction_m * (control_m @ p_m)``, linear in the parameters, so
the posed garment is too (linear blend skinning). A ring or band grows as a whole, so its
depth follows from the same parameter that its width in the photo fits: there is no free
per-vertex depth, and nothing can stick out where no view constrains it.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..garments.body_regions import BodyRegions
from ..garments.drape import hair_curtain, open_front, skirt
from ..garments.outfit import Outfit
from ..garments.shells import (
    GarmentPiece,
    bottom_mask,
    hair_mask,
    shell,
    shoe_mask,
    shoe_offsets,
    top_mask,
)
from ..garments.surface import vertex_normals
from ..garments.wardrobe import BOOT_T, BOTTOM_T, HAIR_T, JACKET_T, SHOE_T, TOP_T

SKIRT_ROOM = 0.03    # metres of hem room between the legs (generate's 8 cm is for big strides;
#                      the photo's own stride is already in the pose the skirt is fitted in)
COAT_T = JACKET_T + 0.008
COAT_OPENING = 0.02  # metres below the hip joints where a coat's front opening starts
SWING = 0.06         # metres a skirt's hem may swing sideways
# Of a shell's growth around the torso, the share that goes front and back: the photo sees
# the width, and cloth that widens to fit it drapes across the front and back instead of
# standing off them (the body fitted under clothes comes out too slim in width more than
# in depth: on devset_clothed's tight outfits the chest was 7 cm too narrow but only 4 cm
# too shallow, and the equal growth left the top 4 cm too deep). A dress's bodice keeps
# equal growth: halving it cost sample_0007 (a dress) 0.012 novel IoU and 0.2 cm Chamfer.
DEPTH_SHARE = {"top": 0.5, "bodice": 1.0, "bottom": 0.5, "coat": 0.5}


@dataclass
class Mode:
    name: str
    direction: np.ndarray          # (N, 3) rest-space unit direction (0 rows: not moved)
    control: np.ndarray            # (N, K) hat weights of the K knots
    hi: float                      # metres: the most this mode may add
    bounded_by: int | None = None  # index of the mode whose value bounds |this| (lateral)
    lo: float | None = None        # metres: the most it may take in (default: _assemble's)


@dataclass
class Template:
    role: str
    style: str
    pieces: list[GarmentPiece]
    modes: list[Mode] = field(default_factory=list)   # over the merged pieces' vertices

    @property
    def size(self) -> int:
        return sum(m.control.shape[1] for m in self.modes)


def hat(t: np.ndarray, knots: int) -> np.ndarray:
    """(N,) positions in 0..1 -> (N, knots) piecewise-linear interpolation weights."""
    x = np.clip(t, 0.0, 1.0) * (knots - 1)
    lo = np.minimum(np.floor(x).astype(int), knots - 2) if knots > 1 else np.zeros(len(t), int)
    w = np.zeros((len(t), knots))
    if knots == 1:
        w[:] = 1.0
        return w
    frac = x - lo
    w[np.arange(len(t)), lo] = 1.0 - frac
    w[np.arange(len(t)), lo + 1] = frac
    return w


def leg_z(r: BodyRegions, s: float) -> float:
    """Height of a point ``s`` along the leg (0 hip joint .. 1 ankle; negative: above)."""
    return r.z["hip"] - s * (r.z["hip"] - r.z["ankle"])


def _normals(piece: GarmentPiece) -> np.ndarray:
    return vertex_normals(piece.vertices, piece.faces).astype(np.float64)


def _shell_modes(r: BodyRegions, piece: GarmentPiece, prefix: str, limb: str,
                 limb_end: float, core_hi: float, limb_hi: float,
                 core_hi_z: float, core_lo_z: float, core_knots: int = 4,
                 limb_knots: int = 5, depth: float = 1.0) -> list[Mode]:
    """Looseness of a shell along its normals: bands up the core (torso or pelvis, by height)
    blended by skin weight into bands down each limb (arm or leg, by position along it), so
    the cloth has no step where a sleeve or a trouser leg starts. ``depth``: the share of a
    core band's growth that goes front and back (see DEPTH_SHARE)."""
    a = piece.anchor
    n = _normals(piece)
    n_core = n * np.array([1.0, depth, 1.0])
    w_limb = np.clip(r.part[limb][a] + (r.part["hand"][a] if limb == "arm" else
                                        r.part["foot"][a]), 0.0, 1.0)
    z = r.vertices[a, 2]
    t_core = (core_hi_z - z) / max(core_hi_z - core_lo_z, 1e-6)
    # a neckline or waistband hugs the body: growth fades in over the top 8 cm (else the
    # top knot flares the collar out like wings)
    hug = np.clip((core_hi_z - z) / 0.08, 0.2, 1.0)
    modes = [Mode(f"{prefix}.core", n_core, ((1.0 - w_limb) * hug)[:, None] *
                  hat(t_core, core_knots), core_hi)]
    along = r.arm_s if limb == "arm" else r.leg_s
    for side, sign in (("L", 1.0), ("R", -1.0)):
        mine = (r.vertices[a, 0] * sign > 0).astype(float)
        ctrl = (w_limb * mine)[:, None] * hat(along[a] / max(limb_end, 1e-3), limb_knots)
        modes.append(Mode(f"{prefix}.{limb}.{side}", n, ctrl, limb_hi))
        if limb == "leg":      # a wide leg hangs off the outer thigh, not into the gap
            out = np.zeros_like(n)
            out[:, 0] = sign
            modes.append(Mode(f"{prefix}.{limb}.{side}.out", out, ctrl, limb_hi,
                              bounded_by=-1))
    return modes


def _skirt_modes(piece: GarmentPiece, around: int, hi: float) -> list[Mode]:
    """Rings grow about their own centres: by one amount all down the skirt, plus a flare
    that only ever widens towards the hem (increments, hat-blended over a few knots: cloth
    hangs, it never tucks in), so the skirt stays round where the photo cannot see. It may
    swing a little to the left or right from the waist down (a stride, a turn). The length
    stretches the rings down (or up) in proportion to their drop, so the hem finds
    the photo's."""
    v = piece.vertices.astype(np.float64)
    rows = len(v) // around
    grid = v.reshape(rows, around, 3)
    out = np.zeros((rows, around, 3))
    out[:, :, :2] = grid[:, :, :2] - grid[:, :, :2].mean(1, keepdims=True)
    out /= np.maximum(np.linalg.norm(out, axis=2, keepdims=True), 1e-9)
    out = out.reshape(-1, 3)
    t = np.repeat(np.linspace(0.0, 1.0, rows), around)
    drop = float(v[:, 2].max() - v[:, 2].min())
    knots = hat(t, int(np.clip(round(rows / 3), 3, 8)))
    flare = np.cumsum(knots[:, ::-1], axis=1)[:, ::-1][:, 1:]   # knot k and all below it
    down = np.zeros((len(v), 3))
    down[:, 2] = -1.0
    side = np.zeros((len(v), 3))
    side[:, 0] = 1.0
    return [Mode("skirt.radial", out, np.ones((len(v), 1)), hi),
            Mode("skirt.flare", out, flare, hi / 2, lo=0.0),
            Mode("skirt.swing", side, knots * t[:, None], SWING, lo=-SWING),
            Mode("skirt.length", down, t[:, None], 0.3, lo=-min(0.3, 0.6 * drop))]


def _pad(modes: list[Mode], start: int, total: int) -> list[Mode]:
    """Modes of one piece, re-indexed into the merged vertices of its template."""
    out = []
    for m in modes:
        n = len(m.direction)
        d = np.zeros((total, 3))
        c = np.zeros((total, m.control.shape[1]))
        d[start:start + n] = m.direction
        c[start:start + n] = m.control
        out.append(Mode(m.name, d, c, m.hi, m.bounded_by, m.lo))
    return out


def _assemble(role: str, style: str, parts: list[tuple[GarmentPiece, list[Mode]]],
              thickness: float) -> Template:
    """One template from its pieces. A mode may take the cloth in down to 2.5 mm off the skin
    and 1 cm more (the body under it may shrink by as much: the fitted phenotype overshoots
    on loose clothing); e.g. a coat's sleeve can hug the arm where the photo shows it bare."""
    total = sum(len(p.vertices) for p, _ in parts)
    modes, start = [], 0
    for piece, pm in parts:
        for m in _pad(pm, start, total):
            if m.bounded_by == -1:                # "the mode before me" -> its index
                m.bounded_by = len(modes) - 1
            if m.bounded_by is not None:
                m.lo = -m.hi
            elif m.lo is None:
                m.lo = -(thickness - 0.0025) - 0.01
            modes.append(m)
        start += len(piece.vertices)
    return Template(role, style, [p for p, _ in parts], modes)


def _skirt_piece(r: BodyRegions, top_z: float, hem_z: float, offset: float,
                 around: int = 48, opening_z: float | None = None
                 ) -> tuple[GarmentPiece, list[Mode]]:
    """A skirt and its modes; ``opening_z``: open up the front below this height (a coat),
    the copied vertices moving as the ones they copy."""
    hem_z = min(hem_z, top_z - 0.1)
    piece = skirt(r, top_z, hem_z, offset=offset, flare=0.0, around=around, room=SKIRT_ROOM)
    modes = _skirt_modes(piece, around, hi=0.4)
    if opening_z is None:
        return piece, modes
    piece, src = open_front(r, piece, around, opening_z)
    return piece, [Mode(m.name, np.concatenate([m.direction, m.direction[src]]),
                        np.concatenate([m.control, m.control[src]]), m.hi, m.bounded_by, m.lo)
                   for m in modes]


def top_template(r: BodyRegions, skin, outfit: Outfit) -> Template:
    hem = r.z["hip"] - 0.02
    piece = shell(r, skin, top_mask(r, outfit.sleeve, hem, straps=outfit.top == "tank"), TOP_T)
    modes = _shell_modes(r, piece, "top", "arm", max(outfit.sleeve, 0.2), 0.08, 0.08,
                         r.z["neck"], hem, depth=DEPTH_SHARE["top"])
    return _assemble("top", outfit.top, [(piece, modes)], TOP_T)


def bottom_template(r: BodyRegions, skin, outfit: Outfit) -> Template:
    waist = r.z["waist"] - 0.02
    hem = float(np.clip(outfit.bottom_hem, 0.15, 1.0))
    if outfit.bottom in ("trousers", "shorts"):
        piece = shell(r, skin, bottom_mask(r, hem, waist), BOTTOM_T)
        modes = _shell_modes(r, piece, "bottom", "leg", hem, 0.06, 0.16, waist,
                             r.z["crotch"] - 0.05, depth=DEPTH_SHARE["bottom"])
        return _assemble("bottom", outfit.bottom, [(piece, modes)], BOTTOM_T)
    parts = []
    if outfit.bottom == "dress":        # bodice from the chest, then one skirt to the hem
        bodice = shell(r, skin, top_mask(r, 0.0, r.z["hip"] + 0.02, straps=True), TOP_T)
        parts.append((bodice, _shell_modes(r, bodice, "bodice", "arm", 0.2, 0.06, 0.0,
                                           r.z["neck"], r.z["hip"],
                                           depth=DEPTH_SHARE["bodice"])[:1]))
    parts.append(_skirt_piece(r, waist, leg_z(r, hem), BOTTOM_T + 0.002))
    return _assemble("bottom", outfit.bottom, parts, BOTTOM_T)


def outerwear_template(r: BodyRegions, skin, outfit: Outfit) -> Template:
    # a coat reaches at least mid-thigh (its length mode finds the photo's hem from there)
    hem_z = leg_z(r, max(outfit.outerwear_hem, 0.35) if outfit.outerwear == "coat" else
                  outfit.outerwear_hem)
    torso_hem = max(r.z["hip"] - 0.02, hem_z)
    body = shell(r, skin, top_mask(r, max(outfit.sleeve, 0.0), torso_hem), COAT_T)
    parts = [(body, _shell_modes(r, body, "coat", "arm", max(outfit.sleeve, 0.2), 0.12,
                                 0.08, r.z["neck"], torso_hem, depth=DEPTH_SHARE["coat"]))]
    if hem_z < r.z["hip"] - 0.08:        # a coat: a skirt-like part below the hips
        parts.append(_skirt_piece(r, r.z["waist"], hem_z, COAT_T,
                                  opening_z=r.z["hip"] - COAT_OPENING
                                  if outfit.outerwear_open else None))
    return _assemble("outerwear", outfit.outerwear, parts, COAT_T)


def shoes_template(r: BodyRegions, skin, outfit: Outfit) -> Template:
    boots = outfit.shoes == "boots"
    thickness = shoe_offsets(r, BOOT_T if boots else SHOE_T, sole=0.012 if boots else 0.005,
                             heel=0.02 if boots else 0.006)
    piece = shell(r, skin, shoe_mask(r, 0.72 if boots else 0.93), thickness, smooth=4,
                  passes=4)
    ctrl = np.ones((len(piece.vertices), 1))
    # painted-on or slim shoes: the cloth may take in to the skin and the foot under it
    # give way (the fitted foot is often a little long or wide)
    return _assemble("shoes", outfit.shoes, [(piece, [Mode("shoes", _normals(piece), ctrl,
                                                           0.025, lo=-0.03)])], SHOE_T)


def _ears(r: BodyRegions) -> np.ndarray:
    """(V,) bool: the ears and the skin right around them (hair is combed behind them; a
    shell over an ear's fold cannot stay outside both of its sides)."""
    v, c = r.vertices, r.head_center
    head = r.seg["head"] & ~r.seg["inner"]
    band = head & (v[:, 2] > r.z["skull_base"] - 0.03) & (v[:, 2] < r.z["eye"] + 0.03)
    if not band.any():
        return np.zeros(len(v), dtype=bool)
    side = np.abs(v[:, 0] - c[0])
    return band & (side > float(side[band].max()) - 0.025) & (v[:, 1] > c[1] - 0.04)


def hair_template(r: BodyRegions, skin, outfit: Outfit) -> Template:
    scalp = shell(r, skin, hair_mask(r) & ~_ears(r), HAIR_T, smooth=3)
    # volume grows away from the head's centre, fading out towards the forehead's hairline
    # (hair over the brow would be a visor)
    c = r.head_center
    out = scalp.vertices.astype(np.float64) - c
    out /= np.maximum(np.linalg.norm(out, axis=1, keepdims=True), 1e-9)
    front = 0.5 * (1.0 - out[:, 1] / np.maximum(np.hypot(out[:, 0], out[:, 1]), 1e-9))
    z = r.vertices[scalp.anchor, 2]
    t = (r.z["top"] - z) / max(r.z["top"] - r.z["skull_base"] + 0.02, 1e-6)
    ctrl = hat(t, 3) * (1.0 - 0.85 * front ** 2)[:, None]
    parts = [(scalp, [Mode("hair.volume", out, ctrl, 0.05)])]
    if outfit.hair == "long" and outfit.hair_length > 0.03:
        bottom = max(r.z["skull_base"] - outfit.hair_length, r.z["hip"])
        curtain = hair_curtain(r, bottom, offset=HAIR_T + 0.01)
        v = curtain.vertices.astype(np.float64)
        side = np.zeros_like(v)
        side[:, 0] = np.clip((v[:, 0] - r.head_center[0]) / 0.08, -1.0, 1.0)   # spreads out
        rows = np.linspace(0.0, 1.0, len(v) // 24).repeat(24)
        parts.append((curtain, [Mode("hair.spread", side, hat(rows, 3), 0.08)]))
    return _assemble("hair", outfit.hair, parts, HAIR_T)


def build_templates(r: BodyRegions, skin, outfit: Outfit) -> list[Template]:
    """The outfit's garments in dressing order (inner layers first)."""
    out = []
    if outfit.bottom != "none":
        out.append(bottom_template(r, skin, outfit))
    if outfit.top != "none" and outfit.bottom != "dress":
        out.append(top_template(r, skin, outfit))
    if outfit.outerwear != "none":
        out.append(outerwear_template(r, skin, outfit))
    if outfit.shoes != "none":
        out.append(shoes_template(r, skin, outfit))
    if outfit.hair != "none":
        out.append(hair_template(r, skin, outfit))
    return out
