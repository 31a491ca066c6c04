"""3DGS .ply export read back by independent readers, the `doppel splat` and `doppel preview`
commands, and the `preview` job."""

from __future__ import annotations

import base64
import io

import numpy as np
import pytest

from backend.cli import main as doppel
from backend.render.avatar_gaussians import avatar_gaussians
from backend.render.ply_export import write_splat_ply

FIELDS_3DGS = (["x", "y", "z", "nx", "ny", "nz", "f_dc_0", "f_dc_1", "f_dc_2", "opacity"]
               + [f"scale_{i}" for i in range(3)] + [f"rot_{i}" for i in range(4)])
SH_C0 = 0.28209479177387814


def read_ply(path) -> tuple[list[str], np.ndarray]:
    """A small reader written from the PLY spec: (property names, (N, P) float32 table)."""
    data = path.read_bytes()
    end = data.index(b"end_header\n") + len(b"end_header\n")
    lines = data[:end].decode("ascii").splitlines()
    assert lines[0] == "ply" and lines[1] == "format binary_little_endian 1.0"
    count = next(int(ln.split()[2]) for ln in lines if ln.startswith("element vertex"))
    names = [ln.split()[2] for ln in lines if ln.startswith("property float ")]
    assert len(names) == sum(ln.startswith("property") for ln in lines)   # all float32
    table = np.frombuffer(data[end:], dtype="<f4").reshape(count, len(names))
    return names, table


@pytest.fixture(scope="module")
def small_gaussians(anny_avatar):
    return avatar_gaussians(anny_avatar, count=5000)


def test_ply_has_the_3dgs_fields_and_values(small_gaussians, tmp_path):
    g = small_gaussians
    path = write_splat_ply(g, tmp_path / "body.ply")
    names, table = read_ply(path)
    assert names == FIELDS_3DGS
    col = {n: table[:, i] for i, n in enumerate(names)}
    np.testing.assert_allclose(np.stack([col["x"], col["y"], col["z"]], 1), g.means)
    # Stored as 3DGS stores them: opacity as a logit, scales as logs, colour as SH degree 0.
    np.testing.assert_allclose(1 / (1 + np.exp(-col["opacity"])), g.opacities, rtol=1e-5)
    np.testing.assert_allclose(np.exp(np.stack([col[f"scale_{i}"] for i in range(3)], 1)),
                               g.scales, rtol=1e-5)
    rgb = np.stack([col[f"f_dc_{i}"] for i in range(3)], 1) * SH_C0 + 0.5
    np.testing.assert_allclose(rgb, g.colors, atol=1e-5)
    q = np.stack([col[f"rot_{i}"] for i in range(4)], 1)
    np.testing.assert_allclose(np.abs((q * g.rotations).sum(1)), 1.0, atol=1e-5)


def test_trimesh_reads_the_ply_with_every_field(small_gaussians, tmp_path):
    import trimesh
    path = write_splat_ply(small_gaussians, tmp_path / "body.ply", sh_degree=3)
    cloud = trimesh.load(path, process=False)
    assert len(cloud.vertices) == len(small_gaussians)
    np.testing.assert_allclose(cloud.vertices, small_gaussians.means, atol=1e-6)
    props = cloud.metadata["_ply_raw"]["vertex"]["data"].dtype.names
    assert set(FIELDS_3DGS) <= set(props)
    assert sum(p.startswith("f_rest_") for p in props) == 45


def test_cli_splat_writes_a_ply_posed_by_a_motion_frame(anny_avatar_file, shared_data, tmp_path):
    clip = shared_data / "motions" / "bvh" / "walk.bvh"
    rest, posed = tmp_path / "rest.ply", tmp_path / "walk.ply"
    assert doppel(["splat", str(anny_avatar_file), "--out", str(rest), "--count", "4000"]) == 0
    assert doppel(["splat", str(anny_avatar_file), "--out", str(posed), "--count", "4000",
                   "--motion", str(clip), "--frame", "20"]) == 0
    _, a = read_ply(rest)
    _, b = read_ply(posed)
    assert a.shape == b.shape and 3500 < len(a) < 4500
    moved = np.linalg.norm(a[:, :3] - b[:, :3], axis=1)
    assert np.median(moved) > 0.01          # the walk moved the body...
    height = lambda t: t[:, 2].max() - t[:, 2].min()   # noqa: E731
    assert abs(height(a) - height(b)) < 0.25 * height(a)   # ...without tearing it apart


def test_cli_splat_explains_bad_requests(anny_avatar_file, tmp_path, capsys):
    out = str(tmp_path / "x.ply")
    assert doppel(["splat", str(anny_avatar_file), "--out", str(tmp_path / "x.txt")]) == 1
    assert "--out must name a .ply file" in capsys.readouterr().err
    assert doppel(["splat", str(anny_avatar_file), "--out", out, "--frame", "3"]) == 1
    assert "give a motion clip too" in capsys.readouterr().err
    assert doppel(["splat", str(tmp_path / "missing.doppel"), "--out", out]) == 1
    assert "cannot read avatar file" in capsys.readouterr().err


def test_preview_job_returns_turntable_thumbnails(anny_avatar):
    from PIL import Image

    from backend.jobs import JobContext, get_job
    from backend.jobs.preview import preview_request
    params, inputs = preview_request(anny_avatar, views=4, size=64, gaussians=20_000)
    stages = []
    out = get_job("preview")(params, inputs, JobContext("p", report=lambda s, f: stages.append(s)))
    prev = out.metadata["preview"]
    assert prev["views"] == 4 and prev["azimuths_deg"] == [0.0, 90.0, 180.0, 270.0]
    imgs = [np.asarray(Image.open(io.BytesIO(base64.b64decode(b)))) for b in prev["png_base64"]]
    assert all(im.shape == (64, 64, 4) for im in imgs)
    covered = [float((im[..., 3] > 127).mean()) for im in imgs]
    # Front and back show the arms spread; the side views are narrower.
    assert all(0.03 < c < 0.6 for c in covered)
    assert covered[0] > covered[1] and covered[2] > covered[3]
    assert stages[-1] == "done"
    assert len(out.layers) == len(anny_avatar.layers)


def test_preview_job_rejects_bad_options(anny_avatar):
    from backend.errors import JobInputError
    from backend.jobs import JobContext, get_job
    from backend.jobs.preview import preview_request
    params, inputs = preview_request(anny_avatar, views=0)
    with pytest.raises(JobInputError, match="'views' must be a whole number in 1..36"):
        get_job("preview")(params, inputs, JobContext("p"))
    params, inputs = preview_request(anny_avatar, views=36, size=1024)
    with pytest.raises(JobInputError, match="too many pixels"):
        get_job("preview")(params, inputs, JobContext("p"))


def test_cli_preview_writes_a_contact_sheet(anny_avatar_file, tmp_path):
    from PIL import Image
    out = tmp_path / "sheet.png"
    assert doppel(["preview", str(anny_avatar_file), "--out", str(out), "--views", "3",
                   "--size", "48"]) == 0
    assert Image.open(out).size == (3 * 48, 48)
