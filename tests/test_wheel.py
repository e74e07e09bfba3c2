"""The package works outside its checkout: a wheel installed into a fresh venv upscales, counts, grades.

Why: the shipped checkpoints and configs must be package data, not files found in a checkout --
``pip install .`` (or a student's ``pip install "msit_lite[notebooks]"`` next to a hand-out)
copies only the package. The wheel is built from a copy of the sources, installed with
``--no-deps`` into a venv that reuses this interpreter's packages (torch is not installed again),
and every command runs from a temporary folder with a clean environment (no ``PYTHONPATH``).
"""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from msit_lite.data.io import read_image, save_image
from msit_lite.grading import get, make_student_copy

ROOT = Path(__file__).resolve().parent.parent

pytestmark = pytest.mark.slow


def _run(cmd: list[str], cwd: Path) -> subprocess.CompletedProcess:
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": os.environ.get("HOME", str(cwd)),
           "OMP_NUM_THREADS": "1", "TQDM_DISABLE": "1"}
    return subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=600)


@pytest.fixture(scope="module")
def venv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A venv holding only the wheel of this checkout (dependencies from the running interpreter)."""
    tmp = tmp_path_factory.mktemp("wheel")
    src = tmp / "src"
    src.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, src / name)
    shutil.copytree(ROOT / "msit_lite", src / "msit_lite", ignore=shutil.ignore_patterns("__pycache__"))
    built = _run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w",
                  str(tmp / "dist"), str(src)], tmp)
    assert built.returncode == 0, built.stderr[-2000:]
    (wheel,) = (tmp / "dist").glob("msit_lite-*.whl")
    assert wheel.stat().st_size <= 10 * 2**20  # checkpoints and configs included, and nothing large
    venv = tmp / "venv"
    made = _run([sys.executable, "-m", "venv", "--system-site-packages", str(venv)], tmp)
    assert made.returncode == 0, made.stderr[-2000:]
    installed = _run([str(venv / "bin" / "python"), "-m", "pip", "install", "--no-deps", "-q", str(wheel)], tmp)
    assert installed.returncode == 0, installed.stderr[-2000:]
    return venv


@pytest.fixture
def outside(tmp_path: Path) -> Path:
    """A working folder that is not the checkout (and holds nothing of it)."""
    folder = tmp_path / "work"
    folder.mkdir()
    return folder


def test_the_venv_imports_its_own_copy(venv: Path, outside: Path) -> None:
    out = _run([str(venv / "bin" / "python"), "-c", "import msit_lite; print(msit_lite.__file__)"], outside)
    assert out.returncode == 0, out.stderr
    assert Path(out.stdout.strip()).is_relative_to(venv), out.stdout


def test_upscale_with_the_shipped_default_checkpoint(venv: Path, outside: Path) -> None:
    image = np.random.default_rng(0).integers(0, 256, (20, 17, 3), dtype=np.uint8)
    save_image(outside / "photo.png", image)
    out = _run([str(venv / "bin" / "msit-lite"), "upscale", "photo.png", "--scale", "3", "-o", "big.png"], outside)
    assert out.returncode == 0, out.stderr
    assert read_image(outside / "big.png").shape == (60, 51, 3)


def test_params_of_a_config_named_without_a_path(venv: Path, outside: Path) -> None:
    out = _run([str(venv / "bin" / "msit-lite"), "params", "--config", "lite-msit"], outside)
    assert out.returncode == 0, out.stderr
    assert "343,468" in out.stdout  # MSIT-lite's trainable parameters


def test_grade_a_hand_out(venv: Path, outside: Path) -> None:
    """The stub of the hand-out fails with hints; the same folder with the solution passes."""
    make_student_copy(outside / "handout")
    student = outside / "handout" / "student"
    grade = [str(venv / "bin" / "msit-lite"), "grade", "A1", "--dir", str(student)]
    stub = _run(grade, outside)
    assert stub.returncode == 1 and "hint" in stub.stdout and "score: 0/" in stub.stdout, stub.stdout + stub.stderr
    a1 = get("A1")
    shutil.copy(ROOT / "notebooks" / "assignments" / "solutions" / a1.student_file, student / a1.student_file)
    solved = _run(grade, outside)
    assert solved.returncode == 0 and "all checks pass" in solved.stdout, solved.stdout + solved.stderr
