"""Cumulative training with RIM (paper §III-C, Fig. 4).

Stage 1 trains the network with plain convolutions. Stage 2 swaps every multi-scale conv (and
MSSA's V conv) for a RIM, copies the stage-1 kernels ``W`` into the RIMs' frozen buffers and
learns the remap ``W' = W + DWConv3x3(W) ⊙ Linear(W)`` (Eq. 11) together with the rest.

**What happens at the switch is a design choice.** The official code keeps the freshly
initialised ``convmap``/``linear`` (normal, std √(2/fan_out)), so ``W' ≠ W``: the stage-2 network
starts as a *different* function and first has to recover the stage-1 accuracy (the official
``train.py``, ``prepare_training``, loads the stage-1 state dict key by key and leaves the maps as
initialised). Our default, ``rim_init: identity``, zeroes ``linear`` (for RefConv, which has no
``linear``, the ``convmap``), so that ``W' = W`` exactly and stage 2 starts from the stage-1 function -- the
zero-initialised factor of a product, as in LoRA: ``linear`` gets a gradient at once (its
partner ``convmap(W)`` is non-zero) and ``convmap`` follows as soon as ``linear`` moves.
``rim_init: official`` keeps the official behaviour.
"""
from __future__ import annotations

from pathlib import Path
from typing import Literal

import torch
from torch import nn

from msit_lite.checkpoint import WEIGHTS, read_weights
from msit_lite.errors import MsitError
from msit_lite.models.rim import load_stage1, rim_modules
from msit_lite.state_dict import diff


def stage1_weights_path(path: str | Path) -> Path:
    """``path`` itself if it is a weights file, else ``path/model.safetensors``."""
    p = Path(path)
    if p.is_dir():
        p = p / WEIGHTS
    if not p.is_file():
        raise MsitError(f"stage-1 checkpoint {path} not found (expected a directory with {WEIGHTS} or a weights file)")
    return p


def init_weights(model: nn.Module, path: str | Path, rim_init: Literal["identity", "official"] = "identity",
                 drop: tuple[str, ...] = ()) -> list[str]:
    """``--init`` for either stage: RIM models get :func:`init_from_stage1`; a plain model loads every weight.

    The plain case is a *continuation* (fine-tuning) run: the same architecture starts from a trained
    checkpoint instead of random weights. It is the control experiment for stage 2 -- as many extra
    steps, on the same scale range, but without RIM -- so that what stage 2 changes can be told apart
    from what more training alone changes. ``drop`` lists key prefixes of the checkpoint to ignore,
    for ablations that remove a module (``msno.fem.`` when the continued model has ``fem: none``);
    every other key must still fit exactly.
    """
    if rim_modules(model):
        if drop:
            raise MsitError("train.init_drop is only for continuing a plain model; a stage-2 (RIM) init loads every stage-1 key")
        return init_from_stage1(model, path, rim_init)
    state = read_weights(stage1_weights_path(path))
    state = {k: v for k, v in state.items() if not (drop and k.startswith(tuple(drop)))}
    mismatch = diff(model.state_dict(), state)
    if mismatch:
        raise MsitError(f"--init {path}: weights do not fit this config's model: {mismatch.message()}")
    model.load_state_dict(state)
    return []


def init_from_stage1(model: nn.Module, path: str | Path, rim_init: Literal["identity", "official"] = "identity") -> list[str]:
    """Load stage-1 weights into the RIM model ``model``; returns the RIM map keys left to ``rim_init``."""
    if rim_init not in ("identity", "official"):
        raise MsitError(f"rim_init must be 'identity' or 'official', got {rim_init!r}")
    rims = rim_modules(model)
    if not rims:
        raise MsitError(
            "--init/train.init_from loads stage-1 weights into RIM convolutions, but the model of this config "
            "has none; use a stage-2 config (conv: rim or refconv)"
        )
    fresh = load_stage1(model, read_weights(stage1_weights_path(path)))
    if rim_init == "identity":
        with torch.no_grad():
            for rim in rims.values():
                (rim.linear if rim.linear is not None else rim.convmap).weight.zero_()
    return fresh
