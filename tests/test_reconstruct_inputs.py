"""Every bad or unusual photo gets a message a user can act on, before any fitting starts.

Decoding problems are checked through the real `reconstruct` job (they fail before perception);
person problems through the real reader + MediaPipe + the pipeline's person check (fast: no fit).
"""

from __future__ import annotations

import io
import json
import struct
import zlib

import numpy as np
import pytest
from PIL import Image

from backend.errors import JobInputError


def run_job(data: bytes, **params):
    from backend.jobs import JobContext, get_job
    inputs = {"photo": np.frombuffer(data, np.uint8)}
    return get_job("reconstruct")({"name": "Test", **params}, inputs, JobContext("test"))


def encode(img: Image.Image, fmt: str = "PNG", **kw) -> bytes:
    buf = io.BytesIO()
    img.save(buf, format=fmt, **kw)
    return buf.getvalue()


@pytest.fixture(scope="module")
def ryota_img(shared_data):
    return Image.open(shared_data / "photos" / "single" / "ryota.png").convert("RGB")


def observe(data: bytes, name: str = "photo.png"):
    """Reader + detector + person check, as the pipeline runs them: -> (photo, obs, warnings)."""
    from backend.fit.pipeline import check_person
    from backend.imageio import read_photo
    from backend.perception import get_detector
    photo = read_photo(data, name)
    obs = get_detector().observe(photo.rgb)
    return photo, obs, check_person(obs, photo, name)


@pytest.mark.parametrize("data, words", [
    (b"", "is empty"),
    (b"hello, this is text", "not an image"),
    (b"%PDF-1.4\n" + b"0" * 200, "not an image"),
])
def test_not_an_image(data, words):
    with pytest.raises(JobInputError, match=words) as err:
        run_job(data)
    assert err.value.code == "bad_input"
    assert "PNG, JPEG or WebP" in str(err.value)


def test_truncated_jpeg(ryota_img):
    data = encode(ryota_img, "JPEG", quality=90)
    with pytest.raises(JobInputError, match="damaged or truncated"):
        run_job(data[: len(data) // 2])


def test_unsupported_format(ryota_img):
    with pytest.raises(JobInputError, match="GIF image; use a PNG, JPEG or WebP"):
        run_job(encode(ryota_img, "GIF"))


@pytest.mark.parametrize("size", [(1, 1), (40, 300)])
def test_tiny_image(size):
    with pytest.raises(JobInputError, match=rf"only {size[0]}x{size[1]} pixels"):
        run_job(encode(Image.new("RGB", size, (90, 90, 90))))


def test_huge_image_refused_from_its_header():
    """A PNG whose header claims 30000x30000 px is refused before decoding a single pixel."""
    data = bytearray(encode(Image.new("RGB", (8, 8))))
    ihdr = data.index(b"IHDR")
    data[ihdr + 4: ihdr + 12] = struct.pack(">II", 30000, 30000)
    crc = zlib.crc32(bytes(data[ihdr: ihdr + 17])) & 0xFFFFFFFF
    data[ihdr + 17: ihdr + 21] = struct.pack(">I", crc)
    with pytest.raises(JobInputError, match="megapixels|too large"):
        run_job(bytes(data))


def test_job_input_mistakes():
    with pytest.raises(JobInputError, match="needs a photo"):
        from backend.jobs import JobContext, get_job
        get_job("reconstruct")({}, {}, JobContext("t"))
    with pytest.raises(JobInputError, match="unknown reconstruct option"):
        run_job(b"x", colour="blue")
    with pytest.raises(JobInputError, match="unknown quality"):
        run_job(encode(Image.new("RGB", (64, 64))), quality="ultra")


def test_no_person():
    """A plain gradient: nobody to reconstruct."""
    g = np.linspace(0, 255, 320, dtype=np.uint8)
    img = Image.fromarray(np.stack([np.tile(g, (240, 1))] * 3, axis=-1))
    with pytest.raises(JobInputError, match="no person found") as err:
        run_job(encode(img))
    assert err.value.code == "bad_input"


def test_a_statue_is_not_a_person(shared_data):
    data = (shared_data / "photos" / "group" / "170149601_13aa4e4483_c.jpg").read_bytes()
    with pytest.raises(JobInputError, match="no person found"):
        observe(data, "statue.jpg")


def test_several_people_reconstructs_the_most_prominent_and_warns(shared_data):
    data = (shared_data / "photos" / "group" / "39742984604_46934fbd50_c.jpg").read_bytes()
    photo, obs, warnings = observe(data, "group.jpg")
    assert obs.people_count >= 2
    assert any("several people" in w and "most prominent" in w for w in warnings)


def test_grayscale_photo_is_used_with_a_warning(ryota_img):
    photo, obs, warnings = observe(encode(ryota_img.convert("L")), "grey.png")
    assert photo.grayscale and photo.rgb.shape[2] == 3
    assert any("no colour" in w for w in warnings)


def test_rgba_cutout_alpha_becomes_the_fit_mask(shared_data, ryota_img):
    from backend.fit.pipeline import target_mask
    from backend.raster import mask_iou
    true = np.asarray(Image.open(shared_data / "photos" / "single" / "ryota_mask.png")
                      .convert("L"))
    rgba = ryota_img.copy()
    rgba.putalpha(Image.fromarray(true))
    photo, obs, warnings = observe(encode(rgba), "cutout.png")
    assert photo.alpha is not None and warnings == []
    assert mask_iou(target_mask(obs, photo), true > 127) > 0.99


def test_person_cut_off_at_the_frame_edge(ryota_img):
    w, h = ryota_img.size
    legs_cut = ryota_img.crop((0, 0, w, int(h * 0.62)))      # above the knees
    _, _, warnings = observe(encode(legs_cut), "legs.png")
    assert any("feet not visible" in w or "cut off" in w for w in warnings)
    head_only = ryota_img.crop((0, 0, w, int(h * 0.2)))       # face and a little more
    with pytest.raises(JobInputError, match="too little of the person|no person found"):
        observe(encode(head_only), "head.png")


def test_cli_reports_each_bad_photo_and_fails(tmp_path, capsys):
    from backend.cli import main
    bad = tmp_path / "notes.jpg"
    bad.write_text("not a photo")
    missing = tmp_path / "missing.png"
    rc = main(["reconstruct", str(bad), str(missing), "--out", str(tmp_path / "o"), "--json"])
    assert rc == 1
    lines = [json.loads(x) for x in capsys.readouterr().out.strip().splitlines()]
    assert [x["ok"] for x in lines] == [False, False]
    assert "not an image" in lines[0]["error"]
    assert "cannot read" in lines[1]["error"]
    assert not (tmp_path / "o").exists() or not any((tmp_path / "o").iterdir())


def test_exif_orientation_and_big_jpeg_are_read_upright_at_working_size(ryota_img):
    """A camera JPEG stored sideways with EXIF orientation 6 (rotate 90 deg clockwise to view)
    comes out upright; a big JPEG is decoded straight to the bounded working size while the
    original's pixel size is kept for the camera intrinsics."""
    from backend.imageio import read_photo
    big = ryota_img.resize((2560, 2560))
    stored = big.transpose(Image.Transpose.ROTATE_90)          # sideways on disk
    exif = Image.Exif()
    exif[0x0112] = 6
    photo = read_photo(encode(stored, "JPEG", quality=92, exif=exif.tobytes()), "cam.jpg")
    assert (photo.width, photo.height) == (2560, 2560)
    assert max(photo.rgb.shape[:2]) == 1024
    upright = np.asarray(ryota_img.resize((1024, 1024)), np.float32)
    assert np.abs(photo.rgb.astype(np.float32) - upright).mean() < 12.0

    wide = ryota_img.crop((0, 100, 512, 400)).resize((3000, 1758))
    photo = read_photo(encode(wide, "JPEG"), "wide.jpg")
    assert (photo.width, photo.height) == (3000, 1758)
    assert photo.rgb.shape[:2] == (600, 1024)


def test_cancelling_stops_the_job_during_the_fit(shared_data):
    """Esc in Blender / a cancelled server job: the next progress report raises JobCancelled,
    so the fit stops within one reporting interval instead of running to the end."""
    from backend.jobs import JobCancelled, JobContext, get_job
    stages = []
    ctx = JobContext("cancel-me", report=lambda stage, f: stages.append(stage),
                     is_cancelled=lambda: "fit body" in stages)
    data = (shared_data / "photos" / "single" / "ryota.png").read_bytes()
    with pytest.raises(JobCancelled):
        get_job("reconstruct")({"name": "C"}, {"photo": np.frombuffer(data, np.uint8)}, ctx)
    assert "fit clothing" not in stages and "texture" not in stages
