"""RIM folding, RefConv, stage-1 loading, and every ablation variant (tiny sizes) builds and runs."""
from __future__ import annotations

import copy

import pytest
import torch

from msit_lite.checkpoint import load_state_dict_checked
from msit_lite.config import build_model, load_config
from msit_lite.errors import MsitError
from msit_lite.models import RefConv2d, RIMConv2d, fold, fold_spec, load_stage1, make
from msit_lite.models.rim import rim_modules
from msit_lite.official import load_official
from msit_lite.paths import repo_dir


def tiny(conv="rim", **over):
    args = {
        "encoder": {"name": "edsr-baseline", "args": {"n_resblocks": 1, "n_feats": 8}},
        "dim": 32, "heads": 4, "radius": 1, "conv": conv,
        "msno": {"name": "msno", "args": {"branches": 4}},
        "attention": {"name": "mssa", "args": {"projections": 2}},
        "decoder": {"name": "mlp", "args": {"hidden_list": [16]}},
    }
    args.update(over)
    return {"name": "msit", "args": args}


def randomise(model: torch.nn.Module, seed: int = 0) -> None:
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, t in model.state_dict().items():
            if t.is_floating_point() and not name.endswith("mix_margin"):
                t.copy_(torch.rand(t.shape, generator=g) * 0.4 - 0.2 + (1.0 if name.endswith("running_var") else 0.0))


def inputs():
    torch.set_num_threads(1)  # deterministic reductions (conftest restores the thread count)
    g = torch.Generator().manual_seed(1)
    lr = torch.rand(2, 3, 7, 9, generator=g) * 2 - 1
    coord = torch.rand(2, 11, 2, generator=g) * 2 - 1
    return lr, coord, torch.full((2, 2), 0.08)


VARIANTS = {
    "rim": tiny("rim"),
    "refconv": tiny("refconv"),
    "plain": tiny("plain"),
    "no-msno+sa": tiny("plain", msno="none", attention={"name": "sa"}),
    "sa-rim": tiny("rim", attention={"name": "sa"}),
    "msc-1": tiny("rim", msno={"name": "msno", "args": {"branches": 1}}),
    "msc-8": tiny("rim", msno={"name": "msno", "args": {"branches": 8}}),
    "proj-1": tiny("rim", attention={"name": "mssa", "args": {"projections": 1}}),
    "proj-16": tiny("rim", attention={"name": "mssa", "args": {"projections": 16}}),
    "fem-off": tiny("rim", msno={"name": "msno", "args": {"branches": 4, "fem": "none"}}),
    "fem-paper": tiny("rim", msno={"name": "msno", "args": {"branches": 4, "fem": "paper"}}),
    "sim-off": tiny("rim", msno={"name": "msno", "args": {"branches": 4, "merge": "conv"}}),
    "liif": {"name": "liif", "args": {"encoder": {"name": "edsr-baseline", "args": {"n_resblocks": 1, "n_feats": 8}},
                                        "decoder": {"name": "mlp", "args": {"hidden_list": [16], "act": "relu"}}}},
}


@pytest.mark.parametrize("variant", list(VARIANTS))
def test_variant_forward_and_fold(variant):
    spec = VARIANTS[variant]
    model = make(spec).eval()
    randomise(model)
    lr, coord, cell = inputs()
    with torch.no_grad():
        out = model(lr, coord, cell)
        assert out.shape == (2, 11, 3) and torch.isfinite(out).all()
        assert (out - model.query(model.encode(lr), coord, cell)).abs().max() <= 1e-6
        per_query = cell.unsqueeze(1).expand(-1, coord.shape[1], -1)  # LIIF-style [b, q, 2] cell
        assert (out - model(lr, coord, per_query)).abs().max() <= 1e-6
        folded = fold(model)
        assert not rim_modules(folded)
        assert (out - folded(lr, coord, cell)).abs().max() <= 1e-5
    # The folded state dict fits the same config with conv: plain.
    plain = make(fold_spec(spec))
    load_state_dict_checked(plain, folded.state_dict(), "folded")


def test_fold_golden_model(golden):
    torch.set_num_threads(1)
    model = build_model(load_config(repo_dir() / "configs" / "golden" / "msit-small-rim.yaml"))
    load_official(golden / "msit_small_rim.weights.safetensors", model).eval()
    lr, coord, cell = inputs()
    with torch.no_grad():
        ref = model(lr, coord, cell)
        err = (ref - fold(model)(lr, coord, cell)).abs().max().item()
    assert err <= 1e-5
    assert len(rim_modules(model)) == 9


def test_refconv_is_rim_without_linear():
    rim, ref = RIMConv2d(4, 4, 5), RefConv2d(4, 4, 5)
    assert ref.linear is None
    ref.convmap.load_state_dict(rim.convmap.state_dict())
    w = torch.randn(4, 4, 5, 5)
    rim.weight.copy_(w), ref.weight.copy_(w)
    with torch.no_grad():
        delta = ref.effective_weight() - w
        # Eq. 11: RIM remap = DWConv(W) * Linear(W); Linear = per-kernel scalar s times W.
        rim.linear.weight.fill_(1.0)
        assert torch.allclose(rim.effective_weight() - w, delta * w, atol=1e-5)
        rim.linear.weight.fill_(2.0)
        assert torch.allclose(rim.effective_weight() - w, 2 * delta * w, atol=1e-5)
    # per 2-D kernel: RIM 9 + 1 parameters, RefConv 9 (+ bias)
    assert sum(p.numel() for p in rim.parameters()) == 16 * 10 + 4
    assert sum(p.numel() for p in ref.parameters()) == 16 * 9 + 4


def test_fresh_rim_is_dead():
    """README §9.8: W = 0 -> W' = 0 -> convmap/linear get exactly zero gradient."""
    rim = RIMConv2d(4, 4, 3)
    x = torch.randn(1, 4, 6, 6)
    rim(x).square().sum().backward()
    assert torch.count_nonzero(rim.convmap.weight.grad) == 0
    assert torch.count_nonzero(rim.linear.weight.grad) == 0


def test_load_stage1():
    plain = make(tiny("plain"))
    randomise(plain, seed=3)
    rim = make(tiny("rim"))
    fresh = load_stage1(rim, plain.state_dict())
    assert len(fresh) == 2 * len(rim_modules(rim))
    for name, module in rim_modules(rim).items():
        assert torch.equal(module.weight, plain.state_dict()[f"{name}.weight"])
        assert torch.equal(module.bias, plain.state_dict()[f"{name}.bias"])
    # Fresh remaps make the stage-2 function differ from stage 1 (W' != W) -- but only via RIMs.
    lr, coord, cell = inputs()
    plain.eval(), rim.eval()
    with torch.no_grad():
        for m in rim_modules(rim).values():
            m.convmap.weight.zero_()
        assert (plain(lr, coord, cell) - rim(lr, coord, cell)).abs().max() <= 1e-5
    wrong = make(tiny("plain", dim=16, heads=2))
    with pytest.raises(MsitError, match="shape mismatches"):
        load_stage1(make(tiny("rim")), wrong.state_dict())


def test_fold_spec():
    spec = tiny("rim", attention={"name": "sa", "args": {"conv": {"name": "refconv"}}})
    out = fold_spec(spec)
    assert out["args"]["conv"] == "plain" and out["args"]["attention"]["args"]["conv"] == "plain"
    assert spec["args"]["conv"] == "rim"  # input unchanged
    assert copy.deepcopy(out) == fold_spec(out)
