"""SMPL, SMPL-H and SMPL-X as Doppel body models, loaded from the user's files by ``smplx``.

Parameters: ``betas`` (list of shape coefficients, missing ones are 0), or ``beta0`` ...
``betaN`` one by one (what the CLI's ``--set beta0=1.5`` gives), and ``gender`` ("neutral",
"male" or "female"; the default is the first present in that order).

The rest body is the shaped template (v_template + shapedirs . betas) in Blender axes, lifted
so the feet touch z = 0; joints come from J_regressor; bones follow smpl_skeleton.py; skin
weights are the model's dense LBS weights cut to the top 4 per vertex.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any, Mapping, Sequence

import numpy as np
import torch

from protocol.constants import ErrorCode

from ..errors import JobInputError
from .protocol import RestBody
from .smpl_files import (GENDERS, LABELS, README_HINT, ModelKind, available_genders,
                         find_model_file, find_uv_file, missing_message)
from .smpl_loader import MAX_BETAS, load_smplx_module
from .smpl_skeleton import SMPL_TO_BLENDER, bone_tails, joint_names, rest_frames
from .smpl_uv import read_uv_obj

SKIN_TOP_K = 4
BETA_RANGE = (-5.0, 5.0)     # shape coefficients are in standard deviations


class SMPLFamilyBody:
    """One of smpl / smplh / smplx (implements protocol.BodyModel). Loaded smplx modules are
    cached per file (and mtime)."""

    def __init__(self, model: ModelKind) -> None:
        self.model = model
        self.name = model
        self.label = LABELS[model]
        self.parameter_defaults = {f"beta{i}": 0.0 for i in range(10)}
        self.parameter_ranges = {k: BETA_RANGE for k in self.parameter_defaults}
        self._cache: dict[tuple[str, float], torch.nn.Module] = {}
        self._lock = threading.Lock()

    # ---- parameters -------------------------------------------------------------------------
    def check_params(self, params: Mapping[str, object]) -> dict[str, Any]:
        """-> {"gender": str, "betas": [float, ...]}; rejects unknown names and bad values."""
        genders = available_genders(self.model)
        if not genders:
            raise JobInputError(missing_message(self.model))
        gender = params.get("gender", genders[0])
        if gender not in GENDERS:
            raise JobInputError(f"{self.name} 'gender' must be one of {', '.join(GENDERS)}, "
                                f"got {gender!r}")
        if gender not in genders:
            raise JobInputError(f"no {gender} {self.label} model file is installed (present: "
                                f"{', '.join(genders)}); {README_HINT}")
        betas = params.get("betas", [])
        if not isinstance(betas, (list, tuple)) or len(betas) > MAX_BETAS:
            raise JobInputError(f"{self.name} 'betas' must be a list of at most {MAX_BETAS} "
                                f"numbers")
        betas = [self._number(f"betas[{i}]", v) for i, v in enumerate(betas)]
        for key, value in params.items():
            if key in ("gender", "betas"):
                continue
            if not (key.startswith("beta") and key[4:].isdigit()
                    and int(key[4:]) < MAX_BETAS):
                raise JobInputError(f"unknown {self.name} parameter {key!r}; valid: gender, "
                                    f"betas, beta0..beta{MAX_BETAS - 1}")
            i = int(key[4:])
            betas += [0.0] * (i + 1 - len(betas))
            betas[i] = self._number(key, value)
        return {"gender": gender, "betas": betas}

    def clip_params(self, clip_path: str | Path) -> tuple[dict[str, Any], list[str]]:
        """"Use the clip's body": an AMASS / SMPL .npz's ``betas`` and ``gender`` as
        parameters for this model (-> (params, warnings)). The clip's gender is used when its
        file is installed, else the first present one (said in a warning)."""
        name = Path(clip_path).name
        try:
            with np.load(clip_path, allow_pickle=False) as data:   # never unpickle a download
                betas = np.asarray(data["betas"], dtype=np.float64).reshape(-1) \
                    if "betas" in data.files else np.zeros(0)
                raw = np.asarray(data["gender"]).reshape(-1)[:1] if "gender" in data.files \
                    else np.zeros(0)
        except (OSError, ValueError, KeyError) as exc:
            raise JobInputError(f"cannot read the body of clip '{name}': {exc}",
                                code=ErrorCode.BAD_INPUT) from exc
        warnings = []
        g = raw[0] if raw.size else b""
        g = (g.decode("utf-8", "replace") if isinstance(g, bytes) else str(g)).strip().lower()
        present = available_genders(self.model)
        gender = g if g in present else (present[0] if present else "neutral")
        if g and g != gender:
            warnings.append(f"clip '{name}' is {g}, but no {g} {self.label} file is installed; "
                            f"using {gender}")
        lo, hi = BETA_RANGE
        if betas.size and not np.isfinite(betas).all():
            raise JobInputError(f"clip '{name}' has non-finite betas", code=ErrorCode.BAD_INPUT)
        if ((betas < lo) | (betas > hi)).any():
            warnings.append(f"clip '{name}' has betas outside {lo}..{hi}; clamped")
        return {"gender": gender, "betas": np.clip(betas, lo, hi).tolist()}, warnings

    def _number(self, key: str, value: object) -> float:
        if type(value) not in (int, float) or not np.isfinite(value):
            raise JobInputError(f"{self.name} parameter '{key}' must be a number, got {value!r}")
        lo, hi = BETA_RANGE
        if not lo <= value <= hi:
            raise JobInputError(f"{self.name} parameter '{key}' = {value} is outside {lo}..{hi}")
        return float(value)

    # ---- loading ----------------------------------------------------------------------------
    def module(self, gender: str) -> torch.nn.Module:
        """The smplx module for ``gender`` (loaded once per file version)."""
        path = find_model_file(self.model, gender)
        if path is None:
            raise JobInputError(missing_message(self.model))
        key = (str(path), path.stat().st_mtime)
        with self._lock:
            if key not in self._cache:
                self._cache[key] = load_smplx_module(self.model, path, gender)
            return self._cache[key]

    # ---- rest body --------------------------------------------------------------------------
    @torch.no_grad()
    def shaped(self, params: Mapping[str, object]) -> tuple[np.ndarray, np.ndarray, list[str]]:
        """Native-axes (SMPL, Y up) shaped vertices (V, 3) and joints (J, 3), plus warnings."""
        from smplx.lbs import blend_shapes, vertices2joints
        p = self.check_params(params)
        m = self.module(p["gender"])
        warnings = []
        betas = np.zeros(m.num_betas, dtype=np.float32)
        n = min(len(p["betas"]), m.num_betas)
        betas[:n] = p["betas"][:n]
        if any(p["betas"][n:]):
            warnings.append(f"this {self.label} file has {m.num_betas} shape coefficients; "
                            f"betas beyond the first {m.num_betas} were ignored")
        v = m.v_template[None] + blend_shapes(torch.from_numpy(betas)[None], m.shapedirs)
        j = vertices2joints(m.J_regressor, v)
        return v[0].numpy().astype(np.float64), j[0].numpy().astype(np.float64), warnings

    @torch.no_grad()
    def posed(self, params: Mapping[str, object], axis_angle: np.ndarray,
              trans: np.ndarray | None = None,
              world: str = "z_up") -> tuple[np.ndarray, np.ndarray]:
        """smplx's own skinning (with pose correctives) of (T, J, 3) local axis-angles, for
        fitting and checks. -> (T, V, 3) vertices and (T, J, 3) joints in Blender axes, metres.
        world "z_up": the root rotation maps into a Z-up world as AMASS's does, and ``trans``
        (T, 3) is in that world; "y_up": SMPL's own world, turned into Blender axes."""
        from smplx.lbs import lbs
        if world not in ("z_up", "y_up"):
            raise ValueError(f"world must be 'z_up' or 'y_up', got {world!r}")
        p = self.check_params(params)
        m = self.module(p["gender"])
        aa = torch.as_tensor(np.asarray(axis_angle, dtype=np.float32))
        if aa.ndim != 3 or aa.shape[1:] != (m.J_regressor.shape[0], 3):
            raise ValueError(f"axis_angle must be (T, {m.J_regressor.shape[0]}, 3), "
                             f"got {tuple(aa.shape)}")
        betas = np.zeros((1, m.num_betas), dtype=np.float32)
        n = min(len(p["betas"]), m.num_betas)
        betas[0, :n] = p["betas"][:n]
        v, j = lbs(torch.from_numpy(betas).expand(len(aa), -1), aa.reshape(len(aa), -1),
                   m.v_template, m.shapedirs, m.posedirs, m.J_regressor, m.parents,
                   m.lbs_weights)
        v, j = v.numpy().astype(np.float64), j.numpy().astype(np.float64)
        if world == "y_up":
            v, j = v @ SMPL_TO_BLENDER.T, j @ SMPL_TO_BLENDER.T
        if trans is not None:
            t = np.asarray(trans, dtype=np.float64)
            t = t @ SMPL_TO_BLENDER.T if world == "y_up" else t
            v, j = v + t[:, None], j + t[:, None]
        return v, j

    def rest_body(self, params: Mapping[str, object]) -> RestBody:
        p = self.check_params(params)
        m = self.module(p["gender"])
        verts, joints, warnings = self.shaped(p)
        pelvis_native = joints[0].copy()
        verts, joints = verts @ SMPL_TO_BLENDER.T, joints @ SMPL_TO_BLENDER.T
        lift = np.array([0.0, 0.0, -verts[:, 2].min()])
        verts, heads = verts + lift, joints + lift
        names = joint_names(self.model, len(heads))
        parents = m.parents.numpy().astype(np.int32)
        tails = bone_tails(names, parents, heads)
        mats = rest_frames(heads, tails)
        faces = np.asarray(m.faces, dtype=np.int64).astype(np.int32)
        idx, wts = top_k_weights(m.lbs_weights.numpy(), SKIN_TOP_K)
        uvs = None
        uv_path = find_uv_file(self.model)
        if uv_path is not None:
            uvs = read_uv_obj(uv_path, faces, len(verts))
        if uvs is None:
            warnings.append(f"no UV layout for {self.label} was found in the SMPL folder "
                            f"(e.g. {self.model}_uv.obj); the body has no texture coordinates")
        return RestBody(vertices=verts.astype(np.float32), faces=faces, uvs=uvs,
                        skin_indices=idx, skin_weights=wts, bone_names=list(names),
                        parents=parents, heads=heads.astype(np.float32),
                        tails=tails.astype(np.float32), matrices=mats.astype(np.float32),
                        warnings=warnings, metadata={"smpl": {
                            "model": self.model, "gender": p["gender"],
                            "betas": [float(b) for b in p["betas"]],
                            # what rig.motion.pose_transfer.smpl_root_offset needs to place clip frames
                            "pelvis_native": [float(x) for x in pelvis_native],
                            "lift": float(lift[2]),
                            "file": find_model_file(self.model, p["gender"]).name}})


    # ---- posing, parts, fitting --------------------------------------------------------------
    def pose_bones(self, params: Mapping[str, object],
                   quats: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(B, 4) pose quaternions (w, x, y, z) of rest_body's bones -> ((B, 4, 4) skinning
        transforms as Blender's armature applies them, (V, 3) vertices as smplx skins them,
        pose correctives included), float64, rest_body's frame (feet on z = 0 at rest)."""
        from rig.kinematics import posed_bone_matrices
        from rig.motion.pose_transfer import pose_to_smpl
        rest = self.rest_body(params)
        quats = np.asarray(quats, dtype=np.float64)
        posed = posed_bone_matrices(rest.matrices, rest.parents, quats)
        transforms = posed @ np.linalg.inv(rest.matrices.astype(np.float64))
        # y_up: the root rotates in SMPL's own world, which rest_body turned into Blender's.
        aa = pose_to_smpl(quats[None], rest.bone_names, rest.matrices, rest.bone_names,
                          world="y_up")
        verts, _ = self.posed(params, aa, world="y_up")
        return transforms, verts[0] + [0.0, 0.0, rest.metadata["smpl"]["lift"]]

    def part_faces(self, labels: Sequence[str]) -> dict[str, np.ndarray]:
        """SMPL files carry no body-part segmentation: every label is left out."""
        return {}

    def fit_rig(self):
        from .smpl_fit import SMPLFitRig     # built from the first installed gender's file
        return SMPLFitRig(self)

    def rig_key(self) -> tuple:
        """The model file the rig is built from, and its mtime: a user who swaps files while
        the server runs gets a rig for the new ones."""
        genders = available_genders(self.model)
        path = find_model_file(self.model, genders[0]) if genders else None
        return (self.name,) if path is None else (self.name, str(path), path.stat().st_mtime)


def top_k_weights(dense: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """(V, J) dense weights -> (V, k) int32 bone indices and float32 weights summing to 1."""
    k = min(k, dense.shape[1])
    idx = np.argsort(-dense, axis=1, kind="stable")[:, :k]
    w = np.clip(np.take_along_axis(dense, idx, axis=1), 0.0, None)
    s = w.sum(axis=1, keepdims=True)
    w = np.where(s > 1e-12, w / np.maximum(s, 1e-12), np.eye(1, k))  # unweighted -> 1st bone
    return idx.astype(np.int32), w.astype(np.float32)
