"""Grading in a process per submission (issue 15): whatever one submission does -- ``os._exit``,
``KeyboardInterrupt``, a crash, an endless loop that swallows the stop, rewriting the checks,
changing torch's defaults -- fails only its own checks, with a one-line hint, and the folder's
run still writes its table and CSV.

The mechanics use a small assignment of this module (cheap checks); the cross-student cases run
the real A1 through ``msit-lite grade --submissions``, with the hostile submissions graded
*before* a correct one and an untouched stub.
"""
from __future__ import annotations

import csv
import os
import re
import shutil
import sys
import textwrap
from pathlib import Path

import pytest
import torch

from msit_lite.cli import main
from msit_lite.errors import MsitError
from msit_lite.grading import Assignment, Check, CheckFailed, assignments_dir, get, grade, grade_in_process


def _answer(module):
    if module.answer() != 42:
        raise CheckFailed(f"answer() returned {module.answer()!r}; expected 42")


def _risky(module):
    module.risky()


ISO = Assignment(
    id="Z7", title="isolation test", student_file="iso_sub.py", notebook="none.ipynb",
    checks=(Check("answer", _answer), Check("risky", _risky), Check("answer again", _answer)),
)


def submission(tmp_path: Path, risky_body: str, top: str = "") -> Path:
    folder = tmp_path / "s"
    folder.mkdir()
    body = textwrap.indent(textwrap.dedent(risky_body).strip(), "    ")
    (folder / "iso_sub.py").write_text(f"{textwrap.dedent(top)}\ndef answer():\n    return 42\n\n\ndef risky():\n{body}\n")
    return folder


def outcome(results) -> list[tuple[bool, str]]:
    return [(r.passed, r.message) for r in results]


def test_os_exit_in_a_check_fails_that_check_only(tmp_path):
    results = grade(ISO, submission(tmp_path, "import os\nos._exit(0)"), show_output=False)
    (ok1, _), (ok2, hint), (ok3, _) = outcome(results)
    assert (ok1, ok2, ok3) == (True, False, True)  # a new grading process ran the third check
    assert hint.startswith("your code ended the grading process (exit status 0)") and "os._exit()" in hint


def test_os_exit_at_import_fails_every_check(tmp_path):
    results = grade(ISO, submission(tmp_path, "pass", top="import os\nos._exit(0)\n"), show_output=False)
    assert {r.message for r in results} == {
        "importing iso_sub.py failed: your code ended the grading process (exit status 0) -- a submission must not "
        "call os._exit() or end the interpreter"
    }


def test_keyboard_interrupt_and_system_exit_are_failed_checks(tmp_path):
    results = grade(ISO, submission(tmp_path, "raise SystemExit(0)", top="import sys\n"), show_output=False)
    assert outcome(results)[1] == (False, "your code raised SystemExit: 0 (iso_sub.py, line 8)")
    (tmp_path / "s" / "iso_sub.py").write_text("raise KeyboardInterrupt\n")
    results = grade(ISO, tmp_path / "s", show_output=False)
    assert {r.message for r in results} == {
        "importing iso_sub.py failed: your code raised KeyboardInterrupt (iso_sub.py, line 1)"
    }


@pytest.mark.skipif(os.name != "posix", reason="signals")
def test_a_crash_is_a_failed_check(tmp_path):
    results = grade(ISO, submission(tmp_path, "import ctypes\nctypes.string_at(0)"), show_output=False)
    (ok1, _), (ok2, hint), (ok3, _) = outcome(results)
    assert (ok1, ok2, ok3) == (True, False, True)
    assert hint.startswith("the grading process was killed by SIGSEGV")


@pytest.mark.skipif(os.name != "posix", reason="SIGALRM")
def test_a_loop_that_swallows_the_stop_is_killed_by_the_parent(tmp_path):
    swallow = """
        while True:
            try:
                while True:
                    pass
            except Exception:
                pass
    """
    results = grade(ISO, submission(tmp_path, swallow), time_limit_s=1, show_output=False)
    (ok1, _), (ok2, hint), (ok3, _) = outcome(results)
    assert (ok1, ok2, ok3) == (True, False, True)
    assert re.match(r"the check was stopped: your code took longer than 1 s \(iso_sub\.py, line (9|10)\) "
                    r"and ignored the stop, so the grader ended it", hint), hint  # the inner loop's lines


def test_replacing_a_check_does_not_count(tmp_path, monkeypatch):
    """The submission replaces a global of the checks' module (this test module) in its process."""
    top = f"import sys\nsys.modules[{__name__!r}]._answer = lambda module: None\n"
    folder = submission(tmp_path, "pass", top=top)
    folder.joinpath("iso_sub.py").write_text(folder.joinpath("iso_sub.py").read_text().replace("return 42", "return 41"))
    hint = f"your code changed the grader ({__name__}._answer); such a result does not count"
    assert outcome(grade(ISO, folder, show_output=False)) == [(False, hint)] * 3
    assert _answer.__name__ == "_answer"  # the grading process's change did not reach this one
    monkeypatch.setattr(sys.modules[__name__], "_answer", _answer)  # in-process, it does: undone after the test
    assert outcome(grade_in_process(ISO, folder)) == [(False, hint)] * 3


def test_prints_are_shown_on_stderr_and_never_parsed(tmp_path, capfd):
    fake = '{"event": "result", "index": 1, "passed": true}'
    folder = submission(tmp_path, f"print({fake!r})\nraise ValueError('no')", top=f"print({fake!r})\n")
    results = grade(ISO, folder)
    assert [r.passed for r in results] == [True, False, True]
    err = capfd.readouterr().err
    assert "--- output of iso_sub.py while grading ---" in err and fake in err


def test_a_check_the_grading_process_cannot_import_is_a_usage_error(tmp_path):
    bad = Assignment("Z6", "lambda", "iso_sub.py", "none.ipynb", (Check("anon", lambda module: None),))
    with pytest.raises(MsitError, match=r"Z6: check 'anon' uses .*lambda.*make it a module-level function"):
        grade(bad, tmp_path)


def test_a_bad_time_limit_is_a_usage_error(tmp_path):
    for bad in (0, -1, float("nan"), float("inf")):
        with pytest.raises(MsitError, match="time limit"):
            grade(ISO, tmp_path, time_limit_s=bad)


# ---- the cases of issue 15, on A1, graded in one folder before a correct submission -----------
EVIL = {
    # name: (base, code appended to the student's file)
    "a_exit": ("solutions", "import os\nos._exit(0)\n"),
    "b_overwrites_checks": ("student", "import msit_lite.grading.a1 as _a1\n"
                            "object.__setattr__(_a1.ASSIGNMENT, 'checks', tuple(type(c)(c.name, lambda m: None) "
                            "for c in _a1.ASSIGNMENT.checks))\n"),
    "c_default_dtype": ("solutions", "import torch\ntorch.set_default_dtype(torch.float64)\n"),
    "d_replaces_pad": ("solutions", "import torch.nn.functional as _F\n_F.pad = lambda x, *a, **k: x\n"),
    "e_keyboard_interrupt": ("solutions", "raise KeyboardInterrupt\n"),
    "f_swallows_the_stop": ("solutions", "_mask = shift_mask\n\n\ndef shift_mask(channels):  # hangs only in c2 (C = 32)\n"
                            "    while channels == 32:\n        try:\n            while True:\n                pass\n"
                            "        except Exception:\n            pass\n    return _mask(channels)\n"),
    "g_replaces_a_check": ("solutions", "import msit_lite.grading.a1 as _a1\n_a1.check_tiny_msit = lambda m: None\n"),
}


@pytest.mark.slow
def test_one_submission_cannot_change_another_students_result(tmp_path, capsys):
    a1 = get("A1")
    root = assignments_dir()
    subs = tmp_path / "subs"
    for name, (base, code) in {**EVIL, "y_untouched_stub": ("student", ""), "z_correct": ("solutions", "")}.items():
        folder = subs / name
        folder.mkdir(parents=True)
        shutil.copy(root / base / "a1_fem_shift.yaml", folder)
        (folder / a1.student_file).write_text((root / base / a1.student_file).read_text() + "\n" + code)
    out_csv = tmp_path / "a1.csv"
    rc = main(["grade", "A1", "--submissions", str(subs), "--csv", str(out_csv), "--time-limit", "3"])
    out = capsys.readouterr().out
    assert rc == 1
    assert torch.get_default_dtype() == torch.float32  # the grader's own process is untouched
    with open(out_csv, newline="") as f:
        rows = {r["student"]: r for r in csv.DictReader(f)}
    assert sorted(rows) == sorted([*EVIL, "y_untouched_stub", "z_correct"])  # every student has a row
    total = {name: int(r["total"]) for name, r in rows.items()}
    assert total["z_correct"] == 6 and total["c_default_dtype"] == 6  # graded after all the others
    assert total["y_untouched_stub"] == 0 and total["b_overwrites_checks"] == 0  # the stub's own result
    assert total["a_exit"] == 0 and "ended the grading process" in rows["a_exit"]["first_hint"]
    assert total["e_keyboard_interrupt"] == 0 and "KeyboardInterrupt" in rows["e_keyboard_interrupt"]["first_hint"]
    assert total["d_replaces_pad"] < 6  # its own F.pad: only its own result
    assert "took longer than 3 s" in rows["f_swallows_the_stop"]["first_hint"]
    assert total["f_swallows_the_stop"] == 5  # killed in c2; a new grading process ran c3 ... c6
    assert total["g_replaces_a_check"] == 0 and rows["g_replaces_a_check"]["first_hint"] == (
        "your code changed the grader (msit_lite.grading.a1.check_tiny_msit); such a result does not count")
    table = {line.split()[0]: line for line in out.splitlines() if line.split() and line.split()[0] in rows}
    assert table["z_correct"].endswith("6/6") and table["y_untouched_stub"].endswith("0/6")
    assert f"wrote {out_csv}" in out
