# SOLUTION -- reference solution of assignment A2 (instructors only; never hand this file out).
"""A2 -- a depthwise-separable MSC branch conv, registered as ``conv: student-dwsep``."""
from __future__ import annotations

from torch import Tensor, nn

from msit_lite.models import register


@register("conv", "student-dwsep")
class DepthwiseSeparableConv2d(nn.Module):
    """k x k depthwise conv (one filter per channel, no bias) followed by a 1 x 1 pointwise conv (bias)."""

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: int,
        padding: int | None = None,
        groups: int = 1,
        bias: bool = True,
    ) -> None:
        super().__init__()
        pad = kernel_size // 2 if padding is None else padding
        self.receptive_radius = kernel_size // 2
        self.depthwise = nn.Conv2d(in_channels, in_channels, kernel_size, padding=pad, groups=in_channels, bias=False)
        self.pointwise = nn.Conv2d(in_channels, out_channels, 1, groups=groups, bias=bias)

    def forward(self, x: Tensor) -> Tensor:
        return self.pointwise(self.depthwise(x))
