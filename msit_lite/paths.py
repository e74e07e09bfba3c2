"""Where data lives (``MSIT_DATA``), and where the repository is -- when there is one.

Users point ``MSIT_DATA`` (or ``--data-root``) at a folder holding any of the supported layouts
(see ``data/README.md``); tests and notebooks fall back to the developers' ``../shared/data``.
Files the package needs at run time (the shipped checkpoints and configs) are package data
(:mod:`msit_lite.assets`), never looked up in a checkout: an installed package has no checkout.
"""
from __future__ import annotations

import os
from pathlib import Path

from msit_lite.errors import MsitError

_PACKAGE_PARENT = Path(__file__).resolve().parent.parent


def checkout_dir() -> Path | None:
    """The repository root when this package runs from a checkout (editable install, ``PYTHONPATH``),
    else ``None`` (an installed wheel)."""
    root = _PACKAGE_PARENT
    return root if (root / "pyproject.toml").is_file() and (root / "notebooks").is_dir() else None


def repo_dir() -> Path:
    """The repository checkout: notebooks, benchmarks, results and the assignments' sources live there."""
    root = checkout_dir()
    if root is None:
        raise MsitError("this needs a checkout of the msit_lite repository; the installed package has no "
                        "notebooks/, benchmarks/ or results/")
    return root


def shared_dir() -> Path:
    """The ``shared/`` folder beside the repository (may not exist on a user's machine)."""
    return Path(os.environ.get("MSIT_SHARED", _PACKAGE_PARENT.parent / "shared"))


def data_root() -> Path:
    """The data root: ``$MSIT_DATA`` if set, else ``../shared/data`` beside the repository."""
    env = os.environ.get("MSIT_DATA")
    return Path(env) if env else shared_dir() / "data"


def golden_dir() -> Path:
    """The golden tensors made from the authors' official code (``../shared/golden``)."""
    return Path(os.environ.get("MSIT_GOLDEN", shared_dir() / "golden"))
