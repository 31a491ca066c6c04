"""Layered scenes to bake textures on, from devset_clothed's exact ground truth: the true
posed Anny body under the clothes (its own UVs, rest shape from the phenotype), garment layers
built with backend/garments on that body (a skirt ring for skirts and dresses, a shell for
coats, sleeveless like the devset's) and refitted onto the posed body, and a segmentation of
the photo from the true clothed mesh. Used by benchmarks/texture_back.py and tests/test_layer_bake.py.

The devset paints tights, shirts and shoes on the body and adds one garment mesh; that garment,
whatever its type, is labelled "outerwear" here so the painted tights (labelled "lower") stay
apart from it.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from PIL import Image

from backend.textures.layer_bake import SEGMENT_LABELS, LayerMesh, View

# devset face_region ids -> segmentation labels
PAINTED = {0: "skin", 1: "hair", 2: "upper", 3: "lower", 4: "shoes", 5: "face", 6: "face",
           7: "face"}
GARMENT_LABEL = "outerwear"


def devset_labels(gt, size: tuple[int, int], cx: float, cy: float) -> np.ndarray:
    """(h, w) label indices from the true clothed mesh rasterised through the camera."""
    from backend.raster import rasterize
    w, h = size
    v = gt["clothed_vertices"].astype(np.float64)
    k = gt["K"]
    pix = np.stack([k[0, 0] * v[:, 0] / v[:, 2] + cx, k[1, 1] * v[:, 1] / v[:, 2] + cy], 1)
    ras = rasterize(pix, gt["clothed_faces"], w, h, depth=v[:, 2])
    n_body = len(gt["faces"])
    lut = np.zeros(len(gt["clothed_faces"]), np.int64)
    region = gt["face_region"]
    lut[:n_body] = [SEGMENT_LABELS.index(PAINTED.get(int(r), "skin")) for r in region]
    part = gt["clothed_part"]
    lut[n_body:] = np.where(part[n_body:] == 2, SEGMENT_LABELS.index("hair"),
                            SEGMENT_LABELS.index(GARMENT_LABEL))
    return np.where(ras.face >= 0, lut[np.maximum(ras.face, 0)], 0)


def _garment_pieces(r, rest, meta: dict):
    from backend.garments import drape, shells
    from backend.garments.wardrobe import JACKET_T
    z = r.z
    g, prm = meta["garment"], meta.get("garment_params", {})
    margin = float(prm.get("margin_m", 0.02))
    if g in ("skirt", "dress"):
        top = z["waist"] if g == "skirt" else z["chest"] + float(prm.get("top_z_rel_chest_m", 0))
        hem = z["knee"] + float(prm.get("hem_z_rel_knee_m", 0.0))
        flare = float(prm.get("hem_flare_m", 0.1)) / max(top - hem, 0.1)
        return [drape.skirt(r, top, hem, offset=margin, flare=flare)]
    if g == "coat":
        skin = (rest.skin_indices, rest.skin_weights)
        hem = max(z["hip"] - 0.07, z["crotch"] + 0.06)
        return [shells.shell(r, skin, shells.top_mask(r, 0.1, hem), max(margin, JACKET_T))]
    return []


def devset_scene(sample: Path) -> dict:
    """{"view", "body", "garments": [LayerMesh], "meta", "gt"} for one devset_clothed sample."""
    from backend.bodies import get_body_model
    from backend.garments.body_regions import body_regions
    from backend.garments.layers import merge_pieces
    from backend.garments.surface import bind_to_vertices, refit
    from backend.garments.uv_layout import layer_uvs
    gt = dict(np.load(sample / "gt.npz"))
    meta = json.loads((sample / "meta.json").read_text())
    photo = np.asarray(Image.open(sample / "image.png").convert("RGB"))
    mask = np.asarray(Image.open(sample / "mask.png").convert("L")) > 127
    h, w = mask.shape
    k = gt["K"]
    cx, cy = k[0, 2] + 0.5, k[1, 2] + 0.5      # raster.py: pixel i covers [i, i + 1)
    labels = devset_labels(gt, (w, h), cx, cy)
    view = View(photo, mask, float(k[0, 0]), float(k[1, 1]), cx, cy, labels)
    model = get_body_model("anny")
    params = dict(zip(gt["phenotype_labels"].tolist(), gt["phenotype_values"].tolist()))
    rest = model.rest_body(params)
    posed = gt["vertices"].astype(np.float64)
    non_garment = tuple(nm for nm in SEGMENT_LABELS[1:] if nm != GARMENT_LABEL)
    body = LayerMesh(posed, rest.faces, rest.uvs, rest.vertices, non_garment,
                     head_z=float(rest.heads[rest.bone_names.index("head")][2]), name="body",
                     mirror_colours=True)
    garments = []
    pieces = _garment_pieces(body_regions(rest), rest, meta)
    if pieces:
        piece = merge_pieces(pieces)
        tris, bary, off = bind_to_vertices(rest.vertices, rest.faces, piece.vertices,
                                           piece.anchor)
        from protocol import SurfaceBinding
        binding = SurfaceBinding(tris, bary, off, np.zeros(0, np.int32))
        garments.append(LayerMesh(refit(binding, posed).astype(np.float64), piece.faces,
                                  layer_uvs(pieces, rest.faces, rest.uvs), piece.vertices,
                                  (GARMENT_LABEL,), name=meta["garment"]))
    return {"view": view, "body": body, "garments": garments, "meta": meta, "gt": gt}
