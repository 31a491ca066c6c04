"""Synthetic training data for the 2D->3D pose lifter: random Anny bodies in random poses seen
by random cameras, as the fit's keypoints (landmarks.PAIRS) in the camera frame.

Poses: part sampled from OUR anatomical ranges (joint_limits.py; hinges stay hinges, each
bone's range shrunk by a random factor so that poses near rest and far from it both occur),
part frames of the CMU BVH clips in shared/data/motions/bvh (CMU's terms allow commercial
use), retargeted onto Anny by rig.motion, with a little range-bounded noise on top. Never the
AMASS clips (non-commercial) and never the devsets (evaluation only).
Cameras: yaw all round, pitch +-20 degrees, roll +-5, 35-85 mm equivalent, 2.5-6 m.

    PYTHONPATH=$PWD .venv/bin/python -m backend.fit.lifter.make_data --out /tmp/pose_lifter_data.npz
"""

from __future__ import annotations

import argparse
import math
from pathlib import Path

import numpy as np
import roma
import torch

from ..joint_limits import JointLimits
from ..landmarks import PAIRS

BVH_DIR = Path(__file__).resolve().parents[4] / "shared" / "data" / "motions" / "bvh"
LONG_SIDE_PX = 768.0              # the virtual photo's long side; rays do not depend on it


def bvh_rotations(rig) -> np.ndarray:
    """(T, B, 4) local quaternions (w, x, y, z) of rig.bone_names, every frame of every CMU
    BVH clip retargeted onto Anny's skeleton (rig.motion)."""
    from rig.motion import prepare_clip

    from ...avatar_build import avatar_from_rest_body
    from ...bodies import DEFAULT_BODY_MODEL, get_body_model
    model = get_body_model(DEFAULT_BODY_MODEL)
    sk = avatar_from_rest_body(model.rest_body(model.check_params({})), "LifterBody", {}).skeleton
    order = [list(sk.names).index(n) for n in rig.bone_names]
    out = []
    for path in sorted(BVH_DIR.glob("*.bvh")):
        clip = prepare_clip(path, sk, 30.0, in_place=True)
        out.append(clip.rotations[:, order])
        print(f"{path.name}: {clip.frame_count} frames", flush=True)
    return np.concatenate(out).astype(np.float32)


def random_fit_rotvecs(n: int, limits: JointLimits, rng: np.random.Generator) -> np.ndarray:
    """(n, len(FIT_BONES), 3) rotvecs inside the anatomical ranges, each sample's ranges shrunk
    about 0 by its own factor (0.15..1) so that everyday and extreme poses both occur."""
    lo, hi = limits.lo.numpy(), limits.hi.numpy()
    lo, hi = np.where(np.isfinite(lo), lo, 0.0), np.where(np.isfinite(hi), hi, 0.0)
    s = rng.uniform(0.15, 1.0, (n, 1, 1)) * rng.uniform(0.5, 1.0, (n, lo.shape[0], 1))
    u = rng.uniform(0.0, 1.0, (n,) + lo.shape)
    r = (lo + u * (hi - lo)) * s
    return (r * limits.free_mask.numpy()).astype(np.float32)


class KeypointPoser:
    """Keypoints of many posed Anny bodies at once. Posed keypoint k is
    sum_b T_b @ sum_v kw[k, v] w[v, b] (rest_v, 1) (linear blend skinning, then the keypoint
    regressor), and rest_v is linear in the phenotype blendshape coefficients, so the inner
    sums are precomputed once per blendshape: a batch then costs two small products instead
    of skinning thousands of vertices."""

    def __init__(self, rig, kp_rows: torch.Tensor) -> None:
        sub = rig._subset
        self.m = rig.model
        kw = sub["kp_weights"][kp_rows]
        cols = torch.nonzero((kw != 0).any(0))[:, 0]
        kw = kw[:, cols].double()
        w = torch.zeros(len(cols), rig.bone_count, dtype=torch.float64).scatter_add_(
            1, sub["bone_indices"][cols], sub["bone_weights"][cols].double())
        kwb = kw[:, :, None] * w[None]                                   # (K, V, B)
        self.a0 = torch.einsum("kvb,vd->kbd", kwb, sub["template"][cols].double()).float()
        self.a1 = torch.einsum("kvb,cvd->ckbd", kwb,
                               sub["blendshapes"][:, cols].double()).float()   # (C, K, B, 3)
        self.ones = kwb.sum(1).float()                                    # (K, B)

    def __call__(self, phen: torch.Tensor, local: torch.Tensor, root_rot: torch.Tensor
                 ) -> torch.Tensor:
        """(N, K, 3) keypoints in Anny's model space. local: (N, B, 3, 3) bone rotations in
        their rest frames (the root's ignored), root_rot (N, 3, 3) applied on top of the
        root's rest pose."""
        from anny.utils import kinematics
        m = self.m
        _, ph, lc, fa = m.get_tensor_inputs(None, phen, None, None)
        coeffs = m._get_phenotype_blendshape_coefficients(ph, lc, fa).float()
        heads = m.template_bone_heads[None] + torch.einsum("cpd,bc->bpd",
                                                           m.bone_heads_blendshapes, coeffs)
        tails = m.template_bone_tails[None] + torch.einsum("cpd,bc->bpd",
                                                           m.bone_tails_blendshapes, coeffs)
        poses = kinematics.get_bone_poses(heads, tails, m.bone_rolls_rotmat, y_axis=m.y_axis,
                                          degenerate_rotation=m.degenerate_rotation)
        if m.root_identity_orientation:
            poses = poses.clone()
            poses[:, 0, :3, :3] = torch.eye(3)
        n, b = local.shape[:2]
        d = torch.zeros(n, b, 4, 4)
        d[:, :, :3, :3] = local
        d[:, :, 3, 3] = 1.0
        root = poses[:, 0].clone()
        root[:, :3, :3] = root_rot @ root[:, :3, :3]
        d[:, 0] = root
        transforms, _ = m.get_bone_transforms(d, poses)
        a = self.a0[None] + torch.einsum("nc,ckbd->nkbd", coeffs, self.a1)   # (N, K, B, 3)
        t = transforms[:, :, :3, :]
        return (torch.einsum("nbij,nkbj->nki", t[..., :3], a)
                + torch.einsum("nbi,kb->nki", t[..., 3], self.ones))


def random_cameras(n: int, rng: np.random.Generator):
    """Rotations (n, 3, 3) camera <- model, depths (n,), hip rays (n, 2), focal px (n,)."""
    yaw = rng.uniform(-math.pi, math.pi, n)
    pitch = np.radians(rng.uniform(-20, 20, n))
    roll = np.radians(rng.uniform(-5, 5, n))
    zero = np.zeros(n)
    rv = lambda a, b, c: roma.rotvec_to_rotmat(torch.from_numpy(np.stack([a, b, c], 1)).float())
    # Yaw 0: the camera in front of the body (model -Y forward, Z up) looking at it.
    base = torch.tensor([[1.0, 0, 0], [0, 0, -1.0], [0, 1.0, 0]])
    rot = rv(zero, zero, roll) @ rv(pitch, zero, zero) @ base @ rv(zero, zero, yaw)
    depth = rng.uniform(2.5, 6.0, n)
    f_px = rng.uniform(35.0, 85.0, n) / 36.0 * LONG_SIDE_PX
    # Where the hips sit in the photo: anywhere the body still roughly fits.
    half = 0.5 * LONG_SIDE_PX / f_px
    hip_ray = rng.uniform(-0.35, 0.35, (n, 2)) * half[:, None]
    return rot, depth, hip_ray, f_px


def make(n_random: int, n_bvh: int, seed: int, batch: int = 512) -> dict:
    from backend.fit.rigs import fit_rig
    rng = np.random.default_rng(seed)
    torch.manual_seed(seed)
    rig = fit_rig()[0]
    kp_rows = torch.tensor([rig.kp_labels.index(lab) for _, lab, _ in PAIRS])
    poser = KeypointPoser(rig, kp_rows)
    limits = JointLimits(rig.fit_bones)
    clips = bvh_rotations(rig)
    out = []
    total = n_random + n_bvh
    for start in range(0, total, batch):
        n = min(batch, total - start)
        phen = torch.from_numpy(rng.uniform(0.0, 1.0, (n, rig.shape_size))).float()
        local = torch.eye(3).repeat(n, rig.bone_count, 1, 1)
        root_rot = torch.eye(3).repeat(n, 1, 1)
        is_bvh = torch.from_numpy(np.arange(start, start + n) >= n_random)
        rv = torch.from_numpy(random_fit_rotvecs(n, limits, rng))
        if is_bvh.any():
            q = torch.from_numpy(clips[rng.integers(0, len(clips), int(is_bvh.sum()))])
            m = roma.unitquat_to_rotmat(q[..., [1, 2, 3, 0]])      # wxyz -> roma's xyzw
            local[is_bvh] = m
            # The clip's root keeps its lean (bending over, ...), not its heading: the
            # camera's yaw covers that.
            root_rot[is_bvh] = m[:, 0]
            rv[is_bvh] *= 0.25                      # small range-bounded variation on top
        fit_rot = roma.rotvec_to_rotmat(rv)
        fi = rig.fit_index
        local[:, fi] = torch.where(is_bvh[:, None, None, None], local[:, fi] @ fit_rot, fit_rot)
        with torch.no_grad():
            kp = poser(phen, local, root_rot)
        rot, depth, hip_ray, f_px = random_cameras(n, rng)
        cam = kp @ rot.transpose(1, 2)
        hip = 0.5 * (cam[:, 11] + cam[:, 12])                      # PAIRS rows of the hips
        d = torch.from_numpy(depth).float()
        where = torch.cat([torch.from_numpy(hip_ray).float() * d[:, None], d[:, None]], 1)
        cam = cam - hip[:, None] + where[:, None]
        out.append((cam.numpy().astype(np.float32), f_px.astype(np.float32), is_bvh.numpy()))
        if start // batch % 20 == 0:
            print(f"{start + n}/{total}", flush=True)
    return {"kp_cam": np.concatenate([o[0] for o in out]),
            "f_px": np.concatenate([o[1] for o in out]),
            "from_bvh": np.concatenate([o[2] for o in out]), "seed": np.array(seed)}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", default="/tmp/pose_lifter_data.npz")
    ap.add_argument("--random", type=int, default=150_000)
    ap.add_argument("--bvh", type=int, default=150_000)
    ap.add_argument("--seed", type=int, default=14)
    args = ap.parse_args()
    torch.set_num_threads(1)
    np.savez_compressed(args.out, **make(args.random, args.bvh, args.seed))


if __name__ == "__main__":
    main()
