"""One call to splat Gaussians: :func:`rasterize_gaussians`, whatever backend is installed.

Backends, chosen at run time:
  "gsplat"                       PyPI ``gsplat`` (CUDA only; compiles its kernels on first use)
  "diff_gaussian_rasterization"  the 3DGS authors' rasteriser, if the user built it (CUDA only)
  "torch"                        :mod:`.reference`, pure torch, any device; the test oracle
"auto" (default) uses gsplat, then diff_gaussian_rasterization, for CUDA tensors and the
reference otherwise. A backend that cannot be loaded is reported with one log line, once per
process, and the next one is used. Nothing here imports a GPU library at module import.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Literal

import numpy as np
import torch

from protocol import Camera

from . import reference
from .camera import SplatCamera, splat_camera
from .sh import SH_COEFFS, sh_to_rgb

log = logging.getLogger("doppel.render")

Backend = Literal["auto", "torch", "gsplat", "diff_gaussian_rasterization"]
GPU_BACKENDS = ("gsplat", "diff_gaussian_rasterization")
_UNAVAILABLE: dict[str, str] = {}     # backend -> why it could not be loaded (logged once)
_FALLBACK_LOGGED: set[str] = set()


@dataclass
class RenderResult:
    image: torch.Tensor    # (H, W, 3) linear-in-file colours (same space as the inputs), 0..1
    alpha: torch.Tensor    # (H, W) accumulated opacity 0..1
    depth: torch.Tensor    # (H, W) expected view depth in metres (0 where alpha is 0)
    backend: str           # which backend rendered it


def available_backends(device: str | torch.device = "cpu") -> list[str]:
    """Backends that would run for tensors on ``device`` (loading them if needed)."""
    out = ["torch"]
    if torch.device(device).type == "cuda":
        out = [b for b in GPU_BACKENDS if _load(b) is not None] + out
    return out


def _load(name: str):
    if name in _UNAVAILABLE:
        return None
    try:
        if name == "gsplat":
            from gsplat import rasterization
            # gsplat compiles its CUDA kernels here on first use (about a minute with 16
            # cores; cached in ~/.cache/torch_extensions) and leaves _C None if it cannot.
            from gsplat.cuda._backend import _C
            if _C is None:
                raise ImportError("gsplat's CUDA extension could not be built or loaded")
            return rasterization
        import diff_gaussian_rasterization
        return diff_gaussian_rasterization
    except Exception as exc:          # ImportError, or a CUDA build that fails to load
        _UNAVAILABLE[name] = f"{type(exc).__name__}: {exc}"
        log.info("splat backend %s unavailable (%s); falling back", name, _UNAVAILABLE[name])
        return None


def _as_camera(camera: Camera | SplatCamera) -> SplatCamera:
    return camera if isinstance(camera, SplatCamera) else splat_camera(camera)


def _check(means, scales, rotations, opacities, colors) -> None:
    n = means.shape[0]
    want = {"means": (means, (n, 3)), "scales": (scales, (n, 3)),
            "rotations": (rotations, (n, 4)), "opacities": (opacities, (n,))}
    for name, (t, shape) in want.items():
        if tuple(t.shape) != shape:
            raise ValueError(f"rasterize_gaussians: {name} has shape {tuple(t.shape)}, "
                             f"expected {shape} for {n} Gaussians")
    if not (colors.shape[:1] == (n,) and colors.shape[-1] == 3
            and (colors.ndim == 2 or (colors.ndim == 3 and colors.shape[1] in SH_COEFFS))):
        raise ValueError(f"rasterize_gaussians: colors_or_sh has shape {tuple(colors.shape)}; "
                         f"expected ({n}, 3) RGB or ({n}, K, 3) SH with K in 1, 4, 9, 16")


def rasterize_gaussians(means: torch.Tensor, scales: torch.Tensor, rotations: torch.Tensor,
                        opacities: torch.Tensor, colors_or_sh: torch.Tensor,
                        camera: Camera | SplatCamera, background=None,
                        backend: Backend = "auto", eps2d: float = 0.3,
                        near: float = 0.01) -> RenderResult:
    """Render N 3D Gaussians.

    means (N, 3) world metres; scales (N, 3) standard deviations in metres (not log);
    rotations (N, 4) quaternions (w, x, y, z); opacities (N,) in 0..1 (not logits);
    colors_or_sh (N, 3) RGB in 0..1 or (N, K, 3) spherical-harmonic coefficients (3DGS layout,
    K = 1, 4, 9, 16); camera: protocol.Camera (Blender convention) or SplatCamera;
    background: None (black) or 3 floats. All tensors on one device, one float dtype.
    """
    _check(means, scales, rotations, opacities, colors_or_sh)
    cam = _as_camera(camera)
    name = backend
    if backend == "auto":
        name = "torch"
        if means.is_cuda:
            name = next((b for b in GPU_BACKENDS if _load(b) is not None), "torch")
    elif backend in GPU_BACKENDS and (not means.is_cuda or _load(backend) is None):
        why = "its tensors are not on a CUDA device" if not means.is_cuda else \
            _UNAVAILABLE.get(backend, "")
        if backend not in _FALLBACK_LOGGED:
            _FALLBACK_LOGGED.add(backend)
            log.info("splat backend %s cannot run (%s); using the torch reference", backend, why)
        name = "torch"
    elif backend not in ("torch", *GPU_BACKENDS):
        raise ValueError(f"unknown splat backend {backend!r}; choose auto, torch, "
                         f"{', '.join(GPU_BACKENDS)}")
    render = {"torch": _render_torch, "gsplat": _render_gsplat,
              "diff_gaussian_rasterization": _render_inria}[name]
    image, alpha, depth = render(means, scales, rotations, opacities, colors_or_sh, cam,
                                 background, eps2d, near)
    return RenderResult(image=image, alpha=alpha, depth=depth, backend=name)


def _tensors(cam: SplatCamera, like: torch.Tensor):
    vm = torch.as_tensor(cam.viewmat, dtype=like.dtype, device=like.device)
    K = torch.as_tensor(cam.K, dtype=like.dtype, device=like.device)
    return vm, K


def _bg(background, like: torch.Tensor):
    if background is None:
        return None
    return torch.as_tensor(np.asarray(background, np.float64), dtype=like.dtype,
                           device=like.device).reshape(3)


def _rgb(means, colors_or_sh, cam: SplatCamera):
    if colors_or_sh.ndim == 2:
        return colors_or_sh
    center = torch.as_tensor(cam.center, dtype=means.dtype, device=means.device)
    dirs = means - center
    return sh_to_rgb(colors_or_sh, dirs / dirs.norm(dim=-1, keepdim=True).clamp(min=1e-12))


def _expected_depth(depth_sum, alpha):
    return torch.where(alpha > 0, depth_sum / alpha.clamp(min=1e-10), torch.zeros_like(alpha))


def _render_torch(means, scales, rotations, opacities, colors_or_sh, cam, background, eps2d,
                  near):
    vm, K = _tensors(cam, means)
    proj = reference.project(means, scales, rotations, opacities, vm, K, cam.width, cam.height,
                             eps2d=eps2d, near=near)
    rgb = _rgb(means, colors_or_sh, cam)
    color, alpha, depth_sum = reference.composite(proj, opacities, rgb, cam.width, cam.height,
                                                  _bg(background, means))
    return color, alpha, _expected_depth(depth_sum, alpha)


def _render_gsplat(means, scales, rotations, opacities, colors_or_sh, cam, background, eps2d,
                   near):
    rasterization = _load("gsplat")
    vm, K = _tensors(cam, means)
    sh_degree = None if colors_or_sh.ndim == 2 else SH_COEFFS[colors_or_sh.shape[1]]
    bg = _bg(background, means)
    colors, alphas, _ = rasterization(
        means, rotations, scales, opacities, colors_or_sh, vm[None], K[None], cam.width,
        cam.height, near_plane=near, eps2d=eps2d, sh_degree=sh_degree, render_mode="RGB+ED",
        packed=False, rasterize_mode="classic",
        backgrounds=None if bg is None else torch.cat([bg, bg.new_zeros(1)])[None])
    alpha = alphas[0, ..., 0]
    depth = torch.where(alpha > 0, colors[0, ..., 3], torch.zeros_like(alpha))
    return colors[0, ..., :3], alpha, depth


def _render_inria(means, scales, rotations, opacities, colors_or_sh, cam, background, eps2d,
                  near):
    """diff-gaussian-rasterization takes a centred principal point, a fixed 0.3 blur and 3
    channels: colour in one pass, (1, z, 0) in a second for alpha and depth."""
    dgr = _load("diff_gaussian_rasterization")
    K = cam.K
    if abs(K[0, 2] - cam.width / 2) > 1e-3 or abs(K[1, 2] - cam.height / 2) > 1e-3:
        log.info("diff_gaussian_rasterization needs a centred principal point; using torch")
        return _render_torch(means, scales, rotations, opacities, colors_or_sh, cam,
                             background, eps2d, near)
    far = 100.0
    tx, ty = cam.width / (2 * K[0, 0]), cam.height / (2 * K[1, 1])
    P = np.zeros((4, 4))
    P[0, 0], P[1, 1], P[3, 2] = 1.0 / tx, 1.0 / ty, 1.0
    P[2, 2], P[2, 3] = far / (far - near), -far * near / (far - near)
    vm = torch.as_tensor(cam.viewmat.T, dtype=torch.float32, device=means.device)
    full = torch.as_tensor((P @ cam.viewmat).T, dtype=torch.float32, device=means.device)
    campos = torch.as_tensor(cam.center, dtype=torch.float32, device=means.device)

    def one_pass(colors_precomp, bg):
        settings = dgr.GaussianRasterizationSettings(
            image_height=cam.height, image_width=cam.width, tanfovx=tx, tanfovy=ty, bg=bg,
            scale_modifier=1.0, viewmatrix=vm, projmatrix=full, sh_degree=0, campos=campos,
            prefiltered=False, debug=False)
        out = dgr.GaussianRasterizer(settings)(
            means3D=means, means2D=torch.zeros_like(means), shs=None,
            colors_precomp=colors_precomp, opacities=opacities[:, None], scales=scales,
            rotations=rotations, cov3D_precomp=None)
        return out[0].permute(1, 2, 0)             # (H, W, 3)

    zeros = torch.zeros(3, device=means.device)
    bg = _bg(background, means)
    color = one_pass(_rgb(means, colors_or_sh, cam), zeros if bg is None else bg.float())
    z = means @ torch.as_tensor(cam.viewmat[2, :3], dtype=means.dtype, device=means.device) \
        + float(cam.viewmat[2, 3])
    aux = one_pass(torch.stack([torch.ones_like(z), z, torch.zeros_like(z)], -1), zeros)
    alpha = aux[..., 0]
    return color, alpha, _expected_depth(aux[..., 1], alpha)
