r"""MSNO -- Multi-Scale Neural Operator (paper §III-B(a), Eqs. 4-6; the official ``amsno`` in ``test_mod.py``).

MSNO gives the latent code multi-scale character before any query is made:

    v   = W_Z · Z                      (1×1 conv, no bias: the modulation weight of Eq. 6)
    Z'  = FEM(W_s · Z)                 (1×1 conv, no bias, then the parameter-free shifts)
    [Z'_1 … Z'_t] = split(Z')          (Eq. 4: t contiguous chunks of C/t channels)
    MSC(Z') = [Conv_3(Z'_1), Conv_5(Z'_2), …, Conv_{2t+1}(Z'_t)]            (Eq. 5)
    Z'' = proj( SIM(MSC(Z')) ⊙ v )                                          (Eq. 6)

SIM ("Scale Integration Module") mixes first *within* each scale -- a 1×1 conv C → 2C with
``groups = t`` (W_ss: group g only sees scale g) -- then, after GELU, *across* scales -- a 1×1
conv 2C → C (W_ds). The official code adds what Eq. 6 does not show: a BatchNorm before the
GELU and an output projection ``proj`` after the modulation (``amsno.forward``); so do we.

Ablations (Tables III/IV): ``branches`` t ∈ {1, 2, 4, 8, 16} (kernel sizes 3 … 2t+1),
``fem: official | paper | none``, ``merge: sim | conv`` (the "SIM W/O" row merges with one
plain 1×1 conv), ``conv: plain | rim | refconv`` for the multi-scale convs, and the whole MSNO
``none`` (Table III first row). The official initialisation (N(0, 2/fan_out) for every conv,
zero biases) is applied.
"""
from __future__ import annotations

import math
from typing import Any

import torch
from torch import Tensor, nn

from msit_lite.errors import MsitError
from msit_lite.models.base import Identity, Trace, child, record
from msit_lite.models.registry import make, register
from msit_lite.models.runtime import parts_radius

Spec = dict[str, Any] | str


def official_init(module: nn.Module) -> None:
    """The official ``_init_weights`` for convs: weight ~ N(0, 2/fan_out), bias 0 (RIM maps included)."""
    for m in module.modules():
        if isinstance(m, nn.Conv2d):
            fan_out = m.kernel_size[0] * m.kernel_size[1] * m.out_channels // m.groups
            nn.init.normal_(m.weight, 0.0, math.sqrt(2.0 / fan_out))
            if m.bias is not None:
                nn.init.zeros_(m.bias)


class MultiScaleConv(nn.Module):
    """MSC (Eq. 5): t parallel convs with kernels 3, 5, …, 2t+1 on t contiguous channel chunks."""

    def __init__(self, channels: int, branches: int, conv: Spec = "rim") -> None:
        super().__init__()
        if branches < 1 or channels % branches:
            raise MsitError(f"MSC: channels {channels} must be divisible by branches {branches}")
        self.chunk = channels // branches
        self.convs = nn.ModuleList(
            make(conv, "conv", in_channels=self.chunk, out_channels=self.chunk, kernel_size=3 + 2 * i, padding=1 + i)
            for i in range(branches)
        )
        self.receptive_radius = branches  # the largest kernel is 2·branches + 1

    def forward(self, x: Tensor, trace: Trace | None = None) -> Tensor:
        outs = []
        for i, (part, conv) in enumerate(zip(torch.split(x, self.chunk, dim=1), self.convs)):
            out = conv(part)
            record(trace, str(i), out)
            outs.append(out)
        return torch.cat(outs, dim=1)


@register("merge", "sim")
class SIM(nn.Module):
    """Scale Integration Module: grouped 1×1 (within scales) → BN → GELU → 1×1 (across scales)."""

    def __init__(self, channels: int, branches: int, expand_ratio: int = 2) -> None:
        super().__init__()
        hidden = channels * expand_ratio
        self.receptive_radius = 0  # 1x1 convs only
        self.expand = nn.Conv2d(channels, hidden, 1, groups=branches)  # W_ss (official sim0)
        self.bn = nn.BatchNorm2d(hidden)
        self.act = nn.GELU()
        self.reduce = nn.Conv2d(hidden, channels, 1)  # W_ds (official sim1)

    def forward(self, x: Tensor, trace: Trace | None = None) -> Tensor:
        x = self.expand(x)
        record(trace, "expand", x)
        x = self.bn(x)
        record(trace, "bn", x)
        x = self.reduce(self.act(x))
        record(trace, "reduce", x)
        return x


@register("merge", "conv")
class ConvMerge(nn.Module):
    """Table IV "SIM W/O": merge the scales with one plain conv (1×1 by default) instead of SIM."""

    def __init__(self, channels: int, branches: int, kernel_size: int = 1) -> None:
        super().__init__()
        self.conv = nn.Conv2d(channels, channels, kernel_size, padding=kernel_size // 2)
        self.receptive_radius = kernel_size // 2

    def forward(self, x: Tensor, trace: Trace | None = None) -> Tensor:
        x = self.conv(x)
        record(trace, "reduce", x)
        return x


@register("msno", "msno")
class MSNO(nn.Module):
    """FEM → MSC → SIM, modulated by W_Z·Z, then ``proj`` (official class ``amsno``)."""

    def __init__(
        self,
        channels: int,
        branches: int = 16,
        conv: Spec = "rim",
        fem: Spec = "official",
        merge: Spec = "sim",
    ) -> None:
        super().__init__()
        self.v = nn.Conv2d(channels, channels, 1, bias=False)
        self.s = nn.Conv2d(channels, channels, 1, bias=False)
        self.fem = make(fem, "fem", channels=channels)
        self.msc = MultiScaleConv(channels, branches, conv)
        self.merge = make(merge, "merge", channels=channels, branches=branches)
        self.proj = nn.Conv2d(channels, channels, 1)
        official_init(self)

    @property
    def receptive_radius(self) -> int | None:
        """How far (LR pixels) an output looks: FEM shift + largest MSC kernel // 2 + merge."""
        return parts_radius(self.fem, self.msc, self.merge)

    def forward(self, x: Tensor, trace: Trace | None = None) -> Tensor:
        v = self.v(x)
        record(trace, "v", v)
        s = self.s(x)
        record(trace, "s", s)
        s = self.fem(s)
        record(trace, "fem", s)
        s = self.msc(s, child(trace, "msc"))
        s = self.merge(s, child(trace, "merge"))
        x = s * v
        record(trace, "modulated", x)
        return self.proj(x)


@register("msno", "none")
def no_msno(channels: int, **_: Any) -> nn.Module:
    """Table III "MSNO ✗": Z'' = Z (the paper also rebalanced parameters elsewhere; not specified)."""
    return Identity()
