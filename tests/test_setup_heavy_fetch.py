"""scripts/fetch_heavy_pose (run by scripts/setup): installs the heavy pose model only when its
sha256 matches the manifest, and never fails the set-up (offline, npm missing, bad file)."""

from __future__ import annotations

import hashlib
import io
import os
import subprocess
import tarfile
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[1] / "scripts" / "fetch_heavy_pose"
PKG = "@mediapipe/pose@0.5.1675469404"


def run(tmp: Path, sha: str) -> subprocess.CompletedProcess:
    """The script with a stand-in python that reports (package, sha256, destination) and a
    private HOME (its npm cache), so nothing outside ``tmp`` is touched."""
    fake = tmp / "fake_python"
    fake.write_text(f"#!/bin/sh\ncat >/dev/null\necho '{PKG} {sha} {tmp / 'mp' / 'heavy.tflite'}'\n")
    fake.chmod(0o755)
    env = dict(os.environ, HOME=str(tmp / "home"), XDG_CACHE_HOME=str(tmp / "home" / ".cache"),
               DOPPEL_SETUP_PYTHON=str(fake), npm_config_registry="http://127.0.0.1:9",
               npm_config_fetch_retries="0")
    return subprocess.run(["bash", str(SCRIPT)], env=env, capture_output=True, text=True,
                          timeout=120)


def cached_tgz(tmp: Path, payload: bytes) -> None:
    """A cached `npm pack` tarball holding ``payload`` as the heavy model."""
    cache = tmp / "home" / ".cache" / "doppel" / "npm"
    cache.mkdir(parents=True)
    with tarfile.open(cache / "mediapipe-pose-0.5.1675469404.tgz", "w:gz") as tar:
        info = tarfile.TarInfo("package/pose_landmark_heavy.tflite")
        info.size = len(payload)
        tar.addfile(info, io.BytesIO(payload))


def test_offline_warns_and_does_not_fail(tmp_path):
    res = run(tmp_path, "0" * 64)
    assert res.returncode == 0
    assert "full model" in res.stderr
    assert not (tmp_path / "mp" / "heavy.tflite").exists()


def test_installs_a_matching_file_once(tmp_path):
    cached_tgz(tmp_path, b"heavy weights")
    sha = hashlib.sha256(b"heavy weights").hexdigest()
    first = run(tmp_path, sha)
    assert first.returncode == 0 and "installed" in first.stderr
    assert (tmp_path / "mp" / "heavy.tflite").read_bytes() == b"heavy weights"
    again = run(tmp_path, sha)                 # idempotent: nothing to do, nothing said
    assert again.returncode == 0 and again.stderr == ""


@pytest.mark.parametrize("payload", [b"tampered weights"])
def test_refuses_a_file_whose_hash_differs(tmp_path, payload):
    cached_tgz(tmp_path, payload)
    res = run(tmp_path, hashlib.sha256(b"heavy weights").hexdigest())
    assert res.returncode == 0 and "does not match" in res.stderr
    assert not (tmp_path / "mp" / "heavy.tflite").exists()
