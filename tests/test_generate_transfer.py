"""Moving a garment layer between generated avatars (`transfer` job and CLI), and the
`doppel generate` command."""

from __future__ import annotations

import copy

import numpy as np
import pytest

from backend.bodies import get_body_model
from backend.errors import JobInputError
from backend.cli import main
from backend.generate import generate_avatar
from backend.garments.body_regions import body_regions
from backend.generate.penetration import measure
from backend.jobs import JobContext, get_job
from backend.jobs.transfer import transfer_request
from protocol import load_avatar

SLIM = {"top": "longsleeve", "weight": 0.05, "muscle": 0.2, "bottom": "trousers"}
HEAVY = {"top": "tank", "weight": 0.98, "muscle": 0.6, "bottom": "shorts"}


@pytest.fixture(scope="module")
def slim_and_heavy():
    return generate_avatar(31, SLIM), generate_avatar(32, HEAVY)


def _transfer(source, role, target):
    params, inputs = transfer_request(source, role, target)
    return get_job("transfer")(params, inputs, JobContext("t"))


def test_top_from_slim_to_heavy_still_covers_the_torso(slim_and_heavy):
    slim, heavy = slim_and_heavy
    out = _transfer(slim, "top", heavy)
    tops = [lay for lay in out.layers if lay.role == "top"]
    assert len(tops) == 1 and tops[0].name == "top_longsleeve", "replaced, not stacked"
    assert out.layer("bottom").name == "bottom_shorts"           # the rest is untouched
    model = get_body_model("anny")
    inner = body_regions(model.rest_body(out.metadata["params"])).seg["inner"]
    result = {p.role: p for p in measure(out, model.faces, inner=inner)}["top"]
    assert result.garment_inside <= 0.01 and result.skin_outside <= 0.01
    # the refitted top follows the heavy belly: deeper than on the slim body, around the skin
    def depth(av, v):
        z = av.skeleton.heads[av.skeleton.names.index("spine03")][2]
        band = (np.abs(v[:, 2] - z) < 0.03) & (np.abs(v[:, 0]) < 0.08)   # torso, not arms
        return np.ptp(v[band, 1])
    on_heavy = depth(out, tops[0].vertices)
    assert on_heavy > depth(slim, slim.layer("top").vertices) + 0.03
    assert on_heavy > depth(out, out.layer("body").vertices)
    # the heavy body's bare arms are now under long sleeves: that skin is left out
    sk = out.skeleton
    elbow = sk.heads[sk.names.index("lowerarm01.L")]
    near_elbow = np.linalg.norm(out.layer("body").vertices - elbow, axis=1) < 0.05

    def shown(av) -> float:
        kept = np.zeros(len(near_elbow), bool)
        kept[av.layer("body").faces.ravel()] = True
        return kept[near_elbow].mean()
    assert shown(heavy) == 1.0 and shown(out) < 0.5
    assert len(out.layer("body").faces) < len(heavy.layer("body").faces)


def test_transfer_between_different_body_models_is_refused(slim_and_heavy):
    slim, heavy = slim_and_heavy
    other = copy.deepcopy(heavy)
    other.metadata["body_model"] = "smplx"
    with pytest.raises(JobInputError, match="same body model"):
        _transfer(slim, "top", other)
    with pytest.raises(JobInputError, match="has no 'hair' layer"):
        _transfer(generate_avatar(33, {"hair": "none"}), "hair", heavy)
    with pytest.raises(JobInputError, match="transferable roles"):
        _transfer(slim, "body", heavy)


def test_cli_generate_then_transfer(tmp_path, capsys):
    out = tmp_path / "crowd"
    assert main(["generate", "--seed", "40", "--count", "2", "--out", str(out),
                 "--attr", "top=jacket", "--attr", "hair=long"]) == 0
    a, b = out / "doppel_40.doppel", out / "doppel_41.doppel"
    av_a, av_b = load_avatar(a), load_avatar(b)
    assert av_a.layer("top").name == "top_jacket" and av_b.layer("hair").name == "hair_long"
    assert av_a.metadata["params"] != av_b.metadata["params"]
    assert main(["transfer", "--layer", "hair", "--from", str(a), "--to", str(b),
                 "--out", str(tmp_path)]) == 0
    moved = load_avatar(tmp_path / "doppel_41_hair.doppel")
    assert [lay.role for lay in moved.layers].count("hair") == 1
    assert moved.metadata["transferred"] == {"hair": av_a.name}
    capsys.readouterr()
    assert main(["generate", "--seed", "1", "--out", str(out), "--attr", "shoes=heels"]) == 1
    err = capsys.readouterr().err
    assert "sneakers, boots, none" in err
