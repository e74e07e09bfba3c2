"""Exact resume: k steps + resume to n == n steps, bit for bit on the CPU."""
from __future__ import annotations

import csv
from pathlib import Path

import pytest
import torch

from msit_lite.training import train
from msit_lite.training.state import load_state

from test_train_common import make_data_root, tiny_config


@pytest.fixture(autouse=True)
def _one_thread():
    torch.set_num_threads(1)  # shared CI cores: no oversubscription


def test_interrupted_and_resumed_run_equals_uninterrupted(tmp_path: Path) -> None:
    torch.set_num_threads(1)
    root = make_data_root(tmp_path / "data", n=7)  # 3 batches of 2 per epoch: resume crosses an epoch
    # validation in between must not disturb anything either (model.eval/train, no RNG)
    cfg = tiny_config(val_every=2, val={"images": 1, "crop": 16, "scales": [2]}, scheduler={"name": "cosine", "steps": 5})
    full = train(cfg, tmp_path / "full", data_root=root, device="cpu", progress=False)
    assert full.step == 7

    part = train(cfg, tmp_path / "part", data_root=root, device="cpu", max_steps=4, progress=False)
    assert part.step == 4
    # a different process would start with other global RNG states: scramble them
    torch.manual_seed(1234)
    resumed = train(cfg, tmp_path / "part", data_root=root, device="cpu", resume=True, progress=False)
    assert resumed.step == 7

    a, b = full.model.state_dict(), resumed.model.state_dict()
    assert a.keys() == b.keys()
    for k in a:
        assert torch.equal(a[k], b[k]), k
    assert full.losses[4:] == resumed.losses  # the same batches, the same losses
    sa, sb = load_state(tmp_path / "full"), load_state(tmp_path / "part")
    assert sa["step"] == sb["step"] == 7
    for pa, pb in zip(sa["optimizer"]["state"].values(), sb["optimizer"]["state"].values()):
        assert torch.equal(pa["exp_avg_sq"], pb["exp_avg_sq"])
    steps = [int(r["step"]) for r in csv.DictReader(open(tmp_path / "part" / "log.csv"))]
    assert steps == list(range(1, 8))
    # and a different seed gives a different run (the test can fail)
    other = train(cfg, tmp_path / "other", data_root=root, device="cpu", seed=5, max_steps=2, progress=False)
    assert other.losses != full.losses[:2]


def test_resume_of_a_finished_run_does_nothing(tmp_path: Path) -> None:
    root = make_data_root(tmp_path / "data", n=4)
    cfg = tiny_config(scheduler={"name": "cosine", "steps": 1})
    train(cfg, tmp_path / "r", data_root=root, device="cpu", progress=False)
    again = train(cfg, tmp_path / "r", data_root=root, device="cpu", resume=True, progress=False)
    assert again.step == 3 and again.losses == []


def test_resume_refuses_a_changed_recipe_and_works_without_config(tmp_path: Path, capsys) -> None:
    import yaml

    from msit_lite.cli import main

    root = make_data_root(tmp_path / "data", n=4)
    cfg = tiny_config()
    (tmp_path / "c.yaml").write_text(yaml.safe_dump(cfg))
    base = ["train", "--out", str(tmp_path / "r"), "--data-root", str(root), "--no-progress"]
    assert main([*base, "--config", str(tmp_path / "c.yaml"), "--max-steps", "3"]) == 0
    cfg["train"]["batch_size"] = 4
    (tmp_path / "c2.yaml").write_text(yaml.safe_dump(cfg))
    assert main([*base, "--config", str(tmp_path / "c2.yaml"), "--resume"]) == 2
    assert "train.batch_size" in capsys.readouterr().err
    assert main([*base, "--resume"]) == 0  # the run's own config.yaml
    assert "step 8 saved" in capsys.readouterr().out
