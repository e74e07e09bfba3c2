"""The student hand-out: ``notebooks/assignments`` without the solutions, checked before it goes out.

:func:`make_student_copy` copies the assignments folder of a checkout (notebooks with their stored
outputs, the stubs and their extra files) without ``solutions/`` and ``_src/``;
:func:`check_student_copy` then makes sure no solution leaked into it and that every stub fails
its checks with hints. Instructors run both through ``msit-lite grade --student-copy OUT``.
"""
from __future__ import annotations

import ast
import json
import os
from pathlib import Path

from msit_lite.errors import MsitError
from msit_lite.grading.core import ASSIGNMENTS, assignments_dir, grade
from msit_lite.grading.runner import one_line

_PACKAGE = Path(__file__).resolve().parents[1]  # msit_lite/: its lines are common idioms, not solutions


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
    common_files = [*(assignments_dir() / "student").glob("*.py"), *_PACKAGE.rglob("*.py")]
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
    for assignment in ASSIGNMENTS.values():
        for name in (assignment.notebook, f"student/{assignment.student_file}",
                     *(f"student/{x}" for x in assignment.extra_files)):
            if not (out / name).is_file():
                problems.append(f"{assignment.id}: {name} is missing from the copy")
        try:
            results = grade(assignment, out / "student")
        except Exception as e:  # the grader must never crash on a stub
            problems.append(f"{assignment.id}: grading the stub crashed: {type(e).__name__}: {one_line(str(e))}")
            continue
        if all(r.passed for r in results):
            problems.append(f"{assignment.id}: the stub passes every check (does it contain the solution?)")
        silent = [r.name for r in results if not r.passed and not r.message.strip()]
        if silent:
            problems.append(f"{assignment.id}: failed check(s) without a hint: {silent}")
    return problems


__all__ = ["SOLUTION_MARKER", "check_student_copy", "make_student_copy"]
