"""Autograding for the course assignments in ``notebooks/assignments/`` (``msit-lite grade``).

    from msit_lite.grading import get, grade, format_report
    a1 = get("A1")
    print(format_report(a1, grade(a1, "notebooks/assignments/solutions")))

Modules: :mod:`~msit_lite.grading.checks` (what an assignment is, the helpers checks are written
with), :mod:`~msit_lite.grading.runner` (running checks on a submission, explaining failures),
:mod:`~msit_lite.grading.isolation` (one process per submission), :mod:`~msit_lite.grading.core`
(the API: :func:`get`, :func:`grade`, reports, the notebook helpers) and
:mod:`~msit_lite.grading.handout` (the student copy). Each assignment is a module
``msit_lite.grading.a<N>`` defining ``ASSIGNMENT``, listed in ``core.ASSIGNMENT_MODULES`` and
imported on first use.
"""
from msit_lite.grading import core, handout
from msit_lite.grading.core import *  # noqa: F401,F403  (the public API is core.__all__)
from msit_lite.grading.handout import *  # noqa: F401,F403

__all__ = [*core.__all__, *handout.__all__]
