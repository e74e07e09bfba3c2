"""Autograding for the course assignments in ``notebooks/assignments/`` (``msit-lite grade``).

    from msit_lite.grading import get, grade, format_report
    a1 = get("A1")
    print(format_report(a1, grade(a1, "notebooks/assignments/solutions")))

:mod:`msit_lite.grading.core` is the framework (checks, hints, isolation); each assignment is a
module ``msit_lite.grading.a<N>`` defining ``ASSIGNMENT``. Importing this package collects them
in :data:`ASSIGNMENTS` (modules that do not exist are skipped).
"""
from msit_lite.grading.core import (
    ASSIGNMENTS,
    Assignment,
    Check,
    CheckFailed,
    CheckResult,
    SOLUTION_MARKER,
    assignments_dir,
    check_student_copy,
    default_folder,
    discover,
    extra_file,
    format_report,
    get,
    grade,
    grade_notebook,
    load_student,
    load_submission,
    make_student_copy,
    max_error,
    need,
    need_tensor,
    score,
    submission_dir,
)

discover()

__all__ = [
    "ASSIGNMENTS",
    "Assignment",
    "Check",
    "CheckFailed",
    "CheckResult",
    "SOLUTION_MARKER",
    "assignments_dir",
    "check_student_copy",
    "default_folder",
    "discover",
    "extra_file",
    "format_report",
    "get",
    "grade",
    "grade_notebook",
    "load_student",
    "load_submission",
    "make_student_copy",
    "max_error",
    "need",
    "need_tensor",
    "score",
    "submission_dir",
]
