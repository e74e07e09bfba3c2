"""A6 (a lighter MSIT for mobile devices): the reference solution meets the budget and beats bilinear,
the untouched stub fails every check with a hint, over-budget, untrainable and weak models get the
intended hint, a model that is not an MSIT with MSNO and MSSA (a tiny LIIF, ``msno: none``, one MSC
branch, conventional SA) fails, and the grader's reference really is the shipped MSIT-lite."""
from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
import yaml

from msit_lite.cli import main
from msit_lite.grading import CheckResult, get, grade
from msit_lite.grading import a6
from msit_lite.grading.a6 import CONFIG_FILE, STUDENT_FILE

REPO = Path(__file__).resolve().parents[2]
ROOT = REPO / "notebooks" / "assignments"
SOLUTIONS, STUDENT = ROOT / "solutions", ROOT / "student"

BUILDS, IS_MSIT, PARAMS, FLOPS, TIME, SCALES, QUALITY = (c.name for c in get("A6").checks)

FROZEN_DECODER = '''

@register("decoder", "a6-frozen")
class FrozenDecoder(nn.Module):
    """Outputs zeros whatever the input: nothing can learn through it."""

    def __init__(self, in_dim: int, out_dim: int = 3, **_: object) -> None:
        super().__init__()
        self.gain = nn.Parameter(torch.zeros(1))

    def forward(self, x: Tensor) -> Tensor:
        return x[..., :3] * 0 + self.gain * 0
'''


def grade_a6(folder: Path, only: tuple[str, ...] | None = None) -> dict[str, CheckResult]:
    """Grade A6, or only the checks named in ``only`` (the training check takes tens of seconds)."""
    a = get("A6")
    if only is not None:
        a = dataclasses.replace(a, checks=tuple(c for c in a.checks if c.name in only))
    return {r.name: r for r in grade(a, folder)}


def submission(tmp_path: Path, config: str, py: str | None = None) -> Path:
    (tmp_path / STUDENT_FILE).write_text(py if py is not None else (SOLUTIONS / STUDENT_FILE).read_text())
    (tmp_path / CONFIG_FILE).write_text(config)
    return tmp_path


SOLUTION_CONFIG = (SOLUTIONS / CONFIG_FILE).read_text()
TINY_LIIF = """model:
  name: liif
  args:
    encoder: {name: edsr-baseline, args: {n_resblocks: 1, n_feats: 16}}
    decoder: {name: mlp, args: {hidden_list: [32, 32]}}
"""


def failed(results: dict[str, CheckResult]) -> set[str]:
    return {name for name, r in results.items() if not r.passed}


def test_A6_reference_is_the_shipped_lite_msit():
    shipped = yaml.safe_load((REPO / "configs" / "lite-msit.yaml").read_text())["model"]
    assert a6.REFERENCE_MODEL == shipped
    assert a6.parameter_count(a6.reference_model()) == 343_468


@pytest.mark.slow
def test_A6_solution_meets_the_budget_and_beats_bilinear():
    results = grade_a6(SOLUTIONS)
    assert not failed(results), {n: r.message for n, r in results.items() if not r.passed}


def test_A6_the_quality_bar_is_stated_in_the_check_name():
    assert QUALITY == f"beats bilinear by >= {a6.QUALITY_MARGIN_DB} dB after {a6.QUALITY_STEPS} training steps"


def test_A6_stub_fails_every_check_with_a_hint():
    results = grade_a6(STUDENT)
    assert failed(results) == set(results)
    for name, r in results.items():
        assert r.message.startswith("not implemented yet: A6"), (name, r.message)


def test_A6_lite_sized_model_is_over_budget(tmp_path):
    # The stub's config (MSIT-lite's sizes) with a working depthwise-separable conv.
    (tmp_path / STUDENT_FILE).write_text((SOLUTIONS / STUDENT_FILE).read_text())
    (tmp_path / CONFIG_FILE).write_text((STUDENT / CONFIG_FILE).read_text())
    results = grade_a6(tmp_path, only=(BUILDS, PARAMS, FLOPS, SCALES))
    assert {PARAMS, FLOPS} <= failed(results)
    assert BUILDS not in failed(results) and SCALES not in failed(results)
    assert "the budget is 150,000 (MSIT-lite: 343,468)" in results[PARAMS].message
    assert "of MSIT-lite's" in results[FLOPS].message and "the budget is 40%" in results[FLOPS].message


def test_A6_untrainable_model_is_caught(tmp_path):
    text = (SOLUTIONS / STUDENT_FILE).read_text().replace("from torch import Tensor, nn", "import torch\nfrom torch import Tensor, nn")
    (tmp_path / STUDENT_FILE).write_text(text + FROZEN_DECODER)
    config = (SOLUTIONS / CONFIG_FILE).read_text()
    old = "decoder: {name: mlp, args: {hidden_list: [64, 64], act: gelu}}"
    assert old in config
    (tmp_path / CONFIG_FILE).write_text(config.replace(old, "decoder: {name: a6-frozen}"))
    results = grade_a6(tmp_path, only=(IS_MSIT, QUALITY))
    assert failed(results) == {QUALITY}
    assert "the L1 loss on a fixed batch did not fall" in results[QUALITY].message and "notebook section 4" in results[QUALITY].message


def test_A6_bad_config_gets_a_one_line_hint(tmp_path):
    (tmp_path / STUDENT_FILE).write_text((SOLUTIONS / STUDENT_FILE).read_text())
    (tmp_path / CONFIG_FILE).write_text((SOLUTIONS / CONFIG_FILE).read_text().replace("conv: a6-dwsep", "conv: a6-nope"))
    results = grade_a6(tmp_path)
    assert failed(results) == set(results)
    assert results[BUILDS].message.startswith(f"{CONFIG_FILE}: unknown conv 'a6-nope'")


def test_A6_missing_config(tmp_path):
    (tmp_path / STUDENT_FILE).write_text((SOLUTIONS / STUDENT_FILE).read_text())
    results = grade_a6(tmp_path)
    assert f"file {CONFIG_FILE} not found" in results[BUILDS].message


def test_A6_measurements_are_consistent():
    inputs = a6.upscale_inputs(8)
    model = a6.reference_model()
    assert a6.count_flops(model, inputs) == a6.count_flops(model, inputs) > 0  # deterministic
    t_a, t_b = a6.time_ratio(model, model, inputs, repeats=2)
    assert t_a > 0 and t_b > 0


@pytest.mark.parametrize("folder, code", [(STUDENT, 1)], ids=["A6-stub"])
def test_A6_cli_exit_code(folder, code, capsys):
    assert main(["grade", "A6", "--dir", str(folder)]) == code
    assert "A6 -- " in capsys.readouterr().out


# ---- the graded model must be an MSIT with MSNO and MSSA, and must learn -----------------------------
def test_A6_tiny_liif_fails_with_a_hint(tmp_path):
    """A LIIF is far under every budget -- and not the assignment: checked on the built model."""
    results = grade_a6(submission(tmp_path, TINY_LIIF), only=(BUILDS, IS_MSIT, PARAMS, QUALITY))
    assert failed(results) == {IS_MSIT, QUALITY}
    for name in (IS_MSIT, QUALITY):
        assert "builds a LIIF, not an MSIT" in results[name].message and "MSNO and MSSA" in results[name].message


@pytest.mark.parametrize("old, new, hint", [
    ("msno: {name: msno, args: {branches: 2, fem: official, merge: sim}}", "msno: {name: none}", "msno: none?"),
    ("branches: 2", "branches: 1", "single MSC branch"),
    ("attention: {name: mssa, args: {projections: 2, enc_dims: 16, posenc_scale: 10}}",
     "attention: {name: sa, args: {conv: a6-dwsep, enc_dims: 16}}", "attention: sa?"),
    ("projections: 2", "projections: 1", "Q projection has a single scale"),
], ids=["no-msno", "one-branch", "conventional-sa", "one-projection"])
def test_A6_msit_without_its_multi_scale_parts_fails(tmp_path, old, new, hint):
    assert old in SOLUTION_CONFIG
    results = grade_a6(submission(tmp_path, SOLUTION_CONFIG.replace(old, new)), only=(BUILDS, IS_MSIT, QUALITY))
    assert failed(results) == {IS_MSIT, QUALITY}
    assert hint in results[IS_MSIT].message


def test_A6_the_structure_is_read_from_the_model_not_the_config(tmp_path):
    """A config that names `msit` but registers its own model under that spelling is still checked on the object."""
    py = (SOLUTIONS / STUDENT_FILE).read_text() + """

from msit_lite.models import LIIF


@register("model", "a6-msit")
def looks_like_msit(**_):
    return LIIF({"name": "edsr-baseline", "args": {"n_resblocks": 1, "n_feats": 8}}, {"name": "mlp", "args": {"hidden_list": [8]}})
"""
    config = "# name: msit\nmodel: {name: a6-msit, args: {msno: msno, attention: mssa}}\n"
    results = grade_a6(submission(tmp_path, config, py), only=(IS_MSIT,))
    assert "builds a LIIF, not an MSIT" in results[IS_MSIT].message


@pytest.mark.slow
def test_A6_model_that_learns_too_little_fails(tmp_path):
    old = "decoder: {name: mlp, args: {hidden_list: [64, 64], act: gelu}}"
    assert old in SOLUTION_CONFIG
    config = SOLUTION_CONFIG.replace(old, "decoder: {name: mlp, args: {hidden_list: [1], act: gelu}}")
    results = grade_a6(submission(tmp_path, config), only=(QUALITY,))
    assert failed(results) == {QUALITY}
    assert "over bilinear upsampling" in results[QUALITY].message and "the bar is +0.20 dB" in results[QUALITY].message
