"""Running checks on a submission: import the student's file, run each check, explain what went wrong.

This is the body of every grading process (:mod:`msit_lite.grading.isolation`) and of
:func:`msit_lite.grading.core.grade_in_process`. Everything the student's code can do -- a
missing file, a syntax error, an exception at import, ``NotImplementedError`` from an untouched
stub, an ``assert`` in their own code, ``SystemExit``, an endless loop -- becomes a failed check
with a one-line hint (:func:`explain`); nothing here raises for a student's error.

* the student's file is imported under a fresh, unique module name (:func:`import_student_file`);
* every check runs with ``seed_everything(0)`` and ``torch.set_num_threads(1)``
  (:func:`check_environment`) and is stopped softly after its time limit (``SIGALRM``, naming the
  student's line: :func:`time_limit`);
* a check whose function, or a global of its module, the submission replaced fails;
* :func:`isolated_registry` hides and restores the model registry, so that one process can grade
  many submissions (in tests).
"""
from __future__ import annotations

import importlib.util
import itertools
import os
import signal
import sys
import threading
import traceback
from contextlib import contextmanager
from pathlib import Path
from types import ModuleType
from typing import Callable, Iterator, Optional, Sequence

import torch

from msit_lite.errors import MsitError
from msit_lite.grading.checks import Assignment, Check, CheckFailed
from msit_lite.models import registry
from msit_lite.utils import seed_everything

_PACKAGE_ROOT = Path(__file__).resolve().parents[2]  # the folder holding msit_lite/: how frames are shown


_counter = itertools.count()


def load_submission(assignment: Assignment, folder: str | os.PathLike) -> ModuleType:
    """Import ``folder/student_file`` under a unique module name (a fresh copy every call).

    Raises :class:`CheckFailed` with a hint for a missing file or a syntax error; other
    exceptions at import propagate (:func:`grade` explains them).
    """
    return import_student_file(Path(folder), assignment.student_file)


def import_student_file(folder: Path, student_file: str) -> ModuleType:
    """:func:`load_submission` by file name (what a grading process knows)."""
    path = folder / student_file
    if not path.is_file():
        raise CheckFailed(
            f"file {student_file} not found in {folder} -- write your code there "
            f"(the stub is in notebooks/assignments/student/)"
        )
    try:
        compile(path.read_text(encoding="utf-8"), str(path), "exec")
    except SyntaxError as e:
        raise CheckFailed(f"syntax error in {path.name}, line {e.lineno}: {e.msg} -- fix it and grade again") from None
    except UnicodeDecodeError:
        raise CheckFailed(f"{path.name} is not a UTF-8 text file") from None
    stem = path.stem.replace("-", "_").replace(".", "_")
    name = f"_msit_submission_{stem}_{next(_counter)}"
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:  # pragma: no cover - only for non-.py names
        raise CheckFailed(f"cannot import {path.name}: is it a Python file?")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # dataclasses, pickling and typing need the module to be findable
    try:
        spec.loader.exec_module(module)
    except BaseException:
        sys.modules.pop(name, None)
        raise
    return module


def explain(exc: BaseException, student_file: str) -> str:
    """A one-line hint for an exception raised while loading or checking a submission."""
    if isinstance(exc, CheckFailed):
        return str(exc)
    if isinstance(exc, NotImplementedError):
        return f"not implemented yet: {exc}" if str(exc) else "not implemented yet"
    if isinstance(exc, CheckTimeout):
        return f"the check was stopped: your code {exc}{_where(exc, student_file)}"
    where = _where(exc, student_file)
    text = one_line(str(exc))
    if isinstance(exc, AssertionError):
        return f"an assert in your code failed{': ' + text if text else ''}{where}"
    if isinstance(exc, RecursionError):
        return f"your code recursed without end (RecursionError){where}"
    return f"your code raised {type(exc).__name__}{': ' + text if text else ''}{where}"


def one_line(text: str, limit: int = 300) -> str:
    """``text`` on one line (whitespace runs collapsed), at most ``limit`` characters: how hints are shown."""
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _where(exc: BaseException, student_file: str) -> str:
    """`` (a1_fem_shift.py, line 12)`` for the last frame in the student's file, else the last frame."""
    frames = traceback.extract_tb(exc.__traceback__)
    mine = student_line(frames, student_file)
    if mine:
        return mine
    if frames:
        last = frames[-1]
        path = Path(last.filename)
        try:
            shown = path.resolve().relative_to(_PACKAGE_ROOT).as_posix()
        except ValueError:
            shown = path.name
        return f" (raised in {shown}, line {last.lineno}, called by the check)"
    return ""


def _is_package_builder(builder: object) -> bool:
    return str(getattr(builder, "__module__", "")).startswith("msit_lite.")


@contextmanager
def isolated_registry() -> Iterator[None]:
    """Hide non-package registry entries while grading; on exit restore the registry as it was.

    Package modules first imported during grading (their ``@register`` lines run only once)
    keep their entries; a submission that registers a package class under a new name does not.
    """
    table = registry.live_table()
    saved = {kind: dict(entries) for kind, entries in table.items()}
    modules_before = set(sys.modules)
    for entries in table.values():
        for name in [n for n, b in entries.items() if not _is_package_builder(b)]:
            del entries[name]
    try:
        yield
    finally:
        late = [(kind, name, b) for kind, entries in table.items() for name, b in entries.items()
                if _is_package_builder(b) and name not in saved.get(kind, {})
                and getattr(b, "__module__", None) not in modules_before]
        table.clear()
        table.update(saved)
        for kind, name, builder in late:
            table.setdefault(kind, {})[name] = builder


class CheckTimeout(Exception):
    """Raised inside a check that ran longer than its time limit (the soft stop, see :func:`time_limit`)."""


def student_line(frames: list[traceback.FrameSummary], student_file: str) -> str:
    """`` (a1_fem_shift.py, line 12)`` for the innermost frame in the student's file, else ''."""
    mine = [f for f in frames if Path(f.filename).name == student_file]
    return f" ({student_file}, line {mine[-1].lineno})" if mine else ""


@contextmanager
def time_limit(seconds: float, on_alarm: Callable[[object], None] | None = None) -> Iterator[None]:
    """Interrupt the block after ``seconds`` with :class:`CheckTimeout` (Unix main thread only;
    elsewhere, or when someone else owns SIGALRM, the block simply runs unlimited).

    This is the *soft* stop: it names the student's line, but code that catches every exception
    can swallow it. The hard stop is the parent's kill of the grading process
    (:mod:`msit_lite.grading.isolation`); ``on_alarm(frame)`` runs first so that the child can
    tell the parent where the code was when the alarm rang.
    """
    usable = (
        hasattr(signal, "SIGALRM")
        and threading.current_thread() is threading.main_thread()
        and signal.getsignal(signal.SIGALRM) in (signal.SIG_DFL, None)
    )
    if not usable:
        yield
        return

    def alarm(signum: int, frame: object) -> None:
        if on_alarm is not None:
            on_alarm(frame)
        raise CheckTimeout(f"took longer than {seconds:g} s -- an endless loop, or far too much work?")

    signal.signal(signal.SIGALRM, alarm)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, signal.SIG_DFL)


@contextmanager
def check_environment() -> Iterator[None]:
    """Seed 0, one thread, grad mode restored: every check sees the same conditions."""
    threads = torch.get_num_threads()
    grad = torch.is_grad_enabled()
    seed_everything(0)
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(threads)
        torch.set_grad_enabled(grad)


def check_ref(assignment: Assignment, check: Check) -> tuple[str, str]:
    """``(module, qualified name)`` under which a grading process imports ``check.fn``.

    Checks run in a fresh process per submission, which finds each function by name -- so a
    check must be a module-level function of an importable module (not a lambda, not a function
    defined in ``__main__`` or inside another function). Raises :class:`MsitError` otherwise.
    """
    fn = check.fn
    module, name = getattr(fn, "__module__", None), getattr(fn, "__qualname__", "")
    found: object = None
    if module and module != "__main__" and "<" not in name:
        found = sys.modules.get(module)
        for part in name.split("."):
            found = getattr(found, part, None)
    if found is not fn:
        raise MsitError(
            f"{assignment.id}: check {check.name!r} uses {fn!r}, which a grading process cannot import; "
            "make it a module-level function of an importable module"
        )
    return str(module), name


Report = Callable[[Optional[int], bool, str], None]


def run_checks(
    student_file: str,
    folder: Path,
    checks: Sequence[tuple[int, Callable[[ModuleType], None]]],
    report: Report,
    *,
    time_limit_s: float,
    on_alarm: Callable[[object], None] | None = None,
) -> None:
    """Import ``folder/student_file`` and run ``checks`` (``(index, fn)`` pairs) on it, in order.

    The body of every grading process (and of :func:`grade_in_process`). ``report(None, ok, hint)``
    tells the outcome of the import (after a failed import nothing else runs);
    ``report(index, passed, hint)`` follows each check. Everything the student's code does --
    any exception, ``SystemExit``, ``KeyboardInterrupt`` -- becomes a failed check with a one-line
    hint. A check also fails when the submission changed the grader's own code (a check's
    function or a global of its module), so that doing so cannot earn points.
    """
    fingerprint = _fingerprint([fn for _, fn in checks])
    loaded: ModuleType | None = None
    try:
        with check_environment(), time_limit(time_limit_s, on_alarm):
            loaded = import_student_file(Path(folder), student_file)
    except BaseException as e:  # noqa: BLE001 -- anything the student's import does is a hint
        hint = explain(e, student_file)
        if not isinstance(e, (CheckFailed, NotImplementedError)):
            hint = f"importing {student_file} failed: {hint}"
        report(None, False, hint)
        return
    report(None, True, "")
    try:
        for index, fn in checks:
            changed = _changed(fingerprint)
            if changed:
                report(index, False, f"your code changed the grader ({changed}); such a result does not count")
                continue
            try:
                with check_environment(), time_limit(time_limit_s, on_alarm):
                    fn(loaded)
            except BaseException as e:  # noqa: BLE001
                report(index, False, explain(e, student_file))
            else:
                report(index, True, "")
    finally:
        sys.modules.pop(loaded.__name__, None)


Fingerprint = tuple[list[tuple[Callable[..., object], object]], dict[tuple[str, str], int]]


def _fingerprint(fns: Sequence[Callable[..., object]]) -> Fingerprint:
    """The checks' code objects and the ids of their modules' globals (dunders aside)."""
    names = {getattr(fn, "__module__", "") for fn in fns}
    globals_ = {(m, k): id(v) for m in names if m in sys.modules
                for k, v in vars(sys.modules[m]).items() if not k.startswith("__")}
    return [(fn, getattr(fn, "__code__", None)) for fn in fns], globals_


def _changed(fingerprint: Fingerprint) -> str:
    """'' when nothing recorded by :func:`_fingerprint` changed, else the first changed name."""
    codes, globals_ = fingerprint
    for fn, code in codes:
        if getattr(fn, "__code__", None) is not code:
            return f"the code of {fn.__module__}.{fn.__qualname__}"
    for (module, key), ident in globals_.items():
        value = getattr(sys.modules.get(module), key, _MISSING)
        if value is _MISSING or id(value) != ident:
            return f"{module}.{key}"
    return ""


_MISSING = object()


__all__ = ["CheckTimeout", "check_environment", "check_ref", "explain", "import_student_file", "isolated_registry",
           "load_submission", "one_line", "run_checks", "student_line", "time_limit"]
