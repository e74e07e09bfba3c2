"""The official-checkpoint converter, msit_lite checkpoints and ``msit-lite convert``."""
from __future__ import annotations

import pytest
import torch
from safetensors.torch import load_file

from msit_lite.checkpoint import load_checkpoint, save_checkpoint
from msit_lite.cli import main
from msit_lite.config import build_model, load_config
from msit_lite.errors import MsitError
from msit_lite.official import convert_state_dict, load_official, unwrap_state_dict
from msit_lite.paths import repo_dir

GOLDEN_CFG = repo_dir() / "configs" / "golden"


def small(name: str) -> torch.nn.Module:
    return build_model(load_config(GOLDEN_CFG / name))


def test_convert_drops_and_renames(golden):
    sd = load_file(str(golden / "msit_small_rim.weights.safetensors"))
    out = convert_state_dict(sd)
    assert len(sd) == 88
    assert not any("mean" in k and "encoder" in k for k in out)  # MeanShift dropped
    assert "amsno.lem.mask" not in out and out["msno.fem.mix_margin"].item() == 1.0
    assert torch.equal(out["msno.msc.convs.3.weight"], sd["amsno.Ms_conv_4.weight"])  # RIM buffer
    assert torch.equal(out["attention.q_proj.bn.running_var"], sd["multi_conv_qs.0.bn.running_var"])
    assert out["attention.q_proj.bn.num_batches_tracked"].item() == 123
    assert torch.equal(out["decoder.layers.0.weight"], sd["imnets.0.layers.0.weight"])
    assert len(out) == 88 - 4 - 1


def test_fem_mask_is_verified(golden):
    sd = load_file(str(golden / "msit_small_rim.weights.safetensors"))
    sd["amsno.lem.mask"] = sd["amsno.lem.mask"].clone()
    sd["amsno.lem.mask"][5, 0, 1, 1] = 1.0
    with pytest.raises(MsitError, match="FEM mask"):
        convert_state_dict(sd)


def test_wrapped_pth_and_mismatch(golden, tmp_path):
    sd = load_file(str(golden / "liif_small.weights.safetensors"))
    wrapped = tmp_path / "liif.pth"
    torch.save({"model": {"name": "liif", "args": {}, "sd": sd}, "epoch": 3}, wrapped)
    model = load_official(wrapped, small("liif-small.yaml"))
    assert torch.equal(model.decoder.layers[0].weight, sd["imnet.layers.0.weight"])
    assert unwrap_state_dict({"state_dict": sd}).keys() == sd.keys()
    # A config that does not fit: the error lists the keys, counts first.
    with pytest.raises(MsitError) as e:
        load_official(wrapped, small("msit-small-rim.yaml"))
    msg = str(e.value)
    assert "missing keys" in msg and "shape mismatches 1 (decoder.layers.0.weight (64, 148) vs (64, 3138))" in msg and "\n" not in msg
    rim = load_file(str(golden / "msit_small_rim.weights.safetensors"))
    rim_file = tmp_path / "rim.safetensors"
    from safetensors.torch import save_file
    save_file(rim, str(rim_file))
    with pytest.raises(MsitError, match=r"unexpected keys 18 \(msno\.msc\.convs\.0\.convmap\.weight"):
        load_official(rim_file, small("msit-small-plain.yaml"))  # RIM weights into a plain config
    with pytest.raises(MsitError, match="no state dict"):
        unwrap_state_dict({"epoch": 1})
    with pytest.raises(MsitError, match="not found"):
        load_official(tmp_path / "none.pth", model)


def test_checkpoint_roundtrip_and_errors(tmp_path):
    config = load_config(GOLDEN_CFG / "msit-small-rim.yaml")
    model = build_model(config).eval()
    save_checkpoint(tmp_path / "ck", model, config)
    assert sorted(p.name for p in (tmp_path / "ck").iterdir()) == ["config.yaml", "model.safetensors"]
    loaded, cfg = load_checkpoint(tmp_path / "ck")
    assert cfg["model"] == config["model"]
    lr, coord, cell = torch.rand(1, 3, 6, 7), torch.rand(1, 5, 2) * 2 - 1, torch.full((1, 2), 0.1)
    with torch.no_grad():
        assert torch.equal(model(lr, coord, cell), loaded(lr, coord, cell))
    # weights that do not fit their config
    plain_cfg = load_config(GOLDEN_CFG / "msit-small-plain.yaml")
    (tmp_path / "ck" / "config.yaml").write_text((GOLDEN_CFG / "msit-small-plain.yaml").read_text())
    with pytest.raises(MsitError, match="unexpected keys 18"):
        load_checkpoint(tmp_path / "ck")
    assert plain_cfg["model"]["args"]["conv"] == "plain"
    with pytest.raises(MsitError, match="not found"):
        load_checkpoint(tmp_path / "nothing")


def test_convert_cli_end_to_end(golden, tmp_path, capsys):
    torch.set_num_threads(1)
    out = tmp_path / "converted"
    rc = main(["convert", "--official", str(golden / "msit_small_rim.weights.safetensors"),
               "--config", str(GOLDEN_CFG / "msit-small-rim.yaml"), "-o", str(out)])
    assert rc == 0 and "converted" in capsys.readouterr().out
    model, _ = load_checkpoint(out)
    io = load_file(str(golden / "msit_small_rim.io.safetensors"))
    with torch.no_grad():
        pred = model(io["inp"], io["sample_coord"], io["cell"])
    assert (pred - io["pred_subset"]).abs().max() <= 1e-5
    rc = main(["convert", "--official", str(golden / "liif_small.weights.safetensors"),
               "--config", str(GOLDEN_CFG / "msit-small-rim.yaml"), "-o", str(tmp_path / "bad")])
    assert rc == 2 and "does not fit" in capsys.readouterr().err
