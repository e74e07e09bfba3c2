"""MSSA attention maps (msit_lite.viz.attention)."""
from __future__ import annotations

import math

import matplotlib

matplotlib.use("Agg")

import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402

from msit_lite.errors import MsitError  # noqa: E402
from msit_lite.models import make  # noqa: E402
from msit_lite.viz.attention import attention_at, positional_bias_field, show_attention  # noqa: E402


def tiny_msit(seed: int = 0):
    torch.manual_seed(seed)
    spec = {"name": "msit", "args": {
        "encoder": {"name": "edsr-baseline", "args": {"n_resblocks": 1, "n_feats": 8}},
        "dim": 32, "heads": 4, "radius": 2, "conv": "plain",
        "msno": {"name": "msno", "args": {"branches": 4}},
        "attention": {"name": "mssa", "args": {"projections": 2}},
        "decoder": {"name": "mlp", "args": {"hidden_list": [16]}}}}
    return make(spec, "model").eval()


def lr_image() -> np.ndarray:
    return np.random.default_rng(0).integers(0, 256, (10, 12, 3), dtype=np.uint8)


def test_attention_weights_are_distributions_per_head():
    torch.set_num_threads(1)
    view = attention_at(tiny_msit(), lr_image(), [(0, 0), (7, 9), (19, 23)], scale=2)
    assert view.probs.shape == view.bias.shape == (3, 4, 5, 5)
    assert torch.allclose(view.probs.sum(dim=(-2, -1)), torch.ones(3, 4), atol=1e-5)
    assert torch.allclose(view.bias_probs.sum(dim=(-2, -1)), torch.ones(3, 4), atol=1e-5)
    assert view.centres == [(0, 0), (3, 4), (9, 11)]  # HR (y, x) at ×2 lies in LR (y//2, x//2)
    ent = view.entropy()
    assert ent.shape == (3, 4) and (ent <= math.log(25) + 1e-5).all() and (ent >= 0).all()


def test_probs_are_softmax_of_content_plus_bias():
    """log p − bias is the content term up to a constant: recombining gives p back."""
    view = attention_at(tiny_msit(1), lr_image(), [(5, 5)], scale=2)
    logits = view.content_logits + view.bias
    again = torch.softmax(logits.flatten(-2), dim=-1).view_as(view.probs)
    assert torch.allclose(again, view.probs, atol=1e-5)


def test_bias_matches_the_module_at_the_window_offsets():
    model = tiny_msit()
    view = attention_at(model, lr_image(), [(6, 8)], scale=2)  # HR pixel centre = LR pixel (3,4)'s centre + δ
    # HR (6, 8) at ×2 on a 10×12 LR: δ to its own LR centre is (-0.5, -0.5) half-pixels; window (a, b) adds -2(a, b).
    r = 2
    a = torch.arange(-r, r + 1, dtype=torch.float32)
    rel = torch.stack(torch.meshgrid(-0.5 - 2 * a, -0.5 - 2 * a, indexing="ij"), dim=-1)
    with torch.no_grad():
        _, bias = model.attention.pos_bias(rel)
    # float32 coordinates: one ulp of δ moves the bias by ~1e-4 (frequencies up to 1023, see mssa.py)
    assert torch.allclose(view.bias[0], bias.permute(2, 0, 1), atol=2e-3)


def test_positional_bias_field():
    model = tiny_msit()
    axis, field = positional_bias_field(model, samples=11)
    assert axis.shape == (11,) and axis[0] == -5 and axis[-1] == 5
    assert field.shape == (4, 11, 11)
    with torch.no_grad():
        _, direct = model.attention.pos_bias(torch.tensor([[float(axis[3]), float(axis[7])]]))
    assert torch.allclose(field[:, 3, 7], direct[0], atol=1e-5)


def test_attention_errors_and_plot():
    model = tiny_msit()
    with pytest.raises(MsitError):
        attention_at(model, lr_image(), [(20, 0)], scale=2)
    with pytest.raises(MsitError):
        attention_at(model, lr_image(), [], scale=2)
    torch.manual_seed(0)
    liif = make({"name": "liif", "args": {"encoder": {"name": "edsr-baseline", "args": {"n_resblocks": 1, "n_feats": 8}},
                                          "decoder": {"name": "mlp", "args": {"hidden_list": [8]}}}}, "model")
    with pytest.raises(MsitError):
        attention_at(liif, lr_image(), [(0, 0)], scale=2)
    view = attention_at(model, lr_image(), [(0, 0)], scale=2)
    axes = show_attention(view, lr_image(), 0)
    assert len(axes) == 5
