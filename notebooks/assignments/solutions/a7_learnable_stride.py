# SOLUTION -- reference solution of assignment A7 (instructors only; never hand this file out).
"""A7 -- a FEM whose shift stride really learns (paper §III-B(a); notebook 03 §4), reference solution.

Same public names as ``student/a7_learnable_stride.py``.
"""
from __future__ import annotations

import math

import torch
from torch import Tensor, nn

from msit_lite.models import register

FEM_NAME = "a7-learnable"

# The paper's eight directions, in its order, as the displacement (dy, dx) of the content (y down).
DIRECTIONS = {
    "up": (-1, 0), "up-left": (-1, -1), "up-right": (-1, 1), "down": (1, 0),
    "down-left": (1, -1), "down-right": (1, 1), "left": (0, -1), "right": (0, 1),
}


def fractional_roll(x: Tensor, shift: Tensor | float, dim: int) -> Tensor:
    """Move the content of ``x`` by a real ``shift`` along ``dim`` with wrap-around (shift > 0: towards
    higher indices, like ``torch.roll``), interpolating linearly between the two nearest integer shifts."""
    shift = torch.as_tensor(shift, dtype=x.dtype, device=x.device)
    k = int(torch.floor(shift.detach()))          # the integer part only picks the two rolls
    frac = shift - k                               # the fraction keeps the gradient
    return (1 - frac) * torch.roll(x, k, dims=dim) + frac * torch.roll(x, k + 1, dims=dim)


def shift2d(x: Tensor, dy: Tensor | float, dx: Tensor | float) -> Tensor:
    """Move the content of ``x`` [..., H, W] by (dy, dx) pixels (bilinear, wrap-around)."""
    return fractional_roll(fractional_roll(x, dy, -2), dx, -1)


@register("fem", FEM_NAME)
class LearnableFEM(nn.Module):
    """The paper's FEM (8 contiguous channel groups, 8 directions) with one learnable stride."""

    circular_padding = True  # it wraps around: tiled inference must run it on the whole map

    def __init__(self, channels: int, stride: float = 1.0) -> None:
        super().__init__()
        if channels % 8:
            raise ValueError(f"LearnableFEM needs a channel count divisible by 8, got {channels}")
        self.channels = channels
        self.stride = nn.Parameter(torch.tensor(float(stride)))

    @property
    def receptive_radius(self) -> int:
        return math.floor(abs(float(self.stride.detach()))) + 1

    def forward(self, x: Tensor) -> Tensor:
        groups = x.chunk(8, dim=1)
        return torch.cat([shift2d(g, dy * self.stride, dx * self.stride)
                          for g, (dy, dx) in zip(groups, DIRECTIONS.values())], dim=1)
