"""The camera's focal length: EXIF when the photo has it, else estimated from the person; the
one used is reported in `doppel reconstruct --json` and in the avatar's metadata."""

from __future__ import annotations

import io
import json

import numpy as np
import pytest
from PIL import Image

from backend.fit.focal import choose_focal
from backend.imageio import read_photo


def jpeg_with_focal(img: Image.Image, focal_35mm: int) -> bytes:
    exif = Image.Exif()
    exif.get_ifd(0x8769)[0xA405] = focal_35mm          # Exif IFD: FocalLengthIn35mmFilm
    buf = io.BytesIO()
    img.save(buf, format="JPEG", quality=90, exif=exif.tobytes())
    return buf.getvalue()


@pytest.fixture(scope="module")
def ryota_img(shared_data):
    return Image.open(shared_data / "photos" / "single" / "ryota.png").convert("RGB")


def test_exif_focal_is_read_and_preferred(ryota_img):
    photo = read_photo(jpeg_with_focal(ryota_img, 85), "tele.jpg")
    assert photo.focal_35mm == 85.0
    h, w = photo.rgb.shape[:2]
    choice = choose_focal(photo.focal_35mm, None, w, h)
    assert choice.source == "exif"
    assert choice.f_px == pytest.approx(85.0 / 36.0 * max(w, h))
    assert choose_focal(None, None, w, h).source == "default"     # nothing to go on


def test_exif_focal_length_with_the_sensor_size(ryota_img):
    # A phone: 4.25 mm lens, 1000 px per cm on the sensor -> the long side spans
    # max(size) / 100 mm; no FocalLengthIn35mmFilm tag.
    exif = Image.Exif()
    ifd = exif.get_ifd(0x8769)
    ifd[0x920A] = 4.25                       # FocalLength, mm
    ifd[0xA20E] = 1000.0                     # FocalPlaneXResolution, pixels per unit
    ifd[0xA210] = 3                          # FocalPlaneResolutionUnit: cm
    buf = io.BytesIO()
    ryota_img.save(buf, format="JPEG", quality=90, exif=exif.tobytes())
    photo = read_photo(buf.getvalue(), "phone.jpg")
    sensor_long_mm = max(ryota_img.size) / 100.0
    assert photo.focal_35mm == pytest.approx(4.25 / sensor_long_mm * 36.0, rel=1e-3)


def test_cli_json_reports_the_exif_focal_and_its_source(ryota_img, tmp_path, capsys):
    from backend.cli import main
    path = tmp_path / "tele.jpg"
    path.write_bytes(jpeg_with_focal(ryota_img, 85))
    assert main(["reconstruct", str(path), "--out", str(tmp_path), "--quality", "fast",
                 "--json"]) == 0
    record = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert record["focal"]["source"] == "exif"
    assert record["focal"]["focal_35mm"] == pytest.approx(85.0)
    from protocol import load_avatar
    avatar = load_avatar(record["avatar"])
    assert avatar.metadata["camera_focal"]["source"] == "exif"
    # The returned camera is that focal at the photo's own resolution (36 mm long side).
    assert avatar.camera.fx == pytest.approx(85.0 / 36.0 * max(ryota_img.size), rel=0.01)


@pytest.mark.parametrize("sample", ["sample_0000", "sample_0004"])      # 64 mm and 43 mm
def test_estimated_focal_on_devset_photos(shared_data, sample):
    # 25 %, looser than the benchmark's 15 % median: the estimate assumes a typical 4 m
    # camera distance, and single devset photos are shot at 3.1-5 m (up to ~25 % off alone).
    from backend.perception import get_detector
    root = shared_data / "devset_pose"
    photo = read_photo((root / sample / "image.png").read_bytes(), sample)
    obs = get_detector().observe(photo.rgb)
    h, w = photo.rgb.shape[:2]
    choice = choose_focal(photo.focal_35mm, obs, w, h)
    truth = float(np.load(root / sample / "gt.npz")["K"][0, 0]) * photo.scale
    assert choice.source == "estimated"
    assert abs(choice.f_px / truth - 1.0) < 0.25, (choice, truth)
