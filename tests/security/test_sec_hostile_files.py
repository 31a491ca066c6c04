"""Issue 18, point 4: hostile files fail with one clean error (ProtocolError bad_file,
MotionError), quickly and in bounded memory, in the protocol, the CLI and the server."""

from __future__ import annotations

import gc
import time
from pathlib import Path

import pytest

from rig.motion import errors as motion_limits
from rig.motion.amass import load_smpl_npz
from rig.motion.bvh import load_bvh
from rig.motion.errors import MotionError
from protocol import ErrorCode, ProtocolError, load_avatar
from sec_helpers import (MiB, huge_shape_doppel, million_frame_npz, nested_bvh,
                         nested_metadata_doppel, rss_bytes, simple_bvh, wide_long_bvh)

HOSTILE_AVATARS = {"nested metadata": nested_metadata_doppel, "huge shape": huge_shape_doppel}


@pytest.mark.parametrize("make", HOSTILE_AVATARS.values(), ids=HOSTILE_AVATARS.keys())
def test_hostile_avatar_files_are_bad_file(make, tmp_path):
    path = tmp_path / "evil.doppel"
    path.write_bytes(make())
    with pytest.raises(ProtocolError) as exc:
        load_avatar(path)
    assert exc.value.code == ErrorCode.BAD_FILE


@pytest.mark.parametrize("make", HOSTILE_AVATARS.values(), ids=HOSTILE_AVATARS.keys())
def test_doppel_blend_prints_one_sentence(make, tmp_path, capsys):
    from backend.cli import main
    path = tmp_path / "evil.doppel"
    path.write_bytes(make())
    assert main(["blend", str(path), "--out", str(tmp_path / "x.blend")]) == 1
    err = capsys.readouterr().err.strip()
    assert err.startswith("doppel: error:") and "Traceback" not in err and "\n" not in err


@pytest.mark.parametrize("make", HOSTILE_AVATARS.values(), ids=HOSTILE_AVATARS.keys())
def test_a_hostile_stored_result_is_bad_file_from_the_server(make, tmp_path):
    from protocol.client import Client
    from server_fixtures import running_server
    from server_jobs import TEST_JOBS
    with running_server(tmp_path, jobs=TEST_JOBS) as srv, Client(srv.address) as c:
        job_id = c.run_job("fast", {}, timeout=30) and c.status()[-1]["job_id"]
        (srv.store.root / f"{job_id}.doppel").write_bytes(make())     # planted on disk
        with pytest.raises(ProtocolError) as exc:
            c.fetch(job_id)
        assert exc.value.code == ErrorCode.BAD_FILE


def _bvh(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "evil.bvh"
    path.write_text(text)
    return path


@pytest.mark.parametrize("text,words", [
    (nested_bvh(5000), "nested more than"),
    (simple_bvh(channels="-4"), "channel count"),
    (simple_bvh(channels="99999999999999999999 Xrotation"), "channel count"),
    (simple_bvh(frame_time="1e-300"), "frames per second"),
    (simple_bvh(frame_time="1e300"), "frames per second"),
    (simple_bvh(frame_time="nan"), "Frame Time"),
], ids=["5000 nested joints", "CHANNELS -4", "CHANNELS huge", "Frame Time 1e-300",
        "Frame Time 1e300", "Frame Time nan"])
def test_hostile_bvh_is_a_motion_error(tmp_path, text, words):
    with pytest.raises(MotionError, match=words):
        load_bvh(_bvh(tmp_path, text))


@pytest.mark.parametrize("joints,frames", [(2001, 20_000), (900, 20_000)])
def test_a_small_bvh_claiming_a_huge_clip_is_refused_fast(tmp_path, joints, frames):
    """Before: 0.17 MB, 2,001 joints x 20,000 frames took 24 s and 5 GB."""
    path = _bvh(tmp_path, wide_long_bvh(joints, frames))
    gc.collect()
    before, start = rss_bytes(), time.perf_counter()
    with pytest.raises(MotionError, match="joints"):
        load_bvh(path)
    took, grown = time.perf_counter() - start, rss_bytes() - before
    print(f"{path.stat().st_size / MiB:.2f} MB BVH, {joints} x {frames}: refused in "
          f"{took:.2f} s, RSS +{grown / MiB:.0f} MiB")
    assert took < 2.0 and grown < 100 * MiB


def test_an_npz_claiming_a_million_frames_is_refused_before_loading(tmp_path):
    """Before: a 1.2 MB AMASS .npz claiming 1M frames grew `doppel animate` to 9.8 GB."""
    path = million_frame_npz(tmp_path / "evil.npz")
    assert path.stat().st_size < 2 * MiB
    gc.collect()
    before, start = rss_bytes(), time.perf_counter()
    with pytest.raises(MotionError):
        load_smpl_npz(path)
    took, grown = time.perf_counter() - start, rss_bytes() - before
    print(f"{path.stat().st_size / MiB:.2f} MB npz claiming 1M frames: refused in {took:.3f} s, "
          f"RSS +{grown / MiB:.0f} MiB")
    assert took < 1.0 and grown < 50 * MiB


def test_npz_frame_rate_bounds(tmp_path):
    import numpy as np
    for fps in (1e-300, 1e300, 0.01):
        path = tmp_path / "rate.npz"
        np.savez(path, poses=np.zeros((2, 156)), trans=np.zeros((2, 3)),
                 mocap_framerate=np.array(fps))
        with pytest.raises(MotionError, match="fps|frame rate"):
            load_smpl_npz(path)
    assert motion_limits.MIN_FPS <= 24 <= 120 <= motion_limits.MAX_FPS


def test_doppel_animate_reports_a_hostile_clip_in_one_sentence(tmp_path, capsys,
                                                               anny_avatar_file):
    from backend.cli import main
    clip = _bvh(tmp_path, nested_bvh(5000))
    code = main(["animate", str(anny_avatar_file), str(clip), "--out", str(tmp_path / "o.blend")])
    err = capsys.readouterr().err.strip()
    assert code != 0 and "Traceback" not in err and err.startswith("doppel: error:"), err


class _FakeClient:
    """Hands the add-on's JobWatch whatever a hostile server would send."""

    def __init__(self, messages):
        self.messages = list(messages)

    def send(self, kind, fields=None, arrays=None):
        return "submit-1"

    def poll(self, timeout=0.0):
        out, self.messages = self.messages, []
        return out


@pytest.mark.parametrize("avatar", [
    {"metadata": [[[[[]]]]]},                                  # no skeleton at all
    {"skeleton": {"names": ["a"], "parents": "missing", "heads": None, "tails": None,
                  "matrices": None}, "layers": [], "name": "../../x"},
    "not an object",
], ids=["nested", "missing array", "not an object"])
def test_the_addon_poll_loop_turns_a_hostile_result_into_one_error(avatar):
    from blender_addon.io.job_watch import JobWatch
    from protocol import Message
    accepted = Message("accepted", {"job_id": "a" * 32, "job_kind": "body"}, re="submit-1")
    result = Message("result", {"job_id": "a" * 32, "result": {"type": "avatar",
                                                               "avatar": avatar}})
    watch = JobWatch(_FakeClient([accepted, result]), "body", {}, reply_timeout=5.0)
    assert watch.step() is False                               # no exception escapes
    assert watch.state == "failed" and watch.error.code == ErrorCode.BAD_FILE
