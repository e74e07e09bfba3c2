"""RIM remapping pictures (msit_lite.viz.rim): parts of Eq. 11, spectra, drift, the switch."""
from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402

from msit_lite.errors import MsitError  # noqa: E402
from msit_lite.models import make  # noqa: E402
from msit_lite.models.rim import RIMConv2d, rim_modules  # noqa: E402
from msit_lite.viz.rim import (  # noqa: E402
    all_rim_parts, kernel_spectrum, layer_drift, rim_from_stage1, rim_parts, show_rim_kernel,
)

SPEC = {"name": "msit", "args": {
    "encoder": {"name": "edsr-baseline", "args": {"n_resblocks": 1, "n_feats": 8}},
    "dim": 16, "heads": 4, "radius": 1, "conv": "plain",
    "msno": {"name": "msno", "args": {"branches": 2}},
    "attention": {"name": "mssa", "args": {"projections": 2}},
    "decoder": {"name": "mlp", "args": {"hidden_list": [8]}}}}


def stage1():
    torch.manual_seed(0)
    return make(SPEC, "model").eval()


def test_identity_switch_keeps_w():
    s1 = stage1()
    model = rim_from_stage1(SPEC, s1, rim_init="identity")
    drift = layer_drift(model)
    assert len(drift) == len(rim_modules(model)) == 2 + 2 + 1  # MSC 3,5; MsC 3,5; V 3x3
    assert sorted({d.kernel_size for d in drift}) == [3, 5]
    assert all(d.relative_change == 0 for d in drift)
    w1 = s1.state_dict()
    for name, rim in rim_modules(model).items():
        assert torch.equal(rim.weight, w1[name + ".weight"])


def test_official_switch_moves_w_and_parts_compose():
    model = rim_from_stage1(SPEC, stage1().state_dict(), rim_init="official", seed=3)
    parts = all_rim_parts(model)
    assert all(p.relative_change > 0 for p in parts)
    for p, rim in zip(parts, rim_modules(model).values()):
        assert torch.allclose(p.delta, p.dwconv * p.linear)
        assert torch.allclose(p.linear, p.scale[:, None, None] * p.w, atol=1e-6)  # Linear = per-kernel scalar
        assert torch.allclose(p.w_prime, rim.effective_weight().view_as(p.w_prime), atol=1e-6)
        assert p.relative_change == pytest.approx(float((p.w_prime - p.w).norm() / p.w.norm()), rel=1e-5)
    again = rim_from_stage1(SPEC, stage1(), rim_init="official", seed=3)
    assert [d.relative_change for d in layer_drift(again)] == [p.relative_change for p in parts]


def test_rim_parts_of_refconv_have_unit_linear():
    torch.manual_seed(0)
    from msit_lite.models.rim import RefConv2d

    ref = RefConv2d(2, 2, 5)
    with torch.no_grad():
        ref.weight.normal_()
    p = rim_parts(ref)
    assert torch.equal(p.linear, torch.ones_like(p.linear)) and torch.equal(p.scale, torch.ones(4))
    assert torch.allclose(p.delta, p.dwconv)
    with pytest.raises(MsitError):
        rim_parts(torch.nn.Conv2d(2, 2, 3))


def test_kernel_spectrum():
    delta = torch.zeros(2, 3, 3)
    delta[:, 1, 1] = 1
    spec = kernel_spectrum(delta, 8)
    assert spec.shape == (8, 8) and np.allclose(spec, 1.0)  # a delta passes every frequency
    box = torch.ones(1, 3, 3) / 9
    s = kernel_spectrum(box, 8)
    assert s[4, 4] == pytest.approx(1.0) and s.max() == pytest.approx(1.0) and s.min() < 0.2  # low-pass, DC centred
    with pytest.raises(MsitError):
        kernel_spectrum(torch.ones(3, 5), 8)


def test_layer_drift_needs_rim():
    with pytest.raises(MsitError):
        layer_drift(stage1())
    with pytest.raises(MsitError):
        rim_from_stage1(SPEC, stage1(), rim_init="nope")


def test_show_rim_kernel():
    model = rim_from_stage1(SPEC, stage1(), rim_init="official")
    p = rim_parts(next(m for m in model.modules() if isinstance(m, RIMConv2d)))
    axes = show_rim_kernel(p, 0)
    assert len(axes) == 7 and axes[4].get_title() == "W′"
