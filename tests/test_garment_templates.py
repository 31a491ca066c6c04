"""Garment templates' shapes in depth (backend/fit/garment_templates.py), on a real Anny body:
how a torso band grows when the photo asks for more width, and a coat's front opening."""

from __future__ import annotations

import numpy as np
import pytest
from test_garment_fit import loops_at_height

from backend.garments.outfit import Outfit


@pytest.fixture(scope="module")
def regions():
    from backend.bodies import get_body_model
    from backend.garments.body_regions import body_regions
    rest = get_body_model("anny").rest_body({})
    return body_regions(rest), (rest.skin_indices, rest.skin_weights)


def _template(regions, role: str, outfit: Outfit):
    from backend.fit.garment_templates import build_templates
    r, skin = regions
    return next(t for t in build_templates(r, skin, outfit) if t.role == role)


def _grown(t, mode: str, value: float) -> np.ndarray:
    """The template's merged rest vertices with every knot of ``mode`` at ``value``."""
    from backend.garments.layers import merge_pieces
    v = merge_pieces(t.pieces).vertices.astype(np.float64)
    m = next(m for m in t.modes if m.name == mode)
    return v + m.direction * (m.control @ np.full(m.control.shape[1], value))[:, None]


def test_a_top_widened_for_the_photo_stays_shallow_in_depth(regions):
    """A top whose torso band grows 3 cm to fit a wider outline gets most of it in width:
    front and back grow by at most 60 % of what the sides do (not a barrel)."""
    r, _ = regions
    t = _template(regions, "top", Outfit(top="longsleeve", sleeve=0.9, bottom="trousers"))
    a = np.concatenate([p.anchor for p in t.pieces])
    z = r.z["chest"] - 0.05
    band = (np.abs(r.vertices[a, 2] - z) < 0.02) & (r.part["arm"][a] < 0.1)
    before, after = _grown(t, "top.core", 0.0)[band], _grown(t, "top.core", 0.03)[band]
    width = np.ptp(after[:, 0]) - np.ptp(before[:, 0])
    depth = np.ptp(after[:, 1]) - np.ptp(before[:, 1])
    assert width > 0.03
    assert depth <= 0.6 * width


def test_a_coat_opens_below_the_waist(regions):
    """A knee-length coat worn open: closed round the hips, open up the front below them (two flaps
    with their own edges: one open curve at mid-thigh, whose ends meet at the front)."""
    from backend.garments.layers import merge_pieces
    r, _ = regions
    t = _template(regions, "outerwear", Outfit(top="longsleeve", sleeve=0.9, bottom="trousers",
                                               outerwear="coat", outerwear_hem=0.5,
                                               outerwear_open=True))
    coat = t.pieces[-1]                                # the part below the waist
    v = coat.vertices
    thigh = 0.5 * (r.z["hip"] + r.z["knee"])
    assert loops_at_height(v, coat.faces, thigh) == (1, 2)
    assert loops_at_height(v, coat.faces, r.z["waist"] - 0.04) == (1, 0)
    # the flaps' edges run up the front, from the hem to the opening's top
    from backend.garments.shells import open_edge_vertices
    edge = v[open_edge_vertices(coat.faces, len(v))]
    slit = edge[(edge[:, 2] > v[:, 2].min() + 0.02) & (edge[:, 2] < v[:, 2].max() - 0.02)]
    assert len(slit) >= 8
    assert np.abs(slit[:, 0]).max() < 0.03 and (slit[:, 1] < v[:, 1].mean()).all()
    # every mode moves the copies at the opening as the vertices they copy
    n = len(merge_pieces(t.pieces).vertices)
    assert all(len(m.direction) == len(m.control) == n for m in t.modes)


def test_a_coat_worn_closed_is_one_ring(regions):
    r, _ = regions
    t = _template(regions, "outerwear", Outfit(top="longsleeve", sleeve=0.9, bottom="trousers",
                                               outerwear="coat", outerwear_hem=0.5))
    coat = t.pieces[-1]
    assert loops_at_height(coat.vertices, coat.faces, 0.5 * (r.z["hip"] + r.z["knee"])) == (1, 0)


def test_a_coats_flaps_part_when_the_legs_stride(regions):
    """Skinned with the left thigh swung 35 degrees forward, the coat opens: at the hem the
    left flap's edge leaves the right one's by several centimetres (one closed ring would
    stretch between the thighs instead)."""
    from scipy.spatial.transform import Rotation

    from backend.bodies import get_body_model
    from rig.skinning import linear_blend_skinning
    rest = get_body_model("anny").rest_body({})
    t = _template(regions, "outerwear", Outfit(top="longsleeve", sleeve=0.9, bottom="trousers",
                                               outerwear="coat", outerwear_hem=0.5,
                                               outerwear_open=True))
    coat = t.pieces[-1]
    mats = np.tile(np.eye(4), (len(rest.bone_names), 1, 1))
    hip = rest.heads[rest.bone_names.index("upperleg01.L")]
    turn = np.eye(4)
    turn[:3, :3] = Rotation.from_euler("x", -35, degrees=True).as_matrix()   # foot forward (-Y)
    turn[:3, 3] = hip - turn[:3, :3] @ hip
    for i, name in enumerate(rest.bone_names):
        if name.endswith(".L") and name.startswith(("upperleg", "lowerleg", "foot", "toe")):
            mats[i] = turn
    posed = linear_blend_skinning(coat.vertices, coat.skin_indices, coat.skin_weights, mats)
    n_copies = len(coat.vertices) % 48 or 48
    copies = np.arange(len(coat.vertices) - n_copies, len(coat.vertices))
    rows = len(coat.vertices) // 48
    originals = np.arange(rows)[-n_copies:] * 48 + 24
    assert np.allclose(coat.vertices[copies], coat.vertices[originals])
    gap = np.linalg.norm(posed[copies] - posed[originals], axis=1)
    assert gap[-1] > 0.04                      # at the hem
    assert gap[0] < gap[-1]                    # more towards the hem
