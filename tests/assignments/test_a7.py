"""A7 (a FEM whose stride learns): the solution passes, the stub fails every check with a hint, and
the ways of getting it wrong -- the official ``int(... .item())``, a detached fraction, an integer shift
with a zero gradient, swapped weights, truncation of negative shifts, delegating to the package's
FEM -- each fail with the intended hint."""
from __future__ import annotations

import torch

from msit_lite.grading import get
from msit_lite.grading.a7 import expected_fem, interpolated_roll
from msit_lite.models import names
from msit_lite.models.fem import FEM

INTEGER, FRACTIONAL, GRADIENT, SHIFT2D, MODULE, MSIT, LEARNS = (c.name for c in get("A7").checks)
ROLL_BODY = "    return (1 - frac) * torch.roll(x, k, dims=dim) + frac * torch.roll(x, k + 1, dims=dim)"


def failed(results):
    return {n for n, r in results.items() if not r.passed}


def test_A7_grader_reference_is_the_interpolation():
    x = torch.randn(2, 3, 5, 6)
    assert torch.equal(interpolated_roll(x, 2.0, -1), torch.roll(x, 2, dims=-1))
    assert torch.allclose(interpolated_roll(x, 0.5, -2), 0.5 * x + 0.5 * torch.roll(x, 1, dims=-2))
    z = torch.randn(1, 16, 6, 7)
    assert torch.allclose(expected_fem(z, 2.0), FEM(16, mix_margin=2, mode="paper")(z))


def test_A7_solution_passes_every_check(grade_by_name, solutions_dir):
    results = grade_by_name("A7", solutions_dir)
    assert not failed(results), {n: r.message for n, r in results.items() if not r.passed}
    assert "a7-learnable" not in names("fem")


def test_A7_stub_fails_every_check_with_a_hint(grade_by_name, student_dir):
    results = grade_by_name("A7", student_dir)
    assert failed(results) == set(results)
    assert all(r.message for r in results.values())
    assert results[INTEGER].message.startswith("not implemented yet: A7: fractional_roll")
    assert "exactly one trainable parameter" in results[MODULE].message


def test_A7_the_official_int_item_fails(grade_by_name, make_submission):
    """The official FEM's bug: the stride read as a Python int."""
    folder = make_submission("A7", replace={
        "    k = int(torch.floor(shift.detach()))": "    return torch.roll(x, int(shift.item()), dims=dim)\n    k = 0",
    })
    results = grade_by_name("A7", folder)
    assert INTEGER not in failed(results)
    assert {FRACTIONAL, GRADIENT, MSIT, LEARNS} <= failed(results)
    assert "whole number of pixels" in results[FRACTIONAL].message
    assert "official FEM" in results[GRADIENT].message and "notebook 03 §4" in results[GRADIENT].message


def test_A7_detached_fraction_fails(grade_by_name, make_submission):
    folder = make_submission("A7", replace={"    frac = shift - k ": "    frac = (shift - k).detach() "})
    results = grade_by_name("A7", folder)
    assert {INTEGER, FRACTIONAL, SHIFT2D} - failed(results) == {INTEGER, FRACTIONAL}
    assert {GRADIENT, MSIT, LEARNS} <= failed(results)
    assert "leave" in results[GRADIENT].message and "autograd" in results[GRADIENT].message


def test_A7_integer_shift_with_a_zero_gradient_fails(grade_by_name, make_submission):
    folder = make_submission("A7", replace={ROLL_BODY: "    return torch.roll(x, round(float(shift.detach())), dims=dim) + 0 * shift"})
    results = grade_by_name("A7", folder)
    assert {FRACTIONAL, GRADIENT, LEARNS} <= failed(results)
    assert "exactly 0" in results[GRADIENT].message and "integer" in results[GRADIENT].message


def test_A7_swapped_weights_fail(grade_by_name, make_submission):
    folder = make_submission("A7", replace={ROLL_BODY: "    return frac * torch.roll(x, k, dims=dim) + (1 - frac) * torch.roll(x, k + 1, dims=dim)"})
    results = grade_by_name("A7", folder)
    assert FRACTIONAL in failed(results)
    assert "weights are swapped" in results[FRACTIONAL].message


def test_A7_truncated_negative_shifts_fail(grade_by_name, make_submission):
    folder = make_submission("A7", replace={"    k = int(torch.floor(shift.detach()))": "    k = int(shift.detach())"})
    results = grade_by_name("A7", folder)
    assert FRACTIONAL in failed(results)
    assert "negative" in results[FRACTIONAL].message


def test_A7_delegating_to_the_package_fem_fails(grade_by_name, make_submission):
    folder = make_submission("A7", replace={
        "from msit_lite.models import register": "from msit_lite.models import register\nfrom msit_lite.models.fem import FEM",
        "        groups = x.chunk(8, dim=1)\n":
            "        return FEM(x.shape[1], mix_margin=float(self.stride), mode=\"paper\")(x) * self.stride / self.stride\n",
    })
    results = grade_by_name("A7", folder)
    assert failed(results) == set(results)
    assert "uses the package's FEM" in results[MODULE].message and "from msit_lite.models.fem import FEM" in results[MODULE].message


def test_A7_hints_do_not_state_the_fix(grade_by_name, make_submission):
    """A hint says what is wrong and where to look (a notebook section), not the line to write."""
    folder = make_submission("A7", replace={"    k = int(torch.floor(shift.detach()))": "    k = int(shift.detach())"})
    hint = grade_by_name("A7", folder)[FRACTIONAL].message
    assert "notebook section" in hint and "floor" not in hint
