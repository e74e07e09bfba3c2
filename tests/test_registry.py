"""Registry and configs: every piece is selectable by name; user modules plug in without edits."""
from __future__ import annotations

import importlib.util
import sys
import textwrap

import pytest
import torch

from msit_lite.config import build_model, load_config
from msit_lite.errors import MsitError
from msit_lite.models import make, names, unregister
from msit_lite.paths import repo_dir

TINY = {
    "encoder": {"name": "edsr-baseline", "args": {"n_resblocks": 1, "n_feats": 8}},
    "dim": 16, "heads": 2, "radius": 1, "conv": "plain",
    "msno": {"name": "msno", "args": {"branches": 2}},
    "attention": {"name": "mssa", "args": {"projections": 2}},
    "decoder": {"name": "mlp", "args": {"hidden_list": [16]}},
}


def test_builtin_kinds():
    assert names("model") == ["liif", "msit"]
    assert names("conv") == ["plain", "refconv", "rim"]
    assert names("fem") == ["none", "official", "paper"]
    assert names("merge") == ["conv", "sim"]
    assert names("attention") == ["mssa", "sa"]
    assert set(names("msno")) >= {"msno", "none"}
    assert set(names("encoder")) >= {"edsr-baseline", "rdn"}


def test_user_module_from_own_file(tmp_path):
    """Register a new merge module in a user's file and select it in YAML -- no package edit."""
    (tmp_path / "my_merge.py").write_text(textwrap.dedent('''
        from torch import nn
        from msit_lite.models import register

        @register("merge", "my-max")
        class MaxMerge(nn.Module):
            def __init__(self, channels, branches):
                super().__init__()
                self.branches = branches
                self.proj = nn.Conv2d(channels // branches, channels, 1)

            def forward(self, x, trace=None):
                parts = x.chunk(self.branches, dim=1)
                best = parts[0]
                for p in parts[1:]:
                    best = best.maximum(p)
                return self.proj(best)
    '''))
    spec = importlib.util.spec_from_file_location("my_merge", tmp_path / "my_merge.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules["my_merge"] = module
    try:
        spec.loader.exec_module(module)
        cfg = tmp_path / "cfg.yaml"
        cfg.write_text(textwrap.dedent('''
            model:
              name: msit
              args:
                encoder: {name: edsr-baseline, args: {n_resblocks: 1, n_feats: 8}}
                dim: 16
                heads: 2
                radius: 1
                conv: plain
                msno: {name: msno, args: {branches: 2, merge: my-max}}
                attention: {name: mssa, args: {projections: 2}}
                decoder: {name: mlp, args: {hidden_list: [16]}}
        '''))
        model = build_model(load_config(cfg))
        assert type(model.msno.merge).__name__ == "MaxMerge"
        out = model(torch.rand(1, 3, 6, 7), torch.rand(1, 5, 2) * 2 - 1, torch.full((1, 2), 0.1))
        assert out.shape == (1, 5, 3)
    finally:
        unregister("merge", "my-max")
        sys.modules.pop("my_merge", None)
    with pytest.raises(MsitError, match="unknown merge 'my-max'"):
        make({"name": "msit", "args": {**TINY, "msno": {"name": "msno", "args": {"branches": 2, "merge": "my-max"}}}})


def test_config_errors(tmp_path):
    with pytest.raises(MsitError, match="not found"):
        load_config(tmp_path / "missing.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("model: [unclosed\n")
    with pytest.raises(MsitError, match="not valid YAML"):
        load_config(bad)
    bad.write_text("train: {}\n")
    with pytest.raises(MsitError, match="missing key 'model'"):
        load_config(bad)
    bad.write_text("model: {name: msit}\nmodle: {}\n")
    with pytest.raises(MsitError, match="unknown top-level key 'modle'"):
        load_config(bad)
    bad.write_text("model: {args: {}}\n")
    with pytest.raises(MsitError, match="model.name"):
        load_config(bad)
    bad.write_text("model: {name: msit, args: {encoder: edsr-baseline, dimm: 3}}\n")
    with pytest.raises(MsitError, match="dimm"):
        build_model(load_config(bad))
    bad.write_text("model: {name: msit, args: {encoder: edsr-baseline, conv: rimm}}\n")
    with pytest.raises(MsitError, match="unknown conv 'rimm'"):
        build_model(load_config(bad))


def test_shipped_configs_load():
    configs = sorted((repo_dir() / "configs").rglob("*.yaml"))
    assert len(configs) >= 6 + 17
    for path in configs:
        cfg = load_config(path)
        assert cfg["model"]["name"] in ("msit", "liif")


@pytest.mark.parametrize("where, value, message", [
    (("dim",), 0, "model 'msit': argument 'dim' must be >= 1, got 0"),
    (("radius",), -1, "model 'msit': argument 'radius' must be >= 0, got -1"),
    (("heads",), True, "argument 'heads' must be an integer, got True"),  # YAML `yes` is not 1
    (("dim",), 16.0, "argument 'dim' must be an integer, got 16.0"),
    (("cell_decode",), "yes", "argument 'cell_decode' must be true or false, got 'yes'"),
    (("decoder", "args", "hidden_list"), [16, 0], "decoder 'mlp': argument 'hidden_list' [1] must be >= 1, got 0"),
    (("decoder", "args", "hidden_list"), 16, "argument 'hidden_list' must be a list, got 16"),
    (("decoder", "args", "act"), 3, "decoder 'mlp': argument 'act' must be a string or null, got 3"),
    (("attention", "args", "posenc_scale"), float("nan"), "argument 'posenc_scale' must be a finite number, got nan"),
    (("msno", "args", "branches"), 0, "msno 'msno': argument 'branches' must be >= 1, got 0"),
    (("msno", "args"), [2], "'msno': 'args' must be a mapping, got [2]"),
    (("encoder", "args", "n_feats"), "8", "encoder 'edsr-baseline': argument 'n_feats' must be an integer, got '8'"),
])
def test_model_args_are_type_and_range_checked_naming_the_key(tmp_path, where, value, message):
    import copy

    import yaml

    spec = {"name": "msit", "args": copy.deepcopy(TINY)}
    node = spec["args"]
    for key in where[:-1]:
        node = node[key]
    node[where[-1]] = value
    path = tmp_path / "m.yaml"
    path.write_text(yaml.safe_dump({"model": spec}))
    with pytest.raises(MsitError) as e:
        build_model(load_config(path), str(path))
    assert str(e.value).startswith(f"{path}: ") and message in str(e.value) and "\n" not in str(e.value)


def test_unknown_and_missing_arguments_are_named():
    with pytest.raises(MsitError, match=r"decoder 'mlp': unknown argument 'hiden_list' \(allowed: in_dim, out_dim, hidden_list, act\)"):
        make({"name": "mlp", "args": {"hiden_list": [4]}}, "decoder", in_dim=4)
    with pytest.raises(MsitError, match="decoder 'mlp': missing argument 'in_dim'"):
        make({"name": "mlp"}, "decoder")
    assert make({"name": "mlp", "args": {"hidden_list": [4], "act": None}}, "decoder", in_dim=4) is not None
