# SOLUTION -- reference solution of assignment A3 (instructors only; never hand this file out).
"""A3 -- Table IV "SIM W/O": merge the scales with one plain conv, registered as ``merge: student-conv``."""
from __future__ import annotations

from torch import Tensor, nn

from msit_lite.models import register


@register("merge", "student-conv")
class StudentConvMerge(nn.Module):
    """One k x k conv C -> C with bias (zero padding k // 2): every output channel sees every scale."""

    def __init__(self, channels: int, branches: int, kernel_size: int = 1) -> None:
        super().__init__()
        self.receptive_radius = kernel_size // 2
        self.conv = nn.Conv2d(channels, channels, kernel_size, padding=kernel_size // 2)

    def forward(self, x: Tensor, trace: object = None) -> Tensor:
        return self.conv(x)
