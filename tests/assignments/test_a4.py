"""A4 (RefConv-style remap vs RIM): the reference solution passes every check, the untouched stub
fails every check with a hint, and deliberately wrong answers get the intended hint."""
from __future__ import annotations

from pathlib import Path

import pytest

from msit_lite.cli import main
from msit_lite.grading import CheckResult, get, grade
from msit_lite.grading.a4 import CONFIG_FILE, STUDENT_FILE

ROOT = Path(__file__).resolve().parents[2] / "notebooks" / "assignments"
SOLUTIONS, STUDENT = ROOT / "solutions", ROOT / "student"

IDENTITY, REMAP, FORWARD, COUNTS, ALIVE, MSIT = (c.name for c in get("A4").checks)


def grade_a4(folder: Path) -> dict[str, CheckResult]:
    return {r.name: r for r in grade(get("A4"), folder)}


def variant(tmp_path: Path, py: dict[str, str] | None = None, yaml: dict[str, str] | None = None) -> Path:
    """The solution with text replacements (each must apply, so a changed solution breaks the test loudly)."""
    for name, edits in ((STUDENT_FILE, py or {}), (CONFIG_FILE, yaml or {})):
        text = (SOLUTIONS / name).read_text()
        for old, new in edits.items():
            assert old in text, f"{old!r} not in {name}"
            text = text.replace(old, new)
        (tmp_path / name).write_text(text)
    return tmp_path


def failed(results: dict[str, CheckResult]) -> set[str]:
    return {name for name, r in results.items() if not r.passed}


def test_A4_solution_passes_every_check():
    results = grade_a4(SOLUTIONS)
    assert not failed(results), {n: r.message for n, r in results.items() if not r.passed}


def test_A4_grading_twice_in_one_process():
    assert not failed(grade_a4(SOLUTIONS))
    assert not failed(grade_a4(SOLUTIONS))  # the registry was cleaned up after the first run


def test_A4_stub_fails_every_check_with_a_hint():
    results = grade_a4(STUDENT)
    assert failed(results) == set(results)
    for name, r in results.items():
        assert r.message, name
        assert "Traceback" not in r.message
    assert "not implemented yet: A4" in results[IDENTITY].message
    assert "conv: a4-refconv" in results[MSIT].message  # the stub config still selects `plain`


def test_A4_random_map_is_not_an_identity(tmp_path):
    folder = variant(tmp_path, py={"torch.zeros(self.num_kernels, 1, map_k, map_k)":
                                   "0.1 * torch.randn(self.num_kernels, 1, map_k, map_k)"})
    results = grade_a4(folder)
    assert failed(results) == {IDENTITY, MSIT}
    assert "initialise refocus to zeros" in results[IDENTITY].message
    assert "fresh remap must be the identity" in results[MSIT].message


def test_A4_map_held_in_a_conv_is_reinitialised_by_msno(tmp_path):
    folder = variant(tmp_path, py={
        "self.refocus = nn.Parameter(torch.zeros(self.num_kernels, 1, map_k, map_k))":
            "self.refocus = nn.Conv2d(self.num_kernels, self.num_kernels, map_k, padding=map_k // 2, "
            "groups=self.num_kernels, bias=False); nn.init.zeros_(self.refocus.weight)",
    })
    results = grade_a4(folder)
    assert failed(results) == set(results)
    assert "official_init" in results[IDENTITY].message


def test_A4_weight_must_be_a_buffer(tmp_path):
    folder = variant(tmp_path, py={'self.register_buffer("weight", torch.zeros(self.kernel_shape))':
                                   "self.weight = nn.Parameter(torch.zeros(self.kernel_shape))"})
    results = grade_a4(folder)
    assert "is an nn.Parameter" in results[IDENTITY].message


def test_A4_fold_of_w_instead_of_w_prime(tmp_path):
    folder = variant(tmp_path, py={"conv.weight.copy_(self.effective_weight())": "conv.weight.copy_(self.weight)"})
    results = grade_a4(folder)
    assert IDENTITY not in failed(results)  # a fresh conv has W' = W: this slip only shows after training
    assert FORWARD in failed(results)
    assert "differs from the folded nn.Conv2d" in results[FORWARD].message


def test_A4_product_remap_is_dead_at_zero(tmp_path):
    folder = variant(tmp_path, py={"return self.weight + delta.view(self.kernel_shape)":
                                   "return self.weight + (delta * delta).view(self.kernel_shape)"})
    results = grade_a4(folder)
    assert {REMAP, ALIVE} <= failed(results)
    assert IDENTITY not in failed(results)
    assert "zero gradient" in results[ALIVE].message


def test_A4_parameter_formula_without_bias(tmp_path):
    folder = variant(tmp_path, py={'"trainable": kernels * map_k * map_k + b': '"trainable": kernels * map_k * map_k'})
    results = grade_a4(folder)
    assert failed(results) == {COUNTS}
    assert "parameter_counts(8, 8, 3)['trainable'] = 576; expected 584" in results[COUNTS].message


def test_A4_config_still_plain(tmp_path):
    folder = variant(tmp_path, yaml={"conv: a4-refconv": "conv: plain"})
    results = grade_a4(folder)
    assert failed(results) == {MSIT}
    assert "contains no RefocusConv2d" in results[MSIT].message


@pytest.mark.parametrize("folder, code", [(STUDENT, 1), (SOLUTIONS, 0)], ids=["A4-stub", "A4-solution"])
def test_A4_cli_exit_codes(folder, code, capsys):
    assert main(["grade", "A4", "--dir", str(folder)]) == code
    out = capsys.readouterr().out
    assert "A4 -- " in out and "score:" in out
