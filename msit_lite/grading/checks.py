"""What an assignment is made of, and the helpers its checks are written with.

An :class:`Assignment` names the file a student writes and the :class:`Check` functions run
against it. A check receives the student's imported module and raises :class:`CheckFailed`
with a sentence that says what was expected, what was got and where to look (a paper
equation, a notebook section) -- the student reads hints, not tracebacks. The helpers
(:func:`need`, :func:`need_tensor`, :func:`max_error`, :func:`extra_file`) turn the usual
"the file lacks this name / returned the wrong thing" situations into such hints.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any, Callable

import torch


class CheckFailed(Exception):
    """Raised by a check for a wrong answer; ``str(e)`` is the hint shown to the student."""


@dataclass(frozen=True)
class Check:
    """One autograded check: ``fn(module)`` returns normally when right, raises :class:`CheckFailed` when wrong."""

    name: str
    fn: Callable[[ModuleType], None]
    points: int = 1


@dataclass(frozen=True)
class Assignment:
    """An assignment: where the student writes (``student_file``) and the checks run against it."""

    id: str
    title: str
    student_file: str
    notebook: str
    checks: tuple[Check, ...]
    extra_files: tuple[str, ...] = ()


@dataclass
class CheckResult:
    """The outcome of one check: ``message`` is the hint when it failed (empty when it passed)."""

    name: str
    passed: bool
    message: str
    points: int
    earned: int


def submission_dir(module: ModuleType) -> Path:
    """The folder a loaded submission came from (checks use it to find ``extra_files``)."""
    return Path(getattr(module, "__file__", ".")).resolve().parent


def extra_file(module: ModuleType, name: str) -> Path:
    """``name`` next to the student's file; :class:`CheckFailed` with a hint when it is missing."""
    path = submission_dir(module) / name
    if not path.is_file():
        raise CheckFailed(f"file {name} not found next to your module -- copy it from notebooks/assignments/student/")
    return path


def need(module: ModuleType, name: str, what: str = "function") -> Any:
    """``module.name``, or :class:`CheckFailed` saying that the student's file lacks it."""
    if not hasattr(module, name):
        raise CheckFailed(f"your file has no {what} {name!r} -- keep the names of the stub")
    return getattr(module, name)


def need_tensor(value: object, call: str, shape: tuple[int, ...] | None = None) -> torch.Tensor:
    """``value`` if it is a tensor (of ``shape``), else :class:`CheckFailed` with what was got."""
    if not isinstance(value, torch.Tensor):
        raise CheckFailed(f"{call} returned {type(value).__name__}; expected a torch.Tensor")
    if shape is not None and tuple(value.shape) != tuple(shape):
        raise CheckFailed(f"{call} has shape {list(value.shape)}; expected {list(shape)}")
    return value


def max_error(a: torch.Tensor, b: torch.Tensor) -> float:
    """max |a - b| as a float (inf for different shapes)."""
    if a.shape != b.shape:
        return float("inf")
    return float((a.detach().double() - b.detach().double()).abs().max()) if a.numel() else 0.0


__all__ = ["Assignment", "Check", "CheckFailed", "CheckResult", "extra_file", "max_error", "need", "need_tensor",
           "submission_dir"]
