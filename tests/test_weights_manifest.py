"""`doppel weights check`: the manifest parses, and present / missing / corrupt files are told apart."""

from __future__ import annotations

import hashlib

from backend.weights import WeightEntry, check_entry, load_manifest


def test_manifest_lists_optional_files_all_absent_by_default(tmp_path, monkeypatch):
    monkeypatch.setenv("DOPPEL_WEIGHTS_DIR", str(tmp_path))
    entries = load_manifest()
    assert len(entries) >= 5
    assert all(e.licence and e.source and e.used_by for e in entries)
    # Entries installed into a Python package (the heavy pose model) are not "added" files.
    assert {check_entry(e) for e in entries if not e.base_package} == {"missing"}


def test_check_tells_ok_from_corrupt_and_unverified(tmp_path, monkeypatch):
    monkeypatch.setenv("DOPPEL_WEIGHTS_DIR", str(tmp_path))
    (tmp_path / "m.bin").write_bytes(b"model bytes")
    digest = hashlib.sha256(b"model bytes").hexdigest()
    entry = dict(name="m", path="m.bin", licence="x", source="y", used_by="z")
    assert check_entry(WeightEntry(sha256=digest, **entry)) == "ok"
    assert check_entry(WeightEntry(sha256="0" * 64, **entry)) == "CORRUPT"
    assert check_entry(WeightEntry(sha256="", **entry)) == "present, unverified"


def test_cli_reports_every_entry(tmp_path, monkeypatch, capsys):
    from backend.cli import main
    monkeypatch.setenv("DOPPEL_WEIGHTS_DIR", str(tmp_path))
    assert main(["weights", "check"]) == 0
    out = capsys.readouterr().out
    for e in load_manifest():
        assert e.name in out
    assert "present" in out
