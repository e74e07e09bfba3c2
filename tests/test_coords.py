"""The coordinate convention (golden README §3): bit-equal to the official make_coord."""
from __future__ import annotations

import json

import pytest
import torch
import torch.nn.functional as F
from safetensors import safe_open
from safetensors.torch import load_file

from msit_lite.coords import make_cell, make_coord, output_size, to_grid, to_pixel_samples


def _golden_cases(golden):
    path = golden / "modules" / "make_coord.io.safetensors"
    with safe_open(str(path), "pt") as f:
        desc = json.loads(f.metadata()["golden"])["descriptions"]
    return load_file(str(path)), desc


def test_make_coord_bit_equal_to_golden(golden):
    tensors, desc = _golden_cases(golden)
    # the descriptions spell the official call, e.g. "make_coord([5, 7], ranges=[(-1, 1), (0, 2)], flatten=False)"
    assert len(desc) >= 6
    for name, call in desc.items():
        args = eval(call, {"make_coord": lambda shape, ranges=None, flatten=True: (shape, ranges, flatten)})
        ours = make_coord(*args)
        assert ours.dtype == torch.float32
        assert torch.equal(ours, tensors[name]), f"{name}: {call} is not bit-equal"


def test_float64_rounding_is_not_the_convention():
    """Evaluating -1 + (2i+1)/n in float64 and rounding differs by an ulp: the recipe matters."""
    n = 62
    naive = torch.tensor([-1 + (2 * i + 1) / n for i in range(n)], dtype=torch.float64).float()
    assert not torch.equal(make_coord([n]).flatten(), naive)
    assert torch.allclose(make_coord([n]).flatten(), naive, atol=2e-7)


def test_centres_and_order():
    c = make_coord((2, 4), flatten=False)
    assert c.shape == (2, 4, 2)
    assert c[0, 0].tolist() == [-0.5, -0.75] and c[1, 3].tolist() == [0.5, 0.75]  # (y, x)
    assert make_coord((2, 4)).shape == (8, 2)


def test_grid_sample_at_own_centres_returns_image():
    img = torch.rand(1, 3, 7, 9)
    coord = make_coord((7, 9), flatten=False).unsqueeze(0)
    for mode in ("nearest", "bilinear"):
        out = F.grid_sample(img, to_grid(coord), mode=mode, align_corners=False)
        assert torch.allclose(out, img, atol=1e-6), mode


def test_cell_and_output_size():
    assert make_cell((52, 62)).tolist() == [[pytest.approx(2 / 52), pytest.approx(2 / 62)]]
    assert make_cell((52, 62), batch=3).shape == (3, 2)
    assert output_size((20, 24), 2.6) == (52, 62)
    assert output_size((20, 24), (2, 3.5)) == (40, 84)


def test_pixel_samples_row_major():
    img = torch.arange(2 * 3 * 3, dtype=torch.float32).view(3, 2, 3)
    coord, rgb = to_pixel_samples(img)
    assert coord.shape == (6, 2) and rgb.shape == (6, 3)
    assert rgb[4].tolist() == img[:, 1, 1].tolist()  # pixel (1, 1) is the 5th in row-major order
    assert coord[4].tolist() == [0.5, 0.0]
