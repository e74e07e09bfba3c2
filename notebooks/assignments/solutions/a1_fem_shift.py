# SOLUTION -- reference solution of assignment A1 (instructors only; never hand this file out).
"""A1 -- the FEM shift kernel (paper §III-B(a), Eqs. 2-3), reference solution.

Same public names as ``student/a1_fem_shift.py``: :func:`shift_mask`, :func:`fem_shift` and the
module :class:`StudentFEM`, registered as ``fem: student-shift``.
"""
from __future__ import annotations

from typing import Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from msit_lite.models import register

# The eight directions of the paper, in the paper's order (same list as the stub).
DIRECTIONS = ["up", "up-left", "up-right", "down", "down-left", "down-right", "left", "right"]
# (row, column) of the single 1 in the 3x3 kernel of each direction.
# A tap at (a, b) reads Z[y + (a-1)m, x + (b-1)m]: a tap BELOW the centre moves content UP.
TAPS = {
    "up": (2, 1),
    "up-left": (2, 2),
    "up-right": (2, 0),
    "down": (0, 1),
    "down-left": (0, 2),
    "down-right": (0, 0),
    "left": (1, 2),
    "right": (1, 0),
}


def shift_mask(channels: int, directions: Sequence[str] = DIRECTIONS) -> Tensor:
    """The [channels, 1, 3, 3] depthwise kernel: 8 contiguous channel groups, group g moves ``directions[g]``."""
    if channels % 8:
        raise ValueError(f"channels must be divisible by 8, got {channels}")
    mask = torch.zeros(channels, 1, 3, 3)
    part = channels // 8
    for g, name in enumerate(directions):
        a, b = TAPS[name]
        mask[g * part : (g + 1) * part, 0, a, b] = 1.0
    return mask


def fem_shift(z: Tensor, mask: Tensor, stride: int = 1) -> Tensor:
    """Eq. 2: shift every channel of ``z`` [B, C, H, W] by ``stride`` pixels, wrapping around."""
    m = int(stride)
    z = F.pad(z, (m, m, m, m), mode="circular")
    return F.conv2d(z, mask.to(z), dilation=m, groups=z.shape[1])


@register("fem", "student-shift")
class StudentFEM(nn.Module):
    """A parameter-free FEM: fixed mask (a buffer, not a parameter) and a fixed stride."""

    def __init__(self, channels: int, mix_margin: float = 1.0) -> None:
        super().__init__()
        self.stride = int(mix_margin)
        self.receptive_radius = self.stride
        self.register_buffer("mask", shift_mask(channels), persistent=False)

    def forward(self, x: Tensor) -> Tensor:
        return fem_shift(x, self.mask, self.stride)
