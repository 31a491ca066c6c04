"""The pure-torch splat rasteriser against independent checks: the analytic 2D Gaussian,
front-to-back compositing, autograd gradients; GPU backends against it when CUDA is present."""

from __future__ import annotations

import logging

import numpy as np
import pytest
import torch

from backend.render import SplatCamera, rasterize_gaussians
from backend.render.sh import rgb_to_sh_dc

ALPHA_MIN = 1.0 / 255.0


def _camera(w=64, h=48, f=100.0, cx=30.3, cy=25.6) -> SplatCamera:
    K = np.array([[f, 0.0, cx], [0.0, f, cy], [0.0, 0.0, 1.0]])
    return SplatCamera(viewmat=np.eye(4), K=K, width=w, height=h)


def _gaussians(means, scale, opacity, colors, dtype=torch.float32):
    n = len(means)
    return dict(means=torch.tensor(means, dtype=dtype),
                scales=torch.full((n, 3), scale, dtype=dtype),
                rotations=torch.tensor([[1.0, 0.0, 0.0, 0.0]] * n, dtype=dtype),
                opacities=torch.full((n,), opacity, dtype=dtype),
                colors_or_sh=torch.tensor(colors, dtype=dtype))


def test_single_isotropic_gaussian_is_the_analytic_2d_gaussian():
    cam = _camera()
    x, y, z, s, op = 0.013, -0.021, 2.0, 0.08, 0.8
    r = rasterize_gaussians(**_gaussians([[x, y, z]], s, op, [[1.0, 0.5, 0.25]]), camera=cam,
                            backend="torch", eps2d=0.3)
    f, cx, cy = 100.0, 30.3, 25.6
    # The EWA footprint: J (s^2 I) J^T with the projection's Jacobian, plus the low-pass blur.
    J = np.array([[f / z, 0.0, -f * x / z ** 2], [0.0, f / z, -f * y / z ** 2]])
    inv = np.linalg.inv(s * s * J @ J.T + 0.3 * np.eye(2))
    u0, v0 = f * x / z + cx, f * y / z + cy
    ys, xs = np.mgrid[0:48, 0:64] + 0.5               # pixel centres
    d = np.stack([xs - u0, ys - v0], -1)
    expect = op * np.exp(-0.5 * np.einsum("hwi,ij,hwj->hw", d, inv, d))
    expect = np.where(expect >= ALPHA_MIN, expect, 0.0)
    assert r.backend == "torch"
    np.testing.assert_allclose(r.alpha.numpy(), expect, atol=2e-6)
    np.testing.assert_allclose(r.image[..., 1].numpy(), 0.5 * expect, atol=2e-6)
    assert np.allclose(r.depth.numpy()[expect > 0], z, atol=1e-5)
    assert (r.depth.numpy()[expect == 0] == 0).all()
    # Its peak is where the camera puts the 3D centre.
    iy, ix = np.unravel_index(int(r.alpha.argmax()), r.alpha.shape)
    assert abs(ix + 0.5 - u0) <= 0.5 and abs(iy + 0.5 - v0) <= 0.5


def test_compositing_is_front_to_back_whatever_the_input_order():
    cam = _camera()
    red_front = ([0.0, 0.0, 2.0], [1.0, 0.0, 0.0])
    blue_back = ([0.01, 0.0, 3.0], [0.0, 0.0, 1.0])

    def render(*gs):
        g = _gaussians([m for m, _ in gs], 0.2, 0.6, [c for _, c in gs])
        return rasterize_gaussians(**g, camera=cam, backend="torch")

    a_red = render(red_front).alpha.numpy()          # each one alone
    a_blue = render(blue_back).alpha.numpy()
    for r in (render(red_front, blue_back), render(blue_back, red_front)):
        # Red is nearer: it takes its share first, blue only gets the light red lets through.
        np.testing.assert_allclose(r.image[..., 0].numpy(), a_red, atol=1e-6)
        np.testing.assert_allclose(r.image[..., 2].numpy(), (1 - a_red) * a_blue, atol=1e-6)
        np.testing.assert_allclose(r.alpha.numpy(), 1 - (1 - a_red) * (1 - a_blue), atol=1e-6)
        both = (a_red > 0.1) & (a_blue > 0.1)
        assert both.any()
        # Expected depth lies between the two, nearer the front one where red is denser.
        d = r.depth.numpy()[both]
        assert (d > 2.0).all() and (d < 2.5).all()
    # Moving blue in front swaps the roles.
    swapped = render(red_front, ([0.01, 0.0, 1.5], [0.0, 0.0, 1.0]))
    centre = (25, 30)
    assert swapped.image[centre][2] > swapped.image[centre][0]


def test_background_fills_what_the_gaussians_leave():
    cam = _camera()
    g = _gaussians([[0.0, 0.0, 2.0]], 0.05, 0.9, [[0.0, 0.0, 0.0]])
    r = rasterize_gaussians(**g, camera=cam, background=(0.2, 0.4, 0.6), backend="torch")
    expect = (1 - r.alpha.numpy())[..., None] * np.array([0.2, 0.4, 0.6])
    np.testing.assert_allclose(r.image.numpy(), expect, atol=1e-6)


def test_degree0_spherical_harmonics_match_plain_colours():
    cam = _camera()
    rgb = [[0.9, 0.2, 0.4], [0.1, 0.7, 0.3]]
    g = _gaussians([[0.0, 0.0, 2.0], [0.05, 0.02, 2.5]], 0.1, 0.7, rgb)
    plain = rasterize_gaussians(**g, camera=cam, backend="torch")
    g["colors_or_sh"] = rgb_to_sh_dc(g["colors_or_sh"])[:, None, :]
    sh = rasterize_gaussians(**g, camera=cam, backend="torch")
    np.testing.assert_allclose(sh.image.numpy(), plain.image.numpy(), atol=1e-6)


def test_bad_shapes_are_reported_with_the_expected_shape():
    g = _gaussians([[0.0, 0.0, 2.0]], 0.1, 0.7, [[1.0, 1.0, 1.0]])
    g["scales"] = g["scales"][:, :2]
    with pytest.raises(ValueError, match=r"scales has shape \(1, 2\), expected \(1, 3\)"):
        rasterize_gaussians(**g, camera=_camera())


def test_gradients_pass_gradcheck_in_float64():
    cam = _camera(w=12, h=10, f=30.0, cx=6.2, cy=4.9)
    torch.manual_seed(0)
    base = _gaussians([[0.02, 0.01, 1.0], [-0.05, 0.03, 1.2], [0.06, -0.04, 1.5]], 0.05, 0.7,
                      [[0.9, 0.2, 0.1], [0.2, 0.8, 0.3], [0.1, 0.3, 0.9]], dtype=torch.float64)
    base["scales"] = base["scales"] * torch.tensor([[1.0, 0.6, 0.8], [0.7, 1.2, 1.0],
                                                    [1.1, 0.9, 0.5]], dtype=torch.float64)
    base["rotations"] = torch.nn.functional.normalize(
        torch.tensor([[0.9, 0.1, 0.2, 0.3], [0.8, -0.3, 0.1, 0.2], [1.0, 0.0, 0.3, -0.2]],
                     dtype=torch.float64), dim=1)
    base["opacities"] = torch.tensor([0.7, 0.5, 0.9], dtype=torch.float64)
    names = ["means", "scales", "rotations", "opacities", "colors_or_sh"]
    inputs = tuple(base[k].clone().requires_grad_(True) for k in names)

    def render(*args):
        r = rasterize_gaussians(**dict(zip(names, args)), camera=cam, backend="torch")
        return r.image, r.alpha

    assert torch.autograd.gradcheck(render, inputs, eps=1e-6, atol=1e-5, rtol=1e-4)
    # The gradient is not trivially zero: moving a Gaussian changes the picture.
    img, _ = render(*inputs)
    img.sum().backward()
    assert inputs[0].grad.abs().sum() > 0 and inputs[4].grad.abs().sum() > 0


def test_a_gpu_backend_asked_for_on_cpu_falls_back_with_one_log_line(caplog):
    from backend.render import api
    api._FALLBACK_LOGGED.discard("gsplat")        # as in a fresh process
    g = _gaussians([[0.0, 0.0, 2.0]], 0.1, 0.7, [[1.0, 1.0, 1.0]])
    with caplog.at_level(logging.INFO, logger="doppel.render"):
        rs = [rasterize_gaussians(**g, camera=_camera(), backend="gsplat") for _ in range(3)]
    assert all(r.backend == "torch" for r in rs)
    assert sum("gsplat" in rec.getMessage() for rec in caplog.records) == 1


# --- GPU backends against the reference (only where CUDA is present) -------------------------

def _random_scene(n, device, seed=0):
    gen = torch.Generator().manual_seed(seed)
    means = torch.randn(n, 3, generator=gen) * torch.tensor([0.3, 0.3, 0.4]) + \
        torch.tensor([0.0, 0.0, 3.0])
    return dict(means=means.to(device),
                scales=(torch.rand(n, 3, generator=gen) * 0.02 + 0.004).to(device),
                rotations=torch.randn(n, 4, generator=gen).to(device),
                opacities=(torch.rand(n, generator=gen) * 0.9 + 0.05).to(device),
                colors_or_sh=torch.rand(n, 3, generator=gen).to(device))


@pytest.mark.parametrize("backend", ["gsplat", "diff_gaussian_rasterization"])
def test_gpu_backend_matches_the_reference(backend):
    if not torch.cuda.is_available():
        pytest.skip("no CUDA device")
    from backend.render import available_backends
    if backend not in available_backends("cuda"):
        pytest.skip(f"{backend} is not installed")
    cam = SplatCamera(viewmat=np.eye(4), K=np.array([[200.0, 0, 64], [0, 200.0, 64], [0, 0, 1]]),
                      width=128, height=128)
    for n in (1, 50, 2000):
        g = _random_scene(n, "cuda")
        for t in g.values():
            t.requires_grad_(True)
        gpu = rasterize_gaussians(**g, camera=cam, backend=backend)
        assert gpu.backend == backend
        ref_in = {k: v.detach().cpu().requires_grad_(True) for k, v in g.items()}
        ref = rasterize_gaussians(**ref_in, camera=cam, backend="torch")
        assert (gpu.image.detach().cpu() - ref.image.detach()).abs().max() < 2e-3
        assert (gpu.alpha.detach().cpu() - ref.alpha.detach()).abs().max() < 2e-3
        (gpu.image.sum() + gpu.alpha.sum()).backward()
        (ref.image.sum() + ref.alpha.sum()).backward()
        for k in ("means", "opacities", "colors_or_sh"):
            a, b = g[k].grad.cpu(), ref_in[k].grad
            assert (a - b).abs().max() <= 2e-2 * (b.abs().max() + 1e-3), k
