"""Train the 2D->3D pose lifter (Martinez et al. 2017, "a simple yet effective baseline":
an MLP with residual blocks) on make_data.py's synthetic keypoints, on the CPU, and save it as
float16 weights with batch norm folded in (backend/fit/data/pose_lifter.npz), which
backend/fit/lifting.py runs with numpy.

Augmentation (what separates MediaPipe's keypoints from the body's exact ones): 2D noise of
a few % of the body's spread, a focal-length error of up to +-25 % (the focal is estimated
from the photo), and keypoints dropped (visibility ~0, their position a rough guess).

    PYTHONPATH=$PWD .venv/bin/python -m backend.fit.lifter.train --data /tmp/pose_lifter_data.npz
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import torch
from torch import nn

from .features import HIPS, encode

OUT = Path(__file__).resolve().parents[1] / "data" / "pose_lifter.npz"
WIDTH, BLOCKS = 512, 2


class Lifter(nn.Module):
    def __init__(self, n_in: int, n_out: int, width: int = WIDTH, blocks: int = BLOCKS,
                 dropout: float = 0.1) -> None:
        super().__init__()
        self.inp = nn.Sequential(nn.Linear(n_in, width), nn.BatchNorm1d(width), nn.ReLU())
        self.blocks = nn.ModuleList(nn.Sequential(
            nn.Linear(width, width), nn.BatchNorm1d(width), nn.ReLU(), nn.Dropout(dropout),
            nn.Linear(width, width), nn.BatchNorm1d(width), nn.ReLU(), nn.Dropout(dropout))
            for _ in range(blocks))
        self.out = nn.Linear(width, n_out)

    def forward(self, x):
        h = self.inp(x)
        for b in self.blocks:
            h = h + b(h)
        return self.out(h)


def batch(kp_cam: torch.Tensor, f_px: torch.Tensor, gen: torch.Generator, augment: bool):
    """Features and targets of a batch of camera-frame keypoints (N, K, 3)."""
    n, k = kp_cam.shape[:2]
    rays = kp_cam[..., :2] / kp_cam[..., 2:3]
    hip = 0.5 * (kp_cam[:, HIPS[0]] + kp_cam[:, HIPS[1]])
    centre = 0.5 * (rays[:, HIPS[0]] + rays[:, HIPS[1]])
    spread = ((rays - centre[:, None]) ** 2).sum(-1).mean(-1).sqrt()
    target = (kp_cam - hip[:, None]) / (hip[:, 2] * spread)[:, None, None]
    vis = torch.ones(n, k)
    if augment:
        r = lambda *s: torch.rand(*s, generator=gen)
        g = lambda *s: torch.randn(*s, generator=gen)
        rays = rays * (0.8 + 0.45 * r(n, 1, 1))                    # focal error
        sigma = 0.04 * r(n, 1, 1) * spread[:, None, None]          # a few % of the body
        rays = rays + sigma * g(n, k, 2)
        drop = r(n, k) < 0.12 * r(n, 1)                             # up to 12 % per sample
        rays = rays + drop[..., None] * 0.15 * spread[:, None, None] * g(n, k, 2)
        vis = torch.where(drop, 0.5 * r(n, k), 0.5 + 0.5 * r(n, k))
    feats, _ = encode(rays, vis)
    return feats, target.reshape(n, -1)


def fold(model: Lifter) -> dict:
    """float16 arrays: each Linear with the BatchNorm after it folded in (eval statistics)."""
    def lin_bn(lin, bn):
        s = bn.weight / torch.sqrt(bn.running_var + bn.eps)
        return lin.weight * s[:, None], (lin.bias - bn.running_mean) * s + bn.bias
    out = {}
    w, b = lin_bn(model.inp[0], model.inp[1])
    out["in_w"], out["in_b"] = w, b
    for i, blk in enumerate(model.blocks):
        for j, (li, bi) in enumerate(((0, 1), (4, 5))):
            w, b = lin_bn(blk[li], blk[bi])
            out[f"b{i}_{j}_w"], out[f"b{i}_{j}_b"] = w, b
    out["out_w"], out["out_b"] = model.out.weight, model.out.bias
    return {k: v.detach().numpy().astype(np.float16) for k, v in out.items()}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", default="/tmp/pose_lifter_data.npz")
    ap.add_argument("--minutes", type=float, default=12.0)
    ap.add_argument("--steps", type=int, default=0,
                    help="train this many steps (schedule by step: reproducible) instead")
    ap.add_argument("--seed", type=int, default=14)
    ap.add_argument("--out", default=str(OUT))
    ap.add_argument("--init", default="", help="a state dict to start from (fine-tuning)")
    args = ap.parse_args()
    torch.manual_seed(args.seed)
    torch.set_num_threads(1)    # two threads on two shared cores spin: 15x slower here
    gen = torch.Generator().manual_seed(args.seed)
    d = np.load(args.data)
    kp, f = torch.from_numpy(d["kp_cam"]), torch.from_numpy(d["f_px"])
    n_val = min(4000, len(kp) // 10)
    perm = torch.randperm(len(kp), generator=gen)
    val, tr = perm[:n_val], perm[n_val:]
    k = kp.shape[1]
    model = Lifter(3 * k + 2, 3 * k)
    if args.init:
        model.load_state_dict(torch.load(args.init))
    print(f"{sum(p.numel() for p in model.parameters()) / 1e6:.2f} M parameters, "
          f"{len(tr)} training samples")
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3, weight_decay=1e-4)
    start, step, bs = time.time(), 0, 512
    budget = args.minutes * 60
    vx, vy = batch(kp[val], f[val], torch.Generator().manual_seed(1), augment=True)
    while (step < args.steps) if args.steps else (time.time() - start < budget):
        frac = step / args.steps if args.steps else (time.time() - start) / budget
        for gparam in opt.param_groups:
            gparam["lr"] = 1e-3 * 0.5 * (1 + np.cos(np.pi * frac)) + 1e-5
        idx = tr[torch.randint(len(tr), (bs,), generator=gen)]
        x, y = batch(kp[idx], f[idx], gen, augment=True)
        model.train()
        loss = (model(x) - y).reshape(bs, k, 3).norm(dim=-1).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
        step += 1
        if step % 500 == 0:
            model.eval()
            with torch.no_grad():
                err = (model(vx) - vy).reshape(-1, k, 3).norm(dim=-1).mean()
            print(f"step {step} {time.time() - start:.0f}s train {loss:.4f} val {err:.4f}",
                  flush=True)
    model.eval()
    torch.save(model.state_dict(), Path(args.out).with_suffix(".pt.tmp"))
    np.savez_compressed(args.out, **fold(model), seed=np.array(args.seed),
                        steps=np.array(step))
    print(f"saved {args.out} after {step} steps")


if __name__ == "__main__":
    main()
