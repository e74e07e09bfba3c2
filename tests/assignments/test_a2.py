"""A2 (depthwise-separable branch conv): the solution passes, the stub fails with hints, wrong
answers get the intended hint. Every test name contains "A2"."""
from __future__ import annotations

from msit_lite.grading import get
from msit_lite.grading.a2 import expected_params
from msit_lite.models import names

REGISTERED, SHAPE, PARAMS, PROBE, MSIT = (c.name for c in get("A2").checks)


def failed(results):
    return {n for n, r in results.items() if not r.passed}


def test_A2_formula():
    assert expected_params(16, 16, 3) == 16 * 9 + 16 * 16 + 16
    assert expected_params(4, 6, 5, bias=False) == 4 * 25 + 24


def test_A2_solution_passes_every_check(grade_by_name, solutions_dir):
    results = grade_by_name("A2", solutions_dir)
    assert not failed(results), {n: r.message for n, r in results.items() if not r.passed}
    assert "student-dwsep" not in names("conv")


def test_A2_stub_fails_every_check_with_a_hint(grade_by_name, student_dir):
    results = grade_by_name("A2", student_dir)
    assert failed(results) == set(results)
    assert all("not implemented yet: A2: __init__" in r.message for r in results.values())


def test_A2_full_conv_is_not_separable(grade_by_name, make_submission):
    folder = make_submission("A2", replace={
        "self.depthwise = nn.Conv2d(in_channels, in_channels, kernel_size, padding=pad, groups=in_channels, bias=False)":
            "self.depthwise = nn.Conv2d(in_channels, out_channels, kernel_size, padding=pad, bias=bias)",
        "return self.pointwise(self.depthwise(x))": "return self.depthwise(x)",
        "self.pointwise = nn.Conv2d(in_channels, out_channels, 1, groups=groups, bias=bias)": "",
    })
    results = grade_by_name("A2", folder)
    assert failed(results) == {PARAMS, MSIT}
    hint = results[PARAMS].message
    assert "has 148 trainable parameters; expected 4*3*3 + 4*4 + 4 = 56" in hint and "full k x k conv" in hint


def test_A2_depthwise_with_bias(grade_by_name, make_submission):
    folder = make_submission("A2", replace={"groups=in_channels, bias=False)": "groups=in_channels, bias=True)"})
    results = grade_by_name("A2", folder)
    assert PARAMS in failed(results)
    assert "depthwise conv has a bias" in results[PARAMS].message


def test_A2_no_channel_mixing(grade_by_name, make_submission):
    """Depthwise only: shape and the k x k window are right, but channels never mix."""
    folder = make_submission("A2", replace={"return self.pointwise(self.depthwise(x))": "return self.depthwise(x)"})
    results = grade_by_name("A2", folder)
    assert {SHAPE, PROBE} <= failed(results)
    assert "the pointwise 1x1 conv maps in_channels to out_channels" in results[SHAPE].message
    assert "depends only on input channel(s) [0]" in results[PROBE].message


def test_A2_wrong_padding_and_window(grade_by_name, make_submission):
    folder = make_submission("A2", replace={"pad = kernel_size // 2 if padding is None else padding": "pad = 1"})
    results = grade_by_name("A2", folder)
    assert SHAPE in failed(results)
    assert "gave shape [2, 6, 7, 9]; expected [2, 6, 9, 11]" in results[SHAPE].message


def test_A2_dilated_window_is_too_wide(grade_by_name, make_submission):
    """A dilated 3x3 instead of a kxk: right shape, wrong receptive field."""
    folder = make_submission("A2", replace={
        "self.depthwise = nn.Conv2d(in_channels, in_channels, kernel_size, padding=pad, groups=in_channels, bias=False)":
            "self.depthwise = nn.Conv2d(in_channels, in_channels, 3, padding=pad, dilation=pad, groups=in_channels, bias=False)",
    })
    results = grade_by_name("A2", folder)
    assert PROBE in failed(results)
    assert "only 9 of the 25 pixels of its 5x5 window" in results[PROBE].message


def test_A2_config_not_selecting_the_student_conv(grade_by_name, make_submission, solutions_dir):
    yaml = (solutions_dir / "a2_branch_conv.yaml").read_text().replace(", conv: student-dwsep", "")
    results = grade_by_name("A2", make_submission("A2", yaml=yaml))
    assert failed(results) == {MSIT}
    assert "not your conv" in results[MSIT].message


def test_A2_missing_registration(grade_by_name, make_submission):
    folder = make_submission("A2", replace={'@register("conv", "student-dwsep")\n': ""})
    results = grade_by_name("A2", folder)
    assert failed(results) == set(results)
    assert "no conv registered as 'student-dwsep'" in results[REGISTERED].message
