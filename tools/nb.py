"""Build the notebooks from their percent-format sources and execute them top to bottom.

Sources live in ``notebooks/_src/*.py`` (``# %%`` starts a code cell, ``# %% [markdown]`` a
markdown cell whose lines start with ``# ``). A code cell header may carry flags:
``# %% hide-output`` collapses the cell's output in Jupyter (metadata ``jupyter.outputs_hidden``,
tag ``hide-output``) -- the reveal cell of a "predict, then run" exercise, whose stored answer a
reader should not see before running it. They are the reviewable form of the notebooks;
the ``.ipynb`` files are generated from them *with outputs*, because nbval compares a fresh run
against the stored outputs. Course assignments follow the same rule one level down: a source in
``notebooks/assignments/_src/`` builds to ``notebooks/assignments/`` and runs with that folder as
its working directory (so ``student/`` is beside it).

    python tools/nb.py build notebooks/_src/01_pixels_coordinates_bicubic.py   # one
    python tools/nb.py build notebooks/assignments/_src/A1_fem_shift.py        # an assignment
    python tools/nb.py build --all                                              # every source
"""
from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import nbformat
from nbclient import NotebookClient

ROOT = Path(__file__).resolve().parent.parent
SRC = ROOT / "notebooks" / "_src"
ASSIGNMENTS_SRC = ROOT / "notebooks" / "assignments" / "_src"
# source folder -> folder of the built notebooks (also their working directory when executed)
TARGETS = {SRC: ROOT / "notebooks", ASSIGNMENTS_SRC: ROOT / "notebooks" / "assignments"}


# cell flag -> metadata merged into the code cell
FLAGS: dict[str, dict[str, object]] = {
    "hide-output": {"jupyter": {"outputs_hidden": True}, "tags": ["hide-output"]},
}


def target(src: Path) -> Path:
    """The ``.ipynb`` a source builds to: ``_src/x.py`` -> ``x.ipynb`` in the folder above ``_src``."""
    for folder, out_dir in TARGETS.items():
        if src.is_relative_to(folder):
            return out_dir / src.relative_to(folder).with_suffix(".ipynb")
    raise SystemExit(f"{src} is not under {' or '.join(str(f.relative_to(ROOT)) for f in TARGETS)}")


def parse(text: str) -> nbformat.NotebookNode:
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nb.metadata["language_info"] = {"name": "python"}
    cells: list[tuple[str, list[str], set[str]]] = []
    for line in text.splitlines():
        if line.startswith("# %%"):
            flags = set(line[4:].split())
            kind = "markdown" if "[markdown]" in flags else "code"
            unknown = flags - {"[markdown]", *FLAGS}
            if unknown:
                raise SystemExit(f"unknown cell flag(s) {sorted(unknown)} in {line!r}; known: {sorted(FLAGS)}")
            cells.append((kind, [], flags - {"[markdown]"}))
        elif cells:
            cells[-1][1].append(line)
    for kind, lines, flags in cells:
        while lines and not lines[-1].strip():
            lines.pop()
        while lines and not lines[0].strip():
            lines.pop(0)
        if kind == "markdown":
            body = "\n".join(l[2:] if l.startswith("# ") else l.lstrip("#") for l in lines)
            nb.cells.append(nbformat.v4.new_markdown_cell(body))
        elif lines:
            cell = nbformat.v4.new_code_cell("\n".join(lines))
            for flag in sorted(flags):
                for key, value in FLAGS[flag].items():
                    if isinstance(value, dict):
                        cell.metadata.setdefault(key, {}).update(value)
                    else:
                        cell.metadata.setdefault(key, []).extend(value)
            nb.cells.append(cell)
    return nb


def build(src: Path, execute: bool = True) -> Path:
    nb = parse(src.read_text())
    out = target(src)
    out.parent.mkdir(parents=True, exist_ok=True)
    if execute:
        os.environ.setdefault("MSIT_QUICK", "1")
        os.environ.setdefault("TQDM_DISABLE", "1")
        t0 = time.time()
        NotebookClient(nb, timeout=900, kernel_name="python3",
                       resources={"metadata": {"path": str(out.parent)}}).execute()
        print(f"{out.relative_to(ROOT)}: executed in {time.time() - t0:.0f} s")
    nbformat.write(nb, out)
    return out


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("cmd", choices=["build"])
    p.add_argument("sources", nargs="*", type=Path)
    p.add_argument("--all", action="store_true",
                   help="build every notebooks/_src/**/*.py and notebooks/assignments/_src/**/*.py")
    p.add_argument("--no-execute", action="store_true")
    a = p.parse_args()
    sources = [p for folder in TARGETS for p in sorted(folder.rglob("*.py"))] if a.all else a.sources
    if not sources:
        p.error("give source files or --all")
    for s in sources:
        build(s.resolve(), execute=not a.no_execute)
    return 0


if __name__ == "__main__":
    sys.exit(main())
