"""msit_lite.fast_liif: the re-associated LIIF decoder equals LIIF.query (≤ 1e-5) on random models."""
from __future__ import annotations

import itertools

import numpy as np
import pytest
import torch

from msit_lite.coords import make_cell, make_coord, output_size
from msit_lite.fast_liif import FastLIIF, iter_grid, prepare_fast, unsupported_reason
from msit_lite.inference import predict, prepare_model, upscale
from msit_lite.models.registry import make

TOL = 1e-5


def tiny_liif(feat_unfold: bool = True, local_ensemble: bool = True, cell_decode: bool = True,
              act: str = "relu", seed: int = 0) -> torch.nn.Module:
    torch.manual_seed(seed)
    model = make({"name": "liif", "args": {
        "encoder": {"name": "edsr-baseline", "args": {"n_resblocks": 1, "n_feats": 8}},
        "decoder": {"name": "mlp", "args": {"hidden_list": [32, 32, 32], "act": act}},
        "feat_unfold": feat_unfold, "local_ensemble": local_ensemble, "cell_decode": cell_decode}}, "model")
    # larger-than-init weights so that the outputs are O(1) and rounding differences show
    with torch.no_grad():
        for p in model.decoder.parameters():
            p.mul_(3)
    return model.eval()


FLAGS = list(itertools.product([True, False], repeat=3))


@pytest.mark.parametrize("feat_unfold,local_ensemble,cell_decode", FLAGS)
def test_query_matches_reference_at_any_coordinates(feat_unfold, local_ensemble, cell_decode):
    model = tiny_liif(feat_unfold, local_ensemble, cell_decode)
    fast = prepare_fast(model)
    gen = torch.Generator().manual_seed(1)
    lr = torch.rand(2, 3, 7, 5, generator=gen) * 2 - 1  # batch of 2, non-square
    coord = torch.rand(2, 300, 2, generator=gen) * 2 - 1
    coord[:, :20] = coord[:, :20].sign()  # at the image border (the clamp)
    cell = torch.rand(2, 300, 2, generator=gen) * 0.5  # per-query cells
    with torch.no_grad():
        ref = model.query(model.encode(lr), coord, cell)
        out = fast.query(fast.encode(lr), coord, cell)
        ref2 = model.query(model.encode(lr), coord, cell[:, 0])  # one cell per image [b, 2]
        out2 = fast.query(fast.encode(lr), coord, cell[:, 0])
    assert out.shape == ref.shape == (2, 300, 3)
    assert ref.abs().max() > 0.1  # a meaningful comparison
    assert (out - ref).abs().max().item() <= TOL
    assert (out2 - ref2).abs().max().item() <= TOL


@pytest.mark.parametrize("feat_unfold,local_ensemble,cell_decode", FLAGS)
@pytest.mark.parametrize("lr_size,scale", [((6, 9), (2.0, 2.0)), ((7, 5), (2.5, 3.7)), ((5, 6), (4.0, 1.3))])
def test_grid_matches_reference(feat_unfold, local_ensemble, cell_decode, lr_size, scale):
    model = tiny_liif(feat_unfold, local_ensemble, cell_decode, seed=2)
    fast = prepare_fast(model)
    lr = torch.rand(2, 3, *lr_size, generator=torch.Generator().manual_seed(3)) * 2 - 1
    hr = output_size(lr_size, scale)
    coord = make_coord(hr).unsqueeze(0).expand(2, -1, -1)
    with torch.no_grad():
        ref = model.query(model.encode(lr), coord, make_cell(hr, 2))
        feats = fast.encode(lr)
        out = torch.cat([rgb for _, _, rgb in iter_grid(fast, feats, hr, chunk=37)], dim=1)
        whole = torch.cat([rgb for _, _, rgb in iter_grid(fast, feats, hr)], dim=1)
    assert (out - ref).abs().max().item() <= TOL
    assert torch.equal(out, whole) or (out - whole).abs().max().item() <= 1e-6  # chunking only regroups rows


def test_gelu_decoder_and_untouched_model():
    model = tiny_liif(act="gelu")
    before = {k: v.clone() for k, v in model.state_dict().items()}
    fast = prepare_fast(model)
    lr = torch.rand(1, 3, 6, 6) * 2 - 1
    coord = torch.rand(1, 50, 2) * 2 - 1
    cell = torch.full((1, 2), 0.1)
    with torch.no_grad():
        assert (fast.query(fast.encode(lr), coord, cell) - model.query(model.encode(lr), coord, cell)).abs().max() <= TOL
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())
    assert fast.inner is not model


def test_prepare_model_wiring_and_supported_models():
    model = tiny_liif()
    assert unsupported_reason(model) is None
    net = prepare_model(model, fast=True)
    assert isinstance(net, FastLIIF)
    assert prepare_model(net, fast=True) is net
    assert not isinstance(prepare_model(net, fast=False), FastLIIF)  # --reference-path unwraps it
    assert not isinstance(prepare_model(model, fast=False), FastLIIF)

    class OwnQuery(type(model)):  # a subclass with its own query is not re-associated
        def query(self, feats, coord, cell, trace=None):
            return super().query(feats, coord, cell, trace)

    other = OwnQuery.__new__(OwnQuery)
    other.__dict__ = model.__dict__.copy()
    assert "not the built-in LIIF" in unsupported_reason(other)
    assert not isinstance(prepare_model(other, fast=True), FastLIIF)


def test_predict_and_upscale_fast_equal_reference():
    model = tiny_liif()
    gen = torch.Generator().manual_seed(4)
    lr = torch.rand(2, 3, 9, 7, generator=gen) * 2 - 1
    hr = (23, 15)
    a = predict(model, lr, hr, fast=True)
    b = predict(model, lr, hr, fast=False)
    assert a.shape == b.shape == (2, 3, *hr)
    assert (a - b).abs().max().item() <= TOL
    tiled = predict(model, lr, hr, fast=True, tile=4)  # exact tiling sees the conv'd first layer too
    assert (tiled - b).abs().max().item() <= TOL

    image = (np.random.default_rng(0).random((10, 8, 3)) * 255).astype(np.uint8)
    u_fast = upscale(model, image, 3.3, fast=True).astype(int)
    u_ref = upscale(model, image, 3.3, fast=False).astype(int)
    assert u_fast.shape == u_ref.shape == (33, 26, 3)
    assert np.abs(u_fast - u_ref).max() <= 1  # 8-bit rounding of values equal to ~1e-6
    assert (u_fast == u_ref).mean() >= 0.999
