"""The grading framework: every student-side problem becomes a failed check with a one-line hint,
every check runs seeded on one thread, the in-process runner restores the registry, and every
registered assignment's solution passes while its stub fails with hints (parametrised ``[A1]`` ...
``[A6]``). The hint tests grade in this process (:func:`grade_in_process`, the work of one grading
process); grading in separate processes is tested in ``test_grading_isolation.py``."""
from __future__ import annotations

import sys
import textwrap
import types
from pathlib import Path

import pytest
import torch

from msit_lite.errors import MsitError
from msit_lite.grading import (
    ASSIGNMENTS,
    Assignment,
    Check,
    CheckFailed,
    check_student_copy,
    format_report,
    get,
    grade,
    grade_in_process,
    grade_notebook,
    load_student,
    make_student_copy,
)
from msit_lite.models import names, register, unregister


def _probe(module):
    value = module.answer()
    if value != 42:
        raise CheckFailed(f"answer() returned {value!r}; expected 42")


def _registers(module):
    if "dummy-merge" not in names("merge"):
        raise CheckFailed("dummy-merge is not registered")


def _seeded(module):
    """Runs in the grading process: the check starts from seed 0 on one thread."""
    want = torch.rand(1, generator=torch.Generator().manual_seed(0)).item()
    got = torch.rand(1).item()
    if got != want or torch.get_num_threads() != 1:
        raise CheckFailed(f"not seeded: rand {got} vs {want}, {torch.get_num_threads()} threads")


DUMMY = Assignment(
    id="Z9", title="framework test", student_file="dummy_sub.py", notebook="none.ipynb",
    checks=(Check("answer is 42", _probe, points=2), Check("registers a merge", _registers), Check("seeded", _seeded)),
)


def write(folder: Path, text: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "dummy_sub.py").write_text(textwrap.dedent(text))
    return folder


GOOD = """
    from torch import nn
    from msit_lite.models import register

    SEEN, THREADS = [], []

    @register("merge", "dummy-merge")
    class DummyMerge(nn.Module):
        pass

    def answer():
        return 42
"""


def messages(folder: Path) -> list[str]:
    return [r.message for r in grade_in_process(DUMMY, folder)]


def test_good_submission_scores_full_marks(tmp_path):
    results = grade(DUMMY, write(tmp_path / "s", GOOD))
    assert all(r.passed for r in results) and [r.earned for r in results] == [2, 1, 1]
    report = format_report(DUMMY, results)
    assert "✓ answer is 42  (2/2)" in report and "score: 4/4 -- all checks pass." in report


def test_wrong_answer_gets_the_check_hint(tmp_path):
    folder = write(tmp_path / "s", GOOD.replace("return 42", "return 41"))
    results = grade(DUMMY, folder)
    assert [r.passed for r in results] == [False, True, True]
    assert results[0].message == "answer() returned 41; expected 42"
    report = format_report(DUMMY, results)
    assert "✗ answer is 42  (0/2)" in report and "hint: answer() returned 41" in report and "score: 2/4" in report


def test_missing_file(tmp_path):
    msgs = messages(tmp_path)
    assert len(set(msgs)) == 1 and "file dummy_sub.py not found" in msgs[0]
    assert "hint (every check): file dummy_sub.py not found" in format_report(DUMMY, grade_in_process(DUMMY, tmp_path))


def test_syntax_error_names_file_and_line(tmp_path):
    msgs = messages(write(tmp_path / "s", "x = 1\ndef f(:\n    pass\n"))
    assert msgs[0].startswith("syntax error in dummy_sub.py, line 2:")


def test_exception_at_import(tmp_path):
    msgs = messages(write(tmp_path / "s", "import os\nraise ValueError('bad constant')\n"))
    assert msgs[0] == "importing dummy_sub.py failed: your code raised ValueError: bad constant (dummy_sub.py, line 2)"


def test_missing_module_at_import(tmp_path):
    msgs = messages(write(tmp_path / "s", "import no_such_module_xyz\n"))
    assert "ModuleNotFoundError" in msgs[0] and "no_such_module_xyz" in msgs[0]


def test_not_implemented(tmp_path):
    folder = write(tmp_path / "s", GOOD.replace("return 42", "raise NotImplementedError('Z9: write answer')"))
    assert messages(folder)[0] == "not implemented yet: Z9: write answer"


def test_other_exception_names_the_student_line(tmp_path):
    folder = write(tmp_path / "s", GOOD.replace("return 42", "return 'a' + 1"))
    msg = messages(folder)[0]
    assert msg.startswith("your code raised TypeError:") and msg.endswith("(dummy_sub.py, line 12)")


def test_assert_in_student_code(tmp_path):
    folder = write(tmp_path / "s", GOOD.replace("return 42", "assert 1 == 2, 'shapes differ'"))
    assert messages(folder)[0] == "an assert in your code failed: shapes differ (dummy_sub.py, line 12)"


def test_sys_exit_and_keyboard_interrupt_in_student_code_do_not_stop_grading(tmp_path):
    folder = write(tmp_path / "s", GOOD.replace("return 42", "raise SystemExit(3)"))
    assert messages(folder)[0] == "your code raised SystemExit: 3 (dummy_sub.py, line 12)"
    folder = write(tmp_path / "k", "raise KeyboardInterrupt\n")
    assert messages(folder)[0] == "importing dummy_sub.py failed: your code raised KeyboardInterrupt (dummy_sub.py, line 1)"


def test_endless_loop_is_stopped_with_a_hint(tmp_path):
    folder = write(tmp_path / "s", GOOD.replace("return 42", "while True:\n            pass"))
    msg = grade_in_process(DUMMY, folder, time_limit_s=0.5)[0].message
    assert msg.startswith("the check was stopped: your code took longer than 0.5 s") and "(dummy_sub.py, line 1" in msg


def test_registry_is_restored_and_regrading_works(tmp_path):
    folder = write(tmp_path / "s", GOOD)

    @register("merge", "user-own-merge")  # a user's registration outside the submission survives grading
    def own(**_):
        return None

    try:
        for _ in range(2):  # twice in one process: no "already registered"
            assert all(r.passed for r in grade_in_process(DUMMY, folder))
            assert "dummy-merge" not in names("merge")
            assert "user-own-merge" in names("merge")
    finally:
        unregister("merge", "user-own-merge")


def test_package_registrations_made_while_grading_survive():
    """A package module first imported by a check registers once; restoring must not lose it."""
    from msit_lite.grading.core import isolated_registry

    def late_builder(**_):
        return None

    from msit_lite.models.msno import SIM

    late_builder.__module__ = "msit_lite.some_late_module"
    try:
        with isolated_registry():
            sys.modules["msit_lite.some_late_module"] = types.ModuleType("msit_lite.some_late_module")  # "imported now"
            register("merge", "late-package-merge")(late_builder)
            register("merge", "late-student-merge")(lambda **_: None)
            register("merge", "sim-renamed")(SIM)  # a package class under a submission's name: not kept
        assert "late-package-merge" in names("merge")
        assert "late-student-merge" not in names("merge") and "sim-renamed" not in names("merge")
    finally:
        unregister("merge", "late-package-merge")
        sys.modules.pop("msit_lite.some_late_module", None)


def test_checks_are_seeded_and_single_threaded(tmp_path):
    folder = write(tmp_path / "s", GOOD)
    twice = Assignment("Z8", "seeded twice", "dummy_sub.py", "none.ipynb", (Check("a", _seeded), Check("b", _seeded)))
    torch.set_num_threads(2)
    results = grade_in_process(twice, folder)
    assert [r.passed for r in results] == [True, True], [r.message for r in results]  # each starts from seed 0
    assert torch.get_num_threads() == 2  # restored


def test_get_accepts_lower_case_and_explains_unknown_ids():
    assert get("a1") is get("A1") is ASSIGNMENTS["A1"]
    with pytest.raises(MsitError, match=r"unknown assignment 'Z7'; available: A1, A2, A3"):
        get("Z7")


def test_grade_notebook_prints_and_never_raises(capsys, monkeypatch, tmp_path):
    grade_notebook("nope")
    assert "grading nope could not run: MsitError: unknown assignment 'nope'" in capsys.readouterr().out
    monkeypatch.chdir(tmp_path)
    grade_notebook("A1", folder=tmp_path)
    out = capsys.readouterr().out
    assert "A1 --" in out and "file a1_fem_shift.py not found" in out


def test_load_student_reimports_after_an_edit(tmp_path, solutions_dir):
    (tmp_path / "a3_conv_merge.py").write_text((solutions_dir / "a3_conv_merge.py").read_text())
    first = load_student("A3", tmp_path)
    second = load_student("A3", tmp_path)  # no "already registered" although the class is new
    try:
        assert first is not second and first.__name__ != second.__name__
        from msit_lite.models import lookup

        assert lookup("merge", "student-conv") is second.StudentConvMerge
    finally:
        unregister("merge", "student-conv")


# ---- every registered assignment --------------------------------------------------------------
def test_reference_solution_passes(assignment_id, solutions_dir):
    a = get(assignment_id)
    results = grade(a, solutions_dir)
    assert all(r.passed for r in results), format_report(a, results)


def test_untouched_stub_fails_with_hints(assignment_id, student_dir):
    a = get(assignment_id)
    results = grade(a, student_dir)
    assert not all(r.passed for r in results), f"{assignment_id}: the stub passes every check"
    for r in results:
        assert r.passed or (r.message.strip() and "Traceback" not in r.message), (r.name, r.message)


def test_notebook_and_files_exist(assignment_id, student_dir, solutions_dir):
    a = get(assignment_id)
    root = student_dir.parent
    assert (root / a.notebook).is_file() and (root / "_src" / a.notebook.replace(".ipynb", ".py")).is_file()
    for folder in (student_dir, solutions_dir):
        for name in (a.student_file, *a.extra_files):
            assert (folder / name).is_file(), folder / name


# ---- the hand-out -----------------------------------------------------------------------------
def test_student_copy_detects_a_leaked_solution(tmp_path, solutions_dir):
    out = tmp_path / "handout"
    make_student_copy(out)
    assert not (out / "solutions").exists() and not (out / "_src").exists()
    assert check_student_copy(out) == []
    (out / "student" / "a2_branch_conv.py").write_text((solutions_dir / "a2_branch_conv.py").read_text())
    problems = check_student_copy(out)
    assert any("solution marker" in p for p in problems)
    assert any("lines of solutions/a2_branch_conv.py" in p or "line(s) of solutions/a2_branch_conv.py" in p for p in problems)
    assert any("A2: the stub passes every check" in p for p in problems)
    with pytest.raises(MsitError, match="not an empty folder"):
        make_student_copy(out)
