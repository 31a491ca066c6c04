"""Hair with volume, as hair cards: strips textured with hair_texture's RGBA strand atlas,
grown from the scalp (shells.hair_mask) over a thin opaque cap, the way game characters do
hair (the cards export to FBX/glTF as plain alpha-textured triangles).

Every strand is grown in small steps from a root on the scalp: it starts along the style's
comb direction, bends under gravity (with a backward bias, so long hair falls behind the
shoulders), and after each step its height above the nearest skin is clamped to a band: at
least the cap plus the style's volume (``lift``), at most ``slack`` more while it is on the
head (short styles lie on it), anything once it hangs below ``free_z``. The polyline is cut
where the style ends (a bob at the jaw, long hair at the chest), resampled, and widened into a
card lying flat on the surface beneath it. Card vertices are skinned to the head, blending to
the neck and upper back below the skull; they are bound to the body like any garment, so
`transfer` refits them onto another person.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.spatial import cKDTree

from rig.skinning import top_k_weights

from .body_regions import BodyRegions
from .hair_texture import CAP_U_START, CLUMPS, clump_u
from .shells import GarmentPiece, hair_mask, shell
from .surface import push_outside

CAP_T = 0.003          # metres: the opaque cap under the cards
ROOT_T = 0.005         # card roots start this far off the skin
STEPS = 40             # growth steps per strand (before resampling)
TOP_K = 4


@dataclass
class CardPiece(GarmentPiece):
    """Hair cards (and their cap): a garment piece with its own UVs into the strand atlas."""

    uvs: np.ndarray | None = None       # (F, 3, 2) per face corner


@dataclass(frozen=True)
class Strands:
    """One group of cards of a style. Lengths in metres."""

    count: int
    length: tuple[float, float]
    width: float
    segments: int
    lift: float = 0.01           # volume: height above the cap once off the root
    slack: float = 0.01          # how far above lift a strand may rise while on the head
    gravity: float = 8.0         # bend per metre towards down (and back)
    back: float = 0.5            # backward share of the pull
    comb: tuple[float, float, float] = (0.0, 0.6, -1.0)   # added to the away-from-crown flow
    part: float = 0.0            # sideways flow away from a centre parting
    free_z: str = "skull_base"   # below this landmark a strand hangs freely
    cut: float | None = None     # metres above (+) / below (-) "chest": where strands end
    curl: float = 0.0            # metres, amplitude of curls
    tie: bool = False            # flow to the tie point (ponytail, bun) and stop there
    shell: float | None = None   # a fixed height above the skin (afro layers)


STYLES: dict[str, tuple[Strands, ...]] = {
    "buzz": (Strands(520, (0.012, 0.02), 0.02, 1, lift=0.0, slack=0.0, gravity=0.0),),
    "short": (Strands(520, (0.05, 0.08), 0.026, 4, lift=0.008, slack=0.006, gravity=6.0),),
    "bob": (Strands(560, (0.16, 0.24), 0.03, 8, lift=0.012, slack=0.006, gravity=25.0,
                    comb=(0.0, 0.35, -1.0), part=0.8, cut=0.13),),
    "long": (Strands(640, (0.34, 0.5), 0.032, 10, lift=0.012, slack=0.006, gravity=30.0,
                     back=1.6, comb=(0.0, 0.8, -1.0), part=0.8, cut=-0.02),),
    "long_curly": (Strands(640, (0.32, 0.45), 0.036, 10, lift=0.022, slack=0.01, gravity=25.0,
                           back=1.6, comb=(0.0, 0.8, -1.0), part=0.8, cut=0.02,
                           curl=0.012),),
    "ponytail": (Strands(460, (0.1, 0.3), 0.026, 5, lift=0.006, slack=0.004, gravity=0.0,
                         tie=True),),
    "bun": (Strands(460, (0.1, 0.3), 0.026, 5, lift=0.006, slack=0.004, gravity=0.0,
                    tie=True),),
    "afro": tuple(Strands(300, (0.05, 0.07), 0.04, 3, gravity=0.0, shell=h, curl=0.006)
                  for h in (0.012, 0.03, 0.05, 0.07)),
}
CURLY = ("long_curly", "afro")


def _unit(a: np.ndarray) -> np.ndarray:
    return a / np.maximum(np.linalg.norm(a, axis=-1, keepdims=True), 1e-12)


def _tangent(d: np.ndarray, n: np.ndarray) -> np.ndarray:
    return _unit(d - (d * n).sum(-1, keepdims=True) * n)


class _Skin:
    """Signed height above the nearest (non-inner) body vertex, and that vertex's normal."""

    def __init__(self, r: BodyRegions):
        self.r = r
        self.surface = np.flatnonzero(~r.seg["inner"])
        self.tree = cKDTree(r.vertices[self.surface])

    def near(self, p: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        vi = self.surface[self.tree.query(p)[1]]
        n = self.r.normals[vi].astype(np.float64)
        return vi, ((p - self.r.vertices[vi]) * n).sum(-1), n


def tie_point(r: BodyRegions, style: str) -> np.ndarray:
    """Where a ponytail or bun gathers: the back of the head, higher for a bun."""
    c, rad = r.head_center.astype(np.float64), r.head_radius
    up = 0.3 if style == "bun" else 0.0
    return c + np.array([0.0, 0.95 * rad, up * rad])


class _Face:
    """A box in front of the face where strands stop growing (a fringe ends at the brows,
    long hair frames the face instead of hanging over the eyes)."""

    def __init__(self, r: BodyRegions):
        c, rad = r.head_center, r.head_radius
        self.front_y = float(c[1]) - 0.3 * rad
        self.half_x = 0.62 * rad
        self.top_z = r.z["eye"] + 0.035
        self.low_z = r.z["eye"] - 1.6 * rad

    def inside(self, q: np.ndarray) -> np.ndarray:
        return (q[:, 1] < self.front_y) & (np.abs(q[:, 0]) < self.half_x) & \
            (q[:, 2] < self.top_z) & (q[:, 2] > self.low_z)


def _grow(skin: _Skin, p0: np.ndarray, n0: np.ndarray, g: Strands, lengths: np.ndarray,
          crown: np.ndarray, tie: np.ndarray | None, free_z: float,
          face: _Face | None = None) -> np.ndarray:
    """(N, STEPS + 1, 3) polylines of the strands rooted at p0 with skin normals n0."""
    flow = _unit(p0 - crown) + np.asarray(g.comb)
    # a centre parting from the forehead back to the crown: hair there flows to the sides
    before_crown = np.clip((crown[1] - p0[:, 1]) / 0.04, 0.0, 1.0)
    flow[:, 0] += g.part * before_crown * np.where(p0[:, 0] >= 0, 1.0, -1.0)
    if tie is not None:
        flow = tie - p0
    d = _tangent(flow, n0)
    step = (lengths / STEPS)[:, None]
    pull = _unit(np.array([0.0, g.back, -1.0]))
    p = p0.copy()
    out = [p]
    stopped = np.zeros(len(p0), bool)
    for k in range(STEPS):
        s = (k + 1) * step[:, 0]
        q = p + d * step
        _, h, n = skin.near(q)
        if g.shell is not None:
            lo = hi = np.full(len(q), g.shell)
        else:
            lo = ROOT_T + g.lift * np.clip(s / 0.04, 0.0, 1.0)
            hi = np.where(q[:, 2] < free_z, np.inf, lo + g.slack)
        q = q + n * (np.clip(h, lo, hi) - h)[:, None]
        if face is not None:
            stopped |= face.inside(q)
            q[stopped] = p[stopped]
        d = np.where(stopped[:, None], d, _unit(q - p))
        if tie is not None:                     # steer to the tie point along the head
            d = _tangent(tie - q, n)
        elif g.gravity:
            d = _unit(d + pull * g.gravity * step)
        p = q
        out.append(p)
    return np.stack(out, axis=1)


def _resample(lines: np.ndarray, ends: np.ndarray, segments: int) -> np.ndarray:
    """(N, segments + 1, 3): each polyline from its start to arc length ``ends``."""
    seg = np.linalg.norm(np.diff(lines, axis=1), axis=-1)
    arc = np.concatenate([np.zeros((len(lines), 1)), np.cumsum(seg, axis=1)], axis=1)
    t = np.linspace(0.0, 1.0, segments + 1)[None, :] * np.minimum(ends, arc[:, -1])[:, None]
    out = np.empty((len(lines), segments + 1, 3))
    for i in range(len(lines)):
        for c in range(3):
            out[i, :, c] = np.interp(t[i], arc[i], lines[i, :, c])
    return out


def _cut_arc(lines: np.ndarray, r: BodyRegions, g: Strands, tie: np.ndarray | None
             ) -> np.ndarray:
    """(N,) arc length at which each strand ends (the full length unless the style cuts)."""
    seg = np.linalg.norm(np.diff(lines, axis=1), axis=-1)
    arc = np.concatenate([np.zeros((len(lines), 1)), np.cumsum(seg, axis=1)], axis=1)
    end = arc[:, -1].copy()
    if tie is not None:                         # stop where the strand reaches the tie
        close = np.linalg.norm(lines - tie, axis=-1) < 0.015
        first = np.where(close.any(1), close.argmax(1), lines.shape[1] - 1)
        end = arc[np.arange(len(lines)), first]
    if g.cut is not None:
        # a soft U: the ends at the sides a little higher than at the back
        z_end = r.z["chest"] + g.cut + 0.05 * np.clip(np.abs(lines[:, 0, 0]) / 0.08, 0, 1)
        below = lines[:, :, 2] < z_end[:, None]
        first = np.where(below.any(1), below.argmax(1), lines.shape[1] - 1)
        end = np.minimum(end, arc[np.arange(len(lines)), first])
    return end


def _curl(lines: np.ndarray, amp: float, rng: np.random.Generator) -> np.ndarray:
    if amp <= 0:
        return lines
    n, m = lines.shape[:2]
    d = _unit(np.gradient(lines, axis=1))
    e1 = _unit(np.cross(d, np.array([0.0, 0.0, 1.0])) + 1e-3)
    e2 = np.cross(d, e1)
    s = np.linspace(0.0, 1.0, m)[None, :]
    turns = rng.uniform(2.5, 4.0, n)[:, None]
    ph = rng.uniform(0, 2 * np.pi, n)[:, None] + 2 * np.pi * turns * s
    a = amp * np.clip(s / 0.15, 0, 1)
    return lines + a[..., None] * (np.cos(ph)[..., None] * e1 + np.sin(ph)[..., None] * e2)


def _cards(skin: _Skin, lines: np.ndarray, width: float, rng: np.random.Generator,
           spin: bool = False) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Polylines (N, S+1, 3) -> card (vertices (N*(S+1)*2, 3), faces, per-vertex uv).
    Cards lie flat on the skin beneath them; ``spin``: turned at random about the strand
    instead (a ponytail seen from any side)."""
    n_str, m = lines.shape[:2]
    d = _unit(np.gradient(lines, axis=1))
    _, _, nrm = skin.near(lines.reshape(-1, 3))
    across = np.cross(d, nrm.reshape(n_str, m, 3))
    weak = (np.linalg.norm(across, axis=-1) < 0.3) | spin   # strand along the normal
    spin = _unit(np.cross(d, rng.normal(size=(n_str, 1, 3))))
    across = _unit(np.where(weak[..., None], spin, across))
    s = np.linspace(0.0, 1.0, m)[None, :, None]
    half = 0.5 * width * rng.uniform(0.8, 1.2, (n_str, 1, 1)) * (1.0 - 0.45 * s)
    verts = np.stack([lines - across * half, lines + across * half], axis=2)  # (N, m, 2, 3)
    col = rng.integers(0, CLUMPS, n_str)
    u0, u1 = clump_u(col)
    uv = np.empty((n_str, m, 2, 2))
    uv[:, :, 0, 0], uv[:, :, 1, 0] = u0[:, None], u1[:, None]
    uv[:, :, :, 1] = 1.0 - s
    idx = np.arange(n_str * m * 2).reshape(n_str, m, 2)
    a, b = idx[:, :-1, 0], idx[:, :-1, 1]
    c, e = idx[:, 1:, 0], idx[:, 1:, 1]
    faces = np.concatenate([np.stack([a, c, b], -1).reshape(-1, 3),
                            np.stack([b, c, e], -1).reshape(-1, 3)])
    return verts.reshape(-1, 3), faces.astype(np.int32), uv.reshape(-1, 2)


def _weights(r: BodyRegions, skin: _Skin, pts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Head bone on the crown, the weights of the skin underneath (neck, upper back) from
    around the skull base down."""
    head_cols = r.dense_weights[r.seg["head"] & (r.vertices[:, 2] > r.z["skull_base"])]
    head = np.zeros(r.dense_weights.shape[1], np.float32)
    head[int(np.argmax(head_cols.sum(0)))] = 1.0
    torso = skin.surface[(r.part["arm"] + r.part["hand"])[skin.surface] < 0.5]
    tree = cKDTree(r.vertices[torso])
    _, near = tree.query(pts, k=6)
    below = r.dense_weights[torso[near]].mean(1)
    # The skin's own weights take over from 3 cm above the skull base to 3 cm below it: a
    # longer head-led blend let strands over the nape sink into the neck when the head
    # tilted (3.8-6.7 % of the hair inside the skin over the AMASS clips; now 0 %).
    t = np.clip((r.z["skull_base"] + 0.03 - pts[:, 2]) / 0.06, 0.0, 1.0)[:, None]
    return top_k_weights((1.0 - t) * head[None, :] + t * below, TOP_K)


def _bun(r: BodyRegions, centre: np.ndarray, rng: np.random.Generator,
         radius: float = 0.045, count: int = 60) -> np.ndarray:
    """(count, 9, 3) arcs wrapped round a ball: the cards of a bun."""
    axis = _unit(rng.normal(size=(count, 3)))
    a = _unit(np.cross(axis, rng.normal(size=(count, 3))))
    b = np.cross(axis, a)
    t = np.linspace(0.0, 1.6 * np.pi, 9)[None, :, None]
    rad = radius * rng.uniform(0.8, 1.0, (count, 1, 1))
    squash = np.array([1.0, 0.8, 0.85])
    return centre + rad * (np.cos(t) * a[:, None] + np.sin(t) * b[:, None]) * squash


def _tail(tie: np.ndarray, r: BodyRegions, skin: _Skin, rng: np.random.Generator,
          count: int = 90) -> np.ndarray:
    """(count, 9, 3): a ponytail of strands hanging from the tie point, down the back."""
    ang = rng.uniform(0, 2 * np.pi, count)
    rr = 0.02 * np.sqrt(rng.random(count))
    p0 = tie + np.stack([rr * np.cos(ang), 0.01 + 0 * ang, rr * np.sin(ang)], -1)
    length = rng.uniform(0.2, 0.3, count)
    g = Strands(count, (0, 0), 0, 8, lift=0.015, slack=np.inf, gravity=60.0, back=0.3,
                comb=(0.0, 0.6, -0.6))
    _, _, n0 = skin.near(p0)
    lines = _grow(skin, p0, n0, g, length, r.head_center.astype(np.float64), None, np.inf)
    return _resample(lines, length, 8)


def _cap(r: BodyRegions, skin_w) -> tuple[GarmentPiece, np.ndarray]:
    cap = shell(r, skin_w, hair_mask(r), CAP_T, smooth=3)
    v = cap.vertices - r.head_center
    u = CAP_U_START + 0.01 + (1 - CAP_U_START - 0.02) * (np.arctan2(v[:, 0], v[:, 1]) / (
        2 * np.pi) + 0.5)
    h = np.clip((cap.vertices[:, 2] - r.z["skull_base"]) / max(r.z["top"] - r.z["skull_base"],
                                                               1e-6), 0.0, 1.0)
    uv = np.stack([u, 0.02 + 0.96 * h], -1)
    return cap, uv[cap.faces].astype(np.float32)


def hair_card_piece(r: BodyRegions, skin_w: tuple[np.ndarray, np.ndarray], style: str,
                    rng: np.random.Generator) -> CardPiece:
    """The hair layer of ``style`` (a key of STYLES): the cap plus its cards, one piece."""
    if style not in STYLES:
        raise ValueError(f"unknown hair style {style!r}; styles: {', '.join(STYLES)}")
    skin = _Skin(r)
    scalp = np.flatnonzero(hair_mask(r) & ~r.seg["inner"])
    crown = r.head_center.astype(np.float64) + np.array([0.0, 0.35, 0.75]) * r.head_radius
    tie = tie_point(r, style) if style in ("ponytail", "bun") else None
    face = _Face(r)
    lines_all, widths, spins = [], [], []
    for g in STYLES[style]:
        roots = rng.choice(scalp, size=g.count, replace=True)
        p0 = r.vertices[roots] + r.normals[roots] * ROOT_T
        lengths = rng.uniform(*g.length, g.count)
        lines = _grow(skin, p0, r.normals[roots].astype(np.float64), g, lengths, crown,
                      tie if g.tie else None, r.z[g.free_z], face)
        ends = _cut_arc(lines, r, g, tie if g.tie else None)
        lines = _resample(lines, ends, g.segments)[ends > 0.006]   # not fringes stopped at once
        lines_all.append(_curl(lines, g.curl, rng))
        widths.append(g.width)
        spins.append(False)
    if style == "ponytail":
        lines_all.append(_tail(tie, r, skin, rng))
        widths.append(0.035)
        spins.append(True)
    elif style == "bun":
        out = _unit(tie - r.head_center)
        lines_all.append(_bun(r, tie + out * 0.04, rng))
        widths.append(0.03)
        spins.append(False)
    parts = [_cards(skin, lines, w, rng, sp) for lines, w, sp in zip(lines_all, widths, spins)]
    starts = np.cumsum([0] + [len(p[0]) for p in parts[:-1]])
    verts = np.concatenate([p[0] for p in parts])
    faces = np.concatenate([p[1] + s for p, s in zip(parts, starts)])
    uv = np.concatenate([p[2] for p in parts])
    verts = push_outside(verts, r.vertices, r.normals, CAP_T + 0.001,
                         candidates=skin.surface, tree=skin.tree)
    idx, w = _weights(r, skin, verts)
    cap, cap_uv = _cap(r, skin_w)
    anchor = skin.near(verts.astype(np.float64))[0]
    k = max(cap.skin_indices.shape[1], TOP_K)

    def pad(a, fill):
        return np.pad(a, ((0, 0), (0, k - a.shape[1])), constant_values=fill)

    return CardPiece(
        vertices=np.concatenate([cap.vertices, verts]).astype(np.float32),
        faces=np.concatenate([cap.faces, faces + len(cap.vertices)]).astype(np.int32),
        anchor=np.concatenate([cap.anchor, anchor]),
        skin_indices=np.concatenate([pad(cap.skin_indices, 0), pad(idx, 0)]).astype(np.int32),
        skin_weights=np.concatenate([pad(cap.skin_weights, 0.0), pad(w, 0.0)]).astype(
            np.float32),
        hides=cap.hides,
        uvs=np.concatenate([cap_uv, uv[faces].astype(np.float32)]))
