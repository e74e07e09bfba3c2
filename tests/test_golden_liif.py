"""LIIF against the official code (golden README §6), weights loaded through the converter."""
from __future__ import annotations

import torch
from safetensors.torch import load_file

from msit_lite.config import build_model, load_config
from msit_lite.models import Trace
from msit_lite.official import load_official
from msit_lite.paths import repo_dir

ATOL = 1e-5


def err(a: torch.Tensor, b: torch.Tensor) -> float:
    assert a.shape == b.shape, (a.shape, b.shape)
    return (a.double() - b.double()).abs().max().item()


def test_liif_small(golden):
    torch.set_num_threads(1)
    model = build_model(load_config(repo_dir() / "configs" / "golden" / "liif-small.yaml"))
    load_official(golden / "liif_small.weights.safetensors", model).eval()
    io = load_file(str(golden / "liif_small.io.safetensors"))
    t = Trace()
    with torch.no_grad():
        feats = model.encode(io["inp"], t)
        full = torch.cat([model.query(feats, io["coord_hr"][:, i : i + 30000], io["cell_hr"][:, i : i + 30000]) for i in range(0, 3224, 30000)], 1)
        t2 = Trace()
        sub = model(io["inp"], io["sample_coord"], io["sample_cell"], trace=t2)
        # An MSIT-style [b, 2] cell gives the same result as the per-query cell.
        sub2 = model(io["inp"], io["sample_coord"], io["sample_cell"][:, 0])
    assert err(t["encoder"], io["feat_encoder"]) <= ATOL
    assert err(full, io["pred_full"]) <= ATOL
    sr = (full * 0.5 + 0.5).clamp(0, 1).view(1, 52, 62, 3).permute(0, 3, 1, 2)
    assert err(sr, io["sr_image"]) <= ATOL
    assert err(sub, io["pred_subset"]) <= ATOL
    assert torch.equal(sub, sub2)
    assert err(torch.stack([t2[f"imnet_in.{k}"][0] for k in range(4)]), io["subset.imnet_in"]) <= ATOL
    assert err(torch.stack([t2[f"imnet_out.{k}"][0] for k in range(4)]), io["subset.imnet_out"]) <= ATOL
