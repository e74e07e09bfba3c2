"""Training state on disk: ``train_state.pt`` next to ``model.safetensors`` and ``config.yaml``.

A resumed run must continue *exactly* where the interrupted one stopped. Everything that
changes during training is therefore saved: the weights (also inside ``train_state.pt``, so that
the three files can never disagree about the step), the optimizer moments, the step, the elapsed
time and every random generator (Python, NumPy, torch CPU and CUDA). The data order needs no
generator state: :mod:`msit_lite.data.sampler` draws everything from ``(seed, epoch, batch)``,
so the sampler's state is just ``(seed, step)``. Files are written atomically (temp + rename),
and read with ``torch.load(weights_only=True)``.
"""
from __future__ import annotations

import random
from pathlib import Path
from typing import Any

import numpy as np
import torch

from msit_lite.errors import MsitError
from msit_lite.utils import atomic_path

STATE = "train_state.pt"


def rng_state() -> dict[str, Any]:
    kind, keys, pos, has_gauss, cached = np.random.get_state()
    state: dict[str, Any] = {
        "python": random.getstate(),
        "numpy": [kind, torch.from_numpy(np.asarray(keys).astype(np.int64)), int(pos), int(has_gauss), float(cached)],
        "torch": torch.get_rng_state(),
    }
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: dict[str, Any]) -> None:
    py = state["python"]
    random.setstate((py[0], tuple(py[1]), py[2]))
    kind, keys, pos, has_gauss, cached = state["numpy"]
    np.random.set_state((kind, keys.numpy().astype(np.uint32), pos, has_gauss, cached))
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def save_state(directory: Path, state: dict[str, Any]) -> Path:
    path = Path(directory) / STATE
    with atomic_path(path) as tmp:
        torch.save(state, tmp)
    return path


def load_state(directory: Path) -> dict[str, Any]:
    path = Path(directory) / STATE
    if not path.is_file():
        raise MsitError(f"--resume: {path} not found; start without --resume, or point --out at an earlier run")
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:
        raise MsitError(f"--resume: cannot read {path} ({type(e).__name__}: {str(e).splitlines()[0][:160]}); "
                        "delete it to start over") from e
