"""The files shipped inside the package: checkpoints and configs found by name, a user's own file first."""
from __future__ import annotations

from pathlib import Path

import pytest

from msit_lite import assets
from msit_lite.cli import main
from msit_lite.config import load_config
from msit_lite.errors import MsitError
from msit_lite.inference import load_model

ROOT = Path(__file__).resolve().parent.parent


def test_shipped_checkpoints_and_configs_live_in_the_package():
    assert set(assets.checkpoint_names()) == {"lite-liif", "lite-msit", "lite-msit-cont", "lite-msit-nofem",
                                              "lite-msit-rim"}
    assert {"lite-msit", "edsr-baseline-msit-rim", "study/lite-sa", "golden/liif-small"} <= set(assets.config_names())
    assert assets.CHECKPOINTS.is_relative_to(Path(assets.__file__).parent)
    size = sum(p.stat().st_size for p in Path(assets.__file__).parent.rglob("*") if p.is_file())
    assert size <= 10 * 2**20
    # in the checkout the old paths are links to the package's folders
    assert (ROOT / "checkpoints").resolve() == assets.CHECKPOINTS and (ROOT / "configs").resolve() == assets.CONFIGS


def test_names_resolve_and_a_users_file_wins(tmp_path, monkeypatch):
    assert assets.checkpoint_dir("lite-liif") == assets.CHECKPOINTS / "lite-liif"
    assert assets.config_path("lite-msit") == assets.config_path("lite-msit.yaml") == assets.CONFIGS / "lite-msit.yaml"
    assert load_config("study/lite-sa")["model"]["name"] == "msit"
    monkeypatch.chdir(tmp_path)
    (tmp_path / "lite-msit.yaml").write_text("model: {name: liif, args: {encoder: edsr-baseline}}\n")
    assert assets.config_path("lite-msit.yaml") == Path("lite-msit.yaml")
    assert load_config("lite-msit.yaml")["model"]["name"] == "liif"
    (tmp_path / "lite-liif").mkdir()
    assert assets.checkpoint_dir("lite-liif") == Path("lite-liif")


@pytest.mark.parametrize("call, needle", [
    (lambda: assets.checkpoint_dir("lite-nothing"), "lite-msit"),
    (lambda: assets.checkpoint_dir("/no/such/folder"), "--checkpoint"),
    (lambda: assets.config_path("no-such-config"), "lite-msit"),
    (lambda: assets.config_path("../configs/lite-msit"), "not found"),
])
def test_unknown_names_list_the_shipped_ones(call, needle):
    with pytest.raises(MsitError, match="not found") as e:
        call()
    assert needle in str(e.value) and "\n" not in str(e.value)


def test_the_cli_takes_names(capsys):
    assert main(["params", "--config", "lite-liif", "--json"]) == 0
    assert '"trainable": 357283' in capsys.readouterr().out
    assert type(load_model("lite-msit-rim")).__name__ == "MSIT"
