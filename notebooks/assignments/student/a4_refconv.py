"""A4 -- a RefConv-style re-parameterised convolution (paper §III-C, Eq. 11, Table III). Write your code here.

Read notebook ``A4_refconv.ipynb`` first. Replace every ``raise NotImplementedError(...)`` and
check your work with ``msit-lite grade A4`` (or the last cell of the notebook).

Keep the public names (``CONV_NAME``, ``RefocusConv2d`` with its attributes ``weight``, ``refocus``,
``bias`` and methods ``effective_weight``/``forward``/``fold``, ``build_refocus_conv``,
``parameter_counts``): the autograder uses them.

The remap you implement (RefConv, Cai et al.; the "Ref" row of Table III):

    W' = W + DWConv_{map_k×map_k}(W)

* ``W`` ``[O, I/g, k, k]`` is the frozen stage-1 weight: a *buffer* named ``weight`` (so a plain
  conv's state dict loads straight into it), not a parameter;
* viewed as a one-image batch ``[1, K, k, k]`` with K = O·I/g channels (one per 2-D kernel), ``W``
  is filtered depthwise (groups=K, padding map_k // 2) by ``refocus``, an ``nn.Parameter`` of shape
  ``[K, 1, map_k, map_k]`` -- a parameter, not an ``nn.Conv2d`` (notebook section 2 says why);
* unlike the package's RIM/RefConv, ``refocus`` starts at **zero**, so a fresh conv has ``W' = W``.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from msit_lite.models import register

CONV_NAME = "a4-refconv"  # select it in a config with `conv: a4-refconv`


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
        # TODO: store the sizes; padding defaults to kernel_size // 2.
        # TODO: a zero buffer `weight` of shape [out_channels, in_channels // groups, k, k] (register_buffer);
        # TODO: `refocus`, an nn.Parameter [K, 1, map_k, map_k] of ZEROS (K = out_channels * in_channels // groups);
        # TODO: `bias`, an nn.Parameter of out_channels zeros (None when bias=False).
        raise NotImplementedError("A4: RefocusConv2d.__init__ -- the buffer W, the zero-initialised map (notebook section 2)")

    def effective_weight(self) -> Tensor:
        """``W' = W + refocus(W)`` with the shape of ``W``."""
        raise NotImplementedError("A4: RefocusConv2d.effective_weight -- Eq. 11 without Linear (notebook section 2)")

    def forward(self, x: Tensor) -> Tensor:
        """The convolution of ``x`` with ``W'`` (and ``bias``, ``padding``, ``groups``)."""
        raise NotImplementedError("A4: RefocusConv2d.forward -- F.conv2d with the effective weight")

    def fold(self) -> nn.Conv2d:
        """The deployed form: a plain ``nn.Conv2d`` holding ``W'`` and the same bias."""
        raise NotImplementedError("A4: RefocusConv2d.fold -- copy W' and the bias into an nn.Conv2d (notebook section 3)")


@register("conv", CONV_NAME)
def build_refocus_conv(
    in_channels: int, out_channels: int, kernel_size: int, padding: int | None = None, groups: int = 1, bias: bool = True
) -> RefocusConv2d:
    """Registry builder: MSNO and MSSA call it with in/out channels, kernel size and padding."""
    return RefocusConv2d(in_channels, out_channels, kernel_size, padding=padding, groups=groups, bias=bias)


def parameter_counts(
    in_channels: int, out_channels: int, kernel_size: int, groups: int = 1, bias: bool = True, map_k: int = 3
) -> dict[str, int]:
    """The formula of notebook section 4, without building a module.

    Returns ``{"trainable": ..., "frozen": ..., "deployed": ...}``: the numbers the optimiser
    trains, the frozen ``W`` buffer, and the parameters of the folded plain conv.
    """
    raise NotImplementedError("A4: parameter_counts -- count per 2-D kernel (notebook section 4)")
