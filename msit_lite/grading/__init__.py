"""Autograding for the course assignments in ``notebooks/assignments/`` (``msit-lite grade``).

    from msit_lite.grading import get, grade, format_report
    a1 = get("A1")
    print(format_report(a1, grade(a1, "notebooks/assignments/solutions")))

:mod:`msit_lite.grading.core` is the framework (checks, hints, isolation); each assignment is a
module ``msit_lite.grading.a<N>`` defining ``ASSIGNMENT``. Importing this package collects them
in :data:`ASSIGNMENTS` (modules that do not exist are skipped).
"""
from msit_lite.grading import core
from msit_lite.grading.core import *  # noqa: F401,F403  (the public API is core.__all__, listed once there)

__all__ = list(core.__all__)

discover()  # noqa: F405
