"""Pure-torch Gaussian splatting: the test oracle, and the renderer on machines without CUDA.

It follows gsplat's "classic" rasteriser step for step so the two can be compared pixel by
pixel: EWA projection with a clamped Jacobian, a 2D low-pass ``eps2d``, 16x16 tiles, Gaussians
sorted front to back by view depth, alpha = min(0.999, opacity * G) with contributions below
1/255 skipped, and a pixel stops at the Gaussian that would take its transmittance below 1e-4.
Every step is a differentiable torch op (sorting and culling are piecewise constant), so
autograd gives gradients for means, scales, rotations, opacities and colours.

Work is vectorised over (tile, Gaussian-in-tile, pixel) in batches of tiles with similar
Gaussian counts, so memory stays bounded whatever the scene.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

TILE = 16
ALPHA_MIN = 1.0 / 255.0
ALPHA_MAX = 0.999
T_MIN = 1e-4
RADIUS_SIGMAS = 3.33
BATCH_ELEMENTS = 1 << 22       # (tiles x Gaussians x pixels) per step: 16 MB per float32 buffer
K_CHUNK = 64                   # Gaussians per tile taken at a time, front to back


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


def _intersections(proj: Projected, width: int, height: int):
    """-> (tile ids, Gaussian ids) of every (tile, Gaussian) overlap, sorted by tile then by
    depth front to back; plus the tile grid size."""
    tiles_x, tiles_y = math.ceil(width / TILE), math.ceil(height / TILE)
    visible = torch.nonzero(proj.radii[:, 0] > 0).squeeze(1)
    mxy = proj.means2d.detach()[visible]
    r = proj.radii[visible]
    x0 = torch.clamp(torch.floor((mxy[:, 0] - r[:, 0]) / TILE), 0, tiles_x).long()
    x1 = torch.clamp(torch.ceil((mxy[:, 0] + r[:, 0]) / TILE), 0, tiles_x).long()
    y0 = torch.clamp(torch.floor((mxy[:, 1] - r[:, 1]) / TILE), 0, tiles_y).long()
    y1 = torch.clamp(torch.ceil((mxy[:, 1] + r[:, 1]) / TILE), 0, tiles_y).long()
    w, h = x1 - x0, y1 - y0
    counts = w * h
    gid = torch.repeat_interleave(visible, counts)
    first = torch.cumsum(counts, 0) - counts
    local = torch.arange(int(counts.sum()), device=gid.device) - torch.repeat_interleave(first,
                                                                                        counts)
    rw = torch.repeat_interleave(w, counts)
    tx = torch.repeat_interleave(x0, counts) + local % torch.clamp(rw, min=1)
    ty = torch.repeat_interleave(y0, counts) + local // torch.clamp(rw, min=1)
    tile = ty * tiles_x + tx
    # Stable two-pass sort: by depth, then by tile, gives tile-major, depth-minor order.
    order = torch.argsort(proj.depths.detach()[gid], stable=True)
    order = order[torch.argsort(tile[order], stable=True)]
    return tile[order], gid[order], tiles_x, tiles_y


def composite(proj: Projected, opacities, colors, width: int, height: int,
              background=None):
    """Alpha-composite projected Gaussians front to back.

    colors: (N, D) per-Gaussian features. Returns (H, W, D) colour, (H, W) alpha and (H, W)
    accumulated depth sum(w_i z_i) (divide by alpha for the expected depth)."""
    dev, dt = colors.device, colors.dtype
    D = colors.shape[1]
    tile_ids, gids, tiles_x, tiles_y = _intersections(proj, width, height)
    n_tiles = tiles_x * tiles_y
    count = torch.bincount(tile_ids, minlength=n_tiles)
    start = torch.cumsum(count, 0) - count
    feats = torch.cat([colors, proj.depths[:, None].to(dt)], 1)          # (N, D + 1)
    # Pixel centres of one tile, relative to the tile's corner.
    pix = torch.arange(TILE * TILE, device=dev)
    px_off, py_off = (pix % TILE).to(dt) + 0.5, (pix // TILE).to(dt) + 0.5
    out_tiles, out_ids = [], []
    busy = torch.nonzero(count > 0).squeeze(1)
    busy = busy[torch.argsort(count[busy], descending=True)]
    i = 0
    while i < len(busy):
        nb = max(1, min(len(busy) - i, BATCH_ELEMENTS // (K_CHUNK * TILE * TILE)))
        tiles = busy[i:i + nb]
        i += nb
        trans = torch.ones(len(tiles), TILE * TILE, device=dev, dtype=dt)       # (Tb, P)
        done = torch.zeros(len(tiles), TILE * TILE, device=dev, dtype=torch.bool)
        acc = torch.zeros(len(tiles), TILE * TILE, D + 2, device=dev, dtype=dt)
        # Walk the depth-sorted lists in chunks, dropping tiles whose pixels are all opaque:
        # dense surfaces saturate after a few layers, so the Gaussians behind them cost nothing.
        for k0 in range(0, int(count[tiles].max()), K_CHUNK):
            act = torch.nonzero((count[tiles] > k0) & ~done.all(1)).squeeze(1)
            if len(act) == 0:
                break
            tb = tiles[act]
            ox = ((tb % tiles_x) * TILE).to(dt)[:, None, None] + px_off[None, None, :]
            oy = ((tb // tiles_x) * TILE).to(dt)[:, None, None] + py_off[None, None, :]
            k = torch.arange(k0, k0 + K_CHUNK, device=dev)
            valid = k[None, :] < count[tb][:, None]                           # (Ta, K)
            idx = gids[torch.clamp(start[tb][:, None] + k[None, :], max=len(gids) - 1)]
            m2 = proj.means2d[idx]
            dx, dy = ox - m2[..., 0:1], oy - m2[..., 1:2]                      # (Ta, K, P)
            con = proj.conics[idx]
            power = (-0.5 * (con[..., 0:1] * dx * dx + con[..., 2:3] * dy * dy)
                     - con[..., 1:2] * dx * dy)
            alpha = torch.clamp(opacities[idx][..., None] * torch.exp(power), max=ALPHA_MAX)
            use = valid[..., None] & (power <= 0) & (alpha >= ALPHA_MIN) & ~done[act][:, None]
            alpha = alpha * use
            t0 = trans[act]
            trans_after = t0[:, None, :] * torch.cumprod(1.0 - alpha, dim=1)
            trans_before = torch.cat([t0[:, None, :], trans_after[:, :-1]], 1)
            # A pixel stops at the first Gaussian that would leave less than T_MIN light.
            keep = trans_after > T_MIN
            weight = alpha * trans_before * keep
            acc = acc.index_add(0, act, torch.cat([
                torch.einsum("bkp,bkd->bpd", weight, feats[idx]), weight.sum(1)[..., None]], -1))
            last = torch.where(keep, trans_after, torch.full_like(trans_after, 2.0)).amin(1)
            trans = trans.index_copy(0, act, torch.minimum(t0, last))
            done = done.index_copy(0, act, done[act] | (~keep).any(1))
        out_tiles.append(acc.reshape(-1, D + 2))
        out_ids.append(tiles)
    # Scatter tile results into a padded tile image, then crop.
    full = torch.zeros(n_tiles * TILE * TILE, D + 2, device=dev, dtype=dt)
    if out_ids:
        acc = torch.cat(out_tiles)
        rows = (torch.cat(out_ids)[:, None] * TILE * TILE + pix[None, :]).reshape(-1)
        full = full.index_copy(0, rows, acc)
    img = full.view(tiles_y, tiles_x, TILE, TILE, D + 2).permute(0, 2, 1, 3, 4)
    img = img.reshape(tiles_y * TILE, tiles_x * TILE, D + 2)[:height, :width]
    color, depth_sum, alpha = img[..., :D], img[..., D], img[..., D + 1]
    if background is not None:
        color = color + (1.0 - alpha)[..., None] * background
    return color, alpha, depth_sum
