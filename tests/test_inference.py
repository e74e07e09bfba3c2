"""Memory-bounded inference (msit_lite.inference): sizes, validation, chunking, exact tiling, RIM folding.

The toy models implement the ImplicitSRModel interface (encode / query) with a few convolutions,
so every test runs in well under a second. ``ToyCircular`` has a FEM-like module that pads
circularly over the whole map (as the official FEM, ``LEM.forward``, does): the reason naive
tiling is not exact.
"""
from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from pathlib import Path

from torch import Tensor, nn

from msit_lite.coords import make_coord, to_grid
from msit_lite.errors import MsitError
from msit_lite.inference import (
    auto_tile,
    encode,
    encode_tiled,
    plan_tiles,
    probe_receptive_radius,
    predict,
    resolve_output_size,
    route,
    upscale,
)
from msit_lite.models.base import ImplicitSRModel
from msit_lite.models.runtime import QueryBudget, chunked_query_grid, circular_modules, query_chunk_size


class ToyBase(ImplicitSRModel):
    """Query = bilinear sample of ``feat`` + nearest sample + cell -> linear, plus the long skip."""

    def __init__(self, c: int = 8) -> None:
        super().__init__()
        self.head = nn.Linear(2 * c + 2, 3)

    def query(self, feats: dict[str, Tensor], coord: Tensor, cell: Tensor) -> Tensor:
        feat = feats["feat"]
        h, w = feat.shape[-2:]
        grid = to_grid(coord).unsqueeze(2)  # [b, q, 1, 2]
        lin = F.grid_sample(feat, grid, mode="bilinear", align_corners=False)[..., 0].permute(0, 2, 1)
        near = F.grid_sample(feat, grid, mode="nearest", align_corners=False)[..., 0].permute(0, 2, 1)
        rel_cell = (cell * torch.tensor([h, w], dtype=cell.dtype)).unsqueeze(1).expand(-1, coord.shape[1], -1)
        skip = F.grid_sample(feats["inp"], grid, mode="bilinear", padding_mode="border", align_corners=False)
        return self.head(torch.cat([lin, near, rel_cell], -1)) + skip[..., 0].permute(0, 2, 1)

    def forward(self, lr: Tensor, coord: Tensor, cell: Tensor) -> Tensor:
        return self.query(self.encode(lr), coord, cell)


class ToyLocal(ToyBase):
    """Three 3x3 zero-padded convs: receptive radius 3."""

    receptive_radius = 3

    def __init__(self, c: int = 8) -> None:
        super().__init__(c)
        self.body = nn.Sequential(nn.Conv2d(3, c, 3, padding=1), nn.ReLU(), nn.Conv2d(c, c, 3, padding=1),
                                  nn.GELU(), nn.Conv2d(c, c, 3, padding=1))

    def encode(self, lr: Tensor) -> dict[str, Tensor]:
        return {"feat": self.body(lr), "inp": lr}


class Wrap(nn.Module):
    """FEM-like: circular pad by m, depthwise dilated 3x3 conv (the official ``LEM.forward``)."""

    circular_padding = True

    def __init__(self, c: int, m: int) -> None:
        super().__init__()
        self.m = m
        self.weight = nn.Parameter(torch.randn(c, 1, 3, 3))

    def forward(self, x: Tensor) -> Tensor:
        x = F.pad(x, (self.m,) * 4, mode="circular")
        return F.conv2d(x, self.weight, dilation=self.m, groups=x.shape[1])


class ToyCircular(ToyBase):
    """conv3 -> (v = 1x1, s = Wrap) -> conv5(s) * v -> conv3: like MSNO's FEM between local convs.

    Receptive radius of the local parts: 1 before the wrap, 2 + 1 after it = 4. The wrap's own
    reach is not counted: tiling evaluates it on the whole map.
    """

    receptive_radius = 4

    def __init__(self, c: int = 8, m: int = 2) -> None:
        super().__init__(c)
        self.pre = nn.Conv2d(3, c, 3, padding=1)
        self.v = nn.Conv2d(c, c, 1)
        self.wrap = Wrap(c, m)
        self.post = nn.Conv2d(c, c, 5, padding=2)
        self.out = nn.Conv2d(c, c, 3, padding=1)

    def encode(self, lr: Tensor) -> dict[str, Tensor]:
        x = self.pre(lr)
        y = self.post(self.wrap(x)) * self.v(x)
        return {"feat": self.out(y), "inp": lr}


class ToyCircularConv(ToyLocal):
    """A plain ``Conv2d(padding_mode='circular')`` in the middle: found without any hint."""

    receptive_radius = 2

    def __init__(self, c: int = 8) -> None:
        super().__init__(c)
        self.body = nn.Sequential(nn.Conv2d(3, c, 3, padding=1), nn.ReLU(),
                                  nn.Conv2d(c, c, 3, padding=1, padding_mode="circular"), nn.ReLU(),
                                  nn.Conv2d(c, c, 3, padding=1))


def _model(cls: type[nn.Module], seed: int = 0) -> nn.Module:
    torch.manual_seed(seed)
    return cls().eval()


def _lr(h: int, w: int, seed: int = 1) -> Tensor:
    g = torch.Generator().manual_seed(seed)
    return torch.rand(1, 3, h, w, generator=g) * 2 - 1


def _image(h: int, w: int, seed: int = 2) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (h, w, 3), dtype=np.uint8)


# -- output sizes and validation ---------------------------------------------------------------
@pytest.mark.parametrize(
    "scale, size, expected",
    [(2, None, (10, 14)), (2.5, None, (12, 18)), ((2, 3.3), None, (10, 23)), (None, (11, 20), (11, 20)),
     ((1, 2), None, (5, 14)), (32, None, (160, 224))],
)
def test_output_size(scale, size, expected):
    assert resolve_output_size((5, 7), scale, size) == expected


@pytest.mark.parametrize("scale, size, expected", [(2.5, None, (12, 18)), ((1.6, 3), None, (8, 21)), (None, (9, 8), (9, 8))])
def test_upscale_output_shape(scale, size, expected):
    out = upscale(_model(ToyLocal), _image(5, 7), scale, size)
    assert out.shape == (*expected, 3) and out.dtype == np.uint8


@pytest.mark.parametrize(
    "scale, size, match",
    [(1, None, "does not enlarge"), (0.5, None, "does not enlarge"), ((1, 1), None, "does not enlarge"),
     ((0.5, 4), None, "does not enlarge"), (33, None, "maximum"), (float("nan"), None, "finite"),
     (None, (4, 20), "smaller"), (None, (5, 7), "does not enlarge"), (None, (5, 300), "maximum"),
     (None, None, "exactly one"), (2, (10, 14), "exactly one"), ((2, 3, 4), None, "pair")],
)
def test_bad_scale_or_size(scale, size, match):
    with pytest.raises(MsitError, match=match):
        resolve_output_size((5, 7), scale, size)


def test_output_limit_is_configurable():
    with pytest.raises(MsitError, match="megapixels"):
        resolve_output_size((100, 100), 4, max_output_pixels=100_000)
    assert resolve_output_size((100, 100), 3, max_output_pixels=100_000) == (300, 300)
    with pytest.raises(MsitError, match="megapixels"):
        upscale(_model(ToyLocal), _image(20, 20), 4, max_output_pixels=1000)


@pytest.mark.parametrize(
    "image",
    [np.zeros((5, 7), np.uint8), np.zeros((5, 7, 4), np.uint8), np.zeros((5, 7, 3), np.uint16),
     np.zeros((5, 7, 3), np.float32), torch.zeros(5, 7, 3), torch.zeros(3, 5, 7, dtype=torch.uint8), [[1, 2]]],
)
def test_non_rgb_input_rejected(image):
    with pytest.raises(MsitError):
        upscale(_model(ToyLocal), image, 2)


def test_tensor_input_matches_array_input():
    model, img = _model(ToyLocal), _image(6, 5)
    from_array = upscale(model, img, 2.2)
    from_tensor = upscale(model, torch.from_numpy(img).permute(2, 0, 1).float() / 255, 2.2)
    np.testing.assert_array_equal(from_array, from_tensor)


def test_upscale_matches_one_shot_forward():
    """The whole pipeline equals forward() on the full grid, de-normalised as the official test script does."""
    model, img = _model(ToyCircular), _image(9, 8)
    out = upscale(model, img, 2.5, chunk=17)
    x = torch.from_numpy(img).permute(2, 0, 1).float().div(255).unsqueeze(0).sub(0.5).div(0.5)
    big_h, big_w = 22, 20
    coord = make_coord((big_h, big_w)).unsqueeze(0)
    cell = torch.tensor([[2 / big_h, 2 / big_w]])
    with torch.no_grad():
        ref = model(x, coord, cell)[0].mul(0.5).add(0.5).clamp(0, 1).mul(255).round().byte().numpy()
    np.testing.assert_array_equal(out, ref.reshape(big_h, big_w, 3))


def test_model_is_not_modified():
    model = _model(ToyLocal).train()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    upscale(model, _image(5, 5), 2)
    assert model.training
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())


# -- chunking --------------------------------------------------------------------------------
@pytest.mark.parametrize("cls", [ToyLocal, ToyCircular])
def test_chunk_size_does_not_change_output(cls):
    model, lr = _model(cls), _lr(7, 9)
    ref = predict(model, lr, (17, 20), chunk=17 * 20)
    assert ref.shape == (1, 3, 17, 20)
    for chunk in (1, 7, 64, 1000):
        assert (predict(model, lr, (17, 20), chunk=chunk) - ref).abs().max() <= 1e-6


def test_chunk_size_follows_budget():
    assert query_chunk_size(1024, 1, 1) == 1024
    assert query_chunk_size(1024, 4, 1) == 256
    assert query_chunk_size(_model(ToyLocal).bytes_per_query, 1, 1) == 2  # the conservative default: 512 KiB


def test_the_chunked_grid_query_uses_the_models_declared_cost():
    class Cheap(ToyLocal):
        bytes_per_query = 64 * 1024  # 16 queries per MiB

    model, lr = _model(Cheap), _lr(5, 6)
    with torch.no_grad():
        steps = [end - start for start, end, _ in chunked_query_grid(model, model.encode(lr), (10, 12), QueryBudget(1))]
    assert steps == [16] * 7 + [8]


# -- tiling ----------------------------------------------------------------------------------
def test_plan_tiles_covers_the_map_once():
    tiles = plan_tiles(23, 29, 7, 3)
    cover = torch.zeros(23, 29, dtype=torch.int)
    for t in tiles:
        cover[t.y0:t.y1, t.x0:t.x1] += 1
        assert t.ey0 == max(0, t.y0 - 3) and t.ey1 == min(23, t.y1 + 3)
    assert torch.all(cover == 1)


@pytest.mark.parametrize("cls", [ToyLocal, ToyCircular, ToyCircularConv])
@pytest.mark.parametrize("tile", [5, 8, 13])
def test_tiled_encoding_equals_untiled(cls, tile):
    model, lr = _model(cls), _lr(23, 29)
    with torch.no_grad():
        ref = model.encode(lr)
        tiled = encode(model, lr, tile=tile)
    assert set(tiled) == set(ref)
    for key in ref:
        assert (tiled[key] - ref[key]).abs().max() <= 1e-5, key


def test_tiled_prediction_equals_untiled():
    model, lr = _model(ToyCircular), _lr(19, 17)
    ref = predict(model, lr, (41, 50), tile=0)
    assert (predict(model, lr, (41, 50), tile=6) - ref).abs().max() <= 1e-5


def test_naive_tiling_is_wrong_at_the_border_with_circular_padding():
    """Without the whole-map phase, the wrap-around reads the tile's own far edge: a real error."""
    model, lr = _model(ToyCircular), _lr(23, 29)
    assert circular_modules(model) == [model.wrap]
    with torch.no_grad():
        ref = model.encode(lr)["feat"]
        # naive tiling must also cover the wrap's local reach m; still wrong where it wraps around
        naive = encode_tiled(model, lr, 8, model.receptive_radius + model.wrap.m, exact_circular=False)["feat"]
        exact = encode_tiled(model, lr, 8, model.receptive_radius)["feat"]
    err = (naive - ref).abs()
    assert err.max() > 1e-2
    assert err[..., 6:-6, 6:-6].max() <= 1e-5  # only tiles at the image border go wrong
    assert (exact - ref).abs().max() <= 1e-5


@pytest.mark.parametrize("cls, needed", [(ToyLocal, 3), (ToyCircular, 3)])
def test_overlap_smaller_than_receptive_radius_is_not_exact(cls, needed):
    """The overlap is what makes tiling exact: one pixel less and the seams show.

    ToyCircular needs 3, not its declared 4: the wrap is evaluated on the whole map, so only the
    5x5 + 3x3 convs after it (and the 3x3 + 1x1 path around it) must fit in the overlap.
    """
    model, lr = _model(cls), _lr(23, 29)
    with torch.no_grad():
        ref = model.encode(lr)["feat"]
        enough = encode_tiled(model, lr, 8, needed)["feat"]
        short = encode_tiled(model, lr, 8, needed - 1)["feat"]
    assert (enough - ref).abs().max() <= 1e-5
    assert (short - ref).abs().max() > 1e-4


def test_auto_tile_from_budget():
    model = _model(ToyCircular)
    model.encode_bytes_per_pixel = 1024
    assert auto_tile(model, (1, 3, 32, 32), memory_budget_mb=1) == 0  # 1 MiB fits 1024 px
    assert auto_tile(model, (1, 3, 64, 64), memory_budget_mb=1) == 32 - 2 * 4
    model.receptive_radius = 20  # a core below 2R would recompute the overlap > 4x: speed wins
    assert auto_tile(model, (1, 3, 64, 64), memory_budget_mb=1) == 40
    model.receptive_radius = 4
    assert auto_tile(model, (1, 3, 64, 64), memory_budget_mb=0.1) == 16  # MIN_TILE
    model.receptive_radius = None  # undeclared: probed (6, see below), or refused without the probe
    assert auto_tile(model, (1, 3, 64, 64), memory_budget_mb=1) == 32 - 2 * 6
    with pytest.raises(MsitError, match="receptive_radius"):
        encode(model, _lr(20, 20), tile=8, probe=False)


@pytest.mark.parametrize("cls, expected", [(ToyLocal, 3), (ToyCircular, 6), (ToyCircularConv, 3)])
def test_probe_receptive_radius(cls, expected):
    """The probe finds the structural reach; for ToyCircular it includes the wrap's m = 2 (1+2+2+1)."""
    assert probe_receptive_radius(_model(cls)) == expected


def test_budget_driven_tiling_end_to_end():
    model, img = _model(ToyCircular), _image(30, 26)
    model.encode_bytes_per_pixel = 4096
    assert auto_tile(model, (1, 3, 30, 26), 1) > 0  # the budget forces tiles
    tiny = upscale(model, img, 1.7, memory_budget_mb=1)
    big = upscale(model, img, 1.7, memory_budget_mb=1024, tile=0)
    assert np.abs(tiny.astype(int) - big.astype(int)).max() <= 1  # same up to 8-bit rounding ties


# -- the real models (tiny configs of msit_lite.models) -----------------------------------------
TINY_MSIT = {
    "name": "msit",
    "args": {
        "encoder": {"name": "edsr-baseline", "args": {"n_resblocks": 1, "n_feats": 8}},
        "dim": 16, "heads": 2, "radius": 1, "conv": "rim",
        "msno": {"name": "msno", "args": {"branches": 2}},
        "attention": {"name": "mssa", "args": {"projections": 2}},
        "decoder": {"name": "mlp", "args": {"hidden_list": [16]}},
    },
}
# EDSR head + 2 convs + tail = 4, FEM shift 1, largest MSNO kernel 5 -> 2, largest Q kernel 5 -> 2.
TINY_MSIT_RADIUS = 4 + 1 + 2 + 2


def _tiny_msit(conv: str = "rim") -> nn.Module:
    from msit_lite.config import build_model

    spec = {"name": TINY_MSIT["name"], "args": {**TINY_MSIT["args"], "conv": conv}}
    torch.manual_seed(3)
    model = build_model({"model": spec})
    with torch.no_grad():  # move every weight away from its init so RIM's W' really differs from W
        for p in model.parameters():
            p.add_(0.1 * torch.randn_like(p))
    return model.eval()


def test_real_msit_radius_tiling_and_chunks():
    model = _tiny_msit("plain")
    assert probe_receptive_radius(model) == TINY_MSIT_RADIUS
    assert model.receptive_radius >= TINY_MSIT_RADIUS
    lr = _lr(13, 15)
    with torch.no_grad():
        ref = model.encode(lr)
        tiled = encode(model, lr, tile=5)
    assert max((tiled[k] - ref[k]).abs().max().item() for k in ref) <= 1e-5
    full = predict(model, lr, (30, 37), tile=0)
    assert (predict(model, lr, (30, 37), tile=4, chunk=101) - full).abs().max() <= 1e-5


def test_rim_model_is_folded_and_gives_the_same_output():
    from msit_lite.models.rim import rim_modules

    model = _tiny_msit("rim")
    for fast in (True, False):
        folded = route(model, fast=fast).network
        assert not rim_modules(folded) and rim_modules(model)  # a folded copy; the caller's model is untouched
    lr, big = _lr(9, 11), (23, 27)
    coord = make_coord(big).unsqueeze(0)
    cell = torch.tensor([[2 / big[0], 2 / big[1]]])
    with torch.no_grad():
        ref = model(lr, coord, cell).view(1, *big, 3).permute(0, 3, 1, 2)
    assert (predict(model, lr, big) - ref).abs().max() <= 1e-5
    assert (predict(model, lr, big, tile=4) - ref).abs().max() <= 1e-5


def test_real_liif_tiling():
    from msit_lite.config import build_model

    torch.manual_seed(4)
    spec = {"name": "liif", "args": {"encoder": {"name": "edsr-baseline", "args": {"n_resblocks": 1, "n_feats": 8}},
                                     "decoder": {"name": "mlp", "args": {"hidden_list": [16], "act": "relu"}}}}
    model = build_model({"model": spec}).eval()
    assert probe_receptive_radius(model) == 4 + 1  # EDSR (4 convs) + the 3x3 feature unfold
    lr = _lr(12, 14)
    full = predict(model, lr, (29, 31), tile=0)
    assert (predict(model, lr, (29, 31), tile=5, chunk=77) - full).abs().max() <= 1e-5


@pytest.mark.parametrize("config", ["configs/golden/msit-small-plain.yaml", "configs/golden/liif-small.yaml",
                                    "configs/ablations/t4-fem-off.yaml"])
def test_declared_receptive_radius_equals_probe(config):
    """The radius each model declares (used for tile overlap) is what a gradient probe measures."""
    from msit_lite.config import build_model, load_config

    cfg = load_config(Path(__file__).resolve().parent.parent / config)
    if "ablations" in config:  # full-size ablation: shrink it so the probe stays cheap
        cfg["model"]["args"]["encoder"] = {"name": "edsr-baseline", "args": {"n_resblocks": 1, "n_feats": 8}}
        cfg["model"]["args"]["dim"] = 32
        cfg["model"]["args"]["msno"]["args"]["branches"] = 4
        cfg["model"]["args"]["decoder"] = {"name": "mlp", "args": {"hidden_list": [16], "act": "gelu"}}
    torch.manual_seed(0)
    model = build_model(cfg).eval()
    assert model.receptive_radius == probe_receptive_radius(model)
