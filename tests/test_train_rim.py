"""Cumulative training: stage-1 plain weights into the RIMs of a stage-2 model."""
from __future__ import annotations

from pathlib import Path

import pytest
import torch

from msit_lite.checkpoint import save_checkpoint
from msit_lite.config import build_model
from msit_lite.errors import MsitError
from msit_lite.models.rim import rim_modules
from msit_lite.training import init_from_stage1, init_weights, train

from test_train_common import make_data_root, tiny_config


@pytest.fixture(autouse=True)
def _one_thread():
    torch.set_num_threads(1)  # shared CI cores: no oversubscription


def _stage1(tmp_path: Path) -> tuple[torch.nn.Module, Path]:
    torch.manual_seed(0)
    cfg = tiny_config(conv="plain")
    model = build_model(cfg)
    with torch.no_grad():  # non-trivial BatchNorm statistics too
        for name, buf in model.named_buffers():
            if name.endswith("running_mean"):
                buf.normal_(0, 0.1)
    return model.eval(), save_checkpoint(tmp_path / "stage1", model, cfg)


def _inputs() -> tuple[torch.Tensor, ...]:
    g = torch.Generator().manual_seed(1)
    return torch.randn(2, 3, 9, 11, generator=g), torch.rand(2, 40, 2, generator=g) * 2 - 1, torch.full((2, 2), 0.1)


def test_identity_init_preserves_the_function(tmp_path: Path) -> None:
    plain, ckpt = _stage1(tmp_path)
    torch.manual_seed(7)
    rim = build_model(tiny_config(conv="rim"))
    fresh = init_from_stage1(rim, ckpt, "identity")
    assert fresh and all(k.endswith(("convmap.weight", "linear.weight")) for k in fresh)
    rim.eval()
    x = _inputs()
    with torch.no_grad():
        assert torch.equal(rim(*x), plain(*x))
        for m in rim_modules(rim).values():
            assert torch.equal(m.effective_weight(), m.weight)
    # ... and is trainable: the zeroed `linear` gets a gradient at once
    rim.train()
    rim(*x).abs().mean().backward()
    assert any(m.linear.weight.grad.abs().sum() > 0 for m in rim_modules(rim).values())


def test_official_init_changes_the_function(tmp_path: Path) -> None:
    plain, ckpt = _stage1(tmp_path)
    rim = build_model(tiny_config(conv="rim"))
    init_from_stage1(rim, ckpt, "official")
    rim.eval()
    x = _inputs()
    with torch.no_grad():
        assert (rim(*x) - plain(*x)).abs().max() > 1e-3


def test_train_stage2_from_stage1(tmp_path: Path) -> None:
    _, ckpt = _stage1(tmp_path)
    root = make_data_root(tmp_path / "data", n=4)
    cfg = tiny_config(conv="rim", stage=2, scale_max=3.0, patch_size=6)
    res = train(cfg, tmp_path / "s2", data_root=root, device="cpu", init=str(ckpt), max_steps=2, progress=False)
    assert res.step == 2
    w = {k: v for k, v in res.model.state_dict().items() if k.endswith(".weight")}
    from msit_lite.checkpoint import read_weights

    s1 = read_weights(ckpt / "model.safetensors")
    rim_buf = [k for k in rim_modules(res.model)]
    assert rim_buf and all(torch.equal(w[f"{n}.weight"], s1[f"{n}.weight"]) for n in rim_buf)  # W stays frozen


def test_init_into_a_model_without_rim_is_an_error(tmp_path: Path) -> None:
    _, ckpt = _stage1(tmp_path)
    with pytest.raises(MsitError, match="has none"):
        init_from_stage1(build_model(tiny_config(conv="plain")), ckpt)
    with pytest.raises(MsitError, match="not found"):
        init_from_stage1(build_model(tiny_config(conv="rim")), tmp_path / "missing")


def test_init_a_plain_model_continues_from_all_weights(tmp_path: Path) -> None:
    """The stage-2 control run: a plain config with --init starts from every stage-1 weight."""
    plain, ckpt = _stage1(tmp_path)
    model = build_model(tiny_config(conv="plain"))
    assert init_weights(model, ckpt) == []
    for k, v in plain.state_dict().items():
        assert torch.equal(model.state_dict()[k], v), k
    other = tiny_config(conv="plain")
    other["model"]["args"]["dim"] = 8  # a different width: every mismatch is named, no torch traceback
    with pytest.raises(MsitError, match="do not fit"):
        init_weights(build_model(other), ckpt)


def test_train_stage1_with_init_starts_from_the_checkpoint(tmp_path: Path) -> None:
    plain, ckpt = _stage1(tmp_path)
    root = make_data_root(tmp_path / "data", n=4)
    cfg = tiny_config(conv="plain", scale_max=3.0, patch_size=6)
    cfg["train"]["optimizer"] = {"name": "adam", "lr": 1.0e-12}  # ~no step: the weights stay the checkpoint's
    cfg["train"]["warmup"] = {"steps": 0}
    res = train(cfg, tmp_path / "cont", data_root=root, device="cpu", init=str(ckpt), max_steps=1, progress=False)
    for k, v in plain.state_dict().items():
        if not k.endswith(("running_mean", "running_var", "num_batches_tracked")):
            assert torch.allclose(res.model.state_dict()[k], v, rtol=0, atol=1e-9), k


def test_init_drop_lets_an_ablation_remove_a_module(tmp_path: Path) -> None:
    """FEM off, continued from a FEM-on checkpoint: its keys must be dropped explicitly."""
    _, ckpt = _stage1(tmp_path)
    cfg = tiny_config(conv="plain")
    cfg["model"]["args"]["msno"]["args"]["fem"] = "none"
    with pytest.raises(MsitError, match="msno.fem"):
        init_weights(build_model(cfg), ckpt)
    model = build_model(cfg)
    assert init_weights(model, ckpt, drop=("msno.fem.",)) == []
    s1 = build_model(tiny_config(conv="plain")).state_dict()
    assert set(model.state_dict()) == {k for k in s1 if not k.startswith("msno.fem.")}
