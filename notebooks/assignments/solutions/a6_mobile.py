# SOLUTION -- reference solution of assignment A6 (instructors only; never hand this file out).
"""A6 -- a lighter MSIT for mobile devices (the paper's stated future work), reference solution.

One possible answer (``a6_mobile.yaml`` holds the rest): depthwise-separable k×k convs in MSNO
and MSSA, a narrower latent code (dim 16, 4 heads), a 5×5 attention window instead of 7×7, half
the MSC branches and projections, a smaller positional encoding and decoder. Where does the time
go? Per HR pixel, the decoder's input is P·C + 2 numbers (P = window size): 49·32 + 2 = 1570 in
MSIT-lite, 25·16 + 2 = 402 here -- the first Linear shrinks ~8×, and it dominates the cost.
"""
from __future__ import annotations

from torch import Tensor, nn

from msit_lite.models import register

CONV_NAME = "a6-dwsep"


class DepthwiseSeparableConv(nn.Module):
    """A k×k depthwise conv (one filter per channel) followed by a 1×1 pointwise conv (MobileNet)."""

    def __init__(
        self, in_channels: int, out_channels: int, kernel_size: int, padding: int | None = None, groups: int = 1,
        bias: bool = True,
    ) -> None:
        super().__init__()
        pad = kernel_size // 2 if padding is None else padding
        self.depthwise = nn.Conv2d(in_channels, in_channels, kernel_size, padding=pad, groups=in_channels, bias=False)
        self.pointwise = nn.Conv2d(in_channels, out_channels, 1, groups=groups, bias=bias)

    def forward(self, x: Tensor) -> Tensor:
        return self.pointwise(self.depthwise(x))


@register("conv", CONV_NAME)
def build_dwsep(
    in_channels: int, out_channels: int, kernel_size: int, padding: int | None = None, groups: int = 1, bias: bool = True
) -> DepthwiseSeparableConv:
    return DepthwiseSeparableConv(in_channels, out_channels, kernel_size, padding, groups, bias)
