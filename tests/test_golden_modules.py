"""Building blocks against the official code's module goldens (golden README §4, §5.8).

FEM (``lem_*``), RIM (``rim``, ``rim_groups2``), MSNO (``amsno``), the multi-scale Q projection
(``msc``) and the sinusoidal positional bias (``posenc``). Official module state dicts are mapped
to our names with the same rules the checkpoint converter uses (applied to a prefixed key).
"""
from __future__ import annotations

from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from msit_lite.checkpoint import load_state_dict_checked
from msit_lite.models import Trace
from msit_lite.models.fem import FEM, official_mask
from msit_lite.models.msno import MSNO
from msit_lite.models.mssa import MultiScaleProjection, SinusoidalPositionalBias, sinusoid_frequencies
from msit_lite.models.rim import RIMConv2d
from msit_lite.official import convert_state_dict

ATOL = 1e-5


def load(golden: Path, name: str) -> tuple[dict, dict]:
    torch.set_num_threads(1)
    return load_file(str(golden / "modules" / f"{name}.weights.safetensors")), load_file(str(golden / "modules" / f"{name}.io.safetensors"))


def convert_module(sd: dict, official_prefix: str, our_prefix: str) -> dict:
    full = convert_state_dict({official_prefix + k: v for k, v in sd.items()})
    return {k[len(our_prefix):]: v for k, v in full.items()}


def err(a: torch.Tensor, b: torch.Tensor) -> float:
    assert a.shape == b.shape, (a.shape, b.shape)
    return (a.double() - b.double()).abs().max().item()


@pytest.mark.parametrize(
    "name, mask_margin",
    [("lem_m1", 1), ("lem_m2", 2), ("lem_m1mask_margin2", 1)],
)
def test_fem(golden, name, mask_margin):
    sd, io = load(golden, name)
    fem = FEM(32, mix_margin=float(sd["mix_margin"]), mode="official", mask_margin=mask_margin)
    assert torch.equal(fem.mask, sd["mask"])  # the constructor rebuilds the official pattern
    fem.load_state_dict({"mix_margin": sd["mix_margin"]})
    assert torch.equal(fem(io["x"]), io["y"])


def test_fem_stride_gets_no_gradient():
    fem = FEM(16)
    x = torch.randn(1, 16, 5, 6, requires_grad=True)
    fem(x).sum().backward()
    assert not fem.mix_margin.requires_grad and x.grad is not None


def test_fem_paper_mode_is_pure_shift():
    fem = FEM(16, mode="paper")
    x = torch.randn(1, 16, 5, 6)
    y = fem(x)
    # group 0 = "up": out[y, x] = in[y + 1, x]; group 7 = "right": out[y, x] = in[y, x - 1]
    assert torch.equal(y[:, 0:2], torch.roll(x[:, 0:2], shifts=-1, dims=2))
    assert torch.equal(y[:, 14:16], torch.roll(x[:, 14:16], shifts=1, dims=3))
    assert (fem.mask.sum(dim=(1, 2, 3)) == 1).all()
    assert not torch.equal(fem.mask, official_mask(16))


@pytest.mark.parametrize("name, groups", [("rim", 1), ("rim_groups2", 2)])
def test_rim(golden, name, groups):
    sd, io = load(golden, name)
    rim = RIMConv2d(8, 8, kernel_size=5, padding=2, groups=groups)
    load_state_dict_checked(rim, sd, name)
    w = rim.weight.view(1, rim.num_kernels, 5, 5)
    with torch.no_grad():
        assert err(rim.convmap(w), io["convmap_out"]) <= 1e-6
        assert err(rim.linear(w), io["linear_out"]) <= 1e-6
        assert err(rim.effective_weight(), io["kernel"]) <= 1e-6
        assert err(rim(io["x"]), io["y"]) <= ATOL
        assert err(rim.to_conv()(io["x"]), io["y"]) <= ATOL  # folding is exact


def test_msno(golden):
    sd, io = load(golden, "amsno")
    msno = MSNO(64, branches=4, conv="rim", fem="official", merge="sim")
    load_state_dict_checked(msno, convert_module(sd, "amsno.", "msno."), "amsno")
    t = Trace()
    with torch.no_grad():
        y = msno.eval()(io["x"], t)
    assert err(y, io["y_eval"]) <= ATOL
    names = {"v": "v", "s": "s", "fem": "lem", "merge.expand": "sim0", "merge.bn": "bn", "merge.reduce": "sim1", "modulated": "modulated"}
    names.update({f"msc.{i}": f"Ms_conv_{i + 1}" for i in range(4)})
    for ours, ref in names.items():
        assert err(t[ours], io[f"eval.{ref}"]) <= ATOL, ours
    for i, conv in enumerate(msno.msc.convs):
        assert err(conv.effective_weight().detach(), io[f"kernel.Ms_conv_{i + 1}"]) <= 1e-6
    with torch.no_grad():
        assert err(msno.train()(io["x"]), io["y_train"]) <= ATOL


def test_msc(golden):
    sd, io = load(golden, "msc")
    msc = MultiScaleProjection(64, projections=4, conv="rim")
    load_state_dict_checked(msc, convert_module(sd, "multi_conv_qs.0.", "attention.q_proj."), "msc")
    assert msc.expand.weight.shape == (128, 4, 1, 1)  # groups = C/N = 16
    t = Trace()
    with torch.no_grad():
        assert err(msc.eval()(io["x"], t), io["y_eval"]) <= ATOL
        for ours, ref in {"proj_in": "proj0", "expand": "proj1", "bn": "bn"}.items():
            assert err(t[ours], io[f"eval.{ref}"]) <= ATOL
        for i in range(4):
            assert err(t[f"convs.{i}"], io[f"eval.local_conv_{i + 1}"]) <= ATOL
            assert err(msc.convs[i].effective_weight(), io[f"kernel.local_conv_{i + 1}"]) <= 1e-6
        assert err(msc.train()(io["x"]), io["y_train"]) <= ATOL
    assert err(msc.bn.running_mean, io["train.bn_running_mean_after"]) <= 1e-6
    assert err(msc.bn.running_var, io["train.bn_running_var_after"]) <= 1e-6


def test_posenc(golden):
    sd, io = load(golden, "posenc")
    pe = SinusoidalPositionalBias(heads=8, enc_dims=64, posenc_scale=10)
    load_state_dict_checked(pe, sd, "posenc")
    assert torch.equal(pe.b_vals, io["b_vals"])  # float32 linspace + 2.0**t - 1, bit for bit
    assert torch.equal(pe.a_vals, io["a_vals"])
    assert sinusoid_frequencies()[-1].item() == 1023.0
    with torch.no_grad():
        enc, pb = pe(io["rel_coord"])
    assert torch.equal(enc, io["pos_enc"])
    assert err(pb, io["pos_bias"]) <= ATOL
