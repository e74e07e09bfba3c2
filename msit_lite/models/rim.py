r"""RIM -- re-parameterised convolution (paper §III-C, Eq. 11; the official ``RiM`` in ``test_mod.py``).

Cumulative training in two stages:

1. train the network with plain convolutions; call their weights ``W``;
2. replace each (large) conv by a RIM that keeps ``W`` **frozen** (a buffer) and learns a remap

       W' = W + DWConv3x3(W) ⊙ Linear(W)                                    (Eq. 11)

   where ``W`` [O, I/g, k, k] is viewed as a one-image batch of K = O·I/g channels (one channel per
   2-D kernel), ``DWConv3x3`` (``convmap``) filters every k×k kernel with its own 3×3 map (zero
   padding 1) and ``Linear`` (``linear``) multiplies every 2-D kernel by its own learned scalar
   (a depthwise 1×1 conv, no non-linearity). Both use G = I·O/g² groups, which is depthwise for
   g = 1 (the only case MSIT uses).

The conv then runs with ``W'``. Since ``W'`` does not depend on the input, a trained RIM can be
**folded** into a plain ``nn.Conv2d`` holding ``W'`` -- the paper's inference form
(:func:`fold`). The official code never folds; ``RiM.forward`` recomputes ``W'`` at every forward.

Three facts worth knowing:

* a fresh RIM has ``W = 0`` so ``W' = 0`` and ``convmap``/``linear`` receive *zero* gradient:
  training the released RIM configs from scratch leaves every RIM dead. Stage 1 must use
  ``conv: plain``; :func:`load_stage1` then copies the plain weights into the RIM buffers;
* per kernel a RIM has 9 + 1 trainable numbers against k² for the conv it replaces: fewer for
  k ≥ 5, *more* for 3×3 (``conv_vs``: 655,616 trainable vs 590,080 plain);
* :class:`RefConv2d` (Cai et al.) is the same remap without the ``Linear`` factor,
  ``W' = W + DWConv3x3(W)`` -- the "Ref" row of Table III.

The builders are registered in the ``"conv"`` kind (``plain``, ``rim``, ``refconv``); MSNO and
MSSA build their k×k convolutions through that factory, which is how a config switches stage.
"""
from __future__ import annotations

import copy
import math
from typing import Any, Mapping

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from msit_lite.errors import MsitError
from msit_lite.models.registry import register
from msit_lite.state_dict import diff


class RIMConv2d(nn.Module):
    """Re-parameterised k×k conv: frozen ``weight`` W (buffer), learned ``convmap``, ``linear``, ``bias``.

    State-dict keys (same as the official ``RiM``): ``weight``, ``bias``, ``convmap.weight``,
    ``linear.weight`` -- and ``weight``/``bias`` carry the same names as in a plain conv, so a
    stage-1 state dict loads straight into the buffers.
    """

    use_linear = True

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: int,
        padding: int | None = None,
        stride: int = 1,
        groups: int = 1,
        bias: bool = True,
        map_k: int = 3,
    ) -> None:
        super().__init__()
        if in_channels % groups or out_channels % groups:
            raise MsitError(f"RIM: channels {in_channels}->{out_channels} not divisible by groups={groups}")
        if map_k > kernel_size:
            raise MsitError(f"RIM: map_k={map_k} must not exceed kernel_size={kernel_size}")
        self.in_channels, self.out_channels = in_channels, out_channels
        self.kernel_size = kernel_size
        self.stride, self.groups = stride, groups
        self.padding = kernel_size // 2 if padding is None else padding
        self.kernel_shape = (out_channels, in_channels // groups, kernel_size, kernel_size)
        self.num_kernels = out_channels * in_channels // groups  # K: one channel per 2-D kernel
        map_groups = in_channels * out_channels // groups**2  # G (= K for groups = 1)
        self.register_buffer("weight", torch.zeros(self.kernel_shape))
        self.convmap = nn.Conv2d(
            self.num_kernels, self.num_kernels, map_k, padding=map_k // 2, groups=map_groups, bias=False
        )
        self.linear: nn.Conv2d | None = (
            nn.Conv2d(self.num_kernels, self.num_kernels, 1, groups=map_groups, bias=False)
            if self.use_linear
            else None
        )
        self.bias = nn.Parameter(torch.zeros(out_channels)) if bias else None
        # The official MSNO/MsC initialisation: N(0, 2/fan_out) with fan_out = k·k·out/groups.
        for m in (self.convmap, self.linear):
            if m is not None:
                fan_out = m.kernel_size[0] * m.kernel_size[1] * m.out_channels // m.groups
                nn.init.normal_(m.weight, 0.0, math.sqrt(2.0 / fan_out))

    def remap(self) -> Tensor:
        """The learned correction ``W' - W``: ``DWConv3x3(W) ⊙ Linear(W)`` reshaped like ``W``."""
        w = self.weight.reshape(1, self.num_kernels, self.kernel_size, self.kernel_size)
        delta = self.convmap(w)
        if self.linear is not None:
            delta = delta * self.linear(w)
        return delta.reshape(self.kernel_shape)

    def effective_weight(self) -> Tensor:
        """``W' = W + remap`` (Eq. 11) -- what the convolution actually uses."""
        return self.weight + self.remap()

    def forward(self, x: Tensor) -> Tensor:
        return F.conv2d(x, self.effective_weight(), self.bias, self.stride, self.padding, 1, self.groups)

    def to_conv(self) -> nn.Conv2d:
        """A plain ``nn.Conv2d`` holding ``W'`` (and the same bias): the deployed form."""
        conv = nn.Conv2d(
            self.in_channels,
            self.out_channels,
            self.kernel_size,
            stride=self.stride,
            padding=self.padding,
            groups=self.groups,
            bias=self.bias is not None,
            device=self.weight.device,
            dtype=self.weight.dtype,
        )
        with torch.no_grad():
            conv.weight.copy_(self.effective_weight())
            if self.bias is not None:
                conv.bias.copy_(self.bias)
        return conv

    def extra_repr(self) -> str:
        return (
            f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, "
            f"padding={self.padding}, groups={self.groups}, linear={self.linear is not None}"
        )


class RefConv2d(RIMConv2d):
    """RefConv (Cai et al.): ``W' = W + DWConv3x3(W)`` -- RIM without the ``Linear`` factor."""

    use_linear = False


@register("conv", "plain")
def plain_conv(
    in_channels: int, out_channels: int, kernel_size: int, padding: int | None = None, groups: int = 1, bias: bool = True
) -> nn.Conv2d:
    """The stage-1 convolution (``nn.Conv2d`` with bias, zero padding)."""
    pad = kernel_size // 2 if padding is None else padding
    return nn.Conv2d(in_channels, out_channels, kernel_size, padding=pad, groups=groups, bias=bias)


@register("conv", "rim")
def rim_conv(
    in_channels: int, out_channels: int, kernel_size: int, padding: int | None = None, groups: int = 1, bias: bool = True
) -> RIMConv2d:
    return RIMConv2d(in_channels, out_channels, kernel_size, padding=padding, groups=groups, bias=bias)


@register("conv", "refconv")
def refconv_conv(
    in_channels: int, out_channels: int, kernel_size: int, padding: int | None = None, groups: int = 1, bias: bool = True
) -> RefConv2d:
    return RefConv2d(in_channels, out_channels, kernel_size, padding=padding, groups=groups, bias=bias)


def rim_modules(model: nn.Module) -> dict[str, RIMConv2d]:
    """Every RIM/RefConv in ``model`` by qualified name."""
    return {name: m for name, m in model.named_modules() if isinstance(m, RIMConv2d)}


def fold(model: nn.Module) -> nn.Module:
    """A copy of ``model`` with every RIM/RefConv replaced by a plain conv holding ``W'``.

    The result computes the same function (up to float rounding of the conv itself), has no RIM
    buffers, and its state dict fits the same config with ``conv: plain`` (:func:`fold_spec`).
    """
    folded = copy.deepcopy(model)
    if isinstance(folded, RIMConv2d):
        return folded.to_conv()
    for name, module in list(folded.named_modules()):
        for child_name, sub in list(module.named_children()):
            if isinstance(sub, RIMConv2d):
                setattr(module, child_name, sub.to_conv())
    return folded


def fold_spec(spec: Any) -> Any:
    """A config/spec with every ``conv: rim|refconv`` replaced by ``conv: plain`` (for folded models)."""
    if isinstance(spec, Mapping):
        out = {}
        for key, value in spec.items():
            if key == "conv" and _conv_name(value) in ("rim", "refconv"):
                out[key] = "plain"
            else:
                out[key] = fold_spec(value)
        return out
    if isinstance(spec, list):
        return [fold_spec(v) for v in spec]
    return spec


def _conv_name(value: Any) -> Any:
    return value.get("name") if isinstance(value, Mapping) else value


def load_stage1(model: nn.Module, state_dict: Mapping[str, Tensor]) -> list[str]:
    """Cumulative training, stage 2: load a stage-1 (plain-conv) state dict into a RIM model.

    Plain ``X.weight``/``X.bias`` land in the RIM buffer ``X.weight`` and parameter ``X.bias``
    (the key names are the same); ``convmap``/``linear`` keep their fresh initialisation.
    Returns the RIM keys that were left at initialisation; raises :class:`MsitError` if anything
    else is missing, unexpected or of the wrong shape.
    """
    own = model.state_dict()
    fresh = [k for k in own if k.endswith((".convmap.weight", ".linear.weight")) and k not in state_dict]
    mismatch = diff(own, state_dict, may_miss=fresh)
    if mismatch:
        raise MsitError("stage-1 weights do not fit the RIM model: " + mismatch.message())
    model.load_state_dict(dict(state_dict), strict=False)
    return fresh
