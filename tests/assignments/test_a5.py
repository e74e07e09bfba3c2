"""A5 (LAM for a module of your own): the reference solution passes every check, the untouched stub
fails every check with a hint, deliberately wrong answers get the intended hint, and a file that
hands the work to ``msit_lite.viz.lam`` (``blur_path``, ``path_integrated_gradients``, ``lam``,
``heat_map``/``diffusion_index``) fails."""
from __future__ import annotations

from pathlib import Path

import pytest
import torch

from msit_lite.cli import main
from msit_lite.grading import CheckResult, get, grade
from msit_lite.grading.a5 import CONFIG_FILE, STUDENT_FILE, _smooth_image

ROOT = Path(__file__).resolve().parents[2] / "notebooks" / "assignments"
SOLUTIONS, STUDENT = ROOT / "solutions", ROOT / "student"

PATH, COMPLETE, AGREE, DI, MODULE, LAM_MODULE = (c.name for c in get("A5").checks)


def grade_a5(folder: Path) -> dict[str, CheckResult]:
    return {r.name: r for r in grade(get("A5"), folder)}


def variant(tmp_path: Path, py: dict[str, str]) -> Path:
    """The solution with text replacements (each must apply)."""
    text = (SOLUTIONS / STUDENT_FILE).read_text()
    for old, new in py.items():
        assert old in text, f"{old!r} not in {STUDENT_FILE}"
        text = text.replace(old, new)
    (tmp_path / STUDENT_FILE).write_text(text)
    (tmp_path / CONFIG_FILE).write_text((SOLUTIONS / CONFIG_FILE).read_text())
    return tmp_path


def failed(results: dict[str, CheckResult]) -> set[str]:
    return {name for name, r in results.items() if not r.passed}


def test_A5_solution_passes_every_check():
    results = grade_a5(SOLUTIONS)
    assert not failed(results), {n: r.message for n, r in results.items() if not r.passed}


def test_A5_stub_fails_every_check_with_a_hint():
    results = grade_a5(STUDENT)
    assert failed(results) == set(results)
    for name, r in results.items():
        assert r.message.startswith("not implemented yet: A5"), (name, r.message)


def test_A5_left_rule_path(tmp_path):
    results = grade_a5(variant(tmp_path, {"return ends[1:], ends[1:] - ends[:-1]": "return ends[:-1], ends[1:] - ends[:-1]"}))
    assert PATH in failed(results)
    assert "points[-1] should be the input itself" in results[PATH].message
    assert COMPLETE not in failed(results)  # the integrator itself is right; it gets the grader's path there


def test_A5_gradient_not_matched_to_its_step(tmp_path):
    # Σ_i ∇F(p_i) · Σ_i Δ_i instead of Σ_i ∇F(p_i)·Δ_i: right for a linear F, wrong otherwise.
    results = grade_a5(variant(tmp_path, {"return (grad * deltas).sum(dim=0).detach()":
                                          "return (grad.mean(dim=0) * deltas.sum(dim=0)).detach()"}))
    assert COMPLETE in failed(results)
    assert "Σ x²" in results[COMPLETE].message


def test_A5_heat_without_channel_sum(tmp_path):
    results = grade_a5(variant(tmp_path, {"heat = attribution.detach().double().sum(dim=0).abs().flatten().numpy()":
                                          "heat = attribution.detach().double().abs().sum(dim=0).flatten().numpy()"}))
    assert failed(results) == {DI}
    assert "combines the colour channels and the absolute value" in results[DI].message


def test_A5_dishonest_receptive_radius(tmp_path):
    results = grade_a5(variant(tmp_path, {"self.receptive_radius = self.stride": "self.receptive_radius = 1"}))
    assert failed(results) == {MODULE}
    assert "looks 2 pixels away but receptive_radius says 1" in results[MODULE].message


def test_A5_module_with_parameters(tmp_path):
    results = grade_a5(variant(tmp_path, {"self.receptive_radius = self.stride":
                                          "self.receptive_radius = self.stride\n        self.gain = nn.Parameter(torch.ones(1))"}))
    assert MODULE in failed(results)
    assert "parameter-free" in results[MODULE].message


def test_A5_smooth_test_image_is_in_range():
    img = _smooth_image(20, 20)
    assert img.shape == (3, 20, 20) and float(img.min()) >= 0 and float(img.max()) <= 1
    assert float(img.std()) > 0.1  # enough texture for the edge objective


@pytest.mark.parametrize("folder, code", [(STUDENT, 1), (SOLUTIONS, 0)], ids=["A5-stub", "A5-solution"])
def test_A5_cli_exit_codes(folder, code, capsys):
    assert main(["grade", "A5", "--dir", str(folder)]) == code
    assert "A5 -- " in capsys.readouterr().out


def test_A5_grader_leaves_threads_and_grad_mode_alone():
    before = torch.get_num_threads()
    try:
        torch.set_num_threads(2)
        grade_a5(SOLUTIONS)
        assert torch.get_num_threads() == 2 and torch.is_grad_enabled()
    finally:
        torch.set_num_threads(before)


# ---- the answer must be the student's own, not the package's -----------------------------------
def test_A5_path_delegating_to_the_package_fails(tmp_path):
    results = grade_a5(variant(tmp_path, {
        "from msit_lite.viz.lam import Window, WindowObjective, blur":
            "from msit_lite.viz.lam import Window, WindowObjective, blur\nfrom msit_lite.viz import lam as reference",
        "    alphas = [i / steps for i in range(steps + 1)]\n":
            "    return reference.blur_path(img, sigma, steps, size)\n    alphas = []\n",
    }))
    assert {PATH, COMPLETE, AGREE, DI, LAM_MODULE} <= failed(results)
    hint = results[PATH].message
    assert "uses the package's LAM" in hint and "from msit_lite.viz import lam" in hint and "yourself" in hint


def test_A5_path_ignoring_blur_fn_fails(tmp_path):
    """Without any import: a path that always uses the Gaussian is LAM's, but not the path it was asked for."""
    results = grade_a5(variant(tmp_path, {"blur_fn(img, sigma * (1 - a), size)": "blur(img, sigma * (1 - a), size)"}))
    assert failed(results) == {PATH, AGREE}
    assert "must be built with the blur_fn it is given" in results[PATH].message
    assert "is blur_fn passed on" in results[AGREE].message


def test_A5_attribute_delegating_to_lam_fails(tmp_path):
    results = grade_a5(variant(tmp_path, {
        "from msit_lite.viz.lam import Window, WindowObjective, blur":
            "from msit_lite.viz.lam import Window, WindowObjective, blur, lam",
        "    hr = (round(lr.shape[-2] * scale), round(lr.shape[-1] * scale))\n":
            "    return lam(model, lr, window, scale=scale, sigma=sigma, steps=steps, kernel_size=size).attribution\n",
    }))
    assert AGREE in failed(results) and LAM_MODULE in failed(results)
    assert "from msit_lite.viz.lam import lam" in results[AGREE].message


def test_A5_diffusion_index_delegating_to_the_package_fails(tmp_path):
    results = grade_a5(variant(tmp_path, {
        "import numpy as np": "import numpy as np\nimport msit_lite.viz.lam",
        "    heat = attribution.detach().double().sum(dim=0).abs().flatten().numpy()\n":
            "    return msit_lite.viz.lam.diffusion_index(msit_lite.viz.lam.heat_map(attribution))\n",
    }))
    assert DI in failed(results)
    assert "import msit_lite.viz.lam" in results[DI].message


def test_A5_integrated_gradient_delegating_to_the_package_fails(tmp_path):
    results = grade_a5(variant(tmp_path, {
        "from msit_lite.viz.lam import Window, WindowObjective, blur":
            "from msit_lite.viz.lam import Window, WindowObjective, blur\nfrom msit_lite.viz.lam import path_integrated_gradients as pig",
        "    p = points.detach().clone().requires_grad_(True)\n": "    return pig(objective, points, deltas)\n",
    }))
    assert COMPLETE in failed(results)
    assert "path_integrated_gradients" in results[COMPLETE].message
