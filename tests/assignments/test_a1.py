"""A1 (FEM shift kernel): the solution passes, the stub fails with hints, wrong answers get the
intended hint, and a file that hands the work to the package's FEM (``paper_mask``,
``FEM(mode="paper")``, the registry) fails. Every test name contains "A1"
(``pytest tests/assignments -k A1``)."""
from __future__ import annotations

import torch

from msit_lite.grading import get
from msit_lite.grading.a1 import A1_REFERENCE, _package_shift, reference_uses
from msit_lite.models import names
from msit_lite.models.fem import FEM, paper_mask

MASK, DIRECTIONS, STRIDE1, STRIDE2, MODULE, MSIT = (c.name for c in get("A1").checks)


def failed(results):
    return {n for n, r in results.items() if not r.passed}


def test_A1_package_recipe_matches_the_package_module():
    """The checks' Eq. 2 reference (used for any mask) equals msit_lite's FEM for the paper's mask."""
    z = torch.randn(2, 16, 5, 7)
    for m in (1, 2):
        assert torch.allclose(_package_shift(z, paper_mask(16), m), FEM(16, mix_margin=m, mode="paper")(z))


def test_A1_solution_passes_every_check(grade_by_name, solutions_dir):
    results = grade_by_name("A1", solutions_dir)
    assert not failed(results), {n: r.message for n, r in results.items() if not r.passed}
    assert "student-shift" not in names("fem")  # unregistered after grading


def test_A1_stub_fails_every_check_with_a_hint(grade_by_name, student_dir):
    results = grade_by_name("A1", student_dir)
    assert failed(results) == set(results)
    assert "not implemented yet: A1: shift_mask" in results[MASK].message
    assert "not implemented yet: A1: fem_shift" in results[STRIDE1].message
    assert "not implemented yet: A1: StudentFEM.forward" in results[MSIT].message


def test_A1_reversed_directions(grade_by_name, make_submission):
    folder = make_submission("A1", replace={'"up": (2, 1)': '"up": (0, 1)', '"down": (0, 1)': '"down": (2, 1)'})
    results = grade_by_name("A1", folder)
    assert failed(results) == {DIRECTIONS, MODULE, MSIT}
    hint = results[DIRECTIONS].message
    assert "should move its content up" in hint and "opposite direction" in hint
    assert "(2, 1)" not in hint  # the hint says what is wrong, not which tap to set


def test_A1_interleaved_groups(grade_by_name, make_submission):
    folder = make_submission("A1", replace={
        "mask[g * part : (g + 1) * part, 0, a, b] = 1.0": "mask[g::8, 0, a, b] = 1.0",
    })
    results = grade_by_name("A1", folder)
    assert DIRECTIONS in failed(results) and MASK not in failed(results)
    assert "contiguous blocks" in results[DIRECTIONS].message


def test_A1_two_taps_per_kernel(grade_by_name, make_submission):
    folder = make_submission("A1", replace={"    return mask\n": "    mask[:, 0, 1, 1] = 1.0\n    return mask\n"})
    hint = grade_by_name("A1", folder)[MASK].message
    assert "channel 0 has 2 ones" in hint and "Eq. 3" in hint


def test_A1_zero_padding_instead_of_wrap_around(grade_by_name, make_submission):
    folder = make_submission("A1", replace={'mode="circular"': 'mode="constant"'})
    results = grade_by_name("A1", folder)
    assert {STRIDE1, STRIDE2} <= failed(results)
    assert "ZERO padding" in results[STRIDE1].message and "come back on the other" in results[STRIDE1].message


def test_A1_stride_ignored(grade_by_name, make_submission):
    folder = make_submission("A1", replace={
        "z = F.pad(z, (m, m, m, m), mode=\"circular\")": "z = F.pad(z, (m, m, m, m), mode=\"circular\")[..., m - 1 : z.shape[-2] + m + 1, m - 1 : z.shape[-1] + m + 1]",
        "dilation=m": "dilation=1",
    })
    results = grade_by_name("A1", folder)
    assert STRIDE1 not in failed(results) and STRIDE2 in failed(results)
    assert "matches stride 1" in results[STRIDE2].message


def test_A1_missing_padding_reports_the_shape(grade_by_name, make_submission):
    folder = make_submission("A1", replace={'z = F.pad(z, (m, m, m, m), mode="circular")': "pass"})
    hint = grade_by_name("A1", folder)[STRIDE1].message
    assert "has shape [2, 16, 3, 5]; expected [2, 16, 5, 7]" in hint and "notebook section 3" in hint


def test_A1_mask_as_a_parameter(grade_by_name, make_submission):
    folder = make_submission("A1", replace={
        'self.register_buffer("mask", shift_mask(channels), persistent=False)': "self.mask = nn.Parameter(shift_mask(channels))",
    })
    results = grade_by_name("A1", folder)
    assert failed(results) == {MODULE}
    assert "144 trainable parameters" in results[MODULE].message and "no additional parameters" in results[MODULE].message


def test_A1_config_not_selecting_the_student_fem(grade_by_name, make_submission, solutions_dir):
    yaml = (solutions_dir / "a1_fem_shift.yaml").read_text().replace("fem: student-shift", "fem: paper")
    results = grade_by_name("A1", make_submission("A1", yaml=yaml))
    assert failed(results) == {MSIT}
    assert "not your FEM" in results[MSIT].message and "student-shift" in results[MSIT].message


def test_A1_missing_registration(grade_by_name, make_submission):
    folder = make_submission("A1", replace={'@register("fem", "student-shift")\n': ""})
    results = grade_by_name("A1", folder)
    assert failed(results) == {MODULE, MSIT}
    assert "no FEM registered as 'student-shift'" in results[MODULE].message


def test_A1_bug_in_student_code_names_the_line(grade_by_name, make_submission):
    folder = make_submission("A1", replace={"    part = channels // 8\n": "    part = channels // 8\n    part = part + 'x'\n"})
    hint = grade_by_name("A1", folder)[MASK].message
    assert hint.startswith("your code raised TypeError:") and "(a1_fem_shift.py, line " in hint


# ---- the answer must be the student's own, not the package's -----------------------------------
CHECKS_PASSED_BY_DELEGATION = {MASK, DIRECTIONS, STRIDE1, STRIDE2, MODULE, MSIT}


def test_A1_shift_mask_delegating_to_paper_mask_fails(grade_by_name, make_submission):
    folder = make_submission("A1", replace={
        "from msit_lite.models import register": "from msit_lite.models import register\nfrom msit_lite.models.fem import paper_mask",
        "    mask = torch.zeros(channels, 1, 3, 3)\n    part = channels // 8\n": "    return paper_mask(channels)\n    part = 0\n",
    })
    results = grade_by_name("A1", folder)
    assert failed(results) == CHECKS_PASSED_BY_DELEGATION
    hint = results[MASK].message
    assert "uses the package's FEM" in hint and "from msit_lite.models.fem import paper_mask" in hint and "yourself" in hint


def test_A1_module_delegating_to_package_FEM_fails(grade_by_name, make_submission):
    folder = make_submission("A1", replace={
        "from msit_lite.models import register": "import msit_lite.models.fem as reference\nfrom msit_lite.models import register",
        "        return fem_shift(x, self.mask, self.stride)": "        return reference.FEM(x.shape[1], self.stride, mode=\"paper\")(x)",
    })
    results = grade_by_name("A1", folder)
    assert MODULE in failed(results) and MSIT in failed(results)
    assert "import msit_lite.models.fem" in results[MODULE].message


def test_A1_module_built_through_the_registry_fails(grade_by_name, make_submission):
    folder = make_submission("A1", replace={
        "from msit_lite.models import register": "from msit_lite.models import make, register",
        "        return fem_shift(x, self.mask, self.stride)":
            "        return make({\"name\": \"paper\", \"args\": {\"mix_margin\": self.stride}}, \"fem\", channels=x.shape[1])(x)",
    })
    results = grade_by_name("A1", folder)
    assert MODULE in failed(results)
    assert "make(...) of a package fem" in results[MODULE].message


def test_A1_mask_ignoring_the_given_order_fails(grade_by_name, make_submission):
    """Hard-coding the paper's order reproduces paper_mask, but not the orders the package cannot produce."""
    folder = make_submission("A1", replace={"    for g, name in enumerate(directions):": "    for g, name in enumerate(DIRECTIONS):"})
    results = grade_by_name("A1", folder)
    assert failed(results) == {DIRECTIONS}
    assert "ignores the order of the directions" in results[DIRECTIONS].message


def test_A1_module_ignoring_its_mask_buffer_fails(grade_by_name, make_submission):
    folder = make_submission("A1", replace={
        "        return fem_shift(x, self.mask, self.stride)": "        return fem_shift(x, shift_mask(x.shape[1]), self.stride)",
    })
    results = grade_by_name("A1", folder)
    assert failed(results) == {MODULE}
    assert "does not shift with it" in results[MODULE].message


def test_A1_reference_scan_accepts_the_solution_and_the_stub(solutions_dir, student_dir):
    from msit_lite.grading import get, load_submission
    from msit_lite.grading.core import isolated_registry

    for folder in (solutions_dir, student_dir):
        with isolated_registry():
            module = load_submission(get("A1"), folder)
            assert reference_uses(module, A1_REFERENCE, ("fem",)) == []
