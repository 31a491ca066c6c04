"""Write a human-shaped stand-in for the licensed SMPL-H file, made from Anny, so the SMPL-family
reconstruct path can be measured on a realistic body (the tests' procedural body is a stick
figure):

    .venv/bin/python benchmarks/smpl_standin.py DIR
    DOPPEL_SMPL_DIR=DIR .venv/bin/python benchmarks/reconstruct.py --body-model smplh [PHOTO ...]

DIR/smplh/SMPLH_NEUTRAL.npz holds, in SMPL's file layout and native axes (Y up): Anny's default
rest mesh as v_template; the 10 leading principal components of 40 random Anny phenotypes as
shapedirs (scaled so betas are in standard deviations); the SMPL-H joints at the heads of the
Anny bones pose_transfer.SMPL_TO_ANNY maps them to (feet: the balls of the feet), each an exact
non-negative blend of nearby vertices (J_regressor); Anny's skin weights summed onto those
joints; no pose correctives. DIR/smplh/smplh_uv.obj carries Anny's UV layout. Its vertex count is
not SMPL's, so the fit picks nose/ears/toes/heels from the geometry (backend/bodies/smpl_fit.py). It is NOT
SMPL-H: numbers measured with it say how the pipeline handles an SMPL-format body, not how the
real SMPL-H model fits.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
from scipy.optimize import nnls
from scipy.spatial import cKDTree

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

PHENOTYPES = ("gender", "age", "muscle", "weight", "height", "proportions")


def build(samples: int = 40, seed: int = 0) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """-> (SMPL-H model dict, (F, 3, 2) UVs)."""
    from backend.bodies import get_body_model
    from rig.motion.pose_transfer import SMPL_TO_ANNY
    from backend.bodies.smpl_skeleton import SMPL_TO_BLENDER
    from smpl_model_maker import skeleton

    names, parents, _ = skeleton("smplh")          # SMPL-H joint order and kintree
    body = get_body_model("anny")
    rng = np.random.default_rng(seed)
    rest = body.rest_body({})
    shapes = np.stack([body.rest_body(dict(zip(PHENOTYPES, map(float, rng.uniform(0.2, 0.8, 6)))))
                       .vertices.reshape(-1) for _ in range(samples)])
    _, s, vt = np.linalg.svd(shapes - shapes.mean(0), full_matrices=False)
    dirs = (vt[:10] * (s[:10, None] / np.sqrt(samples))).reshape(10, -1, 3)
    native = lambda p: p @ SMPL_TO_BLENDER        # Blender row vectors -> SMPL axes
    verts = native(rest.vertices.astype(np.float64))
    index = {n: i for i, n in enumerate(rest.bone_names)}

    def joint(name: str) -> np.ndarray:
        if name in SMPL_TO_ANNY:
            return rest.heads[index[SMPL_TO_ANNY[name]]]
        s = "L" if name.startswith("left") else "R"   # left_foot / right_foot: ball of foot
        return np.mean([rest.heads[index[f"toe{k}-1.{s}"]] for k in range(1, 6)], axis=0)

    joints = native(np.array([joint(n) for n in names], np.float64))
    tree = cKDTree(verts)
    regressor = np.zeros((len(names), len(verts)))
    for j, p in enumerate(joints):
        _, near = tree.query(p, k=300)             # enough to surround the joint
        a = np.vstack([verts[near].T, 100.0 * np.ones(len(near))])   # + sum-to-one row
        w, _ = nnls(a, np.append(p, 100.0))
        regressor[j, near] = w / w.sum()
    owner = {a: names.index(s) for s, a in SMPL_TO_ANNY.items() if s in names}
    owner.update({b: names.index("left_foot" if b.endswith(".L") else "right_foot")
                  for b in rest.bone_names if b.startswith("toe") and "-1." in b})

    def smpl_joint(b: int) -> int:                 # nearest mapped ancestor
        while rest.bone_names[b] not in owner:
            b = int(rest.parents[b])
        return owner[rest.bone_names[b]]

    to_joint = np.array([smpl_joint(b) for b in range(len(rest.bone_names))])
    weights = np.zeros((len(verts), len(names)))
    rows = np.arange(len(verts))
    for k in range(rest.skin_indices.shape[1]):
        np.add.at(weights, (rows, to_joint[rest.skin_indices[:, k]]), rest.skin_weights[:, k])
    kintree = np.stack([np.array(parents, np.int64), np.arange(len(names))])
    kintree[0, 0] = 4294967295
    data = {"v_template": verts, "shapedirs": np.stack([native(d) for d in dirs], axis=-1),
            "posedirs": np.zeros((len(verts), 3, 9 * (len(names) - 1))),
            "J_regressor": regressor, "weights": weights, "kintree_table": kintree,
            "f": rest.faces.astype(np.uint32), "J": regressor @ verts}
    for side in "lr":
        data[f"hands_components{side}"] = np.eye(45)
        data[f"hands_mean{side}"] = np.zeros(45)
    return data, rest.uvs


def write(folder: Path) -> Path:
    data, uvs = build()
    out = folder / "smplh"
    out.mkdir(parents=True, exist_ok=True)
    np.savez(out / "SMPLH_NEUTRAL.npz", **data)
    lines = [f"v {a:.6f} {b:.6f} {c:.6f}" for a, b, c in data["v_template"]]
    lines += [f"vt {a:.6f} {b:.6f}" for a, b in uvs.reshape(-1, 2)]
    lines += [f"f {f[0] + 1}/{3 * i + 1} {f[1] + 1}/{3 * i + 2} {f[2] + 1}/{3 * i + 3}"
              for i, f in enumerate(data["f"].astype(np.int64))]
    (out / "smplh_uv.obj").write_text("\n".join(lines) + "\n")
    return out / "SMPLH_NEUTRAL.npz"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("folder", help="SMPL folder to write (use it as DOPPEL_SMPL_DIR)")
    print(write(Path(ap.parse_args().folder)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
