"""scripts/make_model_card.py on a real (tiny) training run made in the test."""
from __future__ import annotations

import csv
import importlib.util
import json
import re
import sys
from pathlib import Path

import pytest
import torch
from PIL import Image

from msit_lite.config import build_model
from msit_lite.errors import MsitError
from msit_lite.params import count_parameters
from msit_lite.paths import repo_dir
from msit_lite.training import train

from test_train_common import make_data_root, tiny_config


def _script():
    spec = importlib.util.spec_from_file_location("make_model_card", repo_dir() / "scripts" / "make_model_card.py")
    mod = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = mod  # dataclasses look their module up there
    spec.loader.exec_module(mod)
    return mod


@pytest.fixture(scope="module")
def run(tmp_path_factory) -> tuple[Path, Path, dict]:
    torch.set_num_threads(1)
    tmp = tmp_path_factory.mktemp("card")
    root = make_data_root(tmp / "data", n=5)
    cfg = tiny_config(val_every=2, save_every=2, val={"images": 1, "crop": 16, "scales": [2, 3]},
                      scheduler={"name": "cosine", "steps": 2})
    train(cfg, tmp / "run", data_root=root, device="cpu", progress=False)  # 2 warm-up + 2 cosine steps
    return tmp, root, cfg


def test_card_reads_every_number_from_the_run(run) -> None:
    tmp, root, cfg = run
    mod = _script()
    evals = tmp / "model.json"
    evals.write_text(json.dumps({"results": {"Set5": {"2": {"psnr": 31.25, "ssim": 0.9}, "4": {"psnr": 26.5, "ssim": 0.7}}}}))
    bic = tmp / "bicubic.json"
    bic.write_text(json.dumps({"results": {"Set5": {"2": {"psnr": 30.0, "ssim": 0.9}}}}))
    dest = tmp / "published"
    assert mod.main([str(tmp / "run"), str(dest), "--eval", str(evals), "--baseline", str(bic),
                     "--data-root", str(root), "--threads", "1"]) == 0

    for name in ("model.safetensors", "config.yaml", "log.csv", "val.csv", "training_curve.png", "MODEL_CARD.md", "eval.json"):
        assert (dest / name).is_file(), name
    assert (dest / "model.safetensors").read_bytes() == (tmp / "run" / "model.safetensors").read_bytes()
    assert Image.open(dest / "training_curve.png").size[0] > 500
    steps = [int(r["step"]) for r in csv.DictReader(open(dest / "log.csv"))]
    assert steps == [1, 2, 3, 4]

    card = (dest / "MODEL_CARD.md").read_text()
    n = count_parameters(build_model(cfg)).trainable
    assert f"{n:,} trainable" in card
    assert "| steps | 4 " in card
    assert "T91 (5)" in card and "**5 images**" in card  # counted from the folder
    assert "torch " + torch.__version__ in card and "1 CPU thread(s)" in card
    assert "| Set5 | ×2 | 30.00 | 31.25 | +1.25 |" in card  # Δ computed against the first baseline
    assert "| Set5 | ×4 | – | 26.50 | – |" in card
    assert re.search(r"Held-in validation at step 4 .*×2 [\d.]+ dB, ×3 [\d.]+ dB", card)
    assert "msit-lite train --config" in card


def test_card_refuses_large_weights_missing_runs_and_bad_json(run, tmp_path: Path, capsys) -> None:
    tmp, _, _ = run
    mod = _script()
    assert mod.main([str(tmp / "run"), str(tmp_path / "d"), "--max-mb", "0.001"]) == 2
    assert "more than --max-mb" in capsys.readouterr().err
    assert not (tmp_path / "d").exists()
    assert mod.main([str(tmp_path / "nope"), str(tmp_path / "d")]) == 2
    assert "not found" in capsys.readouterr().err
    (tmp_path / "bad.json").write_text('{"psnr": 1}')
    with pytest.raises(MsitError, match="not an `msit-lite eval --json` file"):
        mod.make_card(tmp / "run", tmp_path / "d", evals=[tmp_path / "bad.json"])
    with pytest.raises(MsitError, match="is the run folder itself"):
        mod.make_card(tmp / "run", tmp / "run")
