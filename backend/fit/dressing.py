"""The clothing stage: dress the fitted body in the photo's garments.

With Anny, the recognised Outfit's garments are built from the shared template library and
fitted to the silhouette (garment_fit.py), then the outline of the outermost layers is slid
onto the mask within the image plane (silhouette_refine.py); they become their own layers,
and the body stays the clean fitted body. Regions the Outfit could not recognise (or every
region, when recognition failed) fall back to per-vertex offsets of that region of the body
(clothing.py), with a warning. SMPL-family bodies keep the offsets everywhere: the garment library is built
on Anny's mesh and rig.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch
from scipy.spatial import cKDTree

from protocol import MeshLayer

from ..bodies import RestBody
from ..garments.body_regions import BodyRegions, body_regions
from ..garments.fabrics import fabric_for
from ..garments.layers import garment_layer
from ..garments.outfit import Outfit
from ..garments.shells import GarmentPiece, bottom_mask, hair_mask, shoe_mask, top_mask
from ..garments.surface import vertex_normals
from ..garments.textures import cloth_texture, hair_texture, shoe_texture
from ..garments.uv_layout import layer_uvs
from ..raster import rasterize
from ..textures.layer_bake import LayerBake, LayerMesh, View, bake_avatar_layers
from .clothing import MAX_IN, MAX_OUT, fit_offsets
from .garment_fit import (
    NOT_STACKED,
    BodyFreedom,
    FittedGarment,
    _skin,
    blend,
    fit_garments,
)
from .garment_templates import build_templates
from .geometry import project
from .silhouette_refine import RimLayer, refine_outline

SHRINK_UNDER = 0.03  # metres hidden skin under a garment may give way to the cloth (_tuck_skin)
COVER_RINGS = 3      # edge rings of skin around a garment that may not grow through its hem
UNDER_REACH = 0.06   # metres: a garment's points this close inside a later garment are under it
ROLE_LABEL = {"top": "upper", "bottom": "lower", "outerwear": "outerwear", "shoes": "shoes",
              "hair": "hair"}


@dataclass
class BakedPiece(GarmentPiece):
    """A fitted garment with the UVs its photo texture was baked into."""

    uvs: np.ndarray | None = None       # (F, 3, 2)


@dataclass
class Dressing:
    offsets: torch.Tensor                       # (V, 3) rest-space body offsets (fallback)
    garments: list[FittedGarment] = field(default_factory=list)
    rest: RestBody | None = None                # the rest body the garments are built on
    colours: dict[str, tuple[int, int, int]] = field(default_factory=dict)  # sRGB per role
    outfit: Outfit | None = None
    mode: str = "offsets"                       # "garments" or "offsets"


def fallback_region(r: BodyRegions, label: str) -> np.ndarray:
    """(V,) bool: the body vertices an unrecognised segmentation label's offsets may move."""
    v, z = r.vertices, r.z
    if label == "hair":
        return hair_mask(r) | (r.seg["head"] & (v[:, 1] > r.head_center[1]))
    if label == "upper":
        return top_mask(r, 1.0, z["hip"] - 0.05)
    if label == "lower":
        return bottom_mask(r, 1.0, z["waist"])
    if label == "outerwear":
        return top_mask(r, 1.0, z["crotch"] + 0.02) | bottom_mask(r, 1.0, z["waist"])
    if label == "shoes":
        return shoe_mask(r, 0.85)
    return np.zeros(len(v), dtype=bool)


def without_unrecognised(outfit: Outfit) -> Outfit:
    """The outfit with the garments of its unrecognised labels taken off."""
    keep = dict(outfit.__dict__)
    off = set(outfit.unrecognised)
    if "upper" in off:
        keep["top"] = "none"
    if "lower" in off:
        keep["bottom"] = "none"
    if "outerwear" in off:
        keep["outerwear"] = "none"
    if "shoes" in off:
        keep["shoes"] = "none"
    if "hair" in off:
        keep["hair"] = "none"
    return Outfit(**keep)


def dress(rig, fit, deltas: torch.Tensor, outfit: Outfit | None, camera, target: np.ndarray,
          rgb: np.ndarray, edges: torch.Tensor, iters: int, warnings: list[str],
          progress=lambda f: None) -> Dressing:
    """Garments (and fallback offsets) for the fitted body ``fit`` in the photo's pose.
    ``outfit`` None: recognition failed, so the offsets cover the whole body."""
    zero = torch.zeros(rig.vertex_count, 3)
    if not iters:
        return Dressing(zero)
    if rig.name != "anny" or outfit is None:
        if outfit is None and rig.name == "anny":
            warnings.append("the clothing could not be recognised; it is modelled as a "
                            "smooth layer over the body instead of separate garments")
        return Dressing(fit_offsets(rig, fit.rest, deltas, camera, target, edges,
                                    iters=iters, progress=progress))
    shape = rig.shape_params(fit.shape)
    rest = rig.body.rest_body(shape)
    lift = rest.heads[0] - fit.rest.heads[0, 0].numpy()
    regions = body_regions(rest)
    if outfit.unrecognised:
        warnings.append(f"not recognised as a known garment: {', '.join(outfit.unrecognised)}"
                        f"; modelled as a smooth layer over the body there")
    templates = build_templates(regions, (rest.skin_indices, rest.skin_weights),
                                without_unrecognised(outfit))
    with torch.no_grad():
        transforms, _ = rig.model.get_bone_transforms(deltas, fit.rest.bone_poses)
    transforms = transforms[0].numpy().astype(np.float64)
    freedom = body_freedom(regions, templates, outfit.unrecognised, edges)
    garments, offsets = fit_garments(templates, regions, transforms, lift, rig.mesh_faces,
                                     camera, target, freedom, iters=iters, progress=progress)
    offsets = refine_dressed_outline(garments, regions, offsets, freedom, transforms, lift,
                                     camera, target)
    rest.vertices = (rest.vertices + offsets).astype(np.float32)
    offsets_t = torch.from_numpy(offsets.astype(np.float32))
    with torch.no_grad():
        body_posed, _ = rig.pose(fit.rest, deltas, offsets_t)
    colours = photo_colours(garments, body_posed.numpy(), rig.mesh_faces, camera, rgb, outfit)
    return Dressing(offsets_t, garments, rest, colours, outfit, "garments")


def refine_dressed_outline(garments: list[FittedGarment], r: BodyRegions, offsets: np.ndarray,
                           freedom: BodyFreedom, transforms: np.ndarray, lift: np.ndarray,
                           camera, target: np.ndarray) -> np.ndarray:
    """The outermost layers' outline slid onto the mask in the image plane
    (silhouette_refine.py): the garments' rest vertices and posed copies move in place; the
    body's visible skin (not the hands: their fingers are posed after this) through the
    returned rest offsets; the skin under the garments moves only to make room for them."""
    a_body = blend(transforms, *_skin(r))
    body_posed = np.einsum("nij,nj->ni", a_body[:, :, :3], r.vertices + offsets - lift) + \
        a_body[:, :, 3]
    skin = (r.part["hand"] < 0.5) & ~r.seg["hand"] & ~r.seg["inner"]
    # a foot's folds (toes, sole edge) would fold over each other if carried
    carried = skin & (freedom.hi <= 0) & (r.part["foot"] < 0.5) & ~r.seg["foot"]
    layers = [RimLayer(body_posed, r.faces, skin & (freedom.hi > 0), carried,
                       solid=~r.seg["inner"])]
    for i, g in enumerate(garments):
        stacked = g.template.role not in NOT_STACKED
        layers.append(RimLayer(g.posed.astype(np.float64), g.piece.faces,
                               ~_under_later(garments, i), rests_on=None if stacked else (0,)))
    moves = refine_outline(layers, camera, target)
    for g, m in zip(garments, moves[1:]):
        a = blend(transforms, g.piece.skin_indices, g.piece.skin_weights)
        g.piece.vertices = (g.piece.vertices + np.linalg.solve(a[:, :, :3], m[:, :, None])[..., 0]
                            ).astype(np.float32)
        g.posed = (g.posed + m).astype(np.float32)
    return offsets + np.linalg.solve(a_body[:, :, :3], moves[0][:, :, None])[..., 0]


def _under_later(garments: list[FittedGarment], i: int) -> np.ndarray:
    """(N,) bool: points of garment i inside a garment put on after it (they cannot show)."""
    g = garments[i]
    under = np.zeros(len(g.posed), dtype=bool)
    if g.template.role in NOT_STACKED:
        return under
    for outer in garments[i + 1:]:
        if outer.template.role in NOT_STACKED:
            continue
        n = vertex_normals(outer.posed.astype(np.float64), outer.piece.faces)
        dist, near = cKDTree(outer.posed).query(g.posed, distance_upper_bound=UNDER_REACH)
        hit = dist < np.inf
        inside = np.zeros_like(under)
        inside[hit] = ((g.posed[hit] - outer.posed[near[hit]]) * n[near[hit]]).sum(1) < 0
        under |= inside
    return under


def body_freedom(r: BodyRegions, templates, unrecognised: list[str], edges: torch.Tensor
                 ) -> BodyFreedom:
    """How far each body vertex may move along its normal: freely (as clothing.py's offsets)
    where no garment covers it or where a garment was not recognised, only inwards a little
    under a garment."""
    covered = np.zeros(len(r.vertices), dtype=bool)
    for t in templates:
        for piece in t.pieces:
            covered[piece.hides] = True
            covered[piece.anchor] = True
    for _ in range(COVER_RINGS):           # and the skin along its edges, which shows
        covered[r.faces[covered[r.faces].any(1)].ravel()] = True
    for label in unrecognised:
        covered &= ~fallback_region(r, label)
    hi = np.where(covered, 0.0, MAX_OUT)
    lo = np.where(covered, -SHRINK_UNDER, -MAX_IN)
    return BodyFreedom(r.normals.astype(np.float64), lo, hi, edges)


def posed_union(garments: list[FittedGarment], body_posed: np.ndarray, body_faces: np.ndarray
                ) -> tuple[np.ndarray, np.ndarray, list[slice]]:
    """Body and garments as one posed mesh, with each garment's face range."""
    verts, faces, ranges = [body_posed], [body_faces], []
    nv, nf = len(body_posed), len(body_faces)
    for g in garments:
        verts.append(g.posed)
        faces.append(g.piece.faces + nv)
        ranges.append(slice(nf, nf + len(g.piece.faces)))
        nv += len(g.posed)
        nf += len(g.piece.faces)
    return np.concatenate(verts), np.concatenate(faces), ranges


def photo_colours(garments: list[FittedGarment], body_posed: np.ndarray, body_faces: np.ndarray,
                  camera, rgb: np.ndarray, outfit: Outfit) -> dict[str, tuple[int, int, int]]:
    """sRGB colour of each garment: the median photo colour where it is the visible surface
    (the segmentation's colour of its label when the photo shows too little of it)."""
    verts, faces, ranges = posed_union(garments, body_posed, body_faces)
    pix = project(torch.from_numpy(verts), camera.f, camera.cx, camera.cy).numpy()
    h, w = rgb.shape[:2]
    face = rasterize(pix, faces, w, h, depth=verts[:, 2]).face
    out = {}
    for g, rng in zip(garments, ranges):
        seen = (face >= rng.start) & (face < rng.stop)
        role = g.template.role
        label = ROLE_LABEL.get(role, role)
        if seen.sum() >= 30:
            out[role] = tuple(int(c) for c in np.median(rgb[seen].reshape(-1, 3), axis=0))
        elif label in outfit.colours:
            out[role] = tuple(int(c) for c in outfit.colours[label])
        else:
            out[role] = (90, 90, 90)
    return out


def garment_meshes(dressing: Dressing, body_faces: np.ndarray, body_uvs: np.ndarray | None
                   ) -> list[LayerMesh]:
    """The fitted garments as the photo bake takes them: posed, at rest, with UVs that give
    every texel one surface point (shells on the body's atlas, rings unrolled)."""
    return [LayerMesh(g.posed, g.piece.faces, layer_uvs(g.template.pieces, body_faces, body_uvs),
                      g.piece.vertices, (ROLE_LABEL.get(g.template.role, g.template.role),),
                      name=g.template.role) for g in dressing.garments]


def bake_garments(photo: np.ndarray, mask: np.ndarray, camera, labels: np.ndarray | None,
                  meshes: list[LayerMesh], body_posed: np.ndarray, body_faces: np.ndarray
                  ) -> dict[str, LayerBake]:
    """Each garment's texture from the photo (the body in front of it hides it), its unseen
    back completed from its own seen side (textures/layer_bake.py)."""
    if not meshes:
        return {}
    view = View(photo, mask, camera.f, camera.f, camera.cx, camera.cy, labels)
    return bake_avatar_layers(view, [*meshes, LayerMesh(body_posed, body_faces, name="body")])


def garment_layers(dressing: Dressing, rest: RestBody, meshes: list[LayerMesh] = (),
                   bakes: dict[str, LayerBake] | None = None) -> list[MeshLayer]:
    """The fitted garments as bound, textured mesh layers on ``rest`` (the avatar's body):
    the photo bake where there is one, else a plain fabric of the photo's colour."""
    layers = []
    uvs = {m.name: m.uvs for m in meshes}
    for i, g in enumerate(dressing.garments):
        role, style = g.template.role, g.template.style
        colour = dressing.colours.get(role, (90, 90, 90))
        rng = np.random.default_rng([7, i])
        if role == "hair":
            png, base = hair_texture(colour, rng)
        elif role == "shoes":
            png, base = shoe_texture(colour, tuple(int(0.6 * c) for c in colour), 0.02, rng)
        else:
            png, base = cloth_texture("plain", colour, colour, rng)
        piece, material = g.piece, None if role == "hair" else fabric_for(role, style)
        if bakes and role in bakes and role in uvs:
            # the photo is baked into the layer's own UVs, so it keeps them as they are (a
            # piece with UVs gets no hem rim from garment_layer)
            piece, png = BakedPiece(**vars(g.piece), uvs=uvs[role]), bakes[role].png
        layers.append(garment_layer(role, style, piece, rest, png, base, material=material))
    return layers
