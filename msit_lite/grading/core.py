"""The grading API: find an assignment, grade a submission in a process of its own, report.

Why a framework of its own rather than plain pytest? A student should see *hints*, not
tracebacks: every check raises :class:`~msit_lite.grading.checks.CheckFailed` with a sentence
that says what is wrong and where to look, and anything else the submission does becomes such a
hint too (:mod:`msit_lite.grading.runner`). :func:`grade` never raises for student errors, so
grading a folder of 200 submissions cannot stop at the first broken one.

Isolation: :func:`grade` runs every submission in a fresh Python process of its own
(:mod:`msit_lite.grading.isolation`), with a wall-clock limit the parent enforces by killing it,
so a submission cannot stop the grader, change the checks, or change torch's state for anyone
else. :func:`grade_in_process` does the same work in this process (tests of the hints).

The assignments are the modules listed in :data:`ASSIGNMENT_MODULES` (one
``ASSIGNMENT = Assignment(...)`` each), imported on first use of :data:`ASSIGNMENTS`. The names
assignment modules write their checks with are re-exported here from
:mod:`~msit_lite.grading.checks`.
"""
from __future__ import annotations

import importlib
import math
import os
import sys
from collections.abc import Iterator, Mapping
from pathlib import Path
from types import ModuleType

from msit_lite.errors import MsitError
from msit_lite.grading.checks import (  # noqa: F401  (re-exported: the assignment modules import them from here)
    Assignment,
    Check,
    CheckFailed,
    CheckResult,
    extra_file,
    max_error,
    need,
    need_tensor,
    submission_dir,
)
from msit_lite.grading.isolation import grade_isolated
from msit_lite.grading.runner import (  # noqa: F401  (re-exported)
    check_environment,
    explain,
    isolated_registry,
    load_submission,
    one_line,
    run_checks,
)
from msit_lite.models import registry
from msit_lite.paths import checkout_dir

#: Seconds for the import of a submission and for each of its checks (``--time-limit``): a student's
#: endless loop becomes a hint instead of a hang.
CHECK_TIMEOUT_S = 120

#: Every assignment, in order: a module defining ``ASSIGNMENT``.
ASSIGNMENT_MODULES = tuple(f"msit_lite.grading.a{n}" for n in range(1, 8))


class _Catalogue(Mapping[str, Assignment]):
    """The assignments by id, imported on first use: importing the package has no side effects."""

    def __init__(self, modules: tuple[str, ...]) -> None:
        self._modules = modules
        self._table: dict[str, Assignment] | None = None

    def _load(self) -> dict[str, Assignment]:
        if self._table is None:
            assignments = (importlib.import_module(name).ASSIGNMENT for name in self._modules)
            self._table = {a.id: a for a in assignments}
        return self._table

    def __getitem__(self, key: str) -> Assignment:
        return self._load()[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._load())

    def __len__(self) -> int:
        return len(self._load())


ASSIGNMENTS: Mapping[str, Assignment] = _Catalogue(ASSIGNMENT_MODULES)


def get(assignment_id: str) -> Assignment:
    """The assignment ``"A1"`` (``"a1"`` accepted); unknown ids raise :class:`MsitError` listing the ids."""
    key = str(assignment_id).strip().upper()
    if key not in ASSIGNMENTS:
        known = ", ".join(sorted(ASSIGNMENTS)) or "none"
        raise MsitError(f"unknown assignment {assignment_id!r}; available: {known} (see 'msit-lite grade --list')")
    return ASSIGNMENTS[key]


def assignments_dir() -> Path:
    """``notebooks/assignments`` of the checkout (where stubs, solutions and notebooks live).

    Only a checkout has it (instructors); grading a hand-out needs only the package.
    """
    root = checkout_dir()
    if root is None:
        raise MsitError("the assignments folder (notebooks/assignments) is only in a checkout of the repository; "
                        "grade a hand-out with --dir FOLDER")
    return root / "notebooks" / "assignments"


def default_folder() -> Path:
    """The submission folder used when none is given.

    Inside the repository (cwd at or below it): ``notebooks/assignments/student``; in a
    student hand-out (a folder holding ``student/`` and ``README.md``): its ``student/``; else
    the current directory.
    """
    cwd = Path.cwd().resolve()
    root = checkout_dir()
    if root is not None and (cwd == root or root in cwd.parents):
        return assignments_dir() / "student"
    if (cwd / "student").is_dir() and (cwd / "README.md").is_file():
        return cwd / "student"
    return cwd


def grade_in_process(
    assignment: Assignment, folder: str | os.PathLike | None = None, *, time_limit_s: float | None = None
) -> list[CheckResult]:
    """Grade in *this* process: what each grading process runs, without the isolation.

    For tests of the checks' hints (a grading process costs seconds of start-up) and for
    debugging a check. A submission can change this process's state for whatever runs after it
    -- use :func:`grade` for real grading.
    """
    folder = default_folder() if folder is None else Path(folder)
    outcome: dict[int, tuple[bool, str]] = {}
    load_hint = ""

    def report(index: int | None, passed: bool, hint: str) -> None:
        nonlocal load_hint
        if index is None:
            load_hint = "" if passed else hint
        else:
            outcome[index] = (passed, hint)

    with isolated_registry():
        run_checks(assignment.student_file, Path(folder), list(enumerate(c.fn for c in assignment.checks)), report,
                   time_limit_s=CHECK_TIMEOUT_S if time_limit_s is None else time_limit_s)
    return [_result(check, *outcome.get(i, (False, load_hint))) for i, check in enumerate(assignment.checks)]


def _result(check: Check, passed: bool, hint: str) -> CheckResult:
    return CheckResult(check.name, passed, "" if passed else hint, check.points, check.points if passed else 0)


def grade(
    assignment: Assignment,
    folder: str | os.PathLike | None = None,
    *,
    time_limit_s: float | None = None,
    show_output: bool = True,
) -> list[CheckResult]:
    """Run every check of ``assignment`` on the submission in ``folder``, in a process of its own.

    Never raises for anything the submission does (see :mod:`msit_lite.grading.isolation` for
    what the isolation guarantees). ``time_limit_s`` bounds the import and each check (default
    :data:`CHECK_TIMEOUT_S`); ``show_output`` copies what the submission printed to stderr.
    """
    folder = default_folder() if folder is None else Path(folder)
    limit = CHECK_TIMEOUT_S if time_limit_s is None else float(time_limit_s)
    if not (math.isfinite(limit) and limit > 0):
        raise MsitError(f"time limit {time_limit_s!r} must be a positive number of seconds")
    outcome = grade_isolated(assignment, Path(folder), limit, show_output=show_output)
    return [_result(check, *outcome[i]) for i, check in enumerate(assignment.checks)]


def score(results: list[CheckResult]) -> tuple[int, int]:
    """(earned, total) points."""
    return sum(r.earned for r in results), sum(r.points for r in results)


def format_report(assignment: Assignment, results: list[CheckResult]) -> str:
    """Per-check ✓/✗ lines with hints under the failed ones, and the score."""
    lines = [f"{assignment.id} -- {assignment.title}  [{assignment.student_file}]"]
    shared = len(results) > 1 and not any(r.passed for r in results) and len({r.message for r in results}) == 1
    for r in results:
        mark = "✓" if r.passed else "✗"
        lines.append(f"  {mark} {r.name}  ({r.earned}/{r.points})")
        if not r.passed and not shared:
            lines.append(f"      hint: {r.message}")
    if shared:
        lines.append(f"  hint (every check): {results[0].message}")
    earned, total = score(results)
    failed = sum(not r.passed for r in results)
    if failed:
        verdict = f"{failed} check{'s' if failed != 1 else ''} to fix; edit {assignment.student_file} and grade again."
    else:
        verdict = "all checks pass."
    lines.append(f"score: {earned}/{total} -- {verdict}")
    return "\n".join(lines)


def grade_notebook(assignment_id: str, folder: str | os.PathLike | None = None) -> None:
    """The check cell of an assignment notebook: print the report; never raises.

    ``folder`` defaults to ``student/`` beside the notebook (the notebook's cwd), else
    :func:`default_folder`.
    """
    try:
        assignment = get(assignment_id)
        if folder is None:
            folder = Path("student") if Path("student", assignment.student_file).is_file() else default_folder()
        print(format_report(assignment, grade(assignment, folder)))
    except Exception as e:  # the check cell must never show a traceback
        print(f"grading {assignment_id} could not run: {type(e).__name__}: {one_line(str(e))}")


_NOTEBOOK_MODULES: dict[Path, str] = {}


def _drop_registrations(module_name: str) -> None:
    for kind, entries in registry.live_table().items():
        for name in [n for n, b in entries.items() if getattr(b, "__module__", None) == module_name]:
            del entries[name]


def load_student(assignment_id: str, folder: str | os.PathLike | None = None) -> ModuleType:
    """The import cell of an assignment notebook: (re)import the student's file, picking up edits.

    Registry entries made by the previous import of the same file are removed first, so running
    the cell again after an edit does not collide with the old registration.
    """
    assignment = get(assignment_id)
    if folder is None:
        folder = Path("student") if Path("student", assignment.student_file).is_file() else default_folder()
    path = (Path(folder) / assignment.student_file).resolve()
    old = _NOTEBOOK_MODULES.pop(path, None)
    if old is not None:
        _drop_registrations(old)
        sys.modules.pop(old, None)
    table = registry.live_table()
    before = {(kind, name) for kind, entries in table.items() for name in entries}
    try:
        module = load_submission(assignment, folder)
    except BaseException:
        for kind, entries in table.items():  # undo half an import
            for name in [n for n in entries if (kind, n) not in before]:
                del entries[name]
        raise
    _NOTEBOOK_MODULES[path] = module.__name__
    return module


__all__ = [
    "ASSIGNMENTS", "ASSIGNMENT_MODULES", "Assignment", "CHECK_TIMEOUT_S", "Check", "CheckFailed", "CheckResult",
    "assignments_dir", "check_environment", "default_folder", "explain", "extra_file", "format_report", "get", "grade",
    "grade_in_process", "grade_notebook", "isolated_registry", "load_student", "load_submission", "max_error", "need",
    "need_tensor", "score", "submission_dir",
]
