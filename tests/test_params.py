"""Parameter counts of the full configs vs the official models (``param_counts.json``, README §7)."""
from __future__ import annotations

import json

import pytest

from msit_lite.cli import main
from msit_lite.config import build_model, load_config
from msit_lite.params import count_parameters
from msit_lite.paths import repo_dir

CASES = {
    "configs/edsr-baseline-msit-rim.yaml": ("msit_edsr_baseline_rim", "msit_edsr_baseline_plain"),
    "configs/edsr-baseline-msit.yaml": ("msit_edsr_baseline_plain", "msit_edsr_baseline_plain"),
    "configs/rdn-msit-rim.yaml": ("msit_rdn_rim", "msit_rdn_plain"),
    "configs/rdn-msit.yaml": ("msit_rdn_plain", "msit_rdn_plain"),
    "configs/edsr-baseline-liif.yaml": ("liif_edsr_baseline", "liif_edsr_baseline"),
    "configs/rdn-liif.yaml": ("liif_rdn", "liif_rdn"),
}
# our module name -> official module name
MSIT_MODULES = {
    "encoder": "encoder", "channel_proj": "conv_ch", "msno": "amsno", "attention.q_proj": "multi_conv_qs",
    "attention.v_proj": "conv_vs", "attention.pos_bias": "pb_encoder", "decoder": "imnets",
}
LIIF_MODULES = {"encoder": "encoder", "decoder": "imnet"}


@pytest.mark.parametrize("config", list(CASES))
def test_counts_match_official(golden, config):
    ref_all = json.loads((golden / "param_counts.json").read_text())
    key, deployed_key = CASES[config]
    ref = ref_all[key]
    report = count_parameters(build_model(load_config(repo_dir() / config)))
    assert report.trainable == ref["total"]["trainable"]
    assert report.rim_buffers == ref["total"].get("rim_weight_buffers", 0)
    assert report.deployed == ref_all[deployed_key]["total"]["trainable"]
    assert report.official_num_params == ref["official_compute_num_params"]
    modules = MSIT_MODULES if "msit" in config else LIIF_MODULES
    for ours, official in modules.items():
        assert report.modules[ours]["trainable"] == ref["breakdown"][official]["trainable"], ours
        assert report.modules[ours]["rim_buffers"] == ref["breakdown"][official].get("rim_weight_buffers", 0), ours


def test_params_cli_json(capsys):
    assert main(["params", "--config", str(repo_dir() / "configs" / "edsr-baseline-msit-rim.yaml"), "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert {"trainable", "rim_buffers", "deployed", "modules"} <= set(out)
    assert (out["trainable"], out["rim_buffers"], out["deployed"]) == (6_047_308, 2_936_832, 8_123_980)
    assert out["learnable"] == out["trainable"] - 1  # the FEM stride never learns


def test_params_cli_table_and_errors(tmp_path, capsys):
    assert main(["params", "--config", str(repo_dir() / "configs" / "edsr-baseline-liif.yaml")]) == 0
    assert "1,567,299" in capsys.readouterr().out
    assert main(["params", "--config", str(tmp_path / "nope.yaml")]) == 2
    assert "not found" in capsys.readouterr().err


@pytest.mark.parametrize(
    "config, paper_millions",
    [
        ("configs/ablations/t3-row2-msno-sa.yaml", 8.4),  # conventional SA: separate Q, K, V 3x3 convs
        ("configs/ablations/t3-row3-msno-mssa.yaml", 8.1),
        ("configs/ablations/t3-row4-rim.yaml", 6.0),
        ("configs/ablations/t3-row5-refconv.yaml", 6.0),
    ],
)
def test_table3_counts_round_to_the_paper(config, paper_millions):
    report = count_parameters(build_model(load_config(repo_dir() / config)))
    assert round(report.trainable / 1e6, 1) == paper_millions
