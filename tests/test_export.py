"""``msit-lite export`` folds RIM into plain convs without changing the outputs."""
from __future__ import annotations

from pathlib import Path

import pytest
import torch

from msit_lite.checkpoint import load_checkpoint, save_checkpoint
from msit_lite.cli import main
from msit_lite.config import build_model
from msit_lite.models.rim import rim_modules
from msit_lite.training import init_from_stage1

from test_train_common import tiny_config


@pytest.fixture(autouse=True)
def _one_thread():
    torch.set_num_threads(1)  # shared CI cores: no oversubscription


def test_export_folds_rim_and_keeps_outputs(tmp_path: Path, capsys) -> None:
    torch.manual_seed(0)
    cfg1 = tiny_config(conv="plain")
    save_checkpoint(tmp_path / "s1", build_model(cfg1), cfg1)
    cfg2 = tiny_config(conv="rim", stage=2)
    rim = build_model(cfg2)
    init_from_stage1(rim, tmp_path / "s1", "official")  # W' != W: folding has real work to do
    save_checkpoint(tmp_path / "s2", rim, cfg2)

    assert main(["export", "--checkpoint", str(tmp_path / "s2"), "-o", str(tmp_path / "deploy")]) == 0
    assert "0 RIM left" in capsys.readouterr().out
    a, _ = load_checkpoint(tmp_path / "s2")
    b, cfg_b = load_checkpoint(tmp_path / "deploy")
    assert rim_modules(a) and not rim_modules(b)
    assert cfg_b["model"]["args"]["conv"] == "plain"
    g = torch.Generator().manual_seed(3)
    x = (torch.randn(1, 3, 12, 10, generator=g), torch.rand(1, 64, 2, generator=g) * 2 - 1, torch.full((1, 2), 2 / 30))
    with torch.no_grad():
        ya, yb = a(*x), b(*x)
    assert (ya - yb).abs().max() <= 1e-5
    assert sum(p.numel() for p in b.state_dict().values()) < sum(p.numel() for p in a.state_dict().values())


def test_export_errors(tmp_path: Path, capsys) -> None:
    assert main(["export", "--checkpoint", str(tmp_path / "nope"), "-o", str(tmp_path / "x")]) == 2
    assert "not found" in capsys.readouterr().err
