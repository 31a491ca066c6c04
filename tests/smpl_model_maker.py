"""A small procedurally made body in the exact file format of the SMPL / SMPL-H / SMPL-X releases.

The real model files are licensed and cannot be had in tests, so this writes a stand-in with the
same keys, dtypes and layout the ``smplx`` loader reads (v_template, shapedirs, posedirs,
J_regressor, weights, kintree_table, f, J, and the hand / landmark extras), as a pickle of a
plain dict (the .pkl releases) or an .npz. The body is a stick figure: one 6-sided tube per
joint, from the joint to its child (or a short leaf continuation), skinned rigidly to that
joint. Native SMPL axes: Y up, +Z forward, +X the body's left; metres.
"""

from __future__ import annotations

import pickle
from pathlib import Path

import numpy as np
import pytest
import scipy.sparse

BODY = {  # name: (parent, position); the SMPL template's joints, rounded
    "pelvis": (None, (0.0, 0.0, 0.0)),
    "left_hip": ("pelvis", (0.06, -0.09, 0.0)), "right_hip": ("pelvis", (-0.06, -0.09, 0.0)),
    "spine1": ("pelvis", (0.0, 0.11, -0.01)),
    "left_knee": ("left_hip", (0.10, -0.47, 0.0)), "right_knee": ("right_hip", (-0.10, -0.47, 0.0)),
    "spine2": ("spine1", (0.0, 0.24, 0.0)),
    "left_ankle": ("left_knee", (0.08, -0.87, -0.04)),
    "right_ankle": ("right_knee", (-0.08, -0.87, -0.04)),
    "spine3": ("spine2", (0.0, 0.30, 0.02)),
    "left_foot": ("left_ankle", (0.12, -0.93, 0.08)),
    "right_foot": ("right_ankle", (-0.12, -0.93, 0.08)),
    "neck": ("spine3", (0.0, 0.51, -0.01)),
    "left_collar": ("spine3", (0.07, 0.42, 0.0)), "right_collar": ("spine3", (-0.07, 0.42, 0.0)),
    "head": ("neck", (0.0, 0.60, 0.03)),
    "left_shoulder": ("left_collar", (0.17, 0.45, -0.01)),
    "right_shoulder": ("right_collar", (-0.17, 0.45, -0.01)),
    "left_elbow": ("left_shoulder", (0.42, 0.44, -0.03)),
    "right_elbow": ("right_shoulder", (-0.42, 0.44, -0.03)),
    "left_wrist": ("left_elbow", (0.67, 0.45, -0.02)),
    "right_wrist": ("right_elbow", (-0.67, 0.45, -0.02)),
}
SMPL_HANDS = {"left_hand": ("left_wrist", (0.76, 0.44, -0.03)),
              "right_hand": ("right_wrist", (-0.76, 0.44, -0.03))}
FACE = {"jaw": ("head", (0.0, 0.56, 0.07)),
        "left_eye_smplhf": ("head", (0.03, 0.64, 0.09)),
        "right_eye_smplhf": ("head", (-0.03, 0.64, 0.09))}
FINGERS = ("index", "middle", "pinky", "ring", "thumb")   # SMPL-H order
FINGER_Z = {"index": 0.03, "middle": 0.01, "pinky": -0.04, "ring": -0.015, "thumb": 0.06}


def _hands() -> dict:
    out = {}
    for side, sx in (("left", 1.0), ("right", -1.0)):
        wrist = np.array(BODY[f"{side}_wrist"][1])
        for finger in FINGERS:
            parent = f"{side}_wrist"
            for k in (1, 2, 3):
                pos = wrist + np.array([sx * (0.06 + 0.03 * k), -0.005 * k, FINGER_Z[finger]])
                name = f"{side}_{finger}{k}"
                out[name] = (parent, tuple(pos))
                parent = name
    return out


def skeleton(model: str) -> tuple[list[str], list[int], np.ndarray]:
    """Joint names, parents (-1 for the root) and (J, 3) positions for smpl / smplh / smplx."""
    table = dict(BODY)
    if model == "smpl":
        table.update(SMPL_HANDS)
    elif model == "smplh":
        table.update(_hands())
    else:
        table.update(FACE)
        table.update(_hands())
    names = list(table)
    parents = [-1 if table[n][0] is None else names.index(table[n][0]) for n in names]
    return names, parents, np.array([table[n][1] for n in names])


def _segment_end(j: int, names: list[str], parents: list[int], joints: np.ndarray) -> np.ndarray:
    kids = [c for c, p in enumerate(parents) if p == j]
    prefer = {"pelvis": "spine1", "spine3": "neck", "left_wrist": "left_middle1",
              "right_wrist": "right_middle1"}.get(names[j])
    if prefer in names and names.index(prefer) in kids:
        return joints[names.index(prefer)]
    if kids:
        return joints[kids[0]]
    if names[j] == "head":
        return joints[j] + [0.0, 0.12, 0.0]
    d = joints[j] - joints[parents[j]]
    return joints[j] + 0.05 * d / np.linalg.norm(d)


def build_model(model: str = "smpl", seed: int = 0) -> dict[str, np.ndarray]:
    """The model dict as the official file holds it (float64 arrays, uint32 faces)."""
    rng = np.random.default_rng(seed)
    names, parents, joints = skeleton(model)
    n_j = len(names)
    ring_n, radius = 6, 0.025
    verts, centers, weights, faces, regressor_rows = [], [], [], [], []
    for j in range(n_j):
        start, end = joints[j], _segment_end(j, names, parents, joints)
        axis = (end - start) / np.linalg.norm(end - start)
        u = np.cross(axis, [0.0, 0.0, 1.0] if abs(axis[2]) < 0.9 else [1.0, 0.0, 0.0])
        u /= np.linalg.norm(u)
        w = np.cross(axis, u)
        base = len(verts)
        for t in (0.0, 0.5, 1.0):
            c = start + t * (end - start)
            for k in range(ring_n):
                a = 2 * np.pi * k / ring_n
                verts.append(c + radius * (np.cos(a) * u + np.sin(a) * w))
                centers.append(c)
                weights.append(j)
        regressor_rows.append(list(range(base, base + ring_n)))   # ring at the joint
        for r in (0, 1):
            for k in range(ring_n):
                a, b = base + r * ring_n + k, base + r * ring_n + (k + 1) % ring_n
                faces += [(a, b, b + ring_n), (a, b + ring_n, a + ring_n)]
    v = np.array(verts)
    n_v = len(v)
    lbs = np.zeros((n_v, n_j))
    lbs[np.arange(n_v), weights] = 1.0
    regressor = np.zeros((n_j, n_v))
    for j, rows in enumerate(regressor_rows):
        regressor[j, rows] = 1.0 / len(rows)
    n_shape = 20 if model == "smplx" else 10          # SMPL-X: 10 shape + 10 expression
    shapedirs = rng.normal(scale=0.002, size=(n_v, 3, n_shape))
    shapedirs[:, :, 0] = 0.05 * v                     # beta0: taller / shorter (5 % per unit)
    shapedirs[:, :, 1] = 0.4 * (v - np.array(centers))  # beta1: thicker limbs, joints stay
    kintree = np.stack([np.array(parents, dtype=np.int64), np.arange(n_j, dtype=np.int64)])
    kintree[0, 0] = 4294967295                        # as in the official files
    data = {
        "v_template": v, "shapedirs": shapedirs,
        "posedirs": np.zeros((n_v, 3, 9 * (n_j - 1))),
        "J_regressor": regressor, "weights": lbs, "kintree_table": kintree,
        "f": np.array(faces, dtype=np.uint32), "J": regressor @ v,
        "bs_style": "lbs", "bs_type": "lrotmin",
    }
    if model in ("smplh", "smplx"):
        for side in "lr":
            data[f"hands_components{side}"] = np.linalg.qr(rng.normal(size=(45, 45)))[0]
            data[f"hands_mean{side}"] = rng.normal(scale=0.1, size=45)
            data[f"hands_coeffs{side}"] = rng.normal(size=(10, 45))
    if model == "smplx":
        data["lmk_faces_idx"] = rng.integers(0, len(faces), size=51).astype(np.int64)
        data["lmk_bary_coords"] = np.full((51, 3), 1.0 / 3.0)
    return data


def file_name(model: str, gender: str, ext: str) -> str:
    return f"{model.upper()}_{gender.upper()}.{ext}"


def write_model(folder: Path, model: str = "smpl", gender: str = "neutral", ext: str = "npz",
                seed: int = 0) -> Path:
    """Write folder/<model>/<MODEL>_<GENDER>.<ext> (smplx's layout) and return its path."""
    path = Path(folder) / model / file_name(model, gender, ext)
    path.parent.mkdir(parents=True, exist_ok=True)
    data = build_model(model, seed)
    if ext == "npz":
        np.savez(path, **data)
    else:   # the .pkl releases hold J_regressor as a scipy sparse matrix
        data["J_regressor"] = scipy.sparse.csc_matrix(data["J_regressor"])
        with open(path, "wb") as fh:
            pickle.dump(data, fh, protocol=2)
    return path


@pytest.fixture
def smpl_dir(tmp_path, monkeypatch):
    """An empty SMPL folder named by DOPPEL_SMPL_DIR (no server setting in force)."""
    from backend.bodies.smpl_files import configure_smpl_dir
    configure_smpl_dir(None)
    folder = tmp_path / "smpl_models"
    folder.mkdir()
    monkeypatch.setenv("DOPPEL_SMPL_DIR", str(folder))
    return folder
