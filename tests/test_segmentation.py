"""Photo segmentation and outfit recognition on the synthetic clothed dev set, whose exact
clothed meshes give the true label of every pixel (hair shells, garments, painted clothes,
skin), and `doppel reconstruct --debug` writing the label image."""

from __future__ import annotations

import json

import numpy as np
import pytest

from backend.garments.outfit import SEGMENT_LABELS

L = {name: i for i, name in enumerate(SEGMENT_LABELS)}
CLOTH = [L[k] for k in ("upper", "lower", "outerwear", "shoes")]
SKIN = [L["skin"], L["face"]]


def true_labels(sample) -> np.ndarray:
    """(H, W) labels from the GT clothed mesh rasterised through K: hair (shell or painted),
    cloth (garment meshes, painted shirt/pants/shoes), skin (face: skin on the head)."""
    from backend.fit.segmentation import P, vertex_parts
    from backend.raster import rasterize
    g = np.load(sample / "gt.npz")
    v, f, part = g["clothed_vertices"], g["clothed_faces"], g["clothed_part"]
    w, h = (int(x) for x in g["image_size"])
    uv = (g["K"] @ v.T).T
    ras = rasterize(uv[:, :2] / uv[:, 2:3] + 0.5, f, w, h, depth=v[:, 2])  # K: centres at ints
    region = g["face_region"]
    head = (vertex_parts("anny").part[g["faces"]] == P["head"]).all(1)
    body = np.select([np.isin(region, (5, 6, 7)) | ((region == 0) & head), region == 0,
                      region == 1, region == 2, region == 3, region == 4],
                     [L["face"], L["skin"], L["hair"], L["upper"], L["lower"], L["shoes"]])
    per_face = np.concatenate([body, np.full(len(f) - len(body), L["lower"])])
    per_face[part == 2] = L["hair"]
    return np.where(ras.face >= 0, per_face[np.maximum(ras.face, 0)], 0)


@pytest.fixture(scope="module")
def results(shared_data):
    from backend.fit.pipeline import reconstruct_photo
    out = {}
    for name in ("sample_0006", "sample_0001", "sample_0002"):   # skirt + long hair; wide
        # trousers; a striped coat
        sample = shared_data / "devset_clothed" / name
        result = reconstruct_photo((sample / "image.png").read_bytes(), name, "fast")
        out[name] = (result, true_labels(sample), json.loads((sample / "meta.json").read_text()))
    return out


@pytest.mark.parametrize("name", ["sample_0006", "sample_0001"])
def test_labels_agree_with_the_true_clothed_person(results, name):
    result, truth, _ = results[name]
    labels = result.debug["segmentation"]
    target = result.debug["target"]
    # Background exactly off the person mask; every person pixel gets a person label.
    assert ((labels == 0) == ~target).all()
    both = np.isin(truth, CLOTH + SKIN) & np.isin(labels, CLOTH + SKIN)
    cloth_vs_skin = (np.isin(truth[both], CLOTH) == np.isin(labels[both], CLOTH)).mean()
    assert cloth_vs_skin > 0.95, cloth_vs_skin           # measured 0.994 / 0.996
    if name == "sample_0006":
        hair_t, hair_p = truth == L["hair"], labels == L["hair"]
        iou = (hair_t & hair_p).sum() / (hair_t | hair_p).sum()
        assert iou > 0.7, iou                            # measured 0.88


def test_outfit_types_match_the_true_garments(results):
    skirt = results["sample_0006"][0].debug["outfit"]
    assert skirt.bottom == "skirt" and skirt.hair == "long"
    assert skirt.top in ("tshirt", "tank")               # a short-sleeved top shell
    # The skirt ends near the knee (about leg_s 0.5), its colour is the photo's yellow
    # (the mean over all 'lower' pixels, the dark leggings below it included).
    assert 0.3 < skirt.bottom_hem < 0.8, skirt.bottom_hem
    r, g, b = skirt.colours["lower"]
    assert r > 150 and g > 150 and b < min(r, g) - 25, skirt.colours["lower"]
    trousers = results["sample_0001"][0].debug["outfit"]
    assert trousers.bottom == "trousers" and trousers.outerwear == "none"
    assert trousers.bottom_hem > 0.8
    # The avatar carries it as JSON-able metadata.
    meta = results["sample_0001"][0].avatar.metadata["outfit"]
    assert meta["bottom"] == "trousers" and json.dumps(meta)
    # A coat over trousers, buttoned all the way down: its stripes are not an opening.
    coat = results["sample_0002"][0].debug["outfit"]
    assert coat.outerwear == "coat" and not coat.outerwear_open


def test_cli_debug_writes_the_segmentation_image(shared_data, tmp_path):
    from PIL import Image

    from backend.cli import main
    photo = shared_data / "devset_clothed" / "sample_0007" / "image.png"
    assert main(["reconstruct", str(photo), "--out", str(tmp_path), "--quality", "fast",
                 "--debug"]) == 0
    png = tmp_path / "image.segmentation.png"
    img = np.asarray(Image.open(png).convert("RGB"))
    assert img.shape[0] == 768 and img.shape[1] > 512     # the photo plus a legend
    from backend.fit.segmentation import PALETTE
    # The dress is drawn in the 'lower' colour blended over the photo: a lot of green.
    person = img[:, :512].reshape(-1, 3).astype(int)
    greenish = (person[:, 1] > person[:, 0] + 30) & (person[:, 1] > person[:, 2] + 20)
    assert greenish.mean() > 0.05 and PALETTE[L["lower"]][1] > 150
