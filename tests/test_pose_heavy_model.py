"""BlazePose's heavy landmark model: used when present and hash-checked, else the full model
with one log line; `doppel weights check` lists it."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging

import pytest

from backend import weights
from backend.perception import heavy_model


def _with_heavy_at(monkeypatch, path, sha: str) -> None:
    """Point the manifest's heavy-model entry at ``path`` with expected digest ``sha``."""
    real = weights.load_manifest

    def fake(*a, **kw):
        return [dataclasses.replace(e, base_package="", base_env="DOPPEL_TEST_HEAVY",
                                    path=path.name, sha256=sha)
                if e.name == heavy_model.HEAVY_ENTRY else e for e in real(*a, **kw)]
    monkeypatch.setenv("DOPPEL_TEST_HEAVY", str(path.parent))
    monkeypatch.delenv("DOPPEL_POSE_MODEL", raising=False)     # the default: heavy
    monkeypatch.setattr(weights, "load_manifest", fake)
    monkeypatch.setattr(heavy_model, "_WARNED", set())


def test_falls_back_to_the_full_model_when_the_file_is_absent(tmp_path, monkeypatch, caplog):
    _with_heavy_at(monkeypatch, tmp_path / "pose_landmark_heavy.tflite", "0" * 64)
    with caplog.at_level(logging.WARNING, logger="doppel.perception"):
        assert heavy_model.model_complexity() == 1
        assert heavy_model.model_complexity() == 1      # the people finder asks too
    lines = [r.getMessage() for r in caplog.records if r.name == "doppel.perception"]
    assert len(lines) == 1 and "missing" in lines[0] and "full model" in lines[0]


@pytest.mark.parametrize("stored, expect", [(b"heavy model", 2), (b"tampered", 1)])
def test_heavy_only_when_the_hash_checks_out(tmp_path, monkeypatch, stored, expect):
    path = tmp_path / "pose_landmark_heavy.tflite"
    path.write_bytes(stored)
    _with_heavy_at(monkeypatch, path, hashlib.sha256(b"heavy model").hexdigest())
    assert heavy_model.model_complexity() == expect


def test_manifest_entry_points_into_the_installed_mediapipe():
    entry = next(e for e in weights.load_manifest() if e.name == heavy_model.HEAVY_ENTRY)
    assert len(entry.sha256) == 64 and entry.licence == "Apache-2.0"
    loc = entry.location()
    assert loc.name == "pose_landmark_heavy.tflite"
    assert (loc.parent / "pose_landmark_full.tflite").is_file()    # the wheel's own folder


def test_weights_check_reports_the_heavy_model(tmp_path, monkeypatch, capsys):
    from backend.cli import main
    path = tmp_path / "pose_landmark_heavy.tflite"
    path.write_bytes(b"heavy model")
    _with_heavy_at(monkeypatch, path, hashlib.sha256(b"heavy model").hexdigest())
    monkeypatch.setattr("backend.cli.weights.load_manifest", weights.load_manifest)
    assert main(["weights", "check", "--json"]) == 0
    rows = {r["name"]: r for r in map(json.loads, capsys.readouterr().out.splitlines())}
    assert rows[heavy_model.HEAVY_ENTRY]["status"] == "ok"
    assert rows[heavy_model.HEAVY_ENTRY]["verified"] is True
    assert main(["weights", "check"]) == 0
    assert "pose landmark model for reconstruction: heavy" in capsys.readouterr().out
    path.unlink()
    assert main(["weights", "check"]) == 0
    out = capsys.readouterr().out
    assert heavy_model.HEAVY_ENTRY in out and "missing" in out
    assert "pose landmark model for reconstruction: full (the heavy model is missing" in out


def test_the_full_model_when_asked_for(tmp_path, monkeypatch, caplog):
    path = tmp_path / "pose_landmark_heavy.tflite"
    path.write_bytes(b"heavy model")
    _with_heavy_at(monkeypatch, path, hashlib.sha256(b"heavy model").hexdigest())
    monkeypatch.setenv("DOPPEL_POSE_MODEL", "full")
    with caplog.at_level(logging.WARNING, logger="doppel.perception"):
        assert heavy_model.model_complexity() == 1
    assert not caplog.records                  # asked for: no warning
