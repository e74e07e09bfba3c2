"""End to end: an official-format checkpoint (.pth, official key names) -> `msit-lite convert`
-> `msit-lite upscale` on a real benchmark image, and the converted model reproduces the golden."""
from __future__ import annotations

import numpy as np
import pytest
import torch
from safetensors.torch import load_file

from msit_lite.checkpoint import load_checkpoint
from msit_lite.cli import main
from msit_lite.data.io import read_image
from msit_lite.paths import repo_dir


@pytest.fixture(scope="module")
def converted(golden, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("official")
    pth = tmp / "msit_official.pth"
    # wrapped as the official training script saves it: {'model': {'sd': state_dict, ...}}
    torch.save({"model": {"name": "amsit", "sd": load_file(str(golden / "msit_small_rim.weights.safetensors"))}}, pth)
    out = tmp / "ckpt"
    rc = main(["convert", "--official", str(pth), "--config", str(repo_dir() / "configs/golden/msit-small-rim.yaml"),
               "-o", str(out)])
    assert rc == 0
    return out


def test_converted_checkpoint_reproduces_golden(converted, golden):
    torch.set_num_threads(1)
    model, _ = load_checkpoint(converted)
    io = load_file(str(golden / "msit_small_rim.io.safetensors"))
    with torch.no_grad():
        pred = model(io["inp"], io["coord_hr"].reshape(1, -1, 2), io["cell"])
    assert (pred - io["pred_full"]).abs().max().item() <= 1e-5


def test_upscale_real_image_with_converted_checkpoint(converted, benchmark_root, tmp_path):
    src = benchmark_root / "Set5" / "X4" / "LR" / "img_002.png"  # bird, 72 x 72
    out = tmp_path / "bird_x3.5.png"
    rc = main(["upscale", str(src), "--scale", "3.5", "-o", str(out), "--checkpoint", str(converted), "--no-progress"])
    assert rc == 0 and out.exists()
    lr, sr = read_image(src), read_image(out)
    assert sr.shape == (round(lr.shape[0] * 3.5), round(lr.shape[1] * 3.5), 3)
    # the CLI's image is the model's prediction at every HR pixel centre, de-normalised and rounded
    from msit_lite.coords import make_cell, make_coord

    model, _ = load_checkpoint(converted)
    inp = (torch.from_numpy(lr.copy()).permute(2, 0, 1)[None].float() / 255 - 0.5) / 0.5
    with torch.no_grad():
        pred = model(inp, make_coord(sr.shape[:2]).unsqueeze(0), make_cell(sr.shape[:2]))
    ref = ((pred * 0.5 + 0.5).clamp(0, 1) * 255).round().view(*sr.shape).numpy()
    assert np.abs(ref - sr.astype(np.float64)).max() <= 1
