"""The Anny body model through the `body` job: what an artist gets from "Add body"."""

from __future__ import annotations

import numpy as np
import pytest

from backend.bodies import get_body_model
from backend.errors import JobInputError
from backend.jobs import JobContext, get_job


def test_default_body_is_a_standing_adult_with_the_anny_rig(anny_avatar):
    sk = anny_avatar.skeleton
    assert sk.bone_count == 104
    assert sk.names[0] == "root" and "head" in sk.names
    body = anny_avatar.layer("body")
    v = body.vertices
    assert v[:, 2].min() == pytest.approx(0.0, abs=1e-5)          # feet on the floor
    assert 1.5 < v[:, 2].max() < 1.95                              # adult height in metres
    head = sk.heads[sk.names.index("head")]
    pelvis = sk.heads[sk.names.index("pelvis.L")]
    assert head[2] > pelvis[2] + 0.4                               # upright, Z up
    # skin weights: rows sum to one, bones in range
    assert np.allclose(body.skin_weights.sum(axis=1), 1.0, atol=1e-5)
    assert body.skin_indices.max() < 104
    # UVs per face corner inside the unit square, and a texture to show
    assert body.uvs.shape == (*body.faces.shape, 2)
    assert body.uvs.min() >= -1e-6 and body.uvs.max() <= 1 + 1e-6
    assert body.texture[:8] == b"\x89PNG\r\n\x1a\n"


def test_bone_frames_follow_blender_convention(anny_avatar):
    sk = anny_avatar.skeleton
    y = sk.matrices[:, :3, 1]
    direction = sk.tails - sk.heads
    length = np.linalg.norm(direction, axis=1)
    ok = length > 1e-6
    cos = np.einsum("bi,bi->b", y[ok], direction[ok] / length[ok, None])
    assert np.all(cos > 0.999), "each bone's +Y must run from head to tail"
    assert np.allclose(sk.matrices[:, :3, 3], sk.heads, atol=1e-5)


def test_height_parameter_makes_a_taller_body():
    model = get_body_model("anny")
    short = model.rest_body({"height": 0.1}).vertices[:, 2].max()
    tall = model.rest_body({"height": 0.9}).vertices[:, 2].max()
    assert tall > short + 0.1


@pytest.mark.parametrize("params, words", [
    ({"params": {"heigth": 0.5}}, "unknown anny parameter(s) heigth"),
    ({"params": {"height": 1.5}}, "outside 0.0..1.0"),
    ({"params": {"height": "tall"}}, "must be a number"),
    ({"body_model": "smurf"}, "unknown body model 'smurf'"),
    ({"colour": "red"}, "unknown body job option(s) colour"),
])
def test_bad_body_parameters_are_refused_with_a_reason(params, words):
    with pytest.raises(JobInputError) as err:
        get_job("body")(params, {}, JobContext("t"))
    assert words in str(err.value)


def test_unknown_job_kind_lists_the_known_ones():
    with pytest.raises(JobInputError) as err:
        get_job("teleport")
    assert "body" in str(err.value) and err.value.code == "unknown_job_kind"
