"""Checkpoints: ``model.safetensors`` + ``config.yaml`` in one directory.

The config travels with the weights, so :func:`load_checkpoint` rebuilds the model without any
other file (LIIF's habit). Writes are atomic (temp file + rename). A state dict that does not
fit its model raises :class:`~msit_lite.errors.MsitError` naming the missing, unexpected and
mis-shaped keys -- never a long torch traceback -- and so does one holding NaN or infinite
weights (a diverged run would otherwise write black images). Foreign ``.pth`` files are only
read with ``torch.load(..., weights_only=True)`` (no arbitrary code from pickles).
:func:`check_output_dir` refuses to replace a checkpoint unless asked to (``--force``).
"""
from __future__ import annotations

from pathlib import Path
from typing import Any, Mapping

import torch
import yaml
from safetensors.torch import load_file, save_file
from torch import Tensor, nn

from msit_lite.config import build_model, load_config
from msit_lite.errors import MsitError, describe
from msit_lite.state_dict import diff, few_keys
from msit_lite.utils import atomic_path

WEIGHTS = "model.safetensors"
CONFIG = "config.yaml"


def check_state_dict(model: nn.Module, state_dict: Mapping[str, Tensor], source: str) -> None:
    """Raise :class:`MsitError` unless ``state_dict`` fits ``model`` exactly (keys and shapes) with finite values."""
    mismatch = diff(model.state_dict(), state_dict)
    if mismatch:
        raise MsitError(
            f"{source} does not fit the model of its config: {mismatch.message()}; "
            "check that the config matches the weights (e.g. conv: plain vs rim, dim, branches)"
        )
    bad = [k for k, v in state_dict.items() if v.is_floating_point() and not bool(torch.isfinite(v).all())]
    if bad:
        raise MsitError(f"{source} holds NaN or infinite values in {few_keys(bad)}; the run that wrote it diverged "
                        "-- use an earlier checkpoint or train again (e.g. with a lower learning rate)")


def load_state_dict_checked(model: nn.Module, state_dict: Mapping[str, Tensor], source: str = "state dict") -> None:
    """``model.load_state_dict(strict=True)`` with a readable :class:`MsitError` on mismatch."""
    check_state_dict(model, state_dict, source)
    model.load_state_dict(dict(state_dict), strict=True)


def read_weights(path: str | Path) -> dict[str, Any]:
    """Read a ``.safetensors`` file or a ``.pth``/``.pt`` file (``weights_only=True``)."""
    path = Path(path)
    if not path.is_file():
        raise MsitError(f"weights file {path} not found")
    if path.stat().st_size == 0:
        raise MsitError(f"weights file {path} is empty (0 bytes): an interrupted download or copy?")
    try:
        if path.suffix == ".safetensors":
            return dict(load_file(str(path)))
        return torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:  # corrupt file, unsupported pickle content, ...
        raise MsitError(f"cannot read weights from {path}: {describe(e)}") from e


def check_output_dir(directory: str | Path, force: bool = False, option: str = "-o") -> Path:
    """The folder a checkpoint will be written to, after refusing what would lose a user's files.

    A path that exists but is not a folder is an error; so is a folder that already holds a
    checkpoint (``model.safetensors``), unless ``force`` (the user's ``--force``).
    """
    directory = Path(directory)
    if directory.exists() and not directory.is_dir():
        raise MsitError(f"{option} {directory} exists and is not a folder; give a folder for the checkpoint")
    if not force and (directory / WEIGHTS).exists():
        raise MsitError(f"{option} {directory} already holds a checkpoint ({WEIGHTS}); "
                        "give a new folder, or --force to replace it")
    return directory


def save_checkpoint(directory: str | Path, model: nn.Module, config: Mapping[str, Any]) -> Path:
    """Write ``model.safetensors`` and ``config.yaml`` into ``directory`` (created); returns it."""
    directory = Path(directory)
    if directory.exists() and not directory.is_dir():
        raise MsitError(f"cannot write a checkpoint to {directory}: it exists and is not a folder")
    directory.mkdir(parents=True, exist_ok=True)
    tensors = {k: v.detach().cpu().contiguous().clone() for k, v in model.state_dict().items()}
    with atomic_path(directory / WEIGHTS) as tmp:
        save_file(tensors, str(tmp), metadata={"format": "msit_lite"})
    with atomic_path(directory / CONFIG) as tmp:
        tmp.write_text(yaml.safe_dump(plain_config(config), sort_keys=False))
    return directory


def load_checkpoint(directory: str | Path, device: str | torch.device = "cpu") -> tuple[nn.Module, dict[str, Any]]:
    """Rebuild the model from ``config.yaml``, load ``model.safetensors``; returns (model in eval mode, config)."""
    directory = Path(directory)
    if not directory.is_dir():
        raise MsitError(f"checkpoint directory {directory} not found")
    if not (directory / WEIGHTS).is_file():
        raise MsitError(f"checkpoint {directory} has no {WEIGHTS}")
    config = load_config(directory / CONFIG)
    model = build_model(config, str(directory / CONFIG))
    load_state_dict_checked(model, read_weights(directory / WEIGHTS), f"{directory / WEIGHTS}")
    return model.to(device).eval(), config


def plain_config(obj: Any) -> Any:
    """Make a config YAML-safe (tuples -> lists, nested mappings -> dicts)."""
    if isinstance(obj, Mapping):
        return {str(k): plain_config(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [plain_config(v) for v in obj]
    return obj
