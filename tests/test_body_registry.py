"""The body registry: one entry per model with its availability, the fitting rig obtained from
the body model (no name tests), the same posing interface for Anny and the SMPL family. (No
import cycles, and body models below fitting: import-linter contracts, tests/test_layers.py.)"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from backend.bodies import (available_body_models, body_entry, get_body_model,
                            register_body_model, registered_body_models, unavailable_reason)
from backend.errors import JobInputError
from rig.kinematics import posed_bone_matrices
from smpl_model_maker import smpl_dir, write_model  # noqa: F401  (smpl_dir: fixture)

REPO = Path(__file__).resolve().parents[1]



def test_entries_and_availability(smpl_dir):
    assert registered_body_models() == ["anny", "smpl", "smplh", "smplx"]
    assert available_body_models() == ["anny"]
    entry = body_entry("smplx")
    assert not entry.available()
    assert "model files not found at" in entry.unavailable_reason()
    assert unavailable_reason("smplx") == entry.unavailable_reason()
    assert body_entry("anny").available() and unavailable_reason("anny") is None
    with pytest.raises(JobInputError, match="unknown body model 'nope'"):
        body_entry("nope")
    with pytest.raises(JobInputError, match="unknown body model"):
        get_body_model("nope")
    write_model(smpl_dir, "smplx", "neutral", "npz")
    assert body_entry("smplx").available()
    assert available_body_models() == ["anny", "smplx"]


def test_registering_a_model(monkeypatch):
    """A new model is one registration; it is offered while its check says so."""
    from backend.bodies import registry
    monkeypatch.setattr(registry, "_ENTRIES", dict(registry._ENTRIES))
    monkeypatch.setattr(registry, "_INSTANCES", dict(registry._INSTANCES))
    present = {"yes": False}
    made = []
    register_body_model("toy", lambda: made.append(1) or object(),
                        unavailable=lambda: None if present["yes"] else "no toy files")
    assert "toy" not in available_body_models() and "toy" in registered_body_models()
    with pytest.raises(JobInputError, match="no toy files"):
        get_body_model("toy")
    present["yes"] = True
    assert get_body_model("toy") is get_body_model("toy") and made == [1]


def test_listing_loads_no_model():
    """hello lists models without importing torch or any model module."""
    code = ("import sys; from backend.bodies import available_body_models; "
            "available_body_models(); "
            "bad = [m for m in ('torch', 'smplx', 'anny', 'backend.bodies.anny_body', "
            "'backend.bodies.smpl_body') if m in sys.modules]; "
            "assert not bad, bad")
    env = dict(os.environ, PYTHONPATH=str(REPO))
    subprocess.run([sys.executable, "-c", code], check=True, env=env, cwd=REPO)


@pytest.mark.parametrize("name", ["anny", "smpl"])
def test_models_implement_the_protocols(smpl_dir, name):
    from backend.bodies import BodyModel, FitRig
    from backend.fit.rigs import fit_rig
    write_model(smpl_dir, "smpl", "neutral", "npz")
    assert isinstance(get_body_model(name), BodyModel)
    assert isinstance(fit_rig(name)[0], FitRig)


def test_fit_rig_comes_from_the_body(smpl_dir):
    from backend.bodies.smpl_fit import SMPLFitRig
    from backend.fit.rigs import fit_rig
    write_model(smpl_dir, "smpl", "neutral", "npz")
    body = get_body_model("smpl")
    assert isinstance(body.fit_rig(), SMPLFitRig)
    rig, edges = fit_rig("smpl")
    assert rig.body is body and fit_rig("smpl")[0] is rig     # cached per rig_key
    assert body.rig_key()[0] == "smpl" and body.rig_key()[1].endswith("SMPL_NEUTRAL.npz")
    assert edges.shape[1] == 2


@pytest.mark.parametrize("model", ["smpl", "smplx"])
def test_smpl_pose_bones(smpl_dir, model):
    """pose_bones: Blender's skinning transforms of the avatar's rig, and smplx's own posed
    mesh, agree (this procedural file has rigid weights and no pose correctives)."""
    write_model(smpl_dir, model, "neutral", "npz")
    body = get_body_model(model)
    rest = body.rest_body({"betas": [0.5, -0.3]})
    quats = np.tile([1.0, 0.0, 0.0, 0.0], (len(rest.bone_names), 1))
    transforms, verts = body.pose_bones({"betas": [0.5, -0.3]}, quats)
    np.testing.assert_allclose(transforms, np.tile(np.eye(4), (len(quats), 1, 1)), atol=1e-6)
    np.testing.assert_allclose(verts, rest.vertices, atol=1e-5)
    rng = np.random.default_rng(5)
    rv = rng.normal(scale=0.4, size=(len(quats), 3))
    from scipy.spatial.transform import Rotation
    quats = Rotation.from_rotvec(rv).as_quat()[:, [3, 0, 1, 2]]
    transforms, verts = body.pose_bones({"betas": [0.5, -0.3]}, quats)
    posed = posed_bone_matrices(rest.matrices, rest.parents, quats)
    np.testing.assert_allclose(transforms, posed @ np.linalg.inv(rest.matrices), atol=1e-5)
    vh = np.c_[rest.vertices, np.ones(len(rest.vertices))]
    skinned = sum(rest.skin_weights[:, k, None] *
                  np.einsum("vij,vj->vi", transforms[rest.skin_indices[:, k]], vh)[:, :3]
                  for k in range(rest.skin_indices.shape[1]))
    np.testing.assert_allclose(verts, skinned, atol=5e-5)
    assert body.part_faces(["head"]) == {}
