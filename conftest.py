"""Root pytest configuration: makes nbval's output comparison stable.

nbval compares every stored output of a notebook with a fresh run. Some outputs are never
stable: stderr (warnings, progress bars), HTML (widget fallbacks, pandas styling) and widget
state. We keep comparing stdout, plain text and execute results, and skip those.
"""
from __future__ import annotations

import os

# Notebook kernels inherit the environment: no progress bars, single-threaded numerics
# where it matters for bit-stable printing is decided by each notebook itself.
os.environ.setdefault("TQDM_DISABLE", "1")

_UNSTABLE = ("stderr", "text/html", "application/vnd.jupyter.widget-state+json",
             "application/vnd.jupyter.widget-view+json", "image/svg+xml")


def pytest_collection_modifyitems(session, config, items):  # noqa: ARG001
    for item in items:
        parent = getattr(item, "parent", None)
        skip = getattr(parent, "skip_compare", None)
        if skip is not None and "stderr" not in skip:
            parent.skip_compare = tuple(skip) + _UNSTABLE


def pytest_addoption(parser: pytest.Parser, pluginmanager: pytest.PytestPluginManager) -> None:
    """Accept the ``--nbval`` options of pyproject's addopts when nbval is disabled
    (``-p no:nbval``), so ``pytest tests/assignments -p no:nbval`` runs instead of failing to parse."""
    if not pluginmanager.has_plugin("nbval"):
        group = parser.getgroup("nbval (disabled)")
        group.addoption("--nbval", action="store_true", help="ignored: nbval is disabled")
        group.addoption("--nbval-current-env", action="store_true", help="ignored: nbval is disabled")
