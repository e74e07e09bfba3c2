"""Where data lives: ``MSIT_DATA`` or the conventional ``../shared/data`` next to a checkout.

Users point ``MSIT_DATA`` (or ``--data-root``) at a folder holding any of the supported layouts
(see ``data/README.md``). Tests and notebooks fall back to the developers' ``../shared/data``.
"""
from __future__ import annotations

import os
from pathlib import Path

_REPO = Path(__file__).resolve().parent.parent


def shared_dir() -> Path:
    """The ``shared/`` folder beside the repository (may not exist on a user's machine)."""
    return Path(os.environ.get("MSIT_SHARED", _REPO.parent / "shared"))


def data_root() -> Path:
    """The data root: ``$MSIT_DATA`` if set, else ``../shared/data`` beside the repository."""
    env = os.environ.get("MSIT_DATA")
    return Path(env) if env else shared_dir() / "data"


def golden_dir() -> Path:
    """The golden tensors made from the authors' official code (``../shared/golden``)."""
    return Path(os.environ.get("MSIT_GOLDEN", shared_dir() / "golden"))


def repo_dir() -> Path:
    """The repository checkout (for shipped configs and checkpoints in an editable install)."""
    return _REPO
