"""Training state on disk: ``train_state.pt`` next to ``model.safetensors`` and ``config.yaml``.

A resumed run must continue *exactly* where the interrupted one stopped. Everything that
changes during training is therefore saved: the weights (also inside ``train_state.pt``, so that
the three files can never disagree about the step), the optimizer moments, the step, the elapsed
time and every random generator (Python, NumPy, torch CPU and CUDA). The data order needs no
generator state: :mod:`msit_lite.data.sampler` draws everything from ``(seed, epoch, batch)``,
so the sampler's state is just ``(seed, step)``. Files are written atomically (temp + rename),
and read with ``torch.load(weights_only=True)``; a state that is empty, unreadable or lacks one
of :data:`STATE_KEYS` is a one-line :class:`MsitError`.

**A run folder is never replaced by accident** (:func:`prepare_run_dir`). A folder *holds a
run* when it has ``train_state.pt`` (resumable) or ``model.safetensors`` (trained weights):
a new run there needs ``force`` (``--force``, which first deletes the earlier run's files,
:data:`RUN_FILES` and ``tb/``), and continuing it needs ``resume`` -- which is an error, never a
fresh start, when ``train_state.pt`` is missing. Logs (``log.csv``, ``val.csv``) of a run that
was stopped before its first checkpoint are not a run: a new run replaces them with a note.
"""
from __future__ import annotations

import random
import shutil
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import torch

from msit_lite.errors import MsitError, describe
from msit_lite.utils import atomic_path

STATE = "train_state.pt"
#: Files that make a folder hold a run: resumable state, or trained weights.
RUN_MARKERS = (STATE, "model.safetensors")
#: Everything a run writes at the top of its folder (``--force`` deletes these and ``tb/``).
RUN_FILES = (STATE, "model.safetensors", "config.yaml", "log.csv", "val.csv")
#: What a state must hold to be resumed, and of which type.
STATE_KEYS: dict[str, type | tuple[type, ...]] = {
    "model": Mapping, "optimizer": Mapping, "rng": Mapping, "step": int, "elapsed": (int, float),
}


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
    """Read ``directory/train_state.pt``; :class:`MsitError` when it is missing, unreadable or incomplete."""
    path = Path(directory) / STATE
    if not path.is_file():
        raise MsitError(f"--resume: {path} not found; nothing to continue (start a new run without --resume)")
    if path.stat().st_size == 0:
        raise MsitError(f"--resume: {path} is empty (0 bytes), so the run cannot be continued; "
                        "start over with --force, or train into a new --out")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:
        raise MsitError(f"--resume: cannot read {path} ({describe(e, 160)}); "
                        "start over with --force, or train into a new --out") from e
    if not isinstance(state, Mapping):
        raise MsitError(f"--resume: {path} holds a {type(state).__name__}, not a training state")
    for key, kind in STATE_KEYS.items():
        if key not in state:
            raise MsitError(f"--resume: {path} has no key {key!r}; it is not a complete training state")
        if not isinstance(state[key], kind) or isinstance(state[key], bool):
            raise MsitError(f"--resume: key {key!r} of {path} is a {type(state[key]).__name__}; "
                            "it is not a complete training state")
    return dict(state)


def prepare_run_dir(out: Path, resume: bool, force: bool) -> list[str]:
    """Check ``out`` against ``resume``/``force`` before anything is read or written (module docstring).

    Raises :class:`MsitError` for what would lose a run or fake a resume; with ``force`` deletes
    the earlier run's files. Returns notes for the user (what was replaced).
    """
    out = Path(out)
    if resume and force:
        raise MsitError("--resume continues the run in --out and --force replaces it; give one of them")
    if out.exists() and not out.is_dir():
        raise MsitError(f"--out {out} exists and is not a folder")
    present = [name for name in RUN_FILES if (out / name).exists()]
    if resume:
        if not (out / STATE).is_file():
            held = f"{out} holds {', '.join(present)} but no {STATE}" if present else f"there is no run in {out} (no {STATE})"
            raise MsitError(f"--resume: {held}, so there is nothing to continue; start a new run without --resume"
                            + (" (with --force to replace those files)" if present else ""))
        return []
    markers = [name for name in RUN_MARKERS if (out / name).exists()]
    if markers and not force:
        raise MsitError(f"--out {out} holds a run ({', '.join(markers)}); continue it with --resume, "
                        "replace it with --force, or choose another --out")
    if force and present:
        for name in present:
            (out / name).unlink()
        shutil.rmtree(out / "tb", ignore_errors=True)
        return [f"--force: deleted the earlier run's {', '.join(present)} in {out}"]
    logs = [name for name in present if name != "config.yaml"]
    return [f"replacing {', '.join(logs)} in {out} (left by a run stopped before its first checkpoint)"] if logs else []
