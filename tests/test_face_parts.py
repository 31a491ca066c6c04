"""Face parts on real Anny avatars (numpy side): every producer's avatar carries eyes, lashes,
brows, teeth and tongue, fitted into its own face, skinned to the head / eye bones, the lower
teeth opening with jawOpen, kept by a .doppel round trip."""

from __future__ import annotations

import copy

import numpy as np
import pytest

from backend.avatar_build import avatar_from_rest_body
from backend.bodies import get_body_model
from backend.face_layers import share_key_values
from backend.generate import generate_avatar
from protocol import FACE_ROLES, avatar_from_bytes
from protocol.avatar_codec import write_avatar

PARTS = ["eye_L", "eye_R", "eyelashes", "eyebrows", "teeth_upper", "teeth_lower", "tongue"]


@pytest.fixture(scope="module")
def generated():
    return generate_avatar(4, {"hair_color": "auburn"})


def _layer(av, name):
    return next(lay for lay in av.layers if lay.name == name)


def _skull(av):
    """(min, max) of the body vertices mostly skinned to the head bone."""
    body = av.layer("body")
    head = av.skeleton.names.index("head")
    top = body.skin_indices[np.arange(len(body.vertices)), body.skin_weights.argmax(1)]
    pts = body.vertices[top == head]
    return pts.min(0), pts.max(0)


def test_body_and_generated_avatars_have_every_face_part(anny_avatar, generated):
    for av in (anny_avatar, generated):
        names = [lay.name for lay in av.layers if lay.role in FACE_ROLES]
        assert names == PARTS
        for name in PARTS:
            lay = _layer(av, name)
            assert len(lay.vertices) > 10 and len(lay.faces) > 10


def test_eyes_sit_in_the_head_in_front_of_the_head_bone(anny_avatar, generated):
    for av in (anny_avatar, generated):
        sk = av.skeleton
        lo, hi = _skull(av)
        head = sk.heads[sk.names.index("head")]
        for name, side in (("eye_L", 1.0), ("eye_R", -1.0)):
            eye = _layer(av, name).vertices
            centre = eye.mean(0)
            assert (centre > lo).all() and (centre < hi).all()
            assert centre[1] < head[1] - 0.04             # in front (-Y) of the head bone
            assert centre[0] * side > 0.015                # the left eye on the +X side
            # on its bone: the eye bone's head is the eyeball's centre
            bone = sk.heads[sk.names.index(f"eye.{name[-1]}")]
            assert np.linalg.norm(centre - bone) < 0.004
            assert 0.01 < np.linalg.norm(eye - centre, axis=1).mean() < 0.02


def test_brows_above_the_eyes_teeth_inside_the_mouth(generated):
    av = generated
    eye_top = _layer(av, "eye_L").vertices[:, 2].max()
    assert _layer(av, "eyebrows").vertices[:, 2].min() > eye_top
    body = av.layer("body").vertices
    upper, lower = _layer(av, "teeth_upper").vertices, _layer(av, "teeth_lower").vertices
    assert upper[:, 2].mean() > lower[:, 2].mean()
    # behind the lips: the frontmost skin of the mouth region is in front of every tooth
    mouth = (np.abs(body[:, 0]) < 0.02) & (np.abs(body[:, 2] - upper[:, 2].mean()) < 0.02)
    assert body[mouth, 1].min() < min(upper[:, 1].min(), lower[:, 1].min()) - 0.003


def test_parts_are_skinned_to_the_eye_and_head_bones(generated):
    names = generated.skeleton.names
    for name, bone in (("eye_L", "eye.L"), ("eye_R", "eye.R"), ("teeth_upper", "head"),
                       ("teeth_lower", "head"), ("eyebrows", "head"), ("eyelashes", "head")):
        lay = _layer(generated, name)
        assert (lay.skin_indices[:, 0] == names.index(bone)).all()
        assert np.allclose(lay.skin_weights.sum(1), 1.0)


def test_jaw_open_moves_the_lower_teeth_down_and_not_the_upper(generated):
    # Anny has no jaw bone: the lower teeth and tongue carry jawOpen as a shape key
    lower = _layer(generated, "teeth_lower")
    d = lower.shape_keys.deltas[lower.shape_keys.index("jawOpen")]
    assert d[:, 2].mean() < -0.005
    assert _layer(generated, "teeth_upper").shape_keys is None
    lashes = _layer(generated, "eyelashes").shape_keys
    assert "eyeBlinkLeft" in lashes.names            # lashes close with the lid


def test_parts_follow_a_reconstructions_per_vertex_offsets():
    model = get_body_model("anny")
    rest = model.rest_body({})
    plain = avatar_from_rest_body(rest, "a", {})
    fat = copy.copy(rest)
    fat.vertices = rest.vertices * np.array([1.15, 1.15, 1.0], np.float32)   # wider face
    wide = avatar_from_rest_body(fat, "b", {})
    x0, x1 = _layer(plain, "eye_L").vertices.mean(0)[0], _layer(wide, "eye_L").vertices.mean(0)[0]
    assert x1 == pytest.approx(1.15 * x0, rel=0.03)


def test_parts_wear_the_bodys_expression():
    model = get_body_model("anny")
    rest = model.rest_body({})
    keys = copy.copy(rest.shape_keys)
    keys.values = np.zeros(len(keys.names), np.float32)
    keys.values[keys.index("jawOpen")] = 0.6          # a photo with the mouth open
    rest.shape_keys = keys
    lower = _layer(avatar_from_rest_body(rest, "a", {}), "teeth_lower").shape_keys
    assert lower.values[lower.index("jawOpen")] == pytest.approx(0.6)
    # an expression set after the build (the photo fit does that) is shared too
    av = avatar_from_rest_body(model.rest_body({}), "b", {})
    av.layer("body").shape_keys.values = keys.values
    share_key_values(av)
    lower = _layer(av, "teeth_lower").shape_keys
    assert lower.values[lower.index("jawOpen")] == pytest.approx(0.6)


def test_seeded_iris_and_brow_colour_from_hair(generated):
    other = generate_avatar(5, {"hair_color": "black"})
    assert _layer(generated, "eyebrows").base_color != _layer(other, "eyebrows").base_color
    eyes = {generate_avatar(s, {}).metadata["iris"] for s in range(6)}
    assert len(eyes) > 1
    assert _layer(generated, "eye_L").texture[:8] == b"\x89PNG\r\n\x1a\n"


def test_doppel_round_trip_keeps_the_face_layers(generated):
    import io
    buf = io.BytesIO()
    write_avatar(generated, buf)
    back = avatar_from_bytes(buf.getvalue())
    for name in PARTS:
        a, b = _layer(generated, name), _layer(back, name)
        assert a.role == b.role
        assert np.array_equal(a.vertices, b.vertices) and np.array_equal(a.faces, b.faces)
    assert _layer(back, "teeth_lower").shape_keys.names == \
        _layer(generated, "teeth_lower").shape_keys.names
