"""Issue 18, point 3: SMPL-family model files are read without running code: an exact class
allow-list for .pkl, allow_pickle=False for .npz, and smplx never re-reads the user's file."""

from __future__ import annotations

import pickle
from pathlib import Path

import numpy as np
import pytest

from backend.errors import JobInputError
from backend.bodies.smpl_loader import _ModelUnpickler, _read_npz, _read_pickle, load_smplx_module
from smpl_model_maker import build_model, write_model


class _Exec:
    """Pickles as a call of numpy's own runstring (which exec()s its argument): a class a
    "numpy.*" allow-list lets through."""

    def __init__(self, marker: Path):
        self.code = f"open({str(marker)!r}, 'w').write('pwned')"

    def __reduce__(self):
        from numpy.testing._private.utils import runstring
        return runstring, (self.code, {})


class _System:
    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        import os
        return os.system, (f"touch {self.marker}",)


@pytest.mark.parametrize("payload", [_Exec, _System], ids=["numpy runstring", "os.system"])
def test_a_planted_pkl_cannot_run_code(tmp_path, payload):
    marker = tmp_path / "pwned"
    data = build_model("smpl")
    data["J_regressor"] = payload(marker)
    path = tmp_path / "SMPL_NEUTRAL.pkl"
    path.write_bytes(pickle.dumps(data, protocol=2))
    with pytest.raises(JobInputError) as exc:
        _read_pickle("smpl", path)
    assert "refers to" in str(exc.value)
    assert not marker.exists()


def test_the_allow_list_is_exact():
    allowed = _ModelUnpickler.ALLOWED
    assert all("." not in name for _, name in allowed)
    assert {m.split(".")[0] for m, _ in allowed} <= {"numpy", "scipy", "copy_reg", "copyreg",
                                                     "__builtin__", "builtins", "_codecs"}
    assert ("numpy.testing._private.utils", "runstring") not in allowed
    assert len(allowed) <= 14


def test_the_pkl_release_layout_still_loads(tmp_path):
    path = write_model(tmp_path, "smpl", "neutral", "pkl")       # scipy csc J_regressor
    data = _read_pickle("smpl", path)
    assert data["J_regressor"].shape == (24, data["v_template"].shape[0])


def test_npz_object_arrays_are_never_unpickled(tmp_path):
    marker = tmp_path / "pwned"
    data = build_model("smpl")
    path = tmp_path / "SMPL_NEUTRAL.npz"
    evil = np.empty(1, dtype=object)
    evil[0] = _System(marker)
    np.savez(path, joint2num=evil, **data)                        # pickled inside the npz
    loaded = _read_npz("smpl", path)
    assert "joint2num" not in loaded and "v_template" in loaded
    assert not marker.exists()


def test_smplx_gets_checked_arrays_not_the_users_file(tmp_path, monkeypatch):
    path = write_model(tmp_path, "smplx", "neutral", "npz")
    calls = []
    real_load = np.load

    def spy(file, *args, **kwargs):
        calls.append((str(file), kwargs.get("allow_pickle", False)))
        return real_load(file, *args, **kwargs)

    monkeypatch.setattr(np, "load", spy)
    module = load_smplx_module("smplx", path, "neutral")
    assert module is not None
    assert (str(path), True) not in calls, calls            # never unpickling-capable
    assert all(not allow for f, allow in calls if f == str(path)), calls


def test_weights_check_names_files_without_a_published_digest(tmp_path, monkeypatch, capsys):
    from backend.cli import main
    monkeypatch.setenv("DOPPEL_WEIGHTS_DIR", str(tmp_path))
    target = tmp_path / "sam" / "sam_vit_h_4b8939.pth"
    target.parent.mkdir(parents=True)
    target.write_bytes(b"not really a checkpoint")
    assert main(["weights", "check"]) == 0
    out = capsys.readouterr().out
    assert "UNVERIFIED: sam-vit-h" in out and "tampered" in out
