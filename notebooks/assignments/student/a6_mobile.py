"""A6 -- a lighter MSIT for mobile devices (the paper's stated future work). Write your code here.

Read notebook ``A6_mobile.ipynb`` first: it states the budget (parameters, FLOPs and CPU time
relative to MSIT-lite) and measures your model against it. This assignment is open-ended:

* ``a6_mobile.yaml`` (next to this file) is YOUR model: any registered pieces and sizes;
* this file may register new pieces (convs, merges, attentions, decoders ...) with
  ``@register(kind, name)`` -- the config then selects them by name. No edits to ``msit_lite``.

A suggested first step (already selected by the stub config): a depthwise-separable k×k conv.
Then shrink what costs the most per HR pixel (the notebook's profile tells you what that is).
Check your work with ``msit-lite grade A6`` (or the last cell of the notebook).
"""
from __future__ import annotations

from torch import Tensor, nn

from msit_lite.models import register

CONV_NAME = "a6-dwsep"  # select it in a6_mobile.yaml with `conv: a6-dwsep`


class DepthwiseSeparableConv(nn.Module):
    """A k×k depthwise conv (one k×k filter per input channel, ``groups=in_channels``) followed by a
    1×1 pointwise conv ``in_channels -> out_channels`` with the bias (MobileNet's factorisation)."""

    def __init__(
        self, in_channels: int, out_channels: int, kernel_size: int, padding: int | None = None, groups: int = 1,
        bias: bool = True,
    ) -> None:
        super().__init__()
        # TODO: self.depthwise and self.pointwise (padding defaults to kernel_size // 2).
        raise NotImplementedError("A6: DepthwiseSeparableConv -- a depthwise k×k conv and a 1×1 conv (notebook section 2)")

    def forward(self, x: Tensor) -> Tensor:
        raise NotImplementedError("A6: DepthwiseSeparableConv.forward")


@register("conv", CONV_NAME)
def build_dwsep(
    in_channels: int, out_channels: int, kernel_size: int, padding: int | None = None, groups: int = 1, bias: bool = True
) -> DepthwiseSeparableConv:
    """Registry builder: MSNO and MSSA call it with in/out channels, kernel size and padding."""
    return DepthwiseSeparableConv(in_channels, out_channels, kernel_size, padding, groups, bias)
