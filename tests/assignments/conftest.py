"""Fixtures for the assignment tests: the stub/solution folders, submissions made in ``tmp_path``,
and ``assignment_id`` -- a parametrisation over every registered assignment (ids ``A1`` ... so that
``pytest tests/assignments -k A1`` selects one assignment's tests).

``grade_by_name`` grades *in this process* (:func:`~msit_lite.grading.grade_in_process`): the
hints are what each grading process computes, and a process per graded submission would cost
seconds each. The process isolation itself is tested in ``test_grading_isolation.py`` and by the
tests that call :func:`~msit_lite.grading.grade` and the CLI."""
from __future__ import annotations

import shutil
from pathlib import Path
from typing import Callable

import pytest

from msit_lite.grading import ASSIGNMENTS, CheckResult, assignments_dir, get, grade_in_process

ROOT = assignments_dir()


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "assignment_id" in metafunc.fixturenames:
        ids = sorted(ASSIGNMENTS)
        metafunc.parametrize("assignment_id", ids, ids=ids)


@pytest.fixture(scope="session")
def student_dir() -> Path:
    return ROOT / "student"


@pytest.fixture(scope="session")
def solutions_dir() -> Path:
    return ROOT / "solutions"


@pytest.fixture
def grade_by_name() -> Callable[[str, Path], dict[str, CheckResult]]:
    """``grade_by_name("A1", folder)`` -> ``{check name: CheckResult}``."""

    def run(assignment_id: str, folder: Path) -> dict[str, CheckResult]:
        return {r.name: r for r in grade_in_process(get(assignment_id), folder)}

    return run


@pytest.fixture
def make_submission(tmp_path: Path) -> Callable[..., Path]:
    """A submission folder in ``tmp_path``: the reference solution (or ``source``) with edits.

    ``replace={old: new}`` edits the student file; every ``old`` must occur (so a changed
    solution breaks the test loudly instead of silently testing the solution). ``yaml`` replaces
    the text of the first extra file. ``base="student"`` starts from the stub instead.
    """
    counter = iter(range(1000))

    def make(
        assignment_id: str,
        source: str | None = None,
        *,
        replace: dict[str, str] | None = None,
        yaml: str | None = None,
        base: str = "solutions",
        name: str | None = None,
    ) -> Path:
        a = get(assignment_id)
        folder = tmp_path / (name or f"{a.id.lower()}-{next(counter)}")
        folder.mkdir(parents=True)
        for extra in a.extra_files:
            shutil.copy(ROOT / base / extra, folder / extra)
        text = source if source is not None else (ROOT / base / a.student_file).read_text()
        for old, new in (replace or {}).items():
            assert old in text, f"{old!r} not in {base}/{a.student_file}"
            text = text.replace(old, new)
        (folder / a.student_file).write_text(text)
        if yaml is not None:
            (folder / a.extra_files[0]).write_text(yaml)
        return folder

    return make
