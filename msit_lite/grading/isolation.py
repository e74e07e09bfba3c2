"""Grading processes: every submission is graded in a fresh Python process of its own.

Why? A submission is arbitrary code. Graded in the grader's own process, it could end the whole
run (``os._exit(0)``, read as "everything passed"), rewrite the checks for itself and for every
student after it, or change torch's state (``torch.set_default_dtype``, a replaced ``F.pad``) so
that a correct student graded later fails. So:

* **One fresh process per submission** (``subprocess`` of ``sys.executable``: a new interpreter,
  nothing inherited from the grader or from an earlier student -- the equivalent of
  multiprocessing's *spawn*, never *fork*). It imports the package and the checks *before* the
  student's file, then runs :func:`msit_lite.grading.runner.run_checks`. Whatever the submission
  changes there dies with the process.
* **The parent holds the assignment** (check names, points, order) and asks the child to run
  check functions by module and name. The child only reports, one JSON line per event on a pipe
  of its own (the student's prints go to stderr): ``ready``, ``loaded``/``load_failed``, one
  ``result`` per check, ``done``. The parent parses plain JSON -- never a pickle -- accepts only
  one result per check it asked for, and builds the :class:`~msit_lite.grading.checks.CheckResult`
  list from its own :class:`~msit_lite.grading.checks.Assignment`. A forged or missing line can at
  most change the sender's own result.
* **The parent enforces the time limit.** Inside the child a ``SIGALRM`` stops a slow check with a
  hint naming the student's line; code that swallows that exception is killed by the parent after
  ``limit + KILL_GRACE_S`` seconds (its whole process group). A child that ends early -- killed,
  crashed, ``os._exit`` -- fails the check it was running with a one-line hint, and a new child
  runs the remaining checks, so one endless loop costs one check, not the assignment. A child
  that dies while importing the student's file fails every check with that hint.

What is *not* isolated (needs a container or a throw-away account): the file system (a
submission can read and write whatever the grader's user can), the network, memory (a
submission can exhaust the machine's RAM), CPU beyond the time limit's wall clock, and processes
a submission starts in a new session of its own.
"""
from __future__ import annotations

import importlib
import json
import os
import queue
import signal
import subprocess
import sys
import tempfile
import threading
import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from msit_lite.errors import MsitError
from msit_lite.grading.checks import Assignment
from msit_lite.grading.runner import check_ref, run_checks, student_line

#: Seconds a grading process may take to start (a fresh interpreter importing torch: ~2-4 s on an
#: idle machine, much more on a loaded one) before the grader gives up on it.
STARTUP_TIMEOUT_S = 300.0
#: Seconds after the soft stop (SIGALRM) before the parent kills a grading process.
KILL_GRACE_S = 3.0
#: The longest JSON line and the most lines the parent reads from one grading process.
MAX_LINE = 64 * 1024
MAX_EVENTS = 10_000
#: How much of a grading process's stderr (the student's prints) is shown, at most.
OUTPUT_TAIL = 16 * 1024

_CHILD_CODE = "import sys; sys.path[0] = sys.argv[1]; from msit_lite.grading.isolation import child_main; child_main()"
_EOF = object()


# ---------------------------------------------------------------------------------------------
# Parent
# ---------------------------------------------------------------------------------------------


@dataclass
class _Run:
    """What one grading process reported: check results, or why it stopped early."""

    results: dict[int, tuple[bool, str]] = field(default_factory=dict)
    load_hint: str | None = None  # the student's file could not be imported: every check fails with this
    stop_hint: str = ""  # the process ended before reporting every check: the running check fails with this


def grade_isolated(assignment: Assignment, folder: Path, time_limit_s: float, *, show_output: bool = True
                   ) -> dict[int, tuple[bool, str]]:
    """``{check index: (passed, hint)}`` for every check of ``assignment`` on ``folder``.

    Starts one grading process, and a new one for the remaining checks whenever a process ends
    early (so at most one per check). Raises :class:`MsitError` only when a grading process
    cannot start at all (a broken installation), never for anything the submission does.
    """
    refs = [check_ref(assignment, check) for check in assignment.checks]
    outcome: dict[int, tuple[bool, str]] = {}
    todo = list(range(len(refs)))
    while todo:
        run = _run_child(assignment.student_file, folder, [(i, *refs[i]) for i in todo], time_limit_s, show_output)
        if run.load_hint is not None:
            outcome.update({i: (False, run.load_hint) for i in todo})
            break
        outcome.update(run.results)
        todo = [i for i in todo if i not in outcome]
        if todo:  # the process ended during the first check it did not report
            outcome[todo.pop(0)] = (False, run.stop_hint or "the grading process ended without a result for this check")
    return outcome


def _child_env() -> dict[str, str]:
    env = dict(os.environ)
    env.update(OMP_NUM_THREADS="1", MKL_NUM_THREADS="1", PYTHONIOENCODING="utf-8", TQDM_DISABLE="1")
    return env


def _package_root() -> str:
    """The folder holding the ``msit_lite`` package this process runs (the child must import the same)."""
    return str(Path(__file__).resolve().parents[2])


def _run_child(student_file: str, folder: Path, checks: list[tuple[int, str, str]], limit: float,
               show_output: bool) -> _Run:
    request = {
        "student_file": student_file,
        "folder": str(folder.resolve()),
        "checks": checks,
        "time_limit_s": limit,
        "sys_path": [os.path.abspath(p) for p in sys.path],  # to find check modules outside the package
    }
    with tempfile.TemporaryFile() as output:
        proc = subprocess.Popen(
            [sys.executable, "-c", _CHILD_CODE, _package_root()],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=output, env=_child_env(),
            start_new_session=os.name == "posix",  # its own process group: killed as a whole, no Ctrl-C
        )
        try:
            return _talk(proc, request, {i for i, _, _ in checks}, limit, student_file, output)
        finally:
            _kill(proc)
            if show_output:
                _show(output, student_file)


def _talk(proc: subprocess.Popen, request: dict[str, Any], asked: set[int], limit: float, student_file: str,
          output: IO[bytes]) -> _Run:
    """Send the request, then follow the child's events under the deadlines of each phase."""
    assert proc.stdin is not None and proc.stdout is not None
    try:
        proc.stdin.write(json.dumps(request).encode())
        proc.stdin.close()
    except OSError:
        pass  # the child already died: reported below as a failed start
    events: queue.Queue[object] = queue.Queue()
    threading.Thread(target=_read_events, args=(proc.stdout, events), daemon=True).start()
    run = _Run()
    phase = "start"  # start -> load -> checks -> done
    deadline = time.monotonic() + STARTUP_TIMEOUT_S
    alarm_where = ""
    while True:
        try:
            event = events.get(timeout=max(0.0, deadline - time.monotonic()))
        except queue.Empty:
            _kill(proc)
            if phase == "start":
                raise MsitError(f"the grading process did not start within {STARTUP_TIMEOUT_S:g} s") from None
            if phase == "done":
                return run
            where = f" {alarm_where}" if alarm_where else ""
            hint = (f"the check was stopped: your code took longer than {limit:g} s{where} and ignored the stop, "
                    "so the grader ended it -- an endless loop, or far too much work?")
            return _stopped(run, phase, hint, student_file)
        if event is _EOF:
            code = _wait(proc)
            if phase == "start":
                raise MsitError(f"the grading process failed to start (exit status {code}): {_last_line(output)}")
            if phase == "done":
                return run
            return _stopped(run, phase, _death_hint(code), student_file)
        if not isinstance(event, dict):
            continue
        kind = event.get("event")
        if kind == "ready" and phase == "start":
            phase, deadline = "load", time.monotonic() + limit + KILL_GRACE_S
        elif kind == "loaded" and phase == "load":
            phase, deadline = "checks", time.monotonic() + limit + KILL_GRACE_S
        elif kind == "load_failed" and phase == "load":
            run.load_hint = _text(event.get("hint")) or f"importing {student_file} failed"
            phase, deadline = "done", time.monotonic() + KILL_GRACE_S
        elif kind == "result" and phase == "checks":
            index, passed = event.get("index"), event.get("passed")
            if isinstance(index, int) and index in asked and index not in run.results and isinstance(passed, bool):
                run.results[index] = (passed, "" if passed else _text(event.get("hint")) or "failed (no hint)")
                alarm_where = ""
                deadline = time.monotonic() + limit + KILL_GRACE_S
        elif kind == "alarm":
            alarm_where = _text(event.get("where"))
        elif kind == "done" and phase in ("checks", "load"):
            phase, deadline = "done", time.monotonic() + KILL_GRACE_S


def _stopped(run: _Run, phase: str, hint: str, student_file: str) -> _Run:
    if phase == "load":
        run.load_hint = f"importing {student_file} failed: {hint}"
    else:
        run.stop_hint = hint
    return run


def _death_hint(code: int | None) -> str:
    """Why a grading process ended before reporting: a signal (crash, kill) or an exit status."""
    if code is not None and code < 0:
        try:
            name = signal.Signals(-code).name
        except ValueError:
            name = f"signal {-code}"
        why = " (out of memory?)" if name == "SIGKILL" else " (a crash in native code?)"
        return f"the grading process was killed by {name}{why} while running your code"
    return (f"your code ended the grading process (exit status {code}) -- a submission must not call "
            "os._exit() or end the interpreter")


def _read_events(stream: IO[bytes], events: queue.Queue[object]) -> None:
    """Reader thread: one parsed JSON object (or None for a bad line) per line, then ``_EOF``."""
    count = 0
    try:
        while True:
            line = stream.readline(MAX_LINE)
            if not line:
                break
            count += 1
            if count > MAX_EVENTS:
                continue  # keep draining so that the child cannot block, but stop listening
            try:
                events.put(json.loads(line))
            except ValueError:
                events.put(None)
    except (OSError, ValueError):
        pass
    events.put(_EOF)


def _text(value: object) -> str:
    """A child-supplied hint as one line of at most 300 characters ('' for a non-string)."""
    if not isinstance(value, str):
        return ""
    text = " ".join(value.split())
    return text if len(text) <= 300 else text[:297] + "..."


def _wait(proc: subprocess.Popen) -> int | None:
    try:
        return proc.wait(timeout=KILL_GRACE_S)
    except subprocess.TimeoutExpired:
        _kill(proc)
        return proc.returncode


def _kill(proc: subprocess.Popen) -> None:
    """Kill the child and everything in its process group (idempotent)."""
    if proc.poll() is None:
        try:
            if os.name == "posix":
                os.killpg(proc.pid, signal.SIGKILL)
            else:  # pragma: no cover
                proc.kill()
        except (ProcessLookupError, PermissionError):
            pass
    elif os.name == "posix":
        try:
            os.killpg(proc.pid, signal.SIGKILL)  # grandchildren left in the group
        except (ProcessLookupError, PermissionError):
            pass
    try:
        proc.wait(timeout=30)
    except subprocess.TimeoutExpired:  # pragma: no cover
        pass
    for stream in (proc.stdout, proc.stdin):
        if stream is not None:
            try:
                stream.close()
            except OSError:
                pass


def _tail(output: IO[bytes]) -> str:
    output.flush()
    size = output.seek(0, os.SEEK_END)
    output.seek(max(0, size - OUTPUT_TAIL))
    return output.read().decode("utf-8", errors="replace")


def _last_line(output: IO[bytes]) -> str:
    lines = [line for line in _tail(output).splitlines() if line.strip()]
    return _text(lines[-1]) if lines else "no output"


def _show(output: IO[bytes], student_file: str) -> None:
    """Copy what the submission printed (its last ``OUTPUT_TAIL`` bytes) to our stderr."""
    text = _tail(output)
    if text.strip():
        sys.stderr.write(f"--- output of {student_file} while grading ---\n{text.rstrip()}\n---\n")


# ---------------------------------------------------------------------------------------------
# Child
# ---------------------------------------------------------------------------------------------


def child_main() -> None:
    """The grading process: read the request from stdin, report JSON lines, exit without cleanup.

    The result channel is a duplicate of the original stdout; fd 1 itself is pointed at stderr so
    that the student's ``print`` cannot interleave with it by accident. ``os._exit`` at the end
    skips whatever the submission registered with ``atexit`` or left running in threads.
    """
    channel = os.fdopen(os.dup(1), "w", encoding="utf-8")
    os.dup2(2, 1)
    request = json.loads(sys.stdin.read())
    devnull = os.open(os.devnull, os.O_RDONLY)
    os.dup2(devnull, 0)  # input() in a submission gets EOF, never waits

    def emit(**event: object) -> None:
        channel.write(json.dumps(event) + "\n")
        channel.flush()

    for path in request["sys_path"]:
        if path not in sys.path:
            sys.path.append(path)
    checks = []
    for index, module, name in request["checks"]:
        fn: Any = importlib.import_module(module)
        for part in name.split("."):
            fn = getattr(fn, part)
        checks.append((int(index), fn))
    student_file = request["student_file"]

    def on_alarm(frame: object) -> None:
        emit(event="alarm", where=student_line(traceback.extract_stack(frame), student_file))  # type: ignore[arg-type]

    def report(index: int | None, passed: bool, hint: str) -> None:
        if index is None and passed:
            emit(event="loaded")
        elif index is None:
            emit(event="load_failed", hint=hint)
        else:
            emit(event="result", index=index, passed=passed, hint=hint)

    emit(event="ready")
    status = 1
    try:
        run_checks(student_file, Path(request["folder"]), checks, report,
                   time_limit_s=float(request["time_limit_s"]), on_alarm=on_alarm)
        emit(event="done")
        status = 0
    finally:
        for stream in (sys.stdout, sys.stderr):
            try:
                stream.flush()
            except (OSError, ValueError):
                pass
        os._exit(status)
