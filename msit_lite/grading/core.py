"""The autograder: run an assignment's checks against a student's file and explain what is wrong.

Why a framework of its own rather than plain pytest? A student should see *hints*, not
tracebacks. Every check is a small function that receives the student's imported module and
raises :class:`CheckFailed` with a sentence that says what was expected, what was got and where
to look (a paper equation, a notebook section). :func:`grade` runs each check in isolation and
turns *anything* that goes wrong on the student's side -- a missing file, a syntax error, an
exception at import, ``NotImplementedError`` from an untouched stub, an ``assert`` in their own
code, any other exception -- into a failed :class:`CheckResult` with a one-line message. It
never raises for student errors, so grading a folder of 200 submissions cannot stop at the first
broken one.

Isolation: :func:`grade` runs every submission in a fresh Python process of its own
(:mod:`msit_lite.grading.isolation`), with a wall-clock limit the parent enforces by killing it,
so a submission cannot stop the grader, change the checks, or change torch's state for anyone
else. Inside that process (and in :func:`grade_in_process`, the same work without the process):

* the student's file is imported under a fresh, unique module name (:func:`load_submission`);
* every check runs with ``seed_everything(0)`` and ``torch.set_num_threads(1)``; a check is
  first stopped softly after ``CHECK_TIMEOUT_S`` seconds (``SIGALRM``, naming the student's line);
* a check whose function, or a global of its module, the submission replaced fails;
* :func:`grade_in_process` also hides and restores the registry
  (:func:`isolated_registry`), so that one process can grade many submissions in tests.

The assignments themselves live in :mod:`msit_lite.grading.a1` ... ``a6`` (one
``ASSIGNMENT = Assignment(...)`` each) and are collected in :data:`ASSIGNMENTS`.
"""
from __future__ import annotations

import importlib
import importlib.util
import itertools
import math
import os
import signal
import sys
import threading
import traceback
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any, Callable, Iterator, Optional, Sequence

import torch

from msit_lite.errors import MsitError
from msit_lite.paths import repo_dir
from msit_lite.utils import seed_everything


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


ASSIGNMENTS: dict[str, Assignment] = {}
ASSIGNMENT_MODULES = tuple(f"msit_lite.grading.a{n}" for n in range(1, 10))

_counter = itertools.count()


# ---------------------------------------------------------------------------------------------
# Finding assignments and folders
# ---------------------------------------------------------------------------------------------


def discover() -> dict[str, Assignment]:
    """Import ``msit_lite.grading.a1`` ... (missing ones skipped) and fill :data:`ASSIGNMENTS`."""
    for name in ASSIGNMENT_MODULES:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as e:
            if e.name == name:
                continue
            raise
        assignment = getattr(module, "ASSIGNMENT", None)
        if isinstance(assignment, Assignment):
            ASSIGNMENTS[assignment.id] = assignment
    return ASSIGNMENTS


def get(assignment_id: str) -> Assignment:
    """The assignment ``"A1"`` (``"a1"`` accepted); unknown ids raise :class:`MsitError` listing the ids."""
    if not ASSIGNMENTS:
        discover()
    key = str(assignment_id).strip().upper()
    if key not in ASSIGNMENTS:
        known = ", ".join(sorted(ASSIGNMENTS)) or "none"
        raise MsitError(f"unknown assignment {assignment_id!r}; available: {known} (see 'msit-lite grade --list')")
    return ASSIGNMENTS[key]


def assignments_dir() -> Path:
    """``notebooks/assignments`` of the checkout (where stubs, solutions and notebooks live)."""
    return repo_dir() / "notebooks" / "assignments"


def default_folder() -> Path:
    """The submission folder used when none is given.

    Inside the repository (cwd at or below it): ``notebooks/assignments/student``; in a
    student hand-out (a folder holding ``student/`` and ``README.md``): its ``student/``; else
    the current directory.
    """
    cwd = Path.cwd().resolve()
    student = assignments_dir() / "student"
    if student.is_dir() and (cwd == repo_dir() or repo_dir() in cwd.parents):
        return student
    if (cwd / "student").is_dir() and (cwd / "README.md").is_file():
        return cwd / "student"
    return cwd


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


# ---------------------------------------------------------------------------------------------
# Loading a submission
# ---------------------------------------------------------------------------------------------


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


# ---------------------------------------------------------------------------------------------
# Explaining failures
# ---------------------------------------------------------------------------------------------


def explain(exc: BaseException, student_file: str) -> str:
    """A one-line hint for an exception raised while loading or checking a submission."""
    if isinstance(exc, CheckFailed):
        return str(exc)
    if isinstance(exc, NotImplementedError):
        return f"not implemented yet: {exc}" if str(exc) else "not implemented yet"
    if isinstance(exc, CheckTimeout):
        return f"the check was stopped: your code {exc}{_where(exc, student_file)}"
    where = _where(exc, student_file)
    text = _one_line(str(exc))
    if isinstance(exc, AssertionError):
        return f"an assert in your code failed{': ' + text if text else ''}{where}"
    if isinstance(exc, RecursionError):
        return f"your code recursed without end (RecursionError){where}"
    return f"your code raised {type(exc).__name__}{': ' + text if text else ''}{where}"


def _one_line(text: str, limit: int = 300) -> str:
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
            shown = path.resolve().relative_to(repo_dir()).as_posix()
        except ValueError:
            shown = path.name
        return f" (raised in {shown}, line {last.lineno}, called by the check)"
    return ""


# ---------------------------------------------------------------------------------------------
# Grading
# ---------------------------------------------------------------------------------------------


def _registry() -> dict[str, dict[str, Callable[..., object]]]:
    from msit_lite.models import registry

    registry._ensure_builtins()
    return registry._REGISTRY


def _is_package_builder(builder: object) -> bool:
    return str(getattr(builder, "__module__", "")).startswith("msit_lite.")


@contextmanager
def isolated_registry() -> Iterator[None]:
    """Hide non-package registry entries while grading; on exit restore the registry as it was.

    Package modules first imported during grading (their ``@register`` lines run only once)
    keep their entries; a submission that registers a package class under a new name does not.
    """
    table = _registry()
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


CHECK_TIMEOUT_S = 120  # one check (and the import); a student's endless loop becomes a hint instead of a hang


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
    time_limit_s: float = CHECK_TIMEOUT_S,
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
    from msit_lite.grading.isolation import grade_isolated

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
        print(f"grading {assignment_id} could not run: {type(e).__name__}: {_one_line(str(e))}")


_NOTEBOOK_MODULES: dict[Path, str] = {}


def _drop_registrations(module_name: str) -> None:
    for kind, entries in _registry().items():
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
    table = _registry()
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


# ---------------------------------------------------------------------------------------------
# The student hand-out
# ---------------------------------------------------------------------------------------------

SOLUTION_MARKER = "# SOLUTION"
_NOT_HANDED_OUT = ("solutions", "_src", "__pycache__", ".ipynb_checkpoints")


def make_student_copy(out: str | os.PathLike) -> list[Path]:
    """Copy ``notebooks/assignments`` to ``out`` without ``solutions/`` and ``_src/``; returns the files.

    Refuses (:class:`MsitError`) to write into a non-empty folder. Notebooks keep their stored
    outputs (the stubs' failing reports). Check the result with :func:`check_student_copy`.
    """
    src = assignments_dir()
    if not src.is_dir():
        raise MsitError(f"{src} not found: run 'msit-lite grade --student-copy' from a checkout of the repository")
    out = Path(out)
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise MsitError(f"{out} exists and is not an empty folder; give a new or empty folder for the student copy")
    written = []
    for path in sorted(src.rglob("*")):
        rel = path.relative_to(src)
        if not path.is_file() or any(part in _NOT_HANDED_OUT for part in rel.parts):
            continue
        target = out / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(path.read_bytes())
        written.append(target)
    return written


def _normalise(line: str) -> str:
    """A code line without indentation and trailing comment (for comparing solutions and hand-outs)."""
    return line.split("  #")[0].strip()


def _solution_lines(solution: Path, stub_lines: set[str]) -> set[str]:
    """Distinctive lines of a solution: code inside functions that no stub (nor the package) contains."""
    import ast

    text = solution.read_text(encoding="utf-8")
    lines: set[str] = set()
    for node in ast.walk(ast.parse(text)):
        if not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            continue
        body = node.body
        if body and isinstance(body[0], ast.Expr) and isinstance(getattr(body[0], "value", None), ast.Constant):
            body = body[1:]  # the docstring is shared with the stub
        for stmt in body:
            for line in (ast.get_source_segment(text, stmt) or "").splitlines():
                line = _normalise(line)
                if len(line) >= 20 and not line.startswith(("#", "import ", "from ")) and line not in stub_lines:
                    lines.add(line)
    return lines


def _text_of(path: Path) -> str:
    """A file's text as a reader sees it (notebooks: cell sources and text outputs)."""
    import json

    raw = path.read_text(encoding="utf-8", errors="replace")
    if path.suffix != ".ipynb":
        return raw
    try:
        nb = json.loads(raw)
    except ValueError:
        return raw
    parts = []
    for cell in nb.get("cells", []):
        parts.append("".join(cell.get("source", "")))
        for output in cell.get("outputs", []):
            parts.append("".join(output.get("text", "")))
            parts.append("".join(output.get("data", {}).get("text/plain", "")))
    return "\n".join(parts)


def check_student_copy(out: str | os.PathLike) -> list[str]:
    """Problems with a student copy (empty list = fine).

    * no file holds the ``# SOLUTION`` marker or a distinctive line of a reference solution (a
      line of >= 20 characters inside a solution's function that no stub and no package module has);
    * every assignment's notebook, stub and extra files are present;
    * every stub grades as failing, each failure with a hint, without crashing.
    """
    out = Path(out)
    problems: list[str] = []
    solutions = assignments_dir() / "solutions"
    # Lines that a stub or the package itself contains are common idioms, not solutions.
    package = Path(__file__).resolve().parent.parent
    common_files = [*(assignments_dir() / "student").glob("*.py"), *package.rglob("*.py")]
    stub_lines = {
        _normalise(line) for path in common_files for line in path.read_text(encoding="utf-8").splitlines()
    }
    secret = {sol.name: _solution_lines(sol, stub_lines) for sol in sorted(solutions.glob("*.py"))}
    files = [p for p in sorted(out.rglob("*")) if p.is_file() and p.suffix in (".py", ".ipynb", ".md", ".yaml", ".txt")]
    for path in files:
        text = _text_of(path)
        text_lines = {_normalise(line) for line in text.splitlines()}
        rel = path.relative_to(out).as_posix()
        if SOLUTION_MARKER in text:
            problems.append(f"{rel} contains the solution marker {SOLUTION_MARKER!r}")
        for name, lines in secret.items():
            leaked = sorted(lines & text_lines)
            if leaked:
                problems.append(f"{rel} contains {len(leaked)} line(s) of solutions/{name}, e.g. {leaked[0]!r}")
    if not ASSIGNMENTS:
        discover()
    for assignment in ASSIGNMENTS.values():
        for name in (assignment.notebook, f"student/{assignment.student_file}",
                     *(f"student/{x}" for x in assignment.extra_files)):
            if not (out / name).is_file():
                problems.append(f"{assignment.id}: {name} is missing from the copy")
        try:
            results = grade(assignment, out / "student")
        except Exception as e:  # the grader must never crash on a stub
            problems.append(f"{assignment.id}: grading the stub crashed: {type(e).__name__}: {_one_line(str(e))}")
            continue
        if all(r.passed for r in results):
            problems.append(f"{assignment.id}: the stub passes every check (does it contain the solution?)")
        silent = [r.name for r in results if not r.passed and not r.message.strip()]
        if silent:
            problems.append(f"{assignment.id}: failed check(s) without a hint: {silent}")
    return problems


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
    "explain",
    "extra_file",
    "format_report",
    "get",
    "grade",
    "grade_in_process",
    "grade_notebook",
    "load_student",
    "make_student_copy",
    "load_submission",
    "max_error",
    "need",
    "need_tensor",
    "score",
    "submission_dir",
]
