"""Time-exact resampling of real motion clips without Blender: frame counts, durations and
interpolated poses at frame rates that do not divide the source's."""

from __future__ import annotations

import numpy as np
import pytest

from rig.motion import load_motion, output_frame_count, prepare_clip, resample
from rig import rotations as Q
from motion_clips import (AMASS_601, BYTES_GENDER, WALK, clips, motions,  # noqa: F401 (fixtures)
                          skeleton)


# --- time-exact resampling -----------------------------------------------------------------

def test_601_frames_at_120_fps_give_151_at_30(clips):
    clip = clips[AMASS_601]
    assert clip.frame_count == 151 and clip.source_duration == pytest.approx(5.0)


def test_2997_fps_ends_within_one_frame_of_the_duration(motions, skeleton):
    for name in (AMASS_601, WALK, BYTES_GENDER):
        clip = prepare_clip(motions / name, skeleton, 30000 / 1001)
        end = (clip.frame_count - 1) / clip.fps
        assert abs(end - clip.source_duration) < 1 / clip.fps, name


def test_100_fps_source_at_30_keeps_duration_and_timing(motions, skeleton, tmp_path):
    # A real CMU clip relabelled as 100 fps (its frames unchanged), and an AMASS one.
    text = (motions / WALK).read_text().replace("Frame Time: .0083333", "Frame Time: .01")
    bvh = tmp_path / "walk_100fps.bvh"
    bvh.write_text(text)
    src = np.load(motions / AMASS_601)
    npz = tmp_path / "amass_100fps.npz"
    np.savez(npz, poses=src["poses"], trans=src["trans"], mocap_framerate=np.array(100.0))
    for path, frames in ((bvh, 344), (npz, 601)):
        source = load_motion(path)
        clip = prepare_clip(path, skeleton, 30.0)
        duration = (frames - 1) / 100
        assert clip.frame_count == output_frame_count(frames, 100.0, 30.0)
        assert abs((clip.frame_count - 1) / 30 - duration) < 1 / 30
        # Not integer decimation (every 3rd frame would play 11 % slow): output frame k
        # holds the source pose at k/30 s, interpolated.
        assert clip.frame_count == int(duration * 30) + 1 != len(range(0, frames, 3))
        for k in (7, 50, clip.frame_count - 1):
            u = k * 100 / 30
            i, f = int(u), u - int(u)
            j = min(i + 1, frames - 1)
            want = source.root_position[i] * (1 - f) + source.root_position[j] * f
            assert np.allclose(clip.source.root_position[k], want, atol=1e-9)


def test_resample_slerps_rotations(motions):
    m = load_motion(motions / WALK)
    r = resample(m, 50.0)
    k = 13                                   # 13/50 s = source frame 31.2
    want = Q.slerp(m.rotations[31], m.rotations[32], np.full(m.skeleton.joint_count, 0.2))
    assert np.allclose(np.abs(np.sum(r.rotations[k] * want, -1)), 1.0, atol=1e-9)
