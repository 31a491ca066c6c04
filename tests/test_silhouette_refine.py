"""The dressed avatar's outline slides onto the person mask in the image plane
(backend/fit/silhouette_refine.py), on a real photo with an exact person mask (ryota.png):
the refinement runs inside reconstruction as usual and its input and output are recorded."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
from PIL import Image
from scipy.spatial import cKDTree

from backend.garments.surface import vertex_normals
from backend.raster import mask_iou, rasterize


@pytest.fixture(scope="module")
def refined(shared_data):
    from backend.fit import dressing
    from backend.fit.pipeline import reconstruct_photo
    calls = []
    real = dressing.refine_outline

    def recorded(layers, camera, target, **kw):
        moves = real(layers, camera, target, **kw)
        calls.append((layers, camera, target, moves))
        return moves

    photo = shared_data / "photos" / "single" / "ryota.png"
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(dressing, "refine_outline", recorded)
        rec = reconstruct_photo(photo.read_bytes(), "ryota")
    assert len(calls) == 1, "reconstruction dresses the avatar and refines its outline once"
    layers, camera, target, moves = calls[0]
    true = np.asarray(Image.open(photo.with_name("ryota_mask.png")).convert("L"))
    true = cv2.resize(true, target.shape[::-1], interpolation=cv2.INTER_AREA) > 127
    return {"rec": rec, "layers": layers, "camera": camera, "moves": moves, "true": true}


def _outline(layers, moves, camera, shape) -> np.ndarray:
    verts = np.concatenate([lay.posed + m for lay, m in zip(layers, moves)])
    starts = np.cumsum([0] + [len(lay.posed) for lay in layers])
    faces = np.concatenate([lay.faces + s for lay, s in zip(layers, starts)])
    z = verts[:, 2]
    pix = np.stack([camera.f * verts[:, 0] / z + camera.cx,
                    camera.f * verts[:, 1] / z + camera.cy], 1)
    return rasterize(pix, faces, shape[1], shape[0]).mask


def test_the_refined_outline_matches_the_true_mask_better(refined):
    """Against ryota's exact mask (not the perception mask it was fitted to), the dressed
    avatar's outline agrees better after the refinement than before."""
    layers, cam, true = refined["layers"], refined["camera"], refined["true"]
    assert len(layers) >= 3, "ryota is dressed in garment layers"
    before = mask_iou(_outline(layers, [0 * m for m in refined["moves"]], cam, true.shape), true)
    after = mask_iou(_outline(layers, refined["moves"], cam, true.shape), true)
    assert after > before + 0.003, (before, after)


def test_points_move_only_in_the_image_plane_and_at_most_the_cap(refined):
    """No point moves along the camera's axis (its depth stays), none by more than CAP, and
    only the rim moves: most of the avatar stays exactly where the fit put it."""
    from backend.fit.silhouette_refine import CAP
    moves = np.concatenate(refined["moves"])
    assert np.all(moves[:, 2] == 0.0)
    size = np.linalg.norm(moves, axis=1)
    assert size.max() <= CAP + 1e-6          # float32 steps: a micrometre
    assert size.max() > 0.003, "the outline moved"
    assert (size > 0.001).mean() < 0.35


def test_refined_garments_keep_clear_of_the_body(refined):
    """No garment point is moved closer than the garment fit's 2.5 mm to the body under it
    (signed distance along the nearest body vertex's normal; a point already closer may not
    get closer), and in the finished avatar no more than 0.5 % pokes through (as the garment
    fit's own test measures it)."""
    from backend.fit.silhouette_refine import MIN_GAP
    layers, moves = refined["layers"], refined["moves"]
    body = layers[0]
    solid = np.flatnonzero(body.solid)

    def clearance(body_v, pts):
        n = vertex_normals(body_v, body.faces)
        _, near = cKDTree(body_v[solid]).query(pts)
        near = solid[near]
        return ((pts - body_v[near]) * n[near]).sum(1)

    for lay, m in zip(layers[1:], moves[1:]):
        if lay.rests_on not in (None, (0,)):
            continue
        before = clearance(body.posed, lay.posed)
        after = clearance(body.posed + moves[0], lay.posed + m)
        assert np.all(after >= np.minimum(before, MIN_GAP) - 1e-3), after.min()
        assert np.mean(after < np.minimum(before, MIN_GAP) - 1e-4) < 0.005


def test_the_finished_avatar_does_not_poke_through(refined):
    from backend.bodies import get_body_model
    from backend.garments.body_regions import body_regions
    from backend.generate.penetration import measure
    from rig.avatar_pose import posed_layer_vertices
    av = refined["rec"].avatar
    model = get_body_model("anny")
    inner = body_regions(model.rest_body(av.metadata["params"])).seg["inner"]
    pv = {lay.role: posed_layer_vertices(av.skeleton, av.pose, lay).astype(np.float64)
          for lay in av.layers}
    for p in measure(av, model.faces, body_v=pv["body"], layer_v=pv, inner=inner):
        assert p.skin_outside <= 0.005 and p.garment_inside <= 0.005, p
