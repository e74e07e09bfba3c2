"""LAM and Integrated Gradients (msit_lite.viz.lam): the blur path, completeness on analytic toy
models, agreement with captum, the window objective of arbitrary-scale models, Gini / DI."""
from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from msit_lite.errors import MsitError
from msit_lite.inference import predict
from msit_lite.models import make
from msit_lite.viz.lam import (
    Window, WindowObjective, WindowSR, blur, blur_path, diffusion_index, edge_strength, gaussian_kernel, gini,
    heat_map, integrated_gradients, lam, path_integrated_gradients, without_fem,
)


def tiny_msit(seed: int = 0) -> nn.Module:
    torch.manual_seed(seed)
    spec = {"name": "msit", "args": {
        "encoder": {"name": "edsr-baseline", "args": {"n_resblocks": 1, "n_feats": 8}},
        "dim": 32, "heads": 4, "radius": 1, "conv": "plain",
        "msno": {"name": "msno", "args": {"branches": 4}},
        "attention": {"name": "mssa", "args": {"projections": 2}},
        "decoder": {"name": "mlp", "args": {"hidden_list": [16]}}}}
    return make(spec, "model").eval()


def tiny_liif(seed: int = 0) -> nn.Module:
    torch.manual_seed(seed)
    spec = {"name": "liif", "args": {"encoder": {"name": "edsr-baseline", "args": {"n_resblocks": 1, "n_feats": 8}},
                                     "decoder": {"name": "mlp", "args": {"hidden_list": [16]}}}}
    return make(spec, "model").eval()


@pytest.fixture(autouse=True)
def one_thread():
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


def image(h: int = 12, w: int = 14, seed: int = 0) -> torch.Tensor:
    return torch.rand(3, h, w, generator=torch.Generator().manual_seed(seed))


def test_gaussian_kernel_normalised_and_delta_at_zero():
    k = gaussian_kernel(1.2, 9)
    assert k.shape == (9, 9) and abs(float(k.sum()) - 1) < 1e-12
    assert k[4, 4] == k.max() and torch.allclose(k, k.T) and torch.allclose(k, k.flip(0))
    d = gaussian_kernel(0.0, 5)
    assert d[2, 2] == 1 and d.sum() == 1
    x = image()
    assert torch.equal(blur(x, 0.0, 5), x)
    assert blur(x, 2.0, 5).std() < x.std()  # blurring removes variance
    with pytest.raises(MsitError):
        gaussian_kernel(1.0, 4)
    with pytest.raises(MsitError):
        blur(image(3, 3), 1.0, 9)


@pytest.mark.parametrize("rule", ["left", "right", "midpoint"])
def test_blur_path_increments_telescope(rule):
    x = image()
    points, deltas = blur_path(x, sigma=1.5, steps=7, size=5, rule=rule)
    assert points.shape == deltas.shape == (7, 3, 12, 14)
    assert torch.allclose(deltas.sum(0), x - blur(x, 1.5, 5), atol=1e-6)
    if rule == "right":
        assert torch.allclose(points[-1], x)
    if rule == "left":
        assert torch.allclose(points[0], blur(x, 1.5, 5))


def test_linear_model_attribution_is_exact():
    """F(x) = Σ w⊙x: every path gives A = w⊙(x − x') exactly, with any number of steps."""
    x = image()
    w = torch.randn(3, 12, 14, generator=torch.Generator().manual_seed(3))
    f = lambda b: (b * w).flatten(1).sum(1)  # noqa: E731
    for steps in (1, 5):
        points, deltas = blur_path(x, 1.2, steps, 5, "right")
        attr = path_integrated_gradients(f, points, deltas, batch_size=2)
        assert torch.allclose(attr, w * (x - blur(x, 1.2, 5)), atol=1e-5)
        with torch.no_grad():
            change = float(f(x[None]) - f(blur(x, 1.2, 5)[None]))
        assert abs(float(attr.sum()) - change) < 1e-4


def test_completeness_gap_shrinks_with_steps_on_a_smooth_model():
    """A smooth nonlinear toy: the gap falls ~1/n (right rule) and ~1/n² (midpoint)."""
    torch.manual_seed(0)
    conv = nn.Conv2d(3, 4, 3, padding=1)
    f = lambda b: torch.tanh(conv(b)).pow(2).flatten(1).sum(1)  # noqa: E731
    x = image(10, 10)
    with torch.no_grad():
        change = float(f(x[None]) - f(blur(x, 1.2, 5)[None]))
    gaps = {}
    for rule in ("right", "midpoint"):
        for n in (4, 32):
            p, d = blur_path(x, 1.2, n, 5, rule)
            gaps[rule, n] = abs(float(path_integrated_gradients(f, p, d).sum()) - change) / abs(change)
    assert gaps["right", 32] < gaps["right", 4] / 4
    assert gaps["midpoint", 32] < gaps["midpoint", 4] / 16
    assert gaps["midpoint", 32] < 1e-3


def test_straight_line_path_matches_captum():
    """Our generic path sum on the straight line == captum's IntegratedGradients (riemann_right)."""
    from captum.attr import IntegratedGradients

    torch.manual_seed(1)
    conv = nn.Conv2d(3, 2, 3, padding=1)
    f = lambda b: torch.sigmoid(conv(b)).flatten(1).sum(1)  # noqa: E731
    x, base = image(), blur(image(), 1.2, 5)
    n = 6
    alphas = torch.arange(1, n + 1, dtype=torch.float32) / n
    points = base[None] + alphas[:, None, None, None] * (x - base)[None]
    deltas = ((x - base) / n)[None].expand(n, -1, -1, -1)
    ours = path_integrated_gradients(f, points, deltas)
    theirs, delta = IntegratedGradients(f).attribute(x[None], baselines=base[None], n_steps=n, method="riemann_right",
                                                    return_convergence_delta=True)
    assert torch.allclose(ours, theirs[0], atol=1e-5)
    with torch.no_grad():
        change = float(f(x[None]) - f(base[None]))
    assert abs(float(delta) - (float(ours.sum()) - change)) < 1e-4


def test_edge_strength():
    flat = torch.full((2, 3, 5, 5), 0.3)
    assert torch.allclose(edge_strength(flat, eps=1e-8), torch.full((2,), 3 * 16 * 1e-4))
    ramp = torch.arange(5.0).view(1, 1, 1, 5).expand(1, 1, 5, 5)  # Δx = 1, Δy = 0
    assert torch.allclose(edge_strength(ramp, eps=0.0), torch.tensor([16.0]))
    with pytest.raises(MsitError):
        edge_strength(torch.zeros(3, 5, 5))


@pytest.mark.parametrize("factory", [tiny_msit, tiny_liif])
def test_window_sr_equals_crop_of_full_prediction(factory):
    model = factory()
    x = image(10, 11)
    hr_size = (25, 27)  # ×2.5 (anisotropic rounding)
    win = Window(top=6, left=9, size=8)
    patch = WindowSR(model, hr_size, win)(x[None])
    full = predict(model, (x[None] - 0.5) / 0.5, hr_size) * 0.5 + 0.5
    assert patch.shape == (1, 3, 9, 9)
    assert torch.allclose(patch, full[:, :, 6:15, 9:18], atol=1e-5)
    with pytest.raises(MsitError):
        WindowSR(model, hr_size, Window(17, 0, 8))  # needs 17 + 8 + 1 <= 25


@pytest.mark.parametrize("factory", [tiny_msit, tiny_liif])
def test_lam_completeness_on_random_models(factory):
    """Stated tolerance: midpoint rule, 24 steps -> |ΣA − ΔF| ≤ 2 % of ΔF on these tiny nets."""
    model = factory()
    x = image(12, 12)
    win = Window(8, 8, 6)
    res = lam(model, x, win, scale=2.0, sigma=1.2, steps=24, kernel_size=5, rule="midpoint")
    assert res.attribution.shape == (3, 12, 12) and res.heat.shape == (12, 12)
    assert res.heat.max() == pytest.approx(1.0)
    assert res.hr_size == (24, 24) and res.sr_window.shape == (6, 6, 3)
    objective = WindowObjective(model, (24, 24), win)
    with torch.no_grad():
        assert res.objective == pytest.approx(float(objective(x[None])), rel=1e-5)
    assert res.relative_gap < 0.02
    assert 0 <= res.diffusion_index <= 100


def test_lam_more_steps_reduce_the_gap():
    model = tiny_msit(2)
    x = image(12, 12, seed=2)
    coarse = lam(model, x, Window(6, 6, 8), scale=2.0, steps=2, kernel_size=5)
    fine = lam(model, x, Window(6, 6, 8), scale=2.0, steps=32, kernel_size=5)
    assert abs(fine.gap) < abs(coarse.gap)


def test_integrated_gradients_via_captum():
    model = tiny_msit(0)
    x = image(12, 12)
    res, delta = integrated_gradients(model, x, Window(8, 8, 6), scale=2.0, steps=16, kernel_size=5,
                                      method="gausslegendre")
    assert delta == pytest.approx(res.gap, abs=1e-3)  # captum's convergence delta = our completeness gap
    assert res.relative_gap < 0.05
    assert res.method.startswith("IG")


def test_gini_and_diffusion_index():
    assert gini(np.ones(100)) == pytest.approx(0.0)
    spike = np.zeros(100)
    spike[3] = 5.0
    assert gini(spike) == pytest.approx(0.99)
    assert diffusion_index(np.ones((4, 4))) == pytest.approx(100.0)
    assert diffusion_index(spike) == pytest.approx(1.0)
    assert 0 < gini(np.arange(10.0)) < 1
    assert gini(np.zeros(5)) == 0.0


def test_heat_map_is_abs_channel_sum_normalised():
    a = torch.zeros(3, 2, 2)
    a[0, 0, 0], a[1, 0, 0] = 2.0, -3.0  # sum -1
    a[2, 1, 1] = 4.0
    h = heat_map(a)
    assert h[1, 1] == 1.0 and h[0, 0] == pytest.approx(0.25) and h[0, 1] == 0


def test_without_fem_keeps_weights_and_removes_shifts():
    model = tiny_msit()
    ablated = without_fem(model)
    assert isinstance(ablated.msno.fem, nn.Identity)
    assert type(model.msno.fem).__name__ == "FEM"  # the original is untouched
    sd, sa = model.state_dict(), ablated.state_dict()
    assert all(torch.equal(sd[k], sa[k]) for k in sa)
    x = image()[None]
    with torch.no_grad():
        assert not torch.allclose(model.features(x), ablated.features(x))
    with pytest.raises(MsitError):
        without_fem(tiny_liif())


def test_bad_inputs_raise_msit_error():
    model = tiny_msit()
    with pytest.raises(MsitError):
        lam(model, image(), Window(0, 0, 4))  # neither scale nor hr_size
    with pytest.raises(MsitError):
        lam(model, np.zeros((8, 8), np.uint8), Window(0, 0, 4), scale=2)
    with pytest.raises(MsitError):
        blur_path(image(), steps=0)


def test_pictures_run():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from msit_lite.viz.lam import show_captum, show_heat_zoom, show_lam

    model = tiny_msit()
    x = image(12, 12)
    res = lam(model, x, Window(8, 8, 6), scale=2.0, steps=2, kernel_size=5)
    fig, axes = plt.subplots(1, 3)
    show_lam(res, x, ax=axes[0])
    show_heat_zoom(res, axes[1], margin=2)
    show_captum(res, x, axes[2], title="captum")
    assert "DI" in axes[0].get_title() and axes[2].get_title() == "captum"
    assert axes[1].images[0].get_array().shape == (7, 7)  # window rows 4..7 (LR) plus 2 on each side, clipped
    plt.close(fig)


def test_default_steps_follow_quick_mode(monkeypatch):
    from msit_lite.viz.lam import LAM_STEPS, QUICK_STEPS, default_steps

    monkeypatch.setenv("MSIT_QUICK", "0")
    assert default_steps() == LAM_STEPS == 50
    monkeypatch.setenv("MSIT_QUICK", "1")
    assert default_steps() == QUICK_STEPS < LAM_STEPS
    points, _ = blur_path(image(), steps=None, size=5)
    assert points.shape[0] == QUICK_STEPS
