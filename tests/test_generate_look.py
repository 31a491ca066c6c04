"""What generated people look like: hair cards with volume and alpha, hems with thickness,
and a crowd that varies in age, pose and expression, reproducibly from a seed."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from backend.bodies import get_body_model
from backend.garments.body_regions import body_regions
from backend.garments.hair_cards import STYLES
from backend.garments.hems import boundary_edges
from backend.generate import generate_avatar
from backend.generate.penetration import measure
from backend.generate.posing import bone_transforms
from backend.generate.transfer import transfer_layer
from protocol.avatar_codec import write_avatar
from rig.skinning import linear_blend_skinning

GAME_READY_TRIANGLES = 60_000


def _bytes(avatar) -> bytes:
    buf = io.BytesIO()
    write_avatar(avatar, buf)
    return buf.getvalue()


def _triangles(avatar) -> int:
    return sum(len(lay.faces) * (lay.faces.shape[1] - 2) for lay in avatar.layers)


@pytest.fixture(scope="module")
def styled():
    """One avatar per hair style, dressed (the heaviest garments: jacket, trousers, boots)."""
    return {style: generate_avatar(30 + i, {"hair": style, "top": "jacket",
                                            "bottom": "trousers", "shoes": "boots",
                                            "pose": "a"})
            for i, style in enumerate(STYLES)}


def test_every_hair_style_is_alpha_cards_with_volume_within_the_budget(styled):
    for style, av in styled.items():
        hair, body = av.layer("hair"), av.layer("body")
        assert hair.name == f"hair_{style}" and hair.material == "hair_cards"
        rgba = np.asarray(Image.open(io.BytesIO(hair.texture)))
        assert rgba.shape[2] == 4, "the strand atlas carries alpha"
        cut_out = (rgba[..., 3] < 10).mean()
        assert 0.1 < cut_out < 0.9, f"{style}: cards need both strands and gaps ({cut_out})"
        assert hair.uvs.min() >= 0.0 and hair.uvs.max() <= 1.0
        # volume: hair stands off the scalp, it is not a painted cap
        regions = body_regions(get_body_model("anny").rest_body(av.metadata["params"]))
        head = regions.seg["head"] & (body.vertices[:, 2] > regions.z["eye"] + 0.03)
        scalp = body.vertices[head]
        c = regions.head_center
        outer = np.percentile(np.linalg.norm(hair.vertices - c, axis=1), 95)
        skull = np.percentile(np.linalg.norm(scalp - c, axis=1), 95)
        need = 0.004 if style == "buzz" else 0.015          # a buzz cut lies on the scalp
        assert outer > skull + need, f"{style}: no volume ({outer - skull:.3f} m)"
        assert _triangles(av) < GAME_READY_TRIANGLES, f"{style}: {_triangles(av)} triangles"


def test_hair_cards_do_not_poke_into_the_head_at_rest(styled):
    model = get_body_model("anny")
    for style, av in styled.items():
        inner = body_regions(model.rest_body(av.metadata["params"])).seg["inner"]
        hair = next(p for p in measure(av, model.faces, inner=inner) if p.role == "hair")
        assert max(hair.garment_inside, hair.skin_outside) <= 0.005, style


@pytest.mark.parametrize("style", ["long", "ponytail", "afro"])
def test_hair_follows_the_head_when_it_turns_and_nods(styled, style):
    av = styled[style]
    names = av.skeleton.names
    pose = {"neck02": (0.0, 0.0, 0.5), "head": (0.35, 0.0, 0.0)}      # turn, then nod
    transforms, body_v = bone_transforms(av, pose)
    hair = av.layer("hair")
    posed = linear_blend_skinning(hair.vertices, hair.skin_indices, hair.skin_weights,
                                  transforms)
    head = transforms[names.index("head")]
    rigid = hair.vertices @ head[:3, :3].T + head[:3, 3]
    on_head = hair.vertices[:, 2] > av.skeleton.heads[names.index("head")][2]
    off = np.linalg.norm(posed - rigid, axis=1)[on_head]
    # rigidly with the head, but for the cap at the nape, blended as the skin under it
    assert np.percentile(off, 90) < 1e-3 and off.max() < 0.02, "rides on the head"
    moved = np.linalg.norm(posed - hair.vertices, axis=1)
    assert np.median(moved[on_head]) > 0.03
    # and it stays out of the turned head and neck
    inner = body_regions(get_body_model("anny").rest_body(av.metadata["params"])).seg["inner"]
    layer_v = {lay.role: linear_blend_skinning(lay.vertices, lay.skin_indices,
                                               lay.skin_weights, transforms)
               for lay in av.layers}
    poke = next(p for p in measure(av, get_body_model("anny").faces, body_v, layer_v,
                                   inner=inner) if p.role == "hair")
    assert poke.garment_inside < 0.01


def test_hair_cards_swap_onto_a_child(styled):
    child = generate_avatar(77, {"age": "child", "hair": "none"})
    out = transfer_layer(styled["afro"], "hair", child)
    hair = out.layer("hair")
    src = styled["afro"].layer("hair")
    assert hair.material == "hair_cards" and hair.texture == src.texture
    assert np.array_equal(hair.uvs, src.uvs)
    head = out.skeleton.heads[out.skeleton.names.index("head")]
    assert abs(np.median(hair.vertices[:, 2]) - head[2]) < 0.15, "on the child's head"
    model = get_body_model("anny")
    inner = body_regions(model.rest_body(out.metadata["params"])).seg["inner"]
    poke = next(p for p in measure(out, model.faces, inner=inner) if p.role == "hair")
    assert poke.garment_inside < 0.01


def test_garment_edges_are_turned_in_hems(styled):
    av = styled["short"]
    body = av.layer("body").vertices.astype(np.float64)
    from backend.garments.surface import vertex_normals
    normals = vertex_normals(body, get_body_model("anny").faces)
    for role in ("top", "bottom", "shoes"):
        lay = av.layer(role)
        anchor = np.take_along_axis(lay.binding.triangles,
                                    np.argmax(lay.binding.barycentric, 1)[:, None], 1)[:, 0]
        height = ((lay.vertices - body[anchor]) * normals[anchor]).sum(1)
        edge = np.unique(boundary_edges(lay.faces))
        assert len(edge) > 20, role
        # the open edges are the facing's, folded in under the outside of the cloth
        assert np.median(height[edge]) < np.median(height) - 0.002, role
    assert av.layer("top").material == "denim" and av.layer("shoes").material == "leather"


def test_a_seeded_crowd_varies_in_age_pose_and_expression_and_repeats_exactly():
    crowd = [generate_avatar(seed, {}) for seed in range(16)]
    attrs = [av.metadata["attributes"] for av in crowd]
    assert len({a["age"] for a in attrs}) >= 3
    assert len({a["pose"] for a in attrs}) >= 3
    assert len({a["expression"] for a in attrs}) >= 3
    ages = [av.metadata["params"]["age"] for av in crowd]
    assert max(ages) - min(ages) > 0.08
    smiling = next(av for av in crowd if av.metadata["attributes"]["expression"] == "smile")
    keys = smiling.layer("body").shape_keys
    assert keys.values[keys.index("mouthSmileLeft")] > 0.5
    posed = [av for av in crowd if av.metadata["attributes"]["pose"] != "a"]
    assert posed and all(av.pose is not None for av in posed)
    again = generate_avatar(5, {})
    assert _bytes(again) == _bytes(crowd[5])


def test_child_to_elderly_and_the_poses_and_expressions_they_ask_for():
    child = generate_avatar(3, {"age": "child", "pose": "t", "expression": "surprise"})
    old = generate_avatar(3, {"age": "elderly", "pose": "relaxed"})
    height = {n: av.layer("body").vertices[:, 2].max() for n, av in (("c", child), ("o", old))}
    assert height["c"] < height["o"] - 0.2
    # a T-pose holds the arms level, a relaxed stand lets them hang near the sides
    for av, lo, hi in ((child, -0.05, 0.05), (old, -1.0, -0.8)):       # A-pose: about -0.67
        names = av.skeleton.names
        transforms, _ = bone_transforms(av, av.pose.rotations)
        sh = transforms[names.index("upperarm01.L")] @ np.append(
            av.skeleton.heads[names.index("upperarm01.L")], 1)
        wr = transforms[names.index("wrist.L")] @ np.append(
            av.skeleton.heads[names.index("wrist.L")], 1)
        d = wr[:3] - sh[:3]
        slope = d[2] / np.linalg.norm(d)
        assert lo < slope < hi, (av.metadata["attributes"]["pose"], slope)
    # surprise opens the jaw, and the lower teeth open with it
    teeth = next(lay for lay in child.layers if lay.name == "teeth_lower")
    assert teeth.shape_keys.values[teeth.shape_keys.index("jawOpen")] > 0.2


def test_material_hint_travels_in_the_file_and_is_checked(styled):
    from protocol import ProtocolError, avatar_from_bytes, avatar_from_parts, avatar_to_parts
    av = styled["bob"]
    back = avatar_from_bytes(_bytes(av))
    assert {lay.role: lay.material for lay in back.layers}["body"] == "skin"
    assert back.layer("hair").material == "hair_cards"
    assert back.layer("eyes").material is None               # optional: absent stays absent
    desc, arrays = avatar_to_parts(av)
    desc["layers"][0]["material"] = "Plastic Shine!"
    with pytest.raises(ProtocolError, match="material must be a short lower-case name"):
        avatar_from_parts(desc, arrays)
    del desc["layers"][0]["material"]                         # files from older producers
    assert avatar_from_parts(desc, arrays).layers[0].material is None
