"""A3 (plain conv merge instead of SIM): the solution passes, the stub fails with hints, wrong
answers get the intended hint. Every test name contains "A3"."""
from __future__ import annotations

from msit_lite.grading import get
from msit_lite.grading.a3 import expected_params
from msit_lite.models import names

REGISTERED, SHAPE, FORMULA, TRAIN = (c.name for c in get("A3").checks)


def failed(results):
    return {n for n, r in results.items() if not r.passed}


def test_A3_formula():
    assert expected_params(16, 1) == 16 * 16 + 16 and expected_params(16, 3) == 16 * 16 * 9 + 16


def test_A3_solution_passes_every_check(grade_by_name, solutions_dir):
    results = grade_by_name("A3", solutions_dir)
    assert not failed(results), {n: r.message for n, r in results.items() if not r.passed}
    assert "student-conv" not in names("merge")


def test_A3_stub_fails_every_check_with_a_hint(grade_by_name, student_dir):
    results = grade_by_name("A3", student_dir)
    assert failed(results) == set(results)
    assert all("not implemented yet: A3: __init__" in r.message for r in results.values())


def test_A3_grouped_conv_only_mixes_within_scales(grade_by_name, make_submission):
    folder = make_submission("A3", replace={"padding=kernel_size // 2)": "padding=kernel_size // 2, groups=branches)"})
    results = grade_by_name("A3", folder)
    assert SHAPE in failed(results)
    assert "ACROSS scales" in results[SHAPE].message


def test_A3_missing_bias(grade_by_name, make_submission):
    folder = make_submission("A3", replace={"padding=kernel_size // 2)": "padding=kernel_size // 2, bias=False)"})
    results = grade_by_name("A3", folder)
    assert {SHAPE, FORMULA} <= failed(results)
    assert "needs a bias" in results[SHAPE].message


def test_A3_activation_is_not_a_plain_merge(grade_by_name, make_submission):
    folder = make_submission("A3", replace={"return self.conv(x)": "return nn.functional.gelu(self.conv(x))"})
    results = grade_by_name("A3", folder)
    assert failed(results) == {FORMULA}
    assert "no activation" in results[FORMULA].message


def test_A3_sim_registered_under_the_new_name(grade_by_name, make_submission):
    source = (
        "from msit_lite.models import register\n"
        "from msit_lite.models.msno import SIM\n"
        "register('merge', 'student-conv')(SIM)\n"
    )
    results = grade_by_name("A3", make_submission("A3", source))
    assert REGISTERED not in failed(results) and SHAPE in failed(results)
    assert "expected C*C*k*k + C = 272" in results[SHAPE].message


def test_A3_config_not_selecting_the_student_merge(grade_by_name, make_submission, solutions_dir):
    yaml = (solutions_dir / "a3_conv_merge.yaml").read_text().replace("merge: student-conv", "merge: sim")
    results = grade_by_name("A3", make_submission("A3", yaml=yaml))
    assert failed(results) == {TRAIN}
    assert "not your merge" in results[TRAIN].message
