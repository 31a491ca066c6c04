"""Reconstructed avatars wear real garment layers (backend/fit/dressing.py, garment_fit.py):
real devset_clothed photos (synthetic renders of people in a skirt, wide trousers, a coat)
through the whole pipeline, each dressed in the outfit a person would name for the photo.
The outfits are written here by hand, so these tests check the garment fit, not recognition.
"""

from __future__ import annotations

import cv2
import numpy as np
import pytest
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components
from scipy.spatial import ConvexHull

from backend.garments.outfit import Outfit
from protocol import load_avatar, save_avatar

SKIRT = Outfit(top="tshirt", sleeve=0.4, bottom="skirt", bottom_hem=0.55, shoes="sneakers",
               hair="long", hair_length=0.05)                       # sample_0006
TROUSERS = Outfit(top="tshirt", sleeve=0.3, bottom="trousers", bottom_hem=0.97,
                  shoes="sneakers", hair="none")                    # sample_0001
COAT_UNKNOWN = Outfit(top="longsleeve", sleeve=0.9, bottom="trousers", outerwear="coat",
                      outerwear_hem=0.6, hair="short", unrecognised=["outerwear"])  # 0002
GARMENT_ROLES = ("top", "bottom", "outerwear", "shoes", "hair")


def _reconstruct(shared_data, sample: str, outfit: Outfit):
    from backend.fit.pipeline import reconstruct_photo
    photo = shared_data / "devset_clothed" / sample / "image.png"
    return reconstruct_photo(photo.read_bytes(), sample, outfit=outfit)


@pytest.fixture(scope="module")
def skirt(shared_data):
    return _reconstruct(shared_data, "sample_0006", SKIRT)


@pytest.fixture(scope="module")
def trousers(shared_data):
    return _reconstruct(shared_data, "sample_0001", TROUSERS)


def posed(av) -> dict[str, np.ndarray]:
    """Armature-space (z up) posed vertices of each layer, as Blender shows them."""
    from rig.avatar_pose import posed_layer_vertices
    return {lay.role: posed_layer_vertices(av.skeleton, av.pose, lay) for lay in av.layers}


def loops_at_height(vertices: np.ndarray, faces: np.ndarray, z: float) -> tuple[int, int]:
    """(closed loops, open ends) of the mesh's cross-section with the plane at height z."""
    above = vertices[:, 2] > z
    count = above[faces].sum(1)
    nodes: dict[tuple[int, int], int] = {}
    links = []
    for tri in faces[(count > 0) & (count < 3)]:
        crossing = [tuple(sorted((int(tri[i]), int(tri[(i + 1) % 3])))) for i in range(3)]
        crossing = [e for e in crossing if above[e[0]] != above[e[1]]]
        links.append([nodes.setdefault(e, len(nodes)) for e in crossing])
    links = np.asarray(links)
    graph = coo_matrix((np.ones(len(links)), (links[:, 0], links[:, 1])), (len(nodes),) * 2)
    n, _ = connected_components(graph, directed=False)
    ends = int((np.bincount(links.ravel(), minlength=len(nodes)) == 1).sum())
    return n, ends


def winding(vertices: np.ndarray, faces: np.ndarray, z: float, point: np.ndarray) -> float:
    """How many times the cross-section at height z winds around ``point`` (x, y): each
    crossing segment is oriented by its face's outward normal (counter-clockwise seen from
    above), and their angles about the point are summed."""
    total = 0.0
    for tri in faces:
        p = vertices[tri].astype(np.float64)
        side = p[:, 2] > z
        if side.all() or not side.any():
            continue
        cuts = []
        for i in range(3):
            a, b = p[i], p[(i + 1) % 3]
            if (a[2] > z) != (b[2] > z):
                cuts.append((a + (z - a[2]) / (b[2] - a[2]) * (b - a))[:2] - point)
        u, v = cuts
        n = np.cross(p[1] - p[0], p[2] - p[0])[:2]
        d = v - u
        if n[0] * d[1] - n[1] * d[0] < 0:
            u, v = v, u
        total += np.arctan2(u[0] * v[1] - u[1] * v[0], u @ v)
    return abs(total) / (2 * np.pi)


def test_a_skirt_is_one_surface_around_both_legs(skirt):
    from backend.fit.posing import posed_joints
    av = skirt.avatar
    roles = [lay.role for lay in av.layers if lay.role in GARMENT_ROLES]
    assert sorted(roles) == ["bottom", "hair", "shoes", "top"]
    assert av.metadata["clothing"] == "garments" and skirt.warnings == []
    bottom, v = av.layer("bottom"), posed(av)["bottom"]
    j = posed_joints(av)
    z = 0.5 * (0.5 * (j["left_hip"][2] + j["right_hip"][2]) +
               0.5 * (j["left_knee"][2] + j["right_knee"][2]))          # mid-thigh
    assert loops_at_height(v, bottom.faces, z) == (1, 0), "one closed loop, not two tubes"
    for side in ("left", "right"):             # ... that goes around each thigh
        thigh = 0.5 * (j[f"{side}_hip"] + j[f"{side}_knee"])
        assert winding(v, bottom.faces, z, thigh[:2]) == pytest.approx(1.0, abs=0.05)
    # flared: the hem ring is wider than the ring at the hips
    zs = v[:, 2]
    width = [np.ptp(v[np.abs(zs - h) < 0.02, 0]) for h in (zs.max() - 0.03, zs.min() + 0.01)]
    assert width[1] > width[0] + 0.05


def test_trousers_are_two_tubes(trousers):
    from backend.fit.posing import posed_joints
    av = trousers.avatar
    v = posed(av)["bottom"]
    j = posed_joints(av)
    z = 0.5 * (j["left_hip"][2] + j["left_knee"][2]) * 0.5 + \
        0.5 * (j["right_hip"][2] + j["right_knee"][2]) * 0.5
    assert loops_at_height(v, av.layer("bottom").faces, z) == (2, 0)
    assert av.layer("bottom").name == "bottom_trousers" and av.layer("hair") is None


def off_body(garment: np.ndarray, body: np.ndarray, band: float = 0.04) -> np.ndarray:
    """(N,) horizontal distance of each garment point outside the body it hangs from: the
    convex hull, seen from above, of the body inside the garment's footprint from the point's
    4 cm band up to the garment's top (cloth hangs straight down from the seat or the chest;
    a ring around both legs is measured against both legs together, not against the gap)."""
    out = np.zeros(len(garment))
    for z0 in np.arange(garment[:, 2].min(), garment[:, 2].max() + band, band):
        mine = (garment[:, 2] >= z0) & (garment[:, 2] < z0 + band)
        if not mine.any():
            continue
        lo, hi = garment[mine, :2].min(0) - 0.02, garment[mine, :2].max(0) + 0.02
        near = (body[:, 2] > z0 - band) & (body[:, 2] < garment[:, 2].max()) & \
            (body[:, :2] >= lo).all(1) & (body[:, :2] <= hi).all(1)
        if near.sum() < 4:
            out[mine] = np.inf
            continue
        eq = ConvexHull(body[near, :2]).equations
        out[mine] = np.clip((eq[:, :2] @ garment[mine, :2].T + eq[:, 2:]).max(0), 0.0, None)
    return out


@pytest.mark.parametrize("case", ["skirt", "trousers"])
def test_nothing_sticks_out_where_the_photo_cannot_see(case, request):
    """No spikes in depth: no garment point stands farther off the body than the farthest
    the photo shows that garment standing off it (its points on the avatar's outline in the
    photo) plus 5 cm, measured from the body the cloth hangs from (off_body). Offsets along
    the normals (the old clothing layer) put up to 25 cm spikes where the photo sees no
    outline; a template's ring grows as a whole."""
    from backend.fit.posing import project_to_photo
    from backend.raster import rasterize
    av = request.getfixturevalue(case).avatar
    cam = av.camera
    pv = posed(av)
    verts = np.concatenate([pv[lay.role] for lay in av.layers])
    starts = np.cumsum([0] + [len(lay.vertices) for lay in av.layers])
    faces = np.concatenate([lay.faces + s for lay, s in zip(av.layers, starts)])
    sil = rasterize(project_to_photo(av, verts), faces, cam.width, cam.height).mask
    sil = sil.astype(np.uint8)
    outline = cv2.dilate(sil - cv2.erode(sil, np.ones((3, 3), np.uint8)),
                         np.ones((5, 5), np.uint8)) > 0
    for lay in av.layers:
        if lay.role not in GARMENT_ROLES:
            continue
        off = off_body(pv[lay.role], pv["body"])
        px = np.round(project_to_photo(av, pv[lay.role])).astype(int)
        inside = (px >= 0).all(1) & (px[:, 0] < cam.width) & (px[:, 1] < cam.height)
        seen = np.zeros(len(off), bool)
        seen[inside] = outline[px[inside, 1], px[inside, 0]]
        assert seen.any(), lay.role
        assert off.max() <= off[seen].max() + 0.05, lay.role


@pytest.mark.parametrize("case", ["skirt", "trousers"])
def test_garments_do_not_cut_into_the_body(case, request):
    """Posed as in the photo: at most 0.5 % of the shown skin under a garment pokes through
    it, and at most 0.5 % of a garment's points lie inside shown skin."""
    from backend.bodies import get_body_model
    from backend.garments.body_regions import body_regions
    from backend.generate.penetration import measure
    av = request.getfixturevalue(case).avatar
    model = get_body_model("anny")
    inner = body_regions(model.rest_body(av.metadata["params"])).seg["inner"]
    pv = {k: v.astype(np.float64) for k, v in posed(av).items()}
    for p in measure(av, model.faces, body_v=pv["body"], layer_v=pv, inner=inner):
        assert p.skin_outside <= 0.005 and p.garment_inside <= 0.005, p


def test_garment_layers_survive_the_file_and_transfer(skirt, tmp_path):
    """Saved and loaded, the skirt keeps its binding; `doppel transfer` moves it onto a
    generated avatar (and a generated top onto the reconstruction), re-hiding the skin."""
    from backend.cli import main
    from backend.generate import generate_avatar
    src = save_avatar(skirt.avatar, tmp_path / "recon.doppel")
    back = load_avatar(src)
    for lay in skirt.avatar.layers:
        if lay.role in GARMENT_ROLES:
            got = back.layer(lay.role)
            assert np.array_equal(got.vertices, lay.vertices)
            assert np.array_equal(got.binding.triangles, lay.binding.triangles)
            assert np.array_equal(got.binding.hides, lay.binding.hides)
    gen = generate_avatar(5, {"bottom": "trousers", "top": "tshirt"})
    dst = save_avatar(gen, tmp_path / "gen.doppel")
    assert main(["transfer", "--layer", "bottom", "--from", str(src), "--to", str(dst),
                 "--out", str(tmp_path)]) == 0
    moved = load_avatar(tmp_path / "gen_bottom.doppel")
    assert moved.layer("bottom").name == "bottom_skirt"
    # the generated legs under the skirt are hidden now; below its hem they show
    assert len(moved.layer("body").faces) != len(gen.layer("body").faces)
    assert main(["transfer", "--layer", "top", "--from", str(dst), "--to", str(src),
                 "--out", str(tmp_path)]) == 0
    dressed = load_avatar(tmp_path / "recon_top.doppel")
    assert dressed.layer("top").name == "top_tshirt" and dressed.camera is not None


def test_an_unrecognised_garment_falls_back_to_a_layer_over_the_body(shared_data):
    """A coat the recogniser could not name: no coat layer, a warning, and the body itself
    follows the coat's silhouette there (today's offset layer), so the avatar still covers
    the person in the photo."""
    rec = _reconstruct(shared_data, "sample_0002", COAT_UNKNOWN)
    av = rec.avatar
    assert av.layer("outerwear") is None and av.layer("top") is not None
    assert any("not recognised" in w and "outerwear" in w for w in rec.warnings)
    assert rec.stats["max_clothing_offset_m"] > 0.02
    assert rec.stats["iou_perception_mask"] > 0.9
