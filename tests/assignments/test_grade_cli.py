"""``msit-lite grade``: one folder, a folder of submissions (table + CSV), --list, the student
copy (written, then self-checked), exit codes and one-line errors."""
from __future__ import annotations

import csv
import shutil
from pathlib import Path

import pytest

from msit_lite.cli import main
from msit_lite.grading import get
from msit_lite.paths import repo_dir


@pytest.fixture
def in_repo(monkeypatch):
    monkeypatch.chdir(repo_dir())


def test_grade_the_untouched_stub_prints_hints_and_exits_1(in_repo, capsys):
    assert main(["grade", "A2"]) == 1
    out = capsys.readouterr().out
    assert "notebooks/assignments/student" in out
    assert "✗ registered as conv 'student-dwsep'" in out and "not implemented yet: A2" in out and "score: 0/5" in out


def test_grade_the_solutions_exits_0(in_repo, capsys):
    assert main(["grade", "a2", "--dir", "notebooks/assignments/solutions"]) == 0
    assert "score: 5/5 -- all checks pass." in capsys.readouterr().out


def test_unknown_id_is_a_one_line_error(capsys):
    assert main(["grade", "A99"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("msit-lite: error: unknown assignment 'A99'; available: A1, A2, A3") and "\n" not in err


def test_usage_errors(tmp_path, capsys):
    assert main(["grade"]) == 2
    assert "give an assignment id" in capsys.readouterr().err
    assert main(["grade", "A2", "--dir", str(tmp_path / "nowhere")]) == 2
    assert "submission folder" in capsys.readouterr().err
    assert main(["grade", "A2", "--csv", str(tmp_path / "x.csv")]) == 2
    assert "--csv needs --submissions" in capsys.readouterr().err
    assert main(["grade", "A2", "--submissions", str(tmp_path)]) == 2
    assert "has no sub-folders" in capsys.readouterr().err


def test_list(capsys):
    assert main(["grade", "--list"]) == 0
    out = capsys.readouterr().out
    for a in ("A1", "A2", "A3"):
        assert f"{a}  {get(a).title}" in out


def _student(root: Path, name: str, source: Path | str) -> None:
    folder = root / name
    folder.mkdir(parents=True)
    a = get("A2")
    solutions = repo_dir() / "notebooks" / "assignments" / "solutions"
    for extra in a.extra_files:
        shutil.copy(solutions / extra, folder / extra)
    text = source.read_text() if isinstance(source, Path) else source
    (folder / a.student_file).write_text(text)


def test_grade_a_folder_of_submissions(tmp_path, capsys):
    assignments = repo_dir() / "notebooks" / "assignments"
    subs = tmp_path / "subs"
    _student(subs, "alice", assignments / "solutions" / "a2_branch_conv.py")
    _student(subs, "bob", assignments / "student" / "a2_branch_conv.py")
    _student(subs, "carol", "def broken(:\n")
    out_csv = tmp_path / "grades" / "a2.csv"
    assert main(["grade", "A2", "--submissions", str(subs), "--csv", str(out_csv)]) == 1
    out = capsys.readouterr().out
    lines = {line.split()[0]: line for line in out.splitlines() if line.split() and line.split()[0] in ("alice", "bob", "carol")}
    assert lines["alice"].endswith("5/5") and lines["bob"].endswith("0/5") and lines["carol"].endswith("0/5")
    assert "c3: parameter count" in out
    with open(out_csv, newline="") as f:
        rows = list(csv.DictReader(f))
    assert [r["student"] for r in rows] == ["alice", "bob", "carol"]
    assert [r["total"] for r in rows] == ["5", "0", "0"] and rows[0]["max"] == "5"
    assert rows[1]["first_hint"].startswith("not implemented yet: A2")
    assert rows[2]["first_hint"].startswith("syntax error in a2_branch_conv.py, line 1")


def test_submissions_all_passing_exit_0(tmp_path, capsys):
    _student(tmp_path / "subs", "alice", repo_dir() / "notebooks" / "assignments" / "solutions" / "a2_branch_conv.py")
    assert main(["grade", "A2", "--submissions", str(tmp_path / "subs"), "--verbose"]) == 0
    out = capsys.readouterr().out
    assert "== alice" in out and "score: 5/5" in out


def test_student_copy_is_written_and_passes_its_self_check(tmp_path, capsys, monkeypatch):
    out_dir = tmp_path / "handout"
    assert main(["grade", "--student-copy", str(out_dir)]) == 0
    out = capsys.readouterr().out
    assert "self-check ok" in out
    assert not (out_dir / "solutions").exists() and not (out_dir / "_src").exists()
    assert (out_dir / "README.md").is_file() and (out_dir / "A1_fem_shift.ipynb").is_file()
    # the copy is usable: its stub grades as failing with hints
    assert main(["grade", "A1", "--dir", str(out_dir / "student")]) == 1
    assert "not implemented yet: A1" in capsys.readouterr().out
    # inside the hand-out, the default folder is its student/
    monkeypatch.chdir(out_dir)
    assert main(["grade", "A2"]) == 1
    assert f"grading {out_dir.resolve() / 'student'}" in capsys.readouterr().out
    # refuses to overwrite
    assert main(["grade", "--student-copy", str(out_dir)]) == 2
    assert "not an empty folder" in capsys.readouterr().err
