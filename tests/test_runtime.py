"""The runtime protocol each model declares for itself, and the one runner every entry point uses."""
from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from msit_lite.data.io import quantize, to_rgb_tensor, to_tensor, to_uint8
from msit_lite.errors import MsitError
from msit_lite.inference import model_upscaler, predict, route, upscale
from msit_lite.models import make
from msit_lite.models.base import Identity, ImplicitSRModel
from msit_lite.models.fem import FEM
from msit_lite.models.runtime import DEFAULT_BYTES_PER_QUERY, circular_modules, parts_radius
from msit_lite.state_dict import diff

ENC = {"name": "edsr-baseline", "args": {"n_resblocks": 1, "n_feats": 8}}


def tiny(name: str = "msit", **args) -> ImplicitSRModel:
    torch.manual_seed(0)
    base = {"encoder": ENC, "decoder": {"name": "mlp", "args": {"hidden_list": [16]}}}
    if name == "msit":
        base.update(dim=16, heads=4, conv="plain", msno={"name": "msno", "args": {"branches": 2}},
                    attention={"name": "mssa", "args": {"projections": 2}})
    return make({"name": name, "args": {**base, **args}}, "model").eval()


def test_models_declare_their_runtime_numbers():
    msit, liif = tiny("msit"), tiny("liif")
    assert msit.receptive_radius == 4 + 1 + 2 + 2  # EDSR 4, FEM 1, MSC 5x5 -> 2, MsC 5x5 -> 2
    assert liif.receptive_radius == 4 + 1  # EDSR + the 3x3 unfold
    assert msit.circular_padding and not liif.circular_padding  # FEM wraps around, LIIF has nothing that does
    assert circular_modules(msit) == [msit.msno.fem]
    assert msit.bytes_per_query == 4 * (4 * 49 * 16 + 4 * 16) and liif.bytes_per_query == 4 * 4 * (8 * 9 + 4 + 2 * 16 + 8)
    assert ImplicitSRModel().bytes_per_query == DEFAULT_BYTES_PER_QUERY and ImplicitSRModel().receptive_radius is None


def test_parts_declare_radius_and_circular_padding():
    assert FEM.circular_padding is True and FEM(8).receptive_radius == 1
    assert Identity().receptive_radius == 0 and isinstance(Identity(), nn.Identity)
    assert parts_radius(Identity(), FEM(8)) == 1
    assert parts_radius(Identity(), nn.Conv2d(1, 1, 3)) is None  # a part that declares nothing: unknown
    no_fem = tiny("msit", msno={"name": "msno", "args": {"branches": 2, "fem": "none"}})
    assert not no_fem.circular_padding and no_fem.receptive_radius == 4 + 0 + 2 + 2


def test_route_prepares_once_and_follows_weight_changes():
    model = tiny("msit", conv="rim")
    with torch.no_grad():
        for m in model.modules():
            if hasattr(m, "convmap"):
                m.weight.normal_(0, 0.1)
    first = route(model).network
    assert first is not model and route(model).network is first  # folded once, then reused
    assert route(model, fast=False).network is not first  # the reference path has its own copy
    with torch.no_grad():
        model.decoder.layers[0].bias.add_(1.0)  # like an optimizer step
    assert route(model).network is not first


def test_only_implicit_models_are_run():
    with pytest.raises(MsitError, match="ImplicitSRModel"):
        route(nn.Conv2d(3, 3, 3))


def test_every_entry_point_gives_the_runners_numbers():
    """predict, upscale and both model_upscaler outputs are the same prediction, converted once each."""
    model = tiny("liif")
    image = np.random.default_rng(1).integers(0, 256, (7, 9, 3), dtype=np.uint8)
    x = to_rgb_tensor(image).unsqueeze(0).sub(0.5).div(0.5)
    pred = predict(model, x, (15, 20))
    unit = pred[0].mul(0.5).add(0.5).clamp(0, 1)
    assert torch.equal(model_upscaler(model)(image, (15, 20)), unit)
    eight = upscale(model, image, size=(15, 20))
    assert np.array_equal(eight, to_uint8(unit)) and np.array_equal(model_upscaler(model, uint8=True)(image, (15, 20)), eight)


def test_one_image_conversion():
    image = np.random.default_rng(2).integers(0, 256, (4, 5, 3), dtype=np.uint8)
    t = to_rgb_tensor(image)
    assert torch.equal(t, to_tensor(image)) and torch.equal(to_rgb_tensor(t[None]), t)
    assert np.array_equal(to_uint8(t), image) and torch.equal(quantize(torch.tensor([0.5 / 255, 1.5 / 255, 2.0])),
                                                              torch.tensor([0, 2, 255], dtype=torch.uint8))
    for bad in (image[..., :1], image.astype(np.uint16), torch.zeros(4, 5, 3), torch.zeros(3, 4, 5, dtype=torch.uint8)):
        with pytest.raises(MsitError):
            to_rgb_tensor(bad)


def test_state_dict_diff_in_one_line():
    own = {"a": torch.zeros(2), "b": torch.zeros(3), "c": torch.zeros(1)}
    got = diff(own, {"a": torch.zeros(2), "b": torch.zeros(4), "d": torch.zeros(1)}, may_miss=())
    assert got.missing == ("c",) and got.unexpected == ("d",) and got.wrong_shape == ("b (4,) vs (3,)",)
    assert got.message() == "missing keys 1 (c); unexpected keys 1 (d); shape mismatches 1 (b (4,) vs (3,))"
    assert not diff(own, own) and not diff(own, {"a": torch.zeros(2), "b": torch.zeros(3)}, may_miss=("c",))
