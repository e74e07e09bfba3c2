"""How the model runs inside a training step: memory layout (and nothing that changes the maths).

Where a lite step's time goes on one CPU thread is written up in ``docs/TRAINING_SPEED.md``
(profile) and measured by ``benchmarks/train_step.py`` (before/after, side by side). The
model-side changes live with the modules they change (the gathered attention window in
:mod:`msit_lite.models.mssa`, the split first decoder layer in :mod:`msit_lite.models.mlp`);
this module holds the one *execution* choice the loop makes:

* **channels-last on the CPU.** oneDNN's convolutions (forward and backward) run ~10-15 %
  faster on NHWC tensors at the lite sizes, and the attention's window gather wants NHWC rows
  anyway. The parameters stay the same numbers (only their strides change), so checkpoints,
  ``state_dict`` and resume are unaffected; results equal the NCHW ones up to float rounding.
"""
from __future__ import annotations

import torch
from torch import Tensor, nn

from msit_lite.training.config import TrainConfig


class ChannelsLast(nn.Module):
    """Calls ``model`` with its image input in channels-last layout (the model itself converted)."""

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model.to(memory_format=torch.channels_last)

    def forward(self, lr: Tensor, coord: Tensor, cell: Tensor) -> Tensor:
        return self.model(lr.contiguous(memory_format=torch.channels_last), coord, cell)


def use_channels_last(cfg: TrainConfig, device: torch.device) -> bool:
    """``train.channels_last``: ``auto`` means on for the CPU, off elsewhere (cuDNN picks its own)."""
    if cfg.channels_last == "auto":
        return device.type == "cpu"
    return bool(cfg.channels_last)


def prepare_for_training(model: nn.Module, cfg: TrainConfig, device: torch.device) -> nn.Module:
    """The module the loop calls as ``net(inp, coord, cell)``; ``model`` keeps owning the parameters."""
    return ChannelsLast(model) if use_channels_last(cfg, device) else model
