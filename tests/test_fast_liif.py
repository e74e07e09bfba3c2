"""msit_lite.models.liif_grid: the re-associated LIIF grid query equals LIIF.query (≤ 1e-5) on random models."""
from __future__ import annotations

import itertools

import numpy as np
import pytest
import torch

from msit_lite.coords import make_cell, make_coord, output_size
from msit_lite.inference import predict, route, upscale
from msit_lite.models.base import ImplicitSRModel
from msit_lite.models.liif_grid import grid_unsupported
from msit_lite.models.registry import make
from msit_lite.models.runtime import QueryBudget

TOL = 1e-5


def tiny_liif(feat_unfold: bool = True, local_ensemble: bool = True, cell_decode: bool = True,
              act: str = "relu", seed: int = 0, long_skip: bool = False) -> torch.nn.Module:
    torch.manual_seed(seed)
    model = make({"name": "liif", "args": {
        "encoder": {"name": "edsr-baseline", "args": {"n_resblocks": 1, "n_feats": 8}},
        "decoder": {"name": "mlp", "args": {"hidden_list": [32, 32, 32], "act": act}},
        "feat_unfold": feat_unfold, "local_ensemble": local_ensemble, "cell_decode": cell_decode,
        "long_skip": long_skip}}, "model")
    # larger-than-init weights so that the outputs are O(1) and rounding differences show
    with torch.no_grad():
        for p in model.decoder.parameters():
            p.mul_(3)
    return model.eval()


FLAGS = list(itertools.product([True, False], repeat=3))


@pytest.mark.parametrize("feat_unfold,local_ensemble,cell_decode", FLAGS)
@pytest.mark.parametrize("lr_size,scale", [((6, 9), (2.0, 2.0)), ((7, 5), (2.5, 3.7)), ((5, 6), (4.0, 1.3))])
def test_grid_matches_reference(feat_unfold, local_ensemble, cell_decode, lr_size, scale):
    model = tiny_liif(feat_unfold, local_ensemble, cell_decode, seed=2)
    lr = torch.rand(2, 3, *lr_size, generator=torch.Generator().manual_seed(3)) * 2 - 1
    hr = output_size(lr_size, scale)
    coord = make_coord(hr).unsqueeze(0).expand(2, -1, -1)
    with torch.no_grad():
        ref = model.query(model.encode(lr), coord, make_cell(hr, 2))
        feats = model.grid_features(lr)
        assert set(feats) == {"proj"}  # the first layer per LR pixel; the 9C unfolded map is never built
        out = torch.cat([rgb for _, _, rgb in model.query_grid(feats, hr, QueryBudget(queries=37))], dim=1)
        whole = torch.cat([rgb for _, _, rgb in model.query_grid(feats, hr, QueryBudget())], dim=1)
    assert ref.abs().max() > 0.1  # a meaningful comparison
    assert (out - ref).abs().max().item() <= TOL
    assert torch.equal(out, whole) or (out - whole).abs().max().item() <= 1e-6  # chunking only regroups rows


def test_gelu_decoder_and_untouched_model():
    model = tiny_liif(act="gelu")
    before = {k: v.clone() for k, v in model.state_dict().items()}
    lr = torch.rand(1, 3, 6, 6) * 2 - 1
    assert (predict(model, lr, (13, 14)) - predict(model, lr, (13, 14), fast=False)).abs().max() <= TOL
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())
    assert route(model).network is model  # nothing to fold: no copy


def test_long_skip_is_added_on_the_grid_too():
    """LIIF with MSIT's long skip (the lite study's control): the grid query adds it as ``query`` does."""
    model = tiny_liif(long_skip=True)
    lr = torch.rand(2, 3, 5, 7) * 2 - 1
    fast, ref = predict(model, lr, (11, 16)), predict(model, lr, (11, 16), fast=False)
    assert (fast - ref).abs().max() <= TOL
    plain = tiny_liif(long_skip=False)
    assert (predict(plain, lr, (11, 16)) - fast).abs().max() > 0.1  # the skip is really there


def test_supported_models():
    model = tiny_liif()
    assert grid_unsupported(model) is None

    class OwnQuery(type(model)):  # a subclass with its own query is not re-associated
        def query(self, feats, coord, cell, trace=None):
            return super().query(feats, coord, cell, trace)

    assert OwnQuery.query_grid is ImplicitSRModel.query_grid
    other = tiny_liif()
    other.decoder.layers[1] = torch.nn.Tanh()
    assert "Tanh" in grid_unsupported(other)
    lr = torch.rand(1, 3, 5, 5) * 2 - 1
    assert torch.equal(predict(other, lr, (9, 9)), predict(other, lr, (9, 9), fast=False))


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
