"""Garments that do not follow the skin: skirts (and the skirt of a dress) that hang between
the legs, long hair that falls down the back, a bun.

Each is built as a grid around the body, then bound to a nearby body vertex like a shell.
Skirt skin weights come from nearby hip and thigh skin (never the shins: a skirt hangs from the
thighs, it does not fold back with a bent knee) and are blended around the skirt's rings, more
towards the hem, so the hem mixes both thighs and does not tear when the legs split. Cloth
that mixes both sides stands a little further out (see _spread_room), so a thigh swinging
forward in a lunge or a kick stays under it. All of this is plain linear blend skinning.
"""

from __future__ import annotations

import numpy as np
from scipy.ndimage import gaussian_filter1d, maximum_filter1d
from scipy.spatial import cKDTree

from rig.skinning import top_k_weights

from .body_regions import BodyRegions
from .shells import GarmentPiece
from .surface import push_outside

TOP_K = 6
SHIN_MAX = 0.1       # skirts take weights from skin with less lower-leg weight than this
SPREAD_ROOM = 0.08   # metres of extra room at the hem where the cloth mixes both legs
RING_BLUR = 2.5      # extra blur (grid columns) of skirt weights around the hem ring
SIDE_X = 0.05        # metres off the mid-plane at which a bone counts as fully left/right
FLAP_COLUMNS = 4     # columns on each side of a coat's opening whose weights keep to their leg


def _grid_faces(rows: int, cols: int, wrap: bool) -> np.ndarray:
    """Triangles of a rows x cols vertex grid (row-major); ``wrap`` closes each row."""
    c1 = cols if wrap else cols - 1
    r, c = np.meshgrid(np.arange(rows - 1), np.arange(c1), indexing="ij")
    a = r * cols + c
    b = r * cols + (c + 1) % cols
    d, e = a + cols, b + cols
    return np.concatenate([np.stack([a, d, b], -1).reshape(-1, 3),
                           np.stack([b, d, e], -1).reshape(-1, 3)]).astype(np.int32)


def _spread_room(r: BodyRegions, weights: np.ndarray, pts: np.ndarray, top_z: float,
                 hem_z: float, cx: float, cy: float, room: float = SPREAD_ROOM) -> np.ndarray:
    """(N, 3) outward push for skirt points whose (N, B) weights mix the left and right
    side: such cloth moves with the average of both thighs, so when one thigh swings forward
    (a lunge, a stride) it would reach the cloth; extra room, growing towards the hem, keeps
    the thigh behind it."""
    side = bone_sides(r)                                                     # (B,) -1 R .. 1 L
    left = weights @ np.maximum(side, 0.0)
    right = weights @ np.maximum(-side, 0.0)
    mix = 4.0 * left * right / np.maximum((left + right) ** 2, 1e-9)         # 1 = half-half
    drop = np.clip((top_z - pts[:, 2]) / max(top_z - hem_z, 1e-6), 0.0, 1.0)
    out = pts[:, :2] - (cx, cy)
    out /= np.maximum(np.linalg.norm(out, axis=1, keepdims=True), 1e-9)
    push = np.zeros_like(pts)
    push[:, :2] = out * (room * mix * drop)[:, None]
    return push


def skirt(r: BodyRegions, top_z: float, hem_z: float, offset: float, flare: float,
          around: int = 72, room: float = SPREAD_ROOM) -> GarmentPiece:
    """A closed tube from top_z down to hem_z that encloses hips and both legs, widening by
    ``flare`` metres per metre of drop, never narrower than the ring above it. ``room``: the
    hem's extra room where the cloth mixes both legs (see _spread_room)."""
    v = r.vertices
    ok = (r.part["arm"] + r.part["hand"] < 0.5) & ~r.seg["inner"] & \
        (v[:, 2] > hem_z - 0.04) & (v[:, 2] < top_z + 0.04)
    cand = np.flatnonzero(ok)
    ring_z = np.linspace(top_z, hem_z, max(int(round((top_z - hem_z) / 0.025)) + 1, 4))
    near_top = cand[np.abs(v[cand, 2] - top_z) < 0.03]
    cx, cy = 0.0, float(v[near_top, 1].mean())
    ang = np.arctan2(v[cand, 0] - cx, -(v[cand, 1] - cy))           # 0 = front (-Y)
    rad = np.hypot(v[cand, 0] - cx, v[cand, 1] - cy)
    bins = ((ang + np.pi) / (2 * np.pi) * around).astype(int) % around
    radii = np.zeros((len(ring_z), around))
    prev = np.zeros(around)
    for k, z in enumerate(ring_z):
        sel = np.abs(v[cand, 2] - z) < 0.02
        rk = np.zeros(around)
        np.maximum.at(rk, bins[sel], rad[sel])
        rk = maximum_filter1d(rk, 5, mode="wrap")
        rk = np.maximum(rk, prev)                        # hang straight: never tuck inward
        prev = rk
        radii[k] = gaussian_filter1d(rk, 1.5, mode="wrap") + offset + flare * (top_z - z)
        radii[k] = np.maximum(radii[k], rk + offset)
    theta = (np.arange(around) + 0.5) / around * 2 * np.pi - np.pi
    pts = np.stack([cx + radii * np.sin(theta), cy - radii * np.cos(theta),
                    np.broadcast_to(ring_z[:, None], radii.shape)], axis=-1).reshape(-1, 3)
    # weights and binding come from skin the knee does not move: bound to a calf, the hem
    # would be pulled back with it when the knee bends, and the folding skin pokes out
    src = cand[r.part["shin"][cand] + r.part["foot"][cand] < SHIN_MAX]
    tree = cKDTree(v[src])
    _, near = tree.query(pts, k=8)
    dense = r.dense_weights[src[near]].mean(1)                         # (N, B)
    # blend around each ring: more towards the hem, where the legs part
    rows = dense.reshape(len(ring_z), around, -1)
    for k in range(len(ring_z)):
        t = (top_z - ring_z[k]) / max(top_z - hem_z, 1e-6)
        rows[k] = gaussian_filter1d(rows[k], 1.0 + RING_BLUR * t, axis=0, mode="wrap")
    blended = rows.reshape(len(pts), -1)
    pts = pts + _spread_room(r, blended, pts, top_z, hem_z, cx, cy, room)
    idx, w = top_k_weights(blended, TOP_K)
    # bind to the skin each point hangs squarely over, of its nearest few (as
    # bind_to_vertices picks faces), rather than whichever is a hair closer
    _, near = tree.query(pts, k=8)
    cands = src[near]                                                  # (N, 8)
    to_pt = pts[:, None, :] - v[cands]
    to_pt /= np.maximum(np.linalg.norm(to_pt, axis=-1, keepdims=True), 1e-9)
    facing = (r.normals[cands] * to_pt).sum(-1)
    anchor = np.take_along_axis(cands, np.argmax(facing, axis=1)[:, None], 1)[:, 0]
    legs = cand[(v[cand, 2] > hem_z) & (v[cand, 2] < top_z)]      # skin under the skirt
    return GarmentPiece(vertices=pts.astype(np.float32), faces=_grid_faces(len(ring_z),
                        around, wrap=True), anchor=anchor, skin_indices=idx,
                        skin_weights=w, hides=legs)


def bone_sides(r: BodyRegions) -> np.ndarray:
    """(B,) -1 (right) .. 1 (left): the side of the body each bone's skin lies on."""
    mass = np.maximum(r.dense_weights.sum(0), 1e-9)
    return np.clip((r.dense_weights.T @ r.vertices[:, 0]) / mass / SIDE_X, -1.0, 1.0)


def open_front(r: BodyRegions, piece: GarmentPiece, around: int, below_z: float
               ) -> tuple[GarmentPiece, np.ndarray]:
    """A skirt() tube (rows of ``around`` vertices, top ring first) opened up its front from
    the hem to ``below_z``, as a coat opens below the waist: the column of vertices next to
    the front (-Y) is doubled there, the faces left of it (+X) taking the copies, so the two
    flaps have edges of their own (and a hem each). Near the opening each flap lets go of
    the other leg's bones (FLAP_COLUMNS), so the flaps part when the legs stride instead of
    stretching across. Returns the piece (the copies appended) and, for each copy, the
    vertex it copies."""
    v = piece.vertices
    rows = len(v) // around
    col = around // 2                  # skirt()'s columns run from the back, -pi, round
    grid = np.arange(rows * around).reshape(rows, around)
    open_rows = v[grid[:, col], 2] < below_z
    split = grid[open_rows, col]
    if not len(split):
        return piece, np.zeros(0, np.int64)
    copy = np.full(len(v), -1)
    copy[split] = len(v) + np.arange(len(split))
    faces = piece.faces.copy()
    cols = faces % around
    left = np.isin(cols, (col, (col + 1) % around)).all(1) & (cols == col).any(1) & \
        (cols != col).any(1)                     # the faces between the column and the next
    moved = left[:, None] & (copy[faces] >= 0)
    faces[moved] = copy[faces[moved]]
    idx = np.concatenate([piece.skin_indices, piece.skin_indices[split]])
    w = np.concatenate([piece.skin_weights, piece.skin_weights[split]]).astype(np.float64)
    w_before = w.copy()
    side = bone_sides(r)
    for k in range(FLAP_COLUMNS):                # each flap lets go of the other side
        fade = 1.0 - k / FLAP_COLUMNS
        right = grid[open_rows, (col - k) % around]
        mine = grid[open_rows, (col + k) % around] if k else copy[split]
        for ids, other in ((mine, np.maximum(-side, 0.0)), (right, np.maximum(side, 0.0))):
            w[ids] *= 1.0 - fade * other[idx[ids]]
    total = w.sum(1, keepdims=True)
    w = np.where(total > 1e-6, w / np.maximum(total, 1e-9), w_before)
    return GarmentPiece(
        vertices=np.concatenate([v, v[split]]), faces=faces,
        anchor=np.concatenate([piece.anchor, piece.anchor[split]]),
        skin_indices=idx, skin_weights=w.astype(np.float32), hides=piece.hides), split


def hair_curtain(r: BodyRegions, bottom_z: float, offset: float, cols: int = 24
                 ) -> GarmentPiece:
    """Long hair: a sheet from the back of the head down to ``bottom_z``, as wide as the head
    at the top and spreading a little lower down, hanging straight (each row at least as far
    back as the one above) ``offset`` metres behind the body, with a rounded lower edge."""
    v = r.vertices
    c = r.head_center
    top_z = float(c[2]) + 0.02
    ok = (r.part["arm"] + r.part["hand"] < 0.5) & ~r.seg["inner"] & (v[:, 2] > bottom_z - 0.05)
    cand = np.flatnonzero(ok)
    head = cand[r.seg["head"][cand] & (np.abs(v[cand, 2] - top_z) < 0.02)]
    half = 0.85 * float(np.abs(v[head, 0] - c[0]).max())
    across = np.linspace(-1.0, 1.0, cols)
    rows = max(int(round((top_z - bottom_z) / 0.02)) + 1, 4)
    t = np.linspace(0.0, 1.0, rows)[:, None]                       # 0 top .. 1 bottom
    xs = c[0] + across[None, :] * half * (1.0 + 0.35 * t)          # spreads over the back
    zs = top_z + t * (bottom_z - top_z) + 0.06 * across[None, :] ** 2 * t   # rounded tips
    ys = np.zeros((rows, cols))
    prev = np.full(cols, float(c[1]))                              # never in front of the skull
    for k in range(rows):
        slab = cand[np.abs(v[cand, 2] - zs[k].mean()) < 0.03]
        for j in range(cols):
            col = slab[np.abs(v[slab, 0] - xs[k, j]) < 0.02]
            back = v[col, 1].max() + offset if len(col) else prev[j]
            ys[k, j] = max(back, prev[j])
        prev = ys[k]
    pts = np.stack([xs, ys, zs], axis=-1).reshape(-1, 3)
    tree = cKDTree(v[cand])
    pts = push_outside(pts, v, r.normals, offset, candidates=cand, tree=tree)
    _, near = tree.query(pts, k=6)
    idx, w = top_k_weights(r.dense_weights[cand[near]].mean(1), TOP_K)
    return GarmentPiece(vertices=pts.astype(np.float32),
                        faces=_grid_faces(rows, cols, wrap=False)[:, ::-1].copy(),  # face back
                        anchor=cand[near[:, 0]],
                        skin_indices=idx, skin_weights=w, hides=np.zeros(0, np.int64))


def bun(r: BodyRegions, radius: float = 0.045) -> GarmentPiece:
    """A slightly flattened ball at the back of the crown."""
    import trimesh
    ball = trimesh.creation.icosphere(subdivisions=2, radius=radius)
    c, rad = r.head_center, r.head_radius
    centre = c + np.array([0.0, 0.92 * rad, 0.45 * rad])
    pts = ball.vertices * np.array([1.0, 0.85, 0.9]) + centre
    head = np.flatnonzero(r.seg["head"] & ~r.seg["inner"])
    tree = cKDTree(r.vertices[head])
    # squash the side facing the skull onto the hair instead of sinking into the head
    pts = push_outside(pts, r.vertices, r.normals, 0.012, candidates=head, tree=tree)
    _, near = tree.query(pts, k=1)
    idx, w = top_k_weights(r.dense_weights[head[near]], TOP_K)
    return GarmentPiece(vertices=pts.astype(np.float32), faces=ball.faces.astype(np.int32),
                        anchor=head[near], skin_indices=idx, skin_weights=w,
                        hides=np.zeros(0, np.int64))
