"""A6 (a lighter MSIT for mobile devices): the reference solution meets the budget, the untouched
stub fails every check with a hint, over-budget and untrainable models get the intended hint, and
the grader's reference really is the shipped MSIT-lite."""
from __future__ import annotations

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

BUILDS, PARAMS, FLOPS, TIME, SCALES, TRAINS = (c.name for c in get("A6").checks)

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


def grade_a6(folder: Path) -> dict[str, CheckResult]:
    return {r.name: r for r in grade(get("A6"), folder)}


def failed(results: dict[str, CheckResult]) -> set[str]:
    return {name for name, r in results.items() if not r.passed}


def test_A6_reference_is_the_shipped_lite_msit():
    shipped = yaml.safe_load((REPO / "configs" / "lite-msit.yaml").read_text())["model"]
    assert a6.REFERENCE_MODEL == shipped
    assert a6.parameter_count(a6.reference_model()) == 343_468


def test_A6_solution_meets_the_budget():
    results = grade_a6(SOLUTIONS)
    assert not failed(results), {n: r.message for n, r in results.items() if not r.passed}


def test_A6_stub_fails_every_check_with_a_hint():
    results = grade_a6(STUDENT)
    assert failed(results) == set(results)
    for name, r in results.items():
        assert r.message.startswith("not implemented yet: A6"), (name, r.message)


def test_A6_lite_sized_model_is_over_budget(tmp_path):
    # The stub's config (MSIT-lite's sizes) with a working depthwise-separable conv.
    (tmp_path / STUDENT_FILE).write_text((SOLUTIONS / STUDENT_FILE).read_text())
    (tmp_path / CONFIG_FILE).write_text((STUDENT / CONFIG_FILE).read_text())
    results = grade_a6(tmp_path)
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
    results = grade_a6(tmp_path)
    assert TRAINS in failed(results)
    assert "Adam steps" in results[TRAINS].message and "expected at most 85%" in results[TRAINS].message


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
