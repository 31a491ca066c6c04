"""Photo -> SMPL-H avatar: the reconstruct pipeline with an SMPL-family body instead of Anny,
through the real CLI (`doppel reconstruct --body-model smplh --quality fast --camera-space`),
mediapipe and smplx, on ryota.png (which has an exact person mask).

The real SMPL files are licensed, so the body is tests/smpl_model_maker.py's procedural one (a
stick figure of 5 cm tubes, official file format, no UV layout) in a temporary SMPL folder.
One reconstruction for the module, one more with a UV layout written here; every test checks
something a user would see."""

from __future__ import annotations

import contextlib
import io
import json

import numpy as np
import pytest
from PIL import Image

from protocol import load_avatar
from smpl_model_maker import build_model, write_model


def write_uv_obj(path, data) -> None:
    """A UV layout .obj (as the SMPL releases publish one) for smpl_model_maker's body: each
    tube (18 vertices: 3 rings of 6) unwrapped into its own grid cell, u around, v along."""
    verts, faces = data["v_template"], data["f"].astype(np.int64)
    cols = int(np.ceil(np.sqrt(len(verts) // 18)))
    lines = [f"v {x:.6f} {y:.6f} {z:.6f}" for x, y, z in verts]
    uv, tris = [], []
    for face in faces:
        tube, local = face // 18, face % 18
        ring, k = local // 6, (local % 6).astype(float)
        if k.max() - k.min() > 1:          # the seam: around 5 -> 0 becomes 5 -> 6
            k[k == 0] = 6
        row, col = divmod(int(tube[0]), cols)
        u = (col + 0.1 + 0.8 * k / 6) / cols
        v = 1 - (row + 0.1 + 0.8 * ring / 2) / cols
        tris.append(" ".join(f"{int(fv) + 1}/{len(uv) + c + 1}" for c, fv in enumerate(face)))
        uv += list(zip(u, v))
    lines += [f"vt {a:.6f} {b:.6f}" for a, b in uv] + [f"f {t}" for t in tris]
    path.write_text("\n".join(lines) + "\n")


@pytest.fixture(scope="module")
def smpl_folder(tmp_path_factory):
    from backend.bodies.smpl_files import configure_smpl_dir
    folder = tmp_path_factory.mktemp("smpl_models")
    write_model(folder, "smplh", "neutral", "npz")
    configure_smpl_dir(None)
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("DOPPEL_SMPL_DIR", str(folder))
        yield folder


@pytest.fixture(scope="module")
def ryota(shared_data, smpl_folder, tmp_path_factory):
    from backend.cli import main
    out = tmp_path_factory.mktemp("reconstruct_smpl")
    photo = shared_data / "photos" / "single" / "ryota.png"
    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        rc = main(["reconstruct", str(photo), "--out", str(out), "--body-model", "smplh",
                   "--quality", "fast", "--camera-space", "--json"])
    assert rc == 0, buf.getvalue()
    record = json.loads(buf.getvalue().strip().splitlines()[-1])
    rgb = np.asarray(Image.open(photo).convert("RGB"))
    mask = np.asarray(Image.open(photo.with_name("ryota_mask.png")).convert("L")) > 127
    return {"record": record, "avatar": load_avatar(record["avatar"]), "mask": mask,
            "rgb": rgb, "photo": photo}


def test_avatar_has_the_smpl_skeleton_and_fitted_betas(ryota):
    from backend.bodies.smpl_skeleton import JOINT_NAMES_BY_MODEL
    av = ryota["avatar"]
    assert av.skeleton.names == JOINT_NAMES_BY_MODEL["smplh"]
    assert av.skeleton.bone_count == 52
    meta = av.metadata
    assert meta["body_model"] == "smplh" and meta["producer"] == "doppel.reconstruct"
    assert meta["params"]["gender"] == "neutral" and len(meta["params"]["betas"]) == 10
    assert meta["smpl"]["file"] == "SMPLH_NEUTRAL.npz"


def test_posed_avatar_is_upright_in_the_photos_pose(ryota):
    """SMPL's rest pose is a T-pose; ryota stands with arms down, so the wrists must end up
    well below the shoulders: the photo's pose is in the bones, not the rest pose."""
    from backend.fit.posing import posed_joints, posed_vertices
    av = ryota["avatar"]
    v = posed_vertices(av)
    assert abs(v[:, 2].min()) < 1e-3, "feet stand on the floor (z = 0)"
    assert 1.4 < v[:, 2].max() < 2.1
    j = posed_joints(av)
    spine = j["neck"] - j["pelvis"]
    assert spine[2] / np.linalg.norm(spine) > np.cos(np.radians(20))
    assert j["head"][2] > j["neck"][2] > j["pelvis"][2] > j["left_knee"][2] > j["left_ankle"][2]
    assert j["left_shoulder"][0] > j["right_shoulder"][0], "the person's left is +X"
    for side in ("left", "right"):
        assert j[f"{side}_wrist"][2] < j[f"{side}_shoulder"][2] - 0.3, f"{side} arm is down"
    q = av.pose.rotations
    assert np.allclose(np.linalg.norm(q, axis=1), 1.0, atol=1e-4)
    assert (np.abs(q[:, 1:]).max(axis=1) > 0.2).sum() >= 4


def test_posed_mesh_projects_onto_the_person_through_the_camera(ryota):
    """Silhouette of the returned avatar, posed by its Pose and seen through its Camera, vs the
    true mask. The procedural body is a stick figure of 5 cm tubes: even perfectly placed it
    covers only about half the person (its silhouette is 0.53 of the mask's area here), so
    IoU cannot pass ~0.53; we measure 0.46. The same body shifted sideways by its shoulder
    width scores 0.08, turned 90 degrees about its pelvis 0.20, hence the floor 0.35. And most
    of the stick figure must lie on the person (measured 0.90; the fingers stick out)."""
    from backend.fit.posing import posed_vertices, project_to_photo
    from backend.raster import mask_iou, rasterize
    av, mask = ryota["avatar"], ryota["mask"]
    assert (av.camera.width, av.camera.height) == mask.shape[::-1]
    pix = project_to_photo(av, posed_vertices(av))
    sil = rasterize(pix, av.layers[0].faces, av.camera.width, av.camera.height).mask
    assert mask_iou(sil, mask) > 0.35
    assert (sil & mask).sum() / sil.sum() > 0.8, "the body lies on the person"
    info = json.loads(open(ryota["record"]["camera_json"]).read())
    for name in ("pelvis", "neck", "left_knee", "right_knee", "left_shoulder", "right_hip",
                 "left_elbow", "right_ankle"):
        x, y, z = info["joints"][name]
        u, v = int(info["fx"] * x / z + info["cx"]), int(info["fy"] * y / z + info["cy"])
        assert z > 0 and mask[v, u], f"{name} projects outside the person"


def test_missing_uv_layout_is_said_and_the_colour_comes_from_the_photo(ryota):
    av, rec = ryota["avatar"], ryota["record"]
    lay = av.layers[0]
    assert lay.uvs is None and lay.texture is None
    warn = [w for w in av.metadata["warnings"] if "no UV layout" in w]
    assert len(warn) == 1 and "smplh_uv.obj" in warn[0]
    assert warn == [w for w in rec["warnings"] if "no UV layout" in w]
    # The colour is the person's (ryota wears dark clothes on a black background): the
    # median of the person's pixels, in linear RGB as Blender's Base Color takes it.
    srgb = np.median(ryota["rgb"][ryota["mask"]], axis=0) / 255.0
    lin = np.where(srgb <= 0.04045, srgb / 12.92, ((srgb + 0.055) / 1.055) ** 2.4)
    assert np.allclose(lay.base_color[:3], lin, atol=0.05)
    assert lay.base_color != (0.8, 0.62, 0.52, 1.0)


def test_absent_or_unknown_body_model_is_refused_clearly(ryota, smpl_folder):
    from backend.errors import JobInputError
    from backend.jobs import JobContext, get_job
    data = np.frombuffer(ryota["photo"].read_bytes(), dtype=np.uint8)
    job = get_job("reconstruct")
    with pytest.raises(JobInputError) as err:
        job({"body_model": "smplx", "quality": "fast"}, {"photo": data}, JobContext("t"))
    msg = str(err.value)
    assert "SMPL-X model files not found at" in msg and str(smpl_folder) in msg
    assert "weights/README.md" in msg
    with pytest.raises(JobInputError, match="unknown body model 'smpl-y'; available: .*anny"):
        job({"body_model": "smpl-y"}, {"photo": data}, JobContext("t"))


def test_with_a_uv_layout_the_photo_is_baked(ryota, tmp_path, monkeypatch):
    """Users whose SMPL folder has the UV .obj get the photo texture, completed like Anny's."""
    from backend.jobs import JobContext, get_job
    from backend.textures.photo_bake import uv_atlas
    write_model(tmp_path, "smplh", "neutral", "npz")
    write_uv_obj(tmp_path / "smplh" / "smplh_uv.obj", build_model("smplh"))
    monkeypatch.setenv("DOPPEL_SMPL_DIR", str(tmp_path))
    data = np.frombuffer(ryota["photo"].read_bytes(), dtype=np.uint8)
    av = get_job("reconstruct")({"body_model": "smplh", "quality": "fast"}, {"photo": data},
                                JobContext("t"))
    lay = av.layers[0]
    assert lay.uvs is not None and lay.texture is not None
    assert not [w for w in av.metadata["warnings"] if "UV" in w]
    tex = np.asarray(Image.open(io.BytesIO(lay.texture)).convert("RGB"))
    assert tex.shape == (512, 512, 3)
    island = uv_atlas(lay.uvs, 512).face >= 0
    assert (tex[island] <= 3).all(axis=1).mean() < 0.001, "no holes (the background is black)"
    assert av.metadata["fit"]["texture_seen"] > 0.1


@pytest.mark.blender
def test_blender_import_poses_the_smpl_avatar_as_the_photo(ryota):
    """The add-on builds the SMPL avatar posed as in the photo: its evaluated (skinned) mesh
    is where the avatar's own pose puts it, so it overlays the photo through the camera."""
    import bpy
    from backend.fit.posing import posed_vertices
    from blender_addon.blender.builder import build_avatar
    bpy.ops.wm.read_factory_settings(use_empty=True)
    try:
        av = ryota["avatar"]
        built = build_avatar(av, bpy.context, posed=True, with_camera=True)
        mesh = next(iter(built.meshes.values()))
        ev = mesh.evaluated_get(bpy.context.evaluated_depsgraph_get())
        got = np.array([tuple(ev.matrix_world @ v.co) for v in ev.data.vertices])
        assert np.abs(got - posed_vertices(av)).max() < 1e-3
    finally:
        bpy.ops.wm.read_factory_settings(use_empty=True)
