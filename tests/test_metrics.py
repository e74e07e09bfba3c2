"""Metrics: the official calc_psnr against the golden tensors, and PSNR / SSIM properties."""
from __future__ import annotations

import json
import math

import numpy as np
import pytest
import torch
from safetensors import safe_open
from safetensors.torch import load_file

from msit_lite.errors import MsitError
from msit_lite.metrics import calc_psnr, psnr, rgb_to_y, shave_for, ssim, to_nchw

GOLDEN_CASES = {
    "psnr_plain": ("sr", "hr", None, 1),
    "psnr_benchmark_x4": ("sr", "hr", "benchmark", 4),
    "psnr_div2k_x4": ("sr", "hr", "div2k", 4),
    "psnr_benchmark_x4_gray": ("sr_gray", "hr_gray", "benchmark", 4),
    "psnr_benchmark_x3": ("sr", "hr", "benchmark", 3),
    "psnr_div2k_x2": ("sr", "hr", "div2k", 2),
}


@pytest.fixture(scope="module")
def calc_golden(golden):
    path = golden / "modules" / "calc_psnr.io.safetensors"
    with safe_open(str(path), "pt") as f:
        meta = json.loads(f.metadata()["golden"])
    return load_file(str(path)), meta


@pytest.mark.parametrize("key", list(GOLDEN_CASES))
def test_calc_psnr_matches_golden(calc_golden, key):
    tensors, meta = calc_golden
    a, b, protocol, scale = GOLDEN_CASES[key]
    assert key in meta["descriptions"]
    got = calc_psnr(tensors[a], tensors[b], protocol, scale)
    ref = tensors[key]
    assert np.float32(got) == ref.numpy(), (got, ref.item())  # float32 arithmetic, same op order
    assert got == pytest.approx(meta["config"]["values_float"][key], abs=1e-5)


def test_calc_psnr_accepts_uint8_arrays_like_tensors():
    rng = np.random.default_rng(0)
    hr = rng.integers(0, 256, (20, 24, 3), dtype=np.uint8)
    sr = np.clip(hr + rng.integers(-9, 10, hr.shape), 0, 255).astype(np.uint8)
    t = lambda a: torch.from_numpy(a).permute(2, 0, 1).double() / 255  # noqa: E731
    assert calc_psnr(sr, hr, "benchmark", 2) == pytest.approx(calc_psnr(t(sr), t(hr), "benchmark", 2), abs=1e-12)


def test_benchmark_y_is_of_the_difference():
    # a pure-green error of 0.1: Y difference = 0.1 * 129.057 / 256
    hr = torch.zeros(3, 24, 24, dtype=torch.float64)
    sr = hr.clone()
    sr[1] += 0.1
    expect = -10 * math.log10((0.1 * 129.057 / 256) ** 2)
    assert calc_psnr(sr, hr, "benchmark", 2) == pytest.approx(expect, abs=1e-9)
    assert calc_psnr(sr, hr, "div2k", 2) == pytest.approx(-10 * math.log10(0.01 / 3), abs=1e-9)


def test_shave_rules():
    assert shave_for("benchmark", 4) == 4 and shave_for("div2k", 4) == 10
    assert shave_for("benchmark", 2.5) == 3 and shave_for("div2k", 3.2) == 10
    assert shave_for(None, 3) == 0
    with pytest.raises(MsitError):
        shave_for("urban", 2)  # type: ignore[arg-type]


def test_shave_really_crops():
    hr = torch.zeros(1, 20, 20, dtype=torch.float64)
    sr = hr.clone()
    sr[:, :3, :] = 0.5  # error only in the top 3 rows
    assert math.isinf(calc_psnr(sr, hr, "benchmark", 3))
    assert math.isfinite(calc_psnr(sr, hr, "benchmark", 2))


def test_psnr_basicsr_style():
    rng = np.random.default_rng(1)
    hr = rng.random((3, 30, 30))
    sr = hr + rng.normal(0, 0.01, hr.shape)
    a, b = torch.from_numpy(sr), torch.from_numpy(hr)
    mse = ((sr - hr)[:, 2:-2, 2:-2] ** 2).mean()
    assert psnr(a, b, crop_border=2, test_y_channel=False) == pytest.approx(-10 * math.log10(mse), abs=1e-10)
    # data_range: the same images in [0, 255]
    assert psnr(a * 255, b * 255, crop_border=2, test_y_channel=False, data_range=255) == pytest.approx(
        -10 * math.log10(mse), abs=1e-9
    )
    # Y of (v, v, v) is 16/255 + 219/255 v: a gray error is scaled by 219/255
    g = torch.full((3, 12, 12), 0.5, dtype=torch.float64)
    assert rgb_to_y(g[None])[0, 0, 0, 0].item() == pytest.approx((16 + 0.5 * 219) / 255)
    assert psnr(g + 0.01, g, crop_border=0, test_y_channel=True) == pytest.approx(
        -20 * math.log10(0.01 * 219 / 255), abs=1e-9
    )
    assert math.isinf(psnr(g, g, crop_border=0, test_y_channel=True))


def test_ssim_matches_skimage_gaussian_ssim():
    skm = pytest.importorskip("skimage.metrics")
    rng = np.random.default_rng(2)
    hr = rng.integers(0, 256, (48, 40), dtype=np.uint8)
    sr = np.clip(hr + rng.normal(0, 15, hr.shape), 0, 255).astype(np.uint8)
    ref = skm.structural_similarity(
        sr.astype(float), hr.astype(float), gaussian_weights=True, sigma=1.5,
        use_sample_covariance=False, data_range=255,
    )
    assert ssim(sr, hr, crop_border=0, test_y_channel=False) == pytest.approx(ref, abs=1e-12)


def test_ssim_properties():
    rng = np.random.default_rng(3)
    hr = rng.integers(0, 256, (40, 40, 3), dtype=np.uint8)
    assert ssim(hr, hr, crop_border=4, test_y_channel=True) == pytest.approx(1.0)
    noisy = np.clip(hr + rng.normal(0, 25, hr.shape), 0, 255).astype(np.uint8)
    worse = np.clip(hr + rng.normal(0, 60, hr.shape), 0, 255).astype(np.uint8)
    s1 = ssim(noisy, hr, crop_border=4, test_y_channel=True)
    assert 0 < ssim(worse, hr, crop_border=4, test_y_channel=True) < s1 < 1
    # quantize=True rounds the prediction to 8 bits first
    t = torch.from_numpy(hr).permute(2, 0, 1).double() / 255
    assert ssim(t + 0.4 / 255, t, crop_border=0, test_y_channel=False, quantize=True) == pytest.approx(1.0)
    assert ssim(t + 0.4 / 255, t, crop_border=0, test_y_channel=False) < 1.0


def test_input_validation():
    a = torch.rand(3, 20, 20)
    with pytest.raises(MsitError, match="differ in shape"):
        psnr(a, torch.rand(3, 20, 21), crop_border=0, test_y_channel=False)
    with pytest.raises(MsitError, match="differ in shape"):
        calc_psnr(a, torch.rand(1, 20, 20), "benchmark", 2)
    with pytest.raises(MsitError):
        ssim(a, a, crop_border=6, test_y_channel=True)  # 8x8 left: too small for 11x11
    with pytest.raises(MsitError):
        to_nchw(np.zeros((4, 4, 3), np.int32))
    with pytest.raises(MsitError):
        to_nchw([1, 2, 3])  # type: ignore[arg-type]
    with pytest.raises(MsitError):
        psnr(torch.rand(2, 8, 8), torch.rand(2, 8, 8), crop_border=0, test_y_channel=False)
    assert to_nchw(np.zeros((5, 6), np.uint8)).shape == (1, 1, 5, 6)
