"""Pure-torch Gaussian splatting: the test oracle, and the renderer on machines without CUDA.

It follows gsplat's "classic" rasteriser so the two can be compared pixel by pixel: EWA
projection with a clamped Jacobian, a 2D low-pass ``eps2d``, the same opacity-aware bounding
boxes, Gaussians sorted front to back by view depth, alpha = min(0.999, opacity * G) with
contributions below 1/255 skipped, and a pixel stops at the Gaussian that would take its
transmittance below 1e-4.
Every step is a differentiable torch op (sorting and culling are piecewise constant), so
autograd gives gradients for means, scales, rotations, opacities and colours.

Instead of tiles it enumerates the (pixel, Gaussian) pairs inside each Gaussian's bounding
box, sorts them by pixel and depth, and composites each pixel's list with a segmented
cumulative sum; large scenes are done in row bands so memory stays bounded.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

ALPHA_MIN = 1.0 / 255.0
ALPHA_MAX = 0.999
T_MIN = 1e-4
RADIUS_SIGMAS = 3.33
MAX_PAIRS = 1 << 23            # (pixel, Gaussian) pairs per row band: bounds the memory


@dataclass
class Projected:
    """Per-Gaussian screen-space quantities; Gaussians that are culled have radius 0."""

    means2d: torch.Tensor   # (N, 2) pixels
    conics: torch.Tensor    # (N, 3) inverse 2D covariance (a, b, c): [[a, b], [b, c]]
    depths: torch.Tensor    # (N,) camera-space z, metres
    radii: torch.Tensor     # (N, 2) int64 half extents in pixels (x, y); 0 = culled


def quat_to_rotmat(q: torch.Tensor) -> torch.Tensor:
    """(N, 4) quaternions (w, x, y, z), any norm -> (N, 3, 3) rotation matrices."""
    q = q / q.norm(dim=-1, keepdim=True)
    w, x, y, z = q.unbind(-1)
    return torch.stack([
        1 - 2 * (y * y + z * z), 2 * (x * y - w * z), 2 * (x * z + w * y),
        2 * (x * y + w * z), 1 - 2 * (x * x + z * z), 2 * (y * z - w * x),
        2 * (x * z - w * y), 2 * (y * z + w * x), 1 - 2 * (x * x + y * y)], -1).view(-1, 3, 3)


def project(means, scales, quats, opacities, viewmat, K, width, height,
            eps2d: float = 0.3, near: float = 0.01, far: float = 1e10) -> Projected:
    """EWA-project (N, 3) world means with (N, 3) scales and (N, 4) quaternions through an
    OpenCV camera ((4, 4) viewmat, (3, 3) K) onto a width x height image."""
    R, t = viewmat[:3, :3], viewmat[:3, 3]
    p = means @ R.T + t                                           # (N, 3) camera space
    x, y, z = p.unbind(-1)
    rot = quat_to_rotmat(quats)
    m = rot * scales[:, None, :]                                  # R S
    cov_cam = R @ (m @ m.transpose(1, 2)) @ R.T                   # (N, 3, 3)
    fx, fy, cx, cy = K[0, 0], K[1, 1], K[0, 2], K[1, 2]
    zs = torch.where(z > near, z, torch.ones_like(z))            # keep culled ones finite
    # Clamp the Jacobian's x/z, y/z a little outside the frustum (as 3DGS and gsplat do) so
    # Gaussians far off-screen do not get huge footprints.
    tan_x, tan_y = 0.5 * width / fx, 0.5 * height / fy
    lim_xp, lim_xn = (width - cx) / fx + 0.3 * tan_x, cx / fx + 0.3 * tan_x
    lim_yp, lim_yn = (height - cy) / fy + 0.3 * tan_y, cy / fy + 0.3 * tan_y
    tx = zs * torch.clamp(x / zs, -lim_xn, lim_xp)
    ty = zs * torch.clamp(y / zs, -lim_yn, lim_yp)
    zero = torch.zeros_like(zs)
    J = torch.stack([fx / zs, zero, -fx * tx / (zs * zs),
                     zero, fy / zs, -fy * ty / (zs * zs)], -1).view(-1, 2, 3)
    cov2d = J @ cov_cam @ J.transpose(1, 2)
    a = cov2d[:, 0, 0] + eps2d
    b = cov2d[:, 0, 1]
    c = cov2d[:, 1, 1] + eps2d
    det = a * c - b * b
    ok = (z > near) & (z < far) & (det > 0)
    det_safe = torch.where(ok, det, torch.ones_like(det))
    conics = torch.stack([c / det_safe, -b / det_safe, a / det_safe], -1)
    means2d = torch.stack([fx * x / zs + cx, fy * y / zs + cy], -1)
    with torch.no_grad():
        # Exact bound of the ellipse where opacity * G >= 1/255, capped at 3.33 sigma.
        extend = torch.sqrt(2.0 * torch.log(torch.clamp(opacities / ALPHA_MIN, min=1.0)))
        extend = torch.clamp(extend, max=RADIUS_SIGMAS)
        rx = torch.ceil(extend * torch.sqrt(torch.clamp(a, min=0.0)))
        ry = torch.ceil(extend * torch.sqrt(torch.clamp(c, min=0.0)))
        mx, my = means2d[:, 0], means2d[:, 1]
        on_screen = (mx + rx > 0) & (mx - rx < width) & (my + ry > 0) & (my - ry < height)
        keep = ok & on_screen & (rx > 0) & (ry > 0) & (opacities >= ALPHA_MIN)
        radii = torch.stack([rx, ry], -1).to(torch.int64) * keep[:, None]
    return Projected(means2d=means2d, conics=conics, depths=z, radii=radii)


def _pixel_pairs(proj: Projected, width: int, height: int, row0: int, row1: int):
    """-> (pixel ids, Gaussian ids) of every pixel centre in rows row0..row1-1 inside a
    Gaussian's bounding box, sorted by pixel, then front to back by depth."""
    mxy, r = proj.means2d.detach(), proj.radii
    # Pixel i's centre is i + 0.5: the box [m - r, m + r] holds centres floor(m-r+0.5)..
    x0 = torch.clamp(torch.ceil(mxy[:, 0] - r[:, 0] - 0.5), 0, width).long()
    x1 = torch.clamp(torch.floor(mxy[:, 0] + r[:, 0] - 0.5) + 1, 0, width).long()
    y0 = torch.clamp(torch.ceil(mxy[:, 1] - r[:, 1] - 0.5), row0, row1).long()
    y1 = torch.clamp(torch.floor(mxy[:, 1] + r[:, 1] - 0.5) + 1, row0, row1).long()
    w, h = torch.clamp(x1 - x0, min=0), torch.clamp(y1 - y0, min=0)
    counts = w * h * (r[:, 0] > 0)
    vis = torch.nonzero(counts).squeeze(1)
    counts, w = counts[vis], w[vis]
    gid = torch.repeat_interleave(vis, counts)
    first = torch.cumsum(counts, 0) - counts
    local = torch.arange(int(counts.sum()), device=gid.device) - \
        torch.repeat_interleave(first, counts)
    rw = torch.repeat_interleave(w, counts)
    px = torch.repeat_interleave(x0[vis], counts) + local % rw
    py = torch.repeat_interleave(y0[vis], counts) + local // rw
    pixel = py * width + px
    rank = torch.empty_like(proj.depths, dtype=torch.long)
    rank[torch.argsort(proj.depths.detach(), stable=True)] = torch.arange(
        len(rank), device=rank.device)
    order = torch.argsort(pixel * len(rank) + rank[gid])
    return pixel[order], gid[order]


def _band_rows(proj: Projected, width: int, height: int) -> list[tuple[int, int]]:
    """Split the image into row bands whose (pixel, Gaussian) pairs fit in memory."""
    r = proj.radii.double()
    pairs = float(((2 * r[:, 0] + 1) * (2 * r[:, 1] + 1) * (r[:, 0] > 0)).sum())
    bands = max(1, min(height, math.ceil(pairs / MAX_PAIRS)))
    step = math.ceil(height / bands)
    return [(y, min(height, y + step)) for y in range(0, height, step)]


def composite(proj: Projected, opacities, colors, width: int, height: int,
              background=None):
    """Alpha-composite projected Gaussians front to back, pixel by pixel.

    colors: (N, D) per-Gaussian features. Returns (H, W, D) colour, (H, W) alpha and (H, W)
    accumulated depth sum(w_i z_i) (divide by alpha for the expected depth)."""
    dev, dt = colors.device, colors.dtype
    D = colors.shape[1]
    feats = torch.cat([colors, proj.depths[:, None].to(dt), torch.ones_like(colors[:, :1])], 1)
    out = torch.zeros(height * width, D + 2, device=dev, dtype=dt)
    for row0, row1 in _band_rows(proj, width, height):
        pixel, gid = _pixel_pairs(proj, width, height, row0, row1)
        if len(pixel) == 0:
            continue
        dx = (pixel % width).to(dt) + 0.5 - proj.means2d[gid, 0]
        dy = (pixel // width).to(dt) + 0.5 - proj.means2d[gid, 1]
        con = proj.conics[gid]
        power = -0.5 * (con[:, 0] * dx * dx + con[:, 2] * dy * dy) - con[:, 1] * dx * dy
        alpha = torch.clamp(opacities[gid] * torch.exp(power), max=ALPHA_MAX)
        alpha = alpha * ((power <= 0) & (alpha >= ALPHA_MIN))
        # Transmittance per pixel = exp of a running sum of log(1 - alpha) restarted at each
        # pixel (pairs are sorted by pixel, then depth); float64 keeps the sums exact enough.
        log_t = torch.log1p(-alpha.double())
        csum = torch.cumsum(log_t, 0)
        new_pixel = torch.ones_like(pixel, dtype=torch.bool)
        new_pixel[1:] = pixel[1:] != pixel[:-1]
        seg_start = torch.cummax(torch.where(new_pixel, torch.arange(len(pixel), device=dev),
                                             torch.zeros_like(pixel)), 0).values
        before_first = (csum - log_t)[seg_start]
        trans_after = torch.exp(csum - before_first).to(dt)
        trans_before = torch.exp(csum - log_t - before_first).to(dt)
        # A pixel stops at the first Gaussian that would leave less than T_MIN light.
        weight = alpha * trans_before * (trans_after > T_MIN)
        out = out.index_add(0, pixel, weight[:, None] * feats[gid])
    img = out.view(height, width, D + 2)
    color, depth_sum, alpha = img[..., :D], img[..., D], img[..., D + 1]
    if background is not None:
        color = color + (1.0 - alpha)[..., None] * background
    return color, alpha, depth_sum
