"""Shared fixtures. Tests that need ``../shared`` skip when it is absent -- but fail under CI.

``CI`` is set on the CI machine, where ``../shared`` is always present: a missing folder there
is a broken set-up, and silently skipping would hide every golden and benchmark test.
"""
from __future__ import annotations

import os
from pathlib import Path

import pytest
import torch

from msit_lite.paths import data_root, golden_dir


def _need(path: Path, what: str) -> Path:
    if path.exists():
        return path
    msg = f"{what} not found at {path} (set MSIT_DATA / MSIT_GOLDEN, or check out ../shared)"
    if os.environ.get("CI"):
        pytest.fail(f"CI is set but {msg}")
    pytest.skip(msg)


@pytest.fixture(scope="session")
def golden() -> Path:
    """``../shared/golden`` (the official code's reference tensors)."""
    return _need(golden_dir(), "golden tensors")


@pytest.fixture(scope="session")
def benchmark_root() -> Path:
    """``$MSIT_DATA/benchmark`` with Set5, Set14, B100 in the ``<Set>/X<k>/{HR,LR}`` layout."""
    return _need(data_root() / "benchmark", "benchmark images")


@pytest.fixture(scope="session")
def train_root() -> Path:
    """``$MSIT_DATA/train`` with T91 and BSD200."""
    return _need(data_root() / "train", "training images")


@pytest.fixture(autouse=True)
def _deterministic_threads():
    """Golden comparisons are specified single-threaded; restore afterwards."""
    n = torch.get_num_threads()
    yield
    torch.set_num_threads(n)
