"""How the model runs inside a training step: memory layout (and nothing that changes the maths).

Where a lite step's time goes on one CPU thread is written up in ``docs/TRAINING_SPEED.md``
(profile) and measured by ``benchmarks/train_step.py`` (before/after, side by side). The
model-side changes live with the modules they change (the gathered attention window in
:mod:`msit_lite.models.mssa`, the split first decoder layer in :mod:`msit_lite.models.mlp`);
this module holds the one *execution* choice the loop makes:

* **channels-last on the CPU, for small kernels.** oneDNN's 3×3 convolutions (forward and
  backward) run ~10-15 % faster on NHWC tensors at the lite sizes, and the attention's window
  gather wants NHWC rows anyway. Large kernels are the opposite: measured on one thread, the
  backward pass of a 16-channel 17×17 conv on 4×48×48 takes 4.1 s in NHWC against 0.18 s in NCHW
  (33×33: 13.4 s vs 0.95 s), which made the full model's step 5× *slower*. So ``auto`` turns it on
  only when no convolution is larger than :data:`MAX_CHANNELS_LAST_KERNEL` (the lite models: 9×9;
  the full ones reach 33×33). The parameters stay the same numbers (only their strides change), so
  checkpoints, ``state_dict`` and resume are unaffected; results equal the NCHW ones up to float
  rounding.
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


#: Largest kernel side for which ``channels_last: auto`` converts a model on the CPU.
MAX_CHANNELS_LAST_KERNEL = 9


def largest_kernel(model: nn.Module) -> int:
    """The largest spatial kernel side in ``model``: of every ``Conv2d`` and every module that declares a
    ``kernel_size`` (RIM / RefConv layers convolve with a kernel they compute), 0 without any."""
    sides = [max(k) if isinstance(k, tuple) else int(k) for m in model.modules()
             if isinstance(k := getattr(m, "kernel_size", None), (int, tuple))]
    return max(sides, default=0)


def use_channels_last(cfg: TrainConfig, device: torch.device, model: nn.Module) -> bool:
    """``train.channels_last``: ``auto`` = on for the CPU when every kernel is at most 9×9 (see above),
    off elsewhere (cuDNN picks its own layouts); ``true``/``false`` force it."""
    if cfg.channels_last == "auto":
        return device.type == "cpu" and largest_kernel(model) <= MAX_CHANNELS_LAST_KERNEL
    return bool(cfg.channels_last)


def prepare_for_training(model: nn.Module, cfg: TrainConfig, device: torch.device) -> nn.Module:
    """The module the loop calls as ``net(inp, coord, cell)``; ``model`` keeps owning the parameters."""
    return ChannelsLast(model) if use_channels_last(cfg, device, model) else model
