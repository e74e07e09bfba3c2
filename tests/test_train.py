"""Training: config schema, schedule, a short run through the CLI, and the error messages."""
from __future__ import annotations

import csv
import math
from pathlib import Path

import pytest
import torch
import yaml

from msit_lite.cli import main
from msit_lite.errors import MsitError
from msit_lite.paths import repo_dir
from msit_lite.training import make_schedule, parse_data_config, parse_train_config, train
from msit_lite.training.config import TrainConfig

from test_train_common import make_data_root, tiny_config


@pytest.fixture(autouse=True)
def _one_thread():
    torch.set_num_threads(1)


# ---- schema --------------------------------------------------------------------------------
def test_defaults_are_the_paper_recipe() -> None:
    cfg = parse_train_config(None)
    assert (cfg.batch_size, cfg.patch_size, cfg.sample_q) == (32, 48, 48 * 48)
    assert (cfg.scale_min, cfg.scale_max, cfg.loss, cfg.optimizer.name) == (1.0, 4.0, "l1", "adam")
    s = make_schedule(cfg, steps_per_epoch=10)
    assert (s.warmup, s.main) == (500, 10000)
    assert parse_data_config(None).train == "DF2K"


@pytest.mark.parametrize(
    "train, key",
    [
        ({"bach_size": 4}, "train.bach_size"),
        ({"batch_size": "4"}, "train.batch_size"),
        ({"optimizer": {"lr": "fast"}}, "train.optimizer.lr"),
        ({"optimizer": {"name": "sgd"}}, "train.optimizer.name"),
        ({"warmup": {"epoch": 3}}, "train.warmup.epoch"),
        ({"val": {"scales": [2, "x3"]}}, "train.val.scales[1]"),
        ({"scheduler": {"name": "cosine"}}, "train.scheduler"),
        ({"sample_q": 5000}, "train.sample_q"),
        ({"rim_init": "zero"}, "train.rim_init"),
    ],
)
def test_bad_train_keys_are_named(train: dict, key: str) -> None:
    with pytest.raises(MsitError, match=key.replace("[", r"\[").replace("]", r"\]")):
        parse_train_config(train, "my.yaml")


def test_shipped_configs_parse() -> None:
    files = sorted((repo_dir() / "configs").glob("*.yaml"))
    assert files
    for f in files:
        raw = yaml.safe_load(f.read_text())
        parse_train_config(raw.get("train"), str(f))
        parse_data_config(raw.get("data"), str(f))


def test_schedule_warmup_then_cosine() -> None:
    cfg = parse_train_config({"warmup": {"steps": 10, "start_lr": 1e-5}, "scheduler": {"steps": 100}})
    s = make_schedule(cfg, steps_per_epoch=7)
    lrs = [s(i) for i in range(s.total + 1)]
    assert lrs[0] == pytest.approx(1e-5) and lrs[10] == pytest.approx(1e-4)
    assert lrs[5] == pytest.approx(5.5e-5)
    assert lrs[60] == pytest.approx(0.5e-4) and lrs[110] == pytest.approx(0.0, abs=1e-12)
    assert all(a < b for a, b in zip(lrs[:10], lrs[1:11])) and all(a >= b for a, b in zip(lrs[10:], lrs[11:]))
    ms = make_schedule(parse_train_config({"warmup": {"epochs": 0}, "scheduler": {"name": "multistep", "epochs": 4,
                                                                                  "milestones": [2, 3], "gamma": 0.5}}), 5)
    assert [ms(i) for i in (0, 9, 10, 14, 15)] == pytest.approx([1e-4, 1e-4, 5e-5, 5e-5, 2.5e-5])


# ---- a short run ---------------------------------------------------------------------------
def test_cli_train_writes_checkpoint_logs_and_validates(tmp_path: Path, capsys) -> None:
    root = make_data_root(tmp_path / "data")
    cfg = tiny_config(val_every=3, save_every=2, val={"images": 1, "crop": 24, "scales": [2, 3]})
    (tmp_path / "c.yaml").write_text(yaml.safe_dump(cfg))
    out = tmp_path / "run"
    rc = main(["train", "--config", str(tmp_path / "c.yaml"), "--data-root", str(root), "--out", str(out),
               "--device", "cpu", "--no-progress"])
    assert rc == 0
    for name in ("model.safetensors", "config.yaml", "train_state.pt", "log.csv", "val.csv"):
        assert (out / name).is_file(), name
    rows = list(csv.DictReader(open(out / "log.csv")))
    assert [int(r["step"]) for r in rows] == list(range(1, 9))  # 2 warm-up + 6 cosine steps
    assert all(math.isfinite(float(r["loss"])) for r in rows)
    assert [r["val_psnr"] != "" for r in rows] == [s in (3, 6, 8) for s in range(1, 9)]
    assert float(rows[-1]["lr"]) < float(rows[2]["lr"])
    saved = yaml.safe_load((out / "config.yaml").read_text())
    assert saved["train"]["batch_size"] == 2 and saved["model"] == cfg["model"]
    from msit_lite.checkpoint import load_checkpoint

    model, _ = load_checkpoint(out)  # the checkpoint is loadable by everything else
    assert "held-in PSNR" in capsys.readouterr().out


def test_training_reduces_the_loss(tmp_path: Path) -> None:
    root = make_data_root(tmp_path / "data", n=4)
    cfg = tiny_config("liif", batch_size=4, sample_q=64, warmup={"steps": 0}, scheduler={"name": "constant", "steps": 60},
                      optimizer={"lr": 3e-3})
    res = train(cfg, tmp_path / "run", data_root=root, device="cpu", progress=False)
    assert sum(res.losses[-10:]) / 10 < 0.7 * sum(res.losses[:5]) / 5


# ---- errors ---------------------------------------------------------------------------------
def test_missing_and_empty_data_root(tmp_path: Path, capsys) -> None:
    (tmp_path / "c.yaml").write_text(yaml.safe_dump(tiny_config()))
    args = ["train", "--config", str(tmp_path / "c.yaml"), "--out", str(tmp_path / "run"), "--no-progress"]
    assert main([*args, "--data-root", str(tmp_path / "nope")]) == 2
    assert "data root" in capsys.readouterr().err
    (tmp_path / "empty").mkdir()
    assert main([*args, "--data-root", str(tmp_path / "empty")]) == 2
    assert "training set T91 not found" in capsys.readouterr().err


def test_invalid_config_names_key(tmp_path: Path, capsys) -> None:
    cfg = tiny_config()
    cfg["train"]["lr"] = 1e-4
    (tmp_path / "c.yaml").write_text(yaml.safe_dump(cfg))
    assert main(["train", "--config", str(tmp_path / "c.yaml"), "--out", str(tmp_path / "r")]) == 2
    err = capsys.readouterr().err
    assert "train.lr" in err and "c.yaml" in err and "Traceback" not in err


def test_too_few_images_for_batch(tmp_path: Path) -> None:
    root = make_data_root(tmp_path / "data", n=2)
    with pytest.raises(MsitError, match="batch_size=4"):
        train(tiny_config(batch_size=4), tmp_path / "run", data_root=root, device="cpu", progress=False)


def test_out_of_memory_suggests_smaller_batch(tmp_path: Path, monkeypatch) -> None:
    root = make_data_root(tmp_path / "data", n=4)
    from msit_lite.models.msit import MSIT

    def boom(self, *a, **k):
        raise RuntimeError("CUDA out of memory. Tried to allocate 20.00 GiB")

    monkeypatch.setattr(MSIT, "forward", boom)
    with pytest.raises(MsitError, match="out of memory.*batch_size=2.*lower train.batch_size"):
        train(tiny_config(), tmp_path / "run", data_root=root, device="cpu", progress=False)


def test_stage2_without_init_is_an_error(tmp_path: Path) -> None:
    root = make_data_root(tmp_path / "data", n=4)
    with pytest.raises(MsitError, match="--init"):
        train(tiny_config(conv="rim", stage=2), tmp_path / "run", data_root=root, device="cpu", progress=False)
