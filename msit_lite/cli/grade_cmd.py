"""``msit-lite grade``: autograde the course assignments in ``notebooks/assignments/``.

    msit-lite grade A1                          # the student's own folder (notebooks/assignments/student)
    msit-lite grade A1 --dir my_work            # another folder holding a1_fem_shift.py
    msit-lite grade A1 --submissions subs/ --csv a1.csv   # one sub-folder per student: a table
    msit-lite grade --list                      # the assignments
    msit-lite grade --student-copy handout/     # the hand-out without solutions, then self-checked

Every submission is graded in a fresh process of its own with a time limit per check (default
120 s, --time-limit): one submission cannot stop the run or change another's result. A folder of
submissions always ends with its table (and CSV).

Exit codes: 0 when every check passes (or the hand-out is clean), 1 when some check fails (or
the hand-out check finds a problem), 2 for a usage error (unknown id, missing folder).
"""
from __future__ import annotations

import argparse
import csv
import math
from pathlib import Path

from msit_lite.errors import MsitError


def add_parser(subparsers: argparse._SubParsersAction, help_text: str) -> argparse.ArgumentParser:
    p = subparsers.add_parser(
        "grade", help=help_text, description=(__doc__ or "").replace("``", ""), formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("assignment", nargs="?", help="assignment id, e.g. A1 (see --list)")
    p.add_argument("--dir", type=Path, default=None,
                   help="folder with the student's file (default: notebooks/assignments/student inside the repo, "
                        "student/ in a hand-out folder, else the current folder)")
    p.add_argument("--submissions", type=Path, default=None, metavar="DIR",
                   help="grade every sub-folder of DIR (one per student) and print a table")
    p.add_argument("--csv", type=Path, default=None, metavar="OUT", help="with --submissions: also write the table as CSV")
    p.add_argument("--verbose", action="store_true", help="with --submissions: print every student's report too")
    p.add_argument("--time-limit", type=float, default=None, metavar="S",
                   help="seconds for the import and for each check of one submission (default 120); "
                        "the grading process is killed after that")
    p.add_argument("--list", action="store_true", help="list the assignments")
    p.add_argument("--student-copy", type=Path, default=None, metavar="OUT",
                   help="write the student hand-out (no solutions) to the new folder OUT and check it")
    p.set_defaults(func=run)
    return p


def run(args: argparse.Namespace) -> int:
    from msit_lite import grading

    if args.list:
        for a in sorted(grading.ASSIGNMENTS.values(), key=lambda a: a.id):
            print(f"{a.id}  {a.title}  (notebook {a.notebook}, your file student/{a.student_file})")
        return 0
    if args.student_copy is not None:
        return _student_copy(args.student_copy)
    if not args.assignment:
        raise MsitError("give an assignment id (e.g. 'msit-lite grade A1'), --list or --student-copy OUT")
    assignment = grading.get(args.assignment)
    limit = args.time_limit
    if limit is not None and not (math.isfinite(limit) and limit > 0):
        raise MsitError(f"--time-limit {limit:g} must be a positive number of seconds")
    if args.csv is not None and args.submissions is None:
        raise MsitError("--csv needs --submissions DIR")
    if args.submissions is not None:
        if args.dir is not None:
            raise MsitError("give either --dir (one submission) or --submissions (a folder of them), not both")
        return _grade_many(assignment, args.submissions, args.csv, args.verbose, limit)
    folder = args.dir if args.dir is not None else grading.default_folder()
    if not folder.is_dir():
        raise MsitError(f"submission folder {folder} not found; pass --dir FOLDER holding {assignment.student_file}")
    results = grading.grade(assignment, folder, time_limit_s=limit)
    print(f"grading {folder}")
    print(grading.format_report(assignment, results))
    return 0 if all(r.passed for r in results) else 1


def _grade_many(assignment, root: Path, csv_path: Path | None, verbose: bool, limit: float | None) -> int:
    from msit_lite import grading

    if not root.is_dir():
        raise MsitError(f"submissions folder {root} not found")
    students = sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith((".", "_")))
    if not students:
        raise MsitError(f"{root} has no sub-folders; put each student's files in their own folder {root}/NAME/")
    rows: list[tuple[str, list[grading.CheckResult]]] = []
    if csv_path is not None and csv_path.is_dir():
        raise MsitError(f"--csv {csv_path} is a directory; give a file name such as {csv_path / 'grades.csv'}")
    for folder in students:
        try:
            results = grading.grade(assignment, folder, time_limit_s=limit, show_output=verbose)
        except Exception as e:  # the grader itself failed (not the submission): still a row in the table
            hint = f"the grader could not run this submission: {type(e).__name__}: {' '.join(str(e).split())[:200]}"
            results = [grading.CheckResult(c.name, False, hint, c.points, 0) for c in assignment.checks]
        rows.append((folder.name, results))
        if verbose:
            print(f"== {folder.name}")
            print(grading.format_report(assignment, results))
    checks = [c.name for c in assignment.checks]
    width = max(7, *(len(name) for name, _ in rows))
    header = f"{'student':<{width}}  " + "  ".join(f"c{i + 1}" for i in range(len(checks))) + "  total"
    print(f"{assignment.id} -- {assignment.title}")
    print(header)
    for name, results in rows:
        earned, total = grading.score(results)
        marks = "  ".join(f"{'✓' if r.passed else '✗':<{len(f'c{i + 1}')}}" for i, r in enumerate(results))
        print(f"{name:<{width}}  {marks}  {earned}/{total}")
    for i, c in enumerate(checks):
        print(f"  c{i + 1}: {c}")
    if csv_path is not None:
        csv_path.parent.mkdir(parents=True, exist_ok=True)
        with open(csv_path, "w", newline="", encoding="utf-8") as f:
            writer = csv.writer(f)
            writer.writerow(["student", *checks, "total", "max", "first_hint"])
            for name, results in rows:
                earned, total = grading.score(results)
                hint = next((r.message for r in results if not r.passed), "")
                writer.writerow([name, *(r.earned for r in results), earned, total, hint])
        print(f"wrote {csv_path}")
    return 0 if all(r.passed for _, results in rows for r in results) else 1


def _student_copy(out: Path) -> int:
    from msit_lite import grading

    files = grading.make_student_copy(out)
    print(f"wrote {len(files)} files to {out} (no solutions/, no _src/)")
    problems = grading.check_student_copy(out)
    if problems:
        print("self-check FAILED:")
        for p in problems:
            print(f"  - {p}")
        return 1
    print(f"self-check ok: no solution code in the copy; every stub ({', '.join(sorted(grading.ASSIGNMENTS))}) "
          "fails its checks with hints")
    return 0
