"""A photo of several people -> one avatar each, through the real CLI, a real server (the job
returns the others as companions over the wire), mediapipe and anny. The photo: seven men
standing side by side, some half hidden behind their neighbours
(../shared/data/photos/group/39742984604_46934fbd50_c.jpg, 800x451, CC0)."""

from __future__ import annotations

import contextlib
import io
import json

import cv2
import numpy as np
import pytest

from protocol import ProtocolError, load_avatar, save_avatar

GROUP = "39742984604_46934fbd50_c"
PEOPLE = 7               # counted by eye


def run_cli(args: list[str]) -> list[dict]:
    from backend.cli import main
    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        rc = main(["reconstruct", *args, "--quality", "fast", "--json"])
    records = [json.loads(line) for line in buf.getvalue().splitlines() if line.startswith("{")]
    assert rc == 0, records
    return records


@pytest.fixture(scope="module")
def group(shared_data, tmp_path_factory, live_server):
    out = tmp_path_factory.mktemp("group")
    photo = shared_data / "photos" / "group" / f"{GROUP}.jpg"
    (record,) = run_cli([str(photo), "--out", str(out), "--server", live_server,
                         "--camera-space"])
    return {"record": record, "out": out, "photo": photo}


def silhouettes(avatars) -> list[np.ndarray]:
    """Each dressed avatar (all its layers) posed and seen through the shared camera."""
    from backend.fit.posing import posed_layers, project_to_photo
    from backend.raster import rasterize
    cam = avatars[0].camera
    out = []
    for a in avatars:
        verts, faces, _ = posed_layers(a)
        out.append(rasterize(project_to_photo(a, verts), faces, cam.width, cam.height).mask)
    return out


def test_every_person_gets_an_avatar_named_left_to_right(group):
    out = group["out"]
    files = sorted(out.glob("*.doppel"))
    assert [f.name for f in files] == [f"{GROUP}.person{k}.doppel" for k in range(1, PEOPLE + 1)]
    assert len(group["record"]["people"]) == PEOPLE
    for k in range(1, PEOPLE + 1):                 # camera-space files per person too
        assert (out / f"{GROUP}.person{k}.posed.ply").is_file()
        assert (out / f"{GROUP}.person{k}.camera.json").is_file()
    avatars = [load_avatar(f) for f in files]
    xs = [np.nonzero(s)[1].mean() for s in silhouettes(avatars)]
    assert xs == sorted(xs)                        # person1 is the leftmost in the photo
    assert all(a.source_image for a in avatars)    # each file stands alone, photo included


def test_each_avatar_covers_a_different_person(group):
    """Seen through the shared camera, no two avatars cover the same person: they overlap
    little, and each matches its own person's instance mask best."""
    from backend.imageio import read_photo
    from backend.perception import find_people
    from backend.raster import mask_iou
    avatars = [load_avatar(group["out"] / f"{GROUP}.person{k}.doppel")
               for k in range(1, PEOPLE + 1)]
    sils = silhouettes(avatars)
    for i in range(PEOPLE):
        for j in range(i + 1, PEOPLE):
            assert mask_iou(sils[i], sils[j]) < 0.25, (i, j)
    photo = read_photo(group["photo"].read_bytes())
    masks = [p.mask > 0.5 for p in find_people(photo.rgb)]
    h, w = photo.rgb.shape[:2]
    # silhouettes at the photo's size -> the working size perception saw
    small = [cv2.resize(s.astype(np.uint8), (w, h), interpolation=cv2.INTER_NEAREST) > 0
             for s in sils]
    iou = np.array([[mask_iou(s, m) for m in masks] for s in small])
    best = iou.argmax(axis=1)
    assert len(set(best.tolist())) == PEOPLE       # a different person each
    assert iou.max(axis=1).min() > 0.35


def test_the_group_shares_one_camera_and_one_floor(group):
    from backend.fit.posing import posed_vertices
    avatars = [load_avatar(group["out"] / f"{GROUP}.person{k}.doppel")
               for k in range(1, PEOPLE + 1)]
    cams = [a.camera.world_from_camera for a in avatars]
    assert all(np.allclose(c, cams[0]) for c in cams)
    feet = np.array([posed_vertices(a)[:, 2].min() for a in avatars])
    heights = np.array([np.ptp(posed_vertices(a)[:, 2]) for a in avatars])
    assert (np.abs(feet) < 0.03).sum() >= PEOPLE - 1    # standing on one floor
    assert ((heights > 1.4) & (heights < 2.1)).all()
    centres = np.array([posed_vertices(a)[:, :2].mean(axis=0) for a in avatars])
    gaps = np.linalg.norm(np.diff(centres, axis=0), axis=1)
    assert (gaps > 0.15).all() and (gaps < 1.5).all()   # side by side, not on top


def test_companions_travel_in_one_avatar_file_and_stay_validated(group, tmp_path):
    first, second = (load_avatar(group["out"] / f"{GROUP}.person{k}.doppel") for k in (1, 2))
    first.companions = [second]
    save_avatar(first, tmp_path / "pair.doppel")
    back = load_avatar(tmp_path / "pair.doppel")
    assert [c.name for c in back.companions] == [second.name]
    np.testing.assert_array_equal(back.companions[0].pose.rotations, second.pose.rotations)
    second.companions = [first]          # nested groups are not a thing
    with pytest.raises(ProtocolError, match="companion"):
        save_avatar(first, tmp_path / "nested.doppel")


def test_max_people_one_gives_the_largest_person_alone(group, tmp_path):
    (record,) = run_cli([str(group["photo"]), "--out", str(tmp_path), "--max-people", "1"])
    assert [f.name for f in tmp_path.glob("*.doppel")] == [f"{GROUP}.doppel"]
    assert "people" not in record
    assert any("--max-people" in w for w in record["warnings"])


def test_a_single_person_photo_keeps_its_plain_file_name(shared_data, tmp_path):
    photo = shared_data / "photos" / "single" / "ryota.png"
    (record,) = run_cli([str(photo), "--out", str(tmp_path)])
    assert [f.name for f in tmp_path.glob("*.doppel")] == ["ryota.doppel"]
    assert "people" not in record and not load_avatar(record["avatar"]).companions


def test_a_statue_with_a_tiny_passer_by_is_still_no_person(shared_data, tmp_path):
    """The multi-person finder sees the statue's figure (and its hands), but one figure and
    tiny ones take the single-person path, which says what it always said."""
    from backend.cli import main
    photo = shared_data / "photos" / "group" / "170149601_13aa4e4483_c.jpg"
    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        rc = main(["reconstruct", str(photo), "--out", str(tmp_path), "--json"])
    (record,) = [json.loads(x) for x in buf.getvalue().splitlines() if x.startswith("{")]
    assert rc == 1 and "no person found" in record["error"]
    assert not list(tmp_path.glob("*.doppel"))
