"""SMPL-family benchmark: loading a full-size model file, building the rest avatar, and pose
conversion of a real AMASS clip (direct application and SMPL -> Anny transfer).

    .venv/bin/python benchmarks/smpl_body.py [--json] [--repeats N]

The licensed model files are not available here, so the model is a synthetic file with the
real SMPL-X sizes (10,475 vertices, 20,908 faces, 55 joints, 400 shape + expression
directions, 486 pose directions) written in the official .npz layout and loaded through the
production path. All times are wall-clock medians in seconds.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from benchmarks._timing import median_time  # noqa: E402

AMASS = REPO.parent / "shared" / "data" / "motions" / "amass" / "amass_sample_male_120fps.npz"

V, F, J = 10475, 20908, 55


def write_synthetic_smplx(folder: Path) -> Path:
    """A SMPL-X-sized file in the official layout (random but well-formed contents)."""
    from smplx.joint_names import JOINT_NAMES
    rng = np.random.default_rng(0)
    parents = [-1, 0, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 9, 9, 12, 13, 14, 16, 17, 18, 19,
               15, 15, 15]
    for wrist in (20, 21):        # five three-joint fingers per hand
        for _ in range(5):
            parents += [wrist, len(parents), len(parents) + 1]
    assert len(parents) == J and len(JOINT_NAMES[:J]) == J
    joints = rng.normal(scale=0.3, size=(J, 3))
    owner = rng.integers(0, J, size=V)
    weights = np.zeros((V, J))
    weights[np.arange(V), owner] = 0.7
    weights[np.arange(V), rng.integers(0, J, size=V)] += 0.3
    regressor = np.zeros((J, V))
    for j in range(J):
        regressor[j, rng.choice(V, 20, replace=False)] = 1 / 20
    kintree = np.stack([np.array(parents), np.arange(J)]).astype(np.int64)
    kintree[0, 0] = 4294967295
    data = dict(v_template=joints[owner] + rng.normal(scale=0.03, size=(V, 3)),
                shapedirs=rng.normal(scale=1e-3, size=(V, 3, 400)),
                posedirs=rng.normal(scale=1e-4, size=(V, 3, 9 * (J - 1))),
                J_regressor=regressor, weights=weights, kintree_table=kintree,
                f=rng.integers(0, V, size=(F, 3)).astype(np.uint32),
                hands_componentsl=np.eye(45), hands_componentsr=np.eye(45),
                hands_meanl=np.zeros(45), hands_meanr=np.zeros(45),
                lmk_faces_idx=rng.integers(0, F, size=51), lmk_bary_coords=np.full((51, 3), 1 / 3))
    path = folder / "smplx" / "SMPLX_NEUTRAL.npz"
    path.parent.mkdir(parents=True)
    np.savez(path, **data)
    return path


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--repeats", type=int, default=5)
    args = ap.parse_args()
    rows: dict[str, float] = {}
    with tempfile.TemporaryDirectory() as tmp:
        os.environ["DOPPEL_SMPL_DIR"] = tmp
        path = write_synthetic_smplx(Path(tmp))
        from backend.bodies import get_body_model
        from backend.bodies.smpl_loader import load_smplx_module
        from backend.jobs import JobContext, get_job
        rows["load_smplx_file_s"] = median_time(
            lambda: load_smplx_module("smplx", path, "neutral"), args.repeats)
        body = get_body_model("smplx")
        body.rest_body({})                        # warm the per-file cache
        rows["rest_body_s"] = median_time(lambda: body.rest_body({"betas": [1.0, -0.5]}),
                                          args.repeats)
        rows["body_job_s"] = median_time(lambda: get_job("body")(
            {"body_model": "smplx", "params": {}}, {}, JobContext("bench")), args.repeats)
        rest = body.rest_body({})
    if AMASS.is_file():
        from rig.motion.pose_transfer import smpl_to_anny_mapping, smpl_to_pose, transfer_pose
        clip = np.load(AMASS)
        poses = clip["poses"].reshape(len(clip["poses"]), 52, 3)
        from smplx.joint_names import SMPLH_JOINT_NAMES
        clip_joints = SMPLH_JOINT_NAMES[:52]
        names = rest.bone_names
        rows["clip_frames"] = float(len(poses))
        rows["smpl_to_pose_s"] = median_time(
            lambda: smpl_to_pose(poses, clip_joints, names, rest.matrices), args.repeats)
        quats = smpl_to_pose(poses, clip_joints, names, rest.matrices)
        anny = get_body_model("anny").rest_body({})
        mapping = smpl_to_anny_mapping(names)
        rows["smpl_to_anny_s"] = median_time(lambda: transfer_pose(
            names, rest.parents, rest.matrices, quats, anny.bone_names, anny.parents,
            anny.matrices, mapping), args.repeats)
    if args.json:
        print(json.dumps(rows))
    else:
        print(f"{'measure':<22} {'value':>10}")
        for key, value in rows.items():
            print(f"{key:<22} {value:>10.4f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
