"""MSC feature maps, frequency energy split and the least-squares merge (msit_lite.viz.feature_maps)."""
from __future__ import annotations

import math

import matplotlib

matplotlib.use("Agg")

import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402

from msit_lite.errors import MsitError  # noqa: E402
from msit_lite.models import make  # noqa: E402
from msit_lite.viz.feature_maps import (  # noqa: E402
    feature_image, fit_linear_merge, frequency_energy, msc_features, radial_profile, show_msc,
)


def tiny_msit(merge: str = "sim", conv: str = "plain", seed: int = 0):
    torch.manual_seed(seed)
    spec = {"name": "msit", "args": {
        "encoder": {"name": "edsr-baseline", "args": {"n_resblocks": 1, "n_feats": 8}},
        "dim": 32, "heads": 4, "radius": 1, "conv": conv,
        "msno": {"name": "msno", "args": {"branches": 4, "merge": merge}},
        "attention": {"name": "mssa", "args": {"projections": 2}},
        "decoder": {"name": "mlp", "args": {"hidden_list": [16]}}}}
    return make(spec, "model").eval()


def lr_image(h: int = 14, w: int = 16) -> np.ndarray:
    return np.random.default_rng(0).integers(0, 256, (h, w, 3), dtype=np.uint8)


def test_msc_features_are_the_branch_convolutions():
    torch.set_num_threads(1)
    model = tiny_msit()
    f = msc_features(model, lr_image())
    assert f.kernel_sizes == [3, 5, 7, 9]
    assert [tuple(b.shape) for b in f.branches] == [(8, 14, 16)] * 4
    chunks = torch.split(f.fem[None], 8, dim=1)
    with torch.no_grad():
        for conv, chunk, branch in zip(model.msno.msc.convs, chunks, f.branches):
            assert torch.allclose(conv(chunk)[0], branch, atol=1e-6)
        assert torch.allclose(model.msno.merge(f.concat[None])[0], f.merged, atol=1e-5)
        assert torch.allclose(model.msno.proj((f.merged * f.v)[None])[0], f.output, atol=1e-5)


def test_msc_features_needs_msno():
    torch.manual_seed(0)
    liif = make({"name": "liif", "args": {"encoder": {"name": "edsr-baseline", "args": {"n_resblocks": 1, "n_feats": 8}},
                                          "decoder": {"name": "mlp", "args": {"hidden_list": [8]}}}}, "model")
    with pytest.raises(MsitError):
        msc_features(liif, lr_image())


def test_frequency_energy_separates_low_and_high():
    yy, xx = np.mgrid[0:32, 0:32]
    smooth = np.cos(2 * math.pi * xx / 32)[None]  # 1/32 cycles per pixel
    checker = ((-1.0) ** (yy + xx))[None]  # (0.5, 0.5): the highest frequency
    lo, hi = frequency_energy(smooth)
    assert lo == pytest.approx(1.0) and hi == pytest.approx(0.0, abs=1e-12)
    lo, hi = frequency_energy(checker)
    assert hi == pytest.approx(1.0)
    assert frequency_energy(np.full((2, 8, 8), 3.0)) == (0.0, 0.0)  # DC only
    mix = math.sqrt(2) * smooth + checker  # equal mean power (cos² averages 1/2)
    assert frequency_energy(mix) == pytest.approx((0.5, 0.5))
    with pytest.raises(MsitError):
        frequency_energy(smooth, cutoff=0.9)


def test_radial_profile_sums_to_one():
    centres, share = radial_profile(np.random.default_rng(1).normal(size=(3, 16, 16)), bins=8)
    assert centres.shape == share.shape == (8,)
    assert share.sum() == pytest.approx(1.0) and (share >= 0).all()


def test_feature_image_range_and_shape():
    img = feature_image(torch.randn(5, 9, 11))
    assert img.shape == (9, 11) and img.min() >= 0 and img.max() <= 1 and img.max() > 0.9
    assert feature_image(torch.ones(2, 4, 4)).max() == 0  # no structure -> black


def test_fit_linear_merge_recovers_a_linear_map():
    g = torch.Generator().manual_seed(0)
    x = torch.randn(6, 10, 12, generator=g)
    w, b = torch.randn(4, 6, generator=g), torch.randn(4, generator=g)
    y = torch.einsum("oi,ihw->ohw", w, x) + b[:, None, None]
    fit = fit_linear_merge(x, y)
    assert fit.r2 == pytest.approx(1.0, abs=1e-9)
    assert torch.allclose(fit.weight, w, atol=1e-4) and torch.allclose(fit.bias, b, atol=1e-4)
    nonlinear = fit_linear_merge(x, torch.tanh(3 * y))
    assert nonlinear.r2 < 0.99


def test_conv_merge_is_reproduced_exactly_and_sim_is_not():
    """A ``merge: conv`` model's merge IS a 1×1 conv, so the fit is perfect; SIM (BN + GELU) is not linear."""
    conv_model = tiny_msit(merge="conv")
    f = msc_features(conv_model, lr_image())
    assert fit_linear_merge(f.concat, f.merged).r2 > 0.999999
    sim_model = tiny_msit(merge="sim")
    with torch.no_grad():  # make SIM's GELU operate in its curved range
        sim_model.msno.merge.bn.running_var.fill_(0.01)
    f = msc_features(sim_model, lr_image())
    assert fit_linear_merge(f.concat, f.merged).r2 < 0.999


def test_show_msc_draws_one_panel_per_branch():
    f = msc_features(tiny_msit(), lr_image())
    axes = show_msc(f, lr_image())
    assert len(axes) == 5
    assert axes[1].get_title().startswith("3×3")
