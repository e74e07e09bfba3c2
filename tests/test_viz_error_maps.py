"""Error maps, zoomed comparisons and stepwise SR (msit_lite.viz.error_maps)."""
from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import numpy as np  # noqa: E402
import pytest  # noqa: E402
import skimage.data  # noqa: E402
import torch  # noqa: E402

from msit_lite.errors import MsitError  # noqa: E402
from msit_lite.metrics import psnr  # noqa: E402
from msit_lite.models import make  # noqa: E402
from msit_lite.viz.error_maps import (  # noqa: E402
    bicubic_upscaler, box_psnr, crop, degrade, error_map, error_maps_across_scales, error_share_on_edges,
    model_upscaler, show_error_maps, show_stepwise, show_zoom, stepwise_sr,
)


def photo() -> np.ndarray:
    return skimage.data.astronaut()[100:196, 150:246]  # 96×96, face and texture


def test_error_map_values():
    a = np.full((4, 5, 3), 100, np.uint8)
    b = a.copy()
    assert error_map(a, b).shape == (4, 5) and error_map(a, b).max() == 0
    b[..., 0] += 30
    assert np.allclose(error_map(a, b), 10 / 255)
    with pytest.raises(MsitError):
        error_map(a, b[:3])
    with pytest.raises(MsitError):
        error_map(a.astype(np.float32), b)


def test_degrade_sizes():
    hr = photo()
    assert degrade(hr, 4).shape == (24, 24, 3)
    assert degrade(hr, 1.7).shape == (56, 56, 3)  # round(96 / 1.7) = 56
    with pytest.raises(MsitError):
        degrade(hr, 0.5)


def test_bicubic_error_grows_with_scale_and_sits_on_edges():
    hr = photo()
    maps = error_maps_across_scales(bicubic_upscaler(), hr, [2, 3, 4])
    assert list(maps) == [2.0, 3.0, 4.0] and all(m.shape == (96, 96) for m in maps.values())
    means = [m.mean() for m in maps.values()]
    assert means[0] < means[1] < means[2]
    share = error_share_on_edges(maps[2.0], hr)
    assert 0.2 < share <= 1.0  # 20 % of the pixels (strongest gradients) hold more than 20 % of the error


def test_error_share_on_edges_extremes():
    hr = np.zeros((20, 20, 3), np.uint8)
    hr[:, 10:] = 200  # one vertical edge
    edge_err = np.zeros((20, 20))
    edge_err[:, 9:11] = 1.0
    assert error_share_on_edges(edge_err, hr) == pytest.approx(1.0)
    flat_err = np.zeros((20, 20))
    flat_err[:, :3] = 1.0
    assert error_share_on_edges(flat_err, hr) == pytest.approx(0.0)


def test_model_upscaler_and_stepwise():
    torch.set_num_threads(1)
    torch.manual_seed(0)
    model = make({"name": "liif", "args": {"encoder": {"name": "edsr-baseline", "args": {"n_resblocks": 1, "n_feats": 8}},
                                           "decoder": {"name": "mlp", "args": {"hidden_list": [8]}}}}, "model").eval()
    lr = degrade(photo(), 4)
    outs = stepwise_sr(model_upscaler(model), lr, (1.7, 2.6))
    assert [o.shape for o in outs.values()] == [(41, 41, 3), (62, 62, 3)]
    assert all(o.dtype == np.uint8 for o in outs.values())
    axes = show_stepwise(lr, outs, (4, 4, 10, 10))
    assert len(axes) == 3


def test_box_psnr_and_crop():
    hr = photo()
    sr = bicubic_upscaler()(degrade(hr, 2), hr.shape[:2])
    box = (10, 20, 30, 40)
    assert crop(hr, box).shape == (30, 40, 3)
    assert box_psnr(sr, hr, box) == pytest.approx(psnr(sr[10:40, 20:60], hr[10:40, 20:60], crop_border=0,
                                                       test_y_channel=True))
    with pytest.raises(MsitError):
        crop(hr, (90, 0, 10, 10))


def test_plots_run():
    hr = photo()
    maps = error_maps_across_scales(bicubic_upscaler(), hr, [2, 4])
    assert len(show_error_maps(maps)) == 2
    sr = bicubic_upscaler()(degrade(hr, 2), hr.shape[:2])
    axes = show_zoom({"bicubic": sr, "ground truth": hr}, hr, (10, 10, 20, 20))
    assert "dB" in axes[1].get_title() and axes[2].get_title() == "ground truth"
