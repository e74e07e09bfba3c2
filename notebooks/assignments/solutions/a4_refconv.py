# SOLUTION -- reference solution of assignment A4 (instructors only; never hand this file out).
"""A4 -- a RefConv-style re-parameterised convolution (paper §III-C, Eq. 11, Table III), reference solution.

Reference solution of ``notebooks/assignments/student/a4_refconv.py`` (same public names).

    W' = W + DWConv_{map_k×map_k}(W)        W frozen (a buffer), the map learned, zero-initialised

Zero initialisation makes the remap the identity at the start of stage 2 (W' = W): the network
computes exactly the stage-1 function, unlike the package's RIM/RefConv whose random map
perturbs W from the first step. The gradient still reaches the map, because ∂W'/∂map = W ≠ 0.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from msit_lite.models import register

CONV_NAME = "a4-refconv"


class RefocusConv2d(nn.Module):
    """A k×k conv whose weight is ``W' = W + refocus(W)``; ``W`` is a frozen buffer."""

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: int,
        padding: int | None = None,
        groups: int = 1,
        bias: bool = True,
        map_k: int = 3,
    ) -> None:
        super().__init__()
        if in_channels % groups or out_channels % groups:
            raise ValueError(f"channels {in_channels}->{out_channels} are not divisible by groups={groups}")
        self.in_channels, self.out_channels, self.kernel_size = in_channels, out_channels, kernel_size
        self.padding = kernel_size // 2 if padding is None else padding
        self.groups = groups
        self.kernel_shape = (out_channels, in_channels // groups, kernel_size, kernel_size)
        self.num_kernels = out_channels * (in_channels // groups)  # K: one channel per 2-D kernel
        self.register_buffer("weight", torch.zeros(self.kernel_shape))
        # The depthwise map as a raw Parameter: MSNO/MsC re-initialise every nn.Conv2d they contain
        # (official_init), which would make a map held in an nn.Conv2d random again.
        self.refocus = nn.Parameter(torch.zeros(self.num_kernels, 1, map_k, map_k))  # identity remap: W' = W
        self.bias = nn.Parameter(torch.zeros(out_channels)) if bias else None

    def effective_weight(self) -> Tensor:
        w = self.weight.view(1, self.num_kernels, self.kernel_size, self.kernel_size)
        pad = self.refocus.shape[-1] // 2
        delta = F.conv2d(w, self.refocus, padding=pad, groups=self.num_kernels)
        return self.weight + delta.view(self.kernel_shape)

    def forward(self, x: Tensor) -> Tensor:
        return F.conv2d(x, self.effective_weight(), self.bias, padding=self.padding, groups=self.groups)

    def fold(self) -> nn.Conv2d:
        conv = nn.Conv2d(self.in_channels, self.out_channels, self.kernel_size, padding=self.padding,
                         groups=self.groups, bias=self.bias is not None)
        with torch.no_grad():
            conv.weight.copy_(self.effective_weight())
            if self.bias is not None:
                conv.bias.copy_(self.bias)
        return conv


@register("conv", CONV_NAME)
def build_refocus_conv(
    in_channels: int, out_channels: int, kernel_size: int, padding: int | None = None, groups: int = 1, bias: bool = True
) -> RefocusConv2d:
    """Registry builder: MSNO and MSSA call it with in/out channels, kernel size and padding."""
    return RefocusConv2d(in_channels, out_channels, kernel_size, padding=padding, groups=groups, bias=bias)


def parameter_counts(
    in_channels: int, out_channels: int, kernel_size: int, groups: int = 1, bias: bool = True, map_k: int = 3
) -> dict[str, int]:
    """``{"trainable", "frozen", "deployed"}`` of one RefocusConv2d, from the formula (no module built)."""
    per_kernel = in_channels // groups
    kernels = out_channels * per_kernel
    b = out_channels if bias else 0
    frozen = kernels * kernel_size * kernel_size
    return {"trainable": kernels * map_k * map_k + b, "frozen": frozen, "deployed": frozen + b}
