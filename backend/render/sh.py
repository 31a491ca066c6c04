"""Real spherical harmonics colours, degree 0..3, in the layout 3DGS and gsplat use."""

from __future__ import annotations

import torch

C0 = 0.28209479177387814
C1 = 0.4886025119029199
C2 = (1.0925484305920792, -1.0925484305920792, 0.31539156525252005, -1.0925484305920792,
      0.5462742152960396)
C3 = (-0.5900435899266435, 2.890611442640554, -0.4570457994644658, 0.3731763325901154,
      -0.4570457994644658, 1.445305721320277, -0.5900435899266435)

SH_COEFFS = {1: 0, 4: 1, 9: 2, 16: 3}   # coefficients per channel -> degree


def rgb_to_sh_dc(rgb):
    """Colours in 0..1 -> degree-0 coefficients (what 3DGS stores as f_dc)."""
    return (rgb - 0.5) / C0


def sh_to_rgb(sh: torch.Tensor, dirs: torch.Tensor) -> torch.Tensor:
    """(N, K, 3) coefficients, (N, 3) unit view directions (camera -> Gaussian) -> (N, 3) RGB,
    clamped at 0 from below like 3DGS (no upper clamp)."""
    k = sh.shape[1]
    if k not in SH_COEFFS:
        raise ValueError(f"spherical harmonics need 1, 4, 9 or 16 coefficients, got {k}")
    out = C0 * sh[:, 0]
    if k > 1:
        x, y, z = dirs[:, 0:1], dirs[:, 1:2], dirs[:, 2:3]
        out = out - C1 * y * sh[:, 1] + C1 * z * sh[:, 2] - C1 * x * sh[:, 3]
        if k > 4:
            xx, yy, zz, xy, yz, xz = x * x, y * y, z * z, x * y, y * z, x * z
            out = (out + C2[0] * xy * sh[:, 4] + C2[1] * yz * sh[:, 5]
                   + C2[2] * (2.0 * zz - xx - yy) * sh[:, 6] + C2[3] * xz * sh[:, 7]
                   + C2[4] * (xx - yy) * sh[:, 8])
            if k > 9:
                out = (out + C3[0] * y * (3 * xx - yy) * sh[:, 9] + C3[1] * xy * z * sh[:, 10]
                       + C3[2] * y * (4 * zz - xx - yy) * sh[:, 11]
                       + C3[3] * z * (2 * zz - 3 * xx - 3 * yy) * sh[:, 12]
                       + C3[4] * x * (4 * zz - xx - yy) * sh[:, 13]
                       + C3[5] * z * (xx - yy) * sh[:, 14] + C3[6] * x * (xx - 3 * yy) * sh[:, 15])
    return torch.clamp(out + 0.5, min=0.0)
