"""MATLAB-compatible imresize: bit-exact against the stored benchmark LR files, plus synthetic checks."""
from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from msit_lite.data.resize import (
    cubic,
    imresize,
    imresize_output_size,
    imresize_torch,
    resize_pil,
    resize_weights,
)
from msit_lite.errors import MsitError

# Keys cubic (a = -0.5) at the four tap distances of a x2 upscale: 0.25, 0.75, 1.25, 1.75.
W25, W75, W125, W175 = 0.8671875, 0.2265625, -0.0703125, -0.0234375


def test_cubic_kernel_values():
    x = np.array([0.0, 0.25, 0.75, 1.0, 1.25, 1.75, 2.0, 2.5, -0.25])
    np.testing.assert_array_equal(cubic(x), [1.0, W25, W75, 0.0, W125, W175, 0.0, 0.0, W25])


def test_upscale_x2_one_row_by_hand():
    v = np.array([10.0, 20.0, 50.0, 40.0, 30.0])
    out = imresize(v[None, :], scale=(1, 2))[0]
    assert out.shape == (10,)
    # output pixel 2k sits at input position k - 1/4, pixel 2k+1 at k + 1/4 (0-based);
    # out-of-range taps take the edge value (replicate border).
    p = np.concatenate([[v[0]] * 2, v, [v[-1]] * 2])  # p[i + 2] = v[i], clamped
    expect = []
    for k in range(5):
        expect.append(W175 * p[k] + W75 * p[k + 1] + W25 * p[k + 2] + W125 * p[k + 3])
        expect.append(W125 * p[k + 1] + W25 * p[k + 2] + W75 * p[k + 3] + W175 * p[k + 4])
    np.testing.assert_allclose(out, expect, rtol=0, atol=1e-12)
    # uint8: the same values rounded half away from zero (the height pass is the identity)
    out8 = imresize(v[None, :].astype(np.uint8), scale=(1, 2))[0]
    np.testing.assert_array_equal(out8, np.floor(np.clip(expect, 0, 255) + 0.5))


def test_weights_rows_sum_to_one_and_antialias_widens():
    for n_in, n_out in [(12, 4), (10, 25), (9, 3), (7, 7)]:
        m = resize_weights(n_in, n_out, n_out / n_in)
        np.testing.assert_allclose(m.sum(axis=1), 1.0, atol=1e-12)
    shrink = resize_weights(40, 10, 0.25)
    plain = resize_weights(40, 10, 0.25, antialias=False)
    assert (shrink[5] != 0).sum() == 16 and (plain[5] != 0).sum() == 4


@pytest.mark.parametrize("dtype", [np.uint8, np.float64])
def test_constant_image_stays_constant(dtype):
    img = np.full((23, 17, 3), 137, dtype=dtype)
    for s in (0.25, 1 / 3, 0.5, 0.77, 1.0, 1.6, 2, 3.3, 4):
        out = imresize(img, s)
        if dtype == np.uint8:
            assert out.dtype == np.uint8 and (out == 137).all(), s
        else:
            np.testing.assert_allclose(out, 137.0, atol=1e-10)


@pytest.mark.parametrize(
    "hw, scale, expect",
    [
        ((100, 80), 0.5, (50, 40)),
        ((101, 81), 0.5, (51, 41)),
        ((10, 11), 1 / 3, (4, 4)),
        ((7, 9), 2.5, (18, 23)),
        ((10, 13), 1.5, (15, 20)),
        ((33, 20), 0.3, (10, 6)),
        ((48, 32), 1 / 4, (12, 8)),
        ((12, 12), 3.7, (45, 45)),
        ((5, 6), (2, 0.5), (10, 3)),
    ],
)
def test_output_size_rule_is_ceil(hw, scale, expect):
    assert imresize_output_size(hw, scale) == expect
    img = np.zeros(hw + (3,), np.uint8)
    assert imresize(img, scale).shape == expect + (3,)


def test_size_argument_and_layouts():
    rng = np.random.default_rng(0)
    img = rng.integers(0, 256, (30, 20, 3), dtype=np.uint8)
    assert imresize(img, size=(13, 41)).shape == (13, 41, 3)
    gray = imresize(img[:, :, 0], 0.5)
    np.testing.assert_array_equal(gray, imresize(img, 0.5)[:, :, 0])
    with pytest.raises(MsitError):
        imresize(img)
    with pytest.raises(MsitError):
        imresize(img, 2, size=(3, 3))
    with pytest.raises(MsitError):
        imresize(img, -1.0)
    with pytest.raises(MsitError):
        imresize(img.astype(np.int32), 2)


def test_torch_path_matches_numpy():
    rng = np.random.default_rng(1)
    img = rng.integers(0, 256, (27, 35, 3), dtype=np.uint8)
    t = torch.from_numpy(img).permute(2, 0, 1).double() / 255
    for s in (0.5, 1 / 3, 2.0, 1.7):
        ref8 = imresize(img, s)
        out = imresize_torch(t, s, quantize=True)
        np.testing.assert_array_equal(torch.round(out * 255).permute(1, 2, 0).numpy().astype(np.uint8), ref8)
        reff = imresize(img.astype(np.float64) / 255, s)
        outf = imresize_torch(t[None], s)[0].permute(1, 2, 0).numpy()
        np.testing.assert_allclose(outf, reff, atol=1e-12)


def test_resize_pil_layouts():
    rng = np.random.default_rng(2)
    img = rng.integers(0, 256, (20, 30, 3), dtype=np.uint8)
    assert resize_pil(img, (10, 15)).shape == (10, 15, 3)
    g = resize_pil(img[:, :, :1], (7, 9))
    assert g.shape == (7, 9, 1) and g.dtype == np.uint8
    np.testing.assert_array_equal(g[:, :, 0], resize_pil(img[:, :, 0], (7, 9)))


# ------------------------------------------------------------------------ stored MATLAB files


def _subset(benchmark_root):
    from msit_lite.data.folders import benchmark_pairs

    for name in ("Set5", "Set14", "B100"):
        for s in (2, 3, 4):
            pairs = benchmark_pairs(benchmark_root, name, s)
            yield name, s, pairs if name != "B100" else pairs[::25]


def test_bit_exact_against_stored_matlab_lr(benchmark_root):
    from msit_lite.data.io import read_image

    checked = 0
    for name, s, pairs in _subset(benchmark_root):
        assert pairs, f"no {name} x{s} pairs under {benchmark_root}"
        for p in pairs:
            hr = read_image(p.hr, keep_gray=True)
            lr = read_image(p.lr, keep_gray=True)
            out = imresize(hr, 1 / s)
            assert out.shape == lr.shape, (name, s, p.name)
            diff = int(np.abs(out.astype(int) - lr).max())
            assert diff == 0, f"{name} x{s} {p.name}: max |diff| {diff}"
            checked += 1
            # PIL's bicubic is close but not the MATLAB kernel (manifest: ~54 dB, not bit exact)
            if p.name.endswith("001"):
                d = resize_pil(hr, lr.shape[:2]).astype(float) - lr
                psnr = 10 * math.log10(255**2 / (d**2).mean())
                assert 45 < psnr < 70 and (d != 0).any()
    assert checked == 3 * (5 + 14 + 4)
