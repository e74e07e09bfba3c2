"""The project's set-up files agree with each other, and the CLI entry point works."""
from __future__ import annotations

import re
import subprocess
import sys
import tomllib
from pathlib import Path

import yaml

from msit_lite.cli import main

ROOT = Path(__file__).resolve().parent.parent


def _name(req: str) -> str:
    return re.split(r"[<>=!~\[ ]", req.strip(), maxsplit=1)[0].lower().replace("_", "-")


def test_environment_yml_matches_pyproject_extras():
    py = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    wanted = {_name(r) for r in py["dependencies"]}
    for extra in ("notebooks", "dev"):
        wanted |= {_name(r) for r in py["optional-dependencies"][extra] if not r.startswith("msit_lite")}
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    pip_section = next(d["pip"] for d in env["dependencies"] if isinstance(d, dict))
    have = {_name(r) for r in pip_section if not r.startswith("-e")}
    assert have == wanted, f"only in environment.yml: {have - wanted}; only in pyproject: {wanted - have}"


def test_extras_are_the_documented_ones():
    extras = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["optional-dependencies"]
    assert {_name(r) for r in extras["notebooks"]} >= {"jupyterlab", "ipywidgets", "matplotlib", "captum"}
    assert {"pytest", "nbval"} <= {_name(r) for r in extras["dev"]}
    assert any(r.startswith("msit_lite[notebooks]") for r in extras["dev"])


def test_ci_runs_the_readme_commands():
    readme = (ROOT / "README.md").read_text()
    ci = (ROOT / ".ci" / "run").read_text()
    for cmd in ('python -m pip install -e ".[dev]"', "pytest"):
        assert cmd in readme
        assert any(line.strip() == cmd for line in ci.splitlines()), cmd


def test_cli_help_lists_commands(capsys):
    assert main([]) == 0
    out = capsys.readouterr().out
    assert "usage: msit-lite" in out and "COMMAND" in out


def test_console_script_module_runs():
    r = subprocess.run([sys.executable, "-m", "msit_lite", "--version"], capture_output=True, text=True)
    assert r.returncode == 0 and r.stdout.startswith("msit-lite ")
