"""A2 -- a new MSC branch conv: depthwise-separable, registered as ``conv: student-dwsep``.

Read notebook ``A2_branch_conv.ipynb`` first. Replace every ``raise NotImplementedError(...)``
and check your work with ``msit-lite grade A2`` (or the last cell of the notebook).

Keep the class name and the ``@register`` line: the autograder and a2_branch_conv.yaml use them.
"""
from __future__ import annotations

from torch import Tensor, nn

from msit_lite.models import register


@register("conv", "student-dwsep")
class DepthwiseSeparableConv2d(nn.Module):
    """A k x k conv replaced by a depthwise k x k conv followed by a pointwise 1 x 1 conv.

    MSNO builds every branch through the conv factory as
    ``DepthwiseSeparableConv2d(in_channels=c, out_channels=c, kernel_size=2i+3, padding=i+1)``.

    * depthwise: ``in_channels`` filters of size k x k, one per channel, NO bias;
    * pointwise: a 1 x 1 conv ``in_channels -> out_channels`` WITH bias (when ``bias`` is true).

    Parameters: ``in_channels*k*k + in_channels*out_channels + out_channels`` (notebook section 2).
    ``padding`` defaults to ``kernel_size // 2`` (same output size); ``groups`` is part of the
    factory's signature -- MSIT always passes 1; you may pass it to the pointwise conv.
    """

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
        self.receptive_radius = kernel_size // 2  # how far (pixels) an output looks
        raise NotImplementedError("A2: __init__ -- create the depthwise and the pointwise conv (notebook section 2)")

    def forward(self, x: Tensor) -> Tensor:
        raise NotImplementedError("A2: forward -- depthwise, then pointwise (notebook section 2)")
