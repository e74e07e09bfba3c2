"""Encoders E_ψ: EDSR-baseline and RDN without their upsampling tails (the official ``models/edsr.py``, ``rdn.py``).

Both keep the LR resolution and return a feature map ``[b, out_dim, h, w]``; the implicit part
(LIIF or MSIT) does all the upsampling. They are the standard LIIF encoders with one deliberate
omission: EDSR's ``MeanShift`` layers (``sub_mean``/``add_mean``) are **not** kept -- the official
code defines and stores them but never applies them (``edsr.py:133,143`` are commented out), so
they are constants without any effect. The checkpoint converter drops their keys.

* EDSR-baseline: ``head`` 3×3 conv (3 → F), ``body`` = n residual blocks
  [conv3×3, ReLU, conv3×3] (× res_scale, + input), then a 3×3 conv; output = body(head(x)) + head(x).
* RDN (config B): 16 residual dense blocks of 8 conv layers with growth 64, local and global
  feature fusion, G0 = 64 output channels.
"""
from __future__ import annotations

import torch
from torch import Tensor, nn

from msit_lite.errors import MsitError
from msit_lite.models.registry import register


def _conv(cin: int, cout: int, k: int) -> nn.Conv2d:
    return nn.Conv2d(cin, cout, k, padding=k // 2, bias=True)


class ResBlock(nn.Module):
    def __init__(self, n_feats: int, kernel_size: int = 3, res_scale: float = 1.0) -> None:
        super().__init__()
        self.body = nn.Sequential(_conv(n_feats, n_feats, kernel_size), nn.ReLU(True), _conv(n_feats, n_feats, kernel_size))
        self.res_scale = res_scale

    def forward(self, x: Tensor) -> Tensor:
        res = self.body(x)
        if self.res_scale != 1:
            res = res * self.res_scale
        return res + x


class EDSRBaseline(nn.Module):
    """EDSR-baseline feature extractor (Lim et al. 2017), no upsampling, no MeanShift."""

    def __init__(self, n_resblocks: int = 16, n_feats: int = 64, res_scale: float = 1.0, kernel_size: int = 3) -> None:
        super().__init__()
        self.head = nn.Sequential(_conv(3, n_feats, kernel_size))
        blocks: list[nn.Module] = [ResBlock(n_feats, kernel_size, res_scale) for _ in range(n_resblocks)]
        blocks.append(_conv(n_feats, n_feats, kernel_size))
        self.body = nn.Sequential(*blocks)
        self.out_dim = n_feats
        # LR pixels an output feature can see on each side: head + 2 per block + tail conv.
        self.receptive_radius = (kernel_size // 2) * (2 * n_resblocks + 2)

    def forward(self, x: Tensor) -> Tensor:
        x = self.head(x)
        res = self.body(x)
        res += x
        return res


class _RDBConv(nn.Module):
    def __init__(self, cin: int, growth: int, kernel_size: int = 3) -> None:
        super().__init__()
        self.conv = nn.Sequential(_conv(cin, growth, kernel_size), nn.ReLU())

    def forward(self, x: Tensor) -> Tensor:
        return torch.cat((x, self.conv(x)), 1)


class _RDB(nn.Module):
    def __init__(self, g0: int, growth: int, n_layers: int, kernel_size: int = 3) -> None:
        super().__init__()
        self.convs = nn.Sequential(*[_RDBConv(g0 + c * growth, growth, kernel_size) for c in range(n_layers)])
        self.LFF = nn.Conv2d(g0 + n_layers * growth, g0, 1)  # local feature fusion

    def forward(self, x: Tensor) -> Tensor:
        return self.LFF(self.convs(x)) + x


class RDN(nn.Module):
    """Residual Dense Network (Zhang et al. 2018) feature extractor, no upsampling net."""

    CONFIGS = {"A": (20, 6, 32), "B": (16, 8, 64)}  # (blocks D, layers C, growth G)

    def __init__(self, G0: int = 64, RDNkSize: int = 3, RDNconfig: str = "B") -> None:
        super().__init__()
        if RDNconfig not in self.CONFIGS:
            raise MsitError(f"rdn: RDNconfig must be one of {sorted(self.CONFIGS)}, got {RDNconfig!r}")
        self.D, c, g = self.CONFIGS[RDNconfig]
        self.SFENet1 = _conv(3, G0, RDNkSize)
        self.SFENet2 = _conv(G0, G0, RDNkSize)
        self.RDBs = nn.ModuleList([_RDB(G0, g, c, RDNkSize) for _ in range(self.D)])
        self.GFF = nn.Sequential(nn.Conv2d(self.D * G0, G0, 1), _conv(G0, G0, RDNkSize))  # global fusion
        self.out_dim = G0
        # SFENet1, SFENet2, D blocks of C k x k convs, and the k x k conv of GFF.
        self.receptive_radius = (RDNkSize // 2) * (3 + self.D * c)

    def forward(self, x: Tensor) -> Tensor:
        f1 = self.SFENet1(x)
        x = self.SFENet2(f1)
        outs = []
        for block in self.RDBs:
            x = block(x)
            outs.append(x)
        x = self.GFF(torch.cat(outs, 1))
        return x + f1


def _check_no_upsampling(no_upsampling: bool) -> None:
    if not no_upsampling:
        raise MsitError("encoders here have no upsampling tail: set no_upsampling: true (or drop the key)")


@register("encoder", "edsr-baseline")
def edsr_baseline(n_resblocks: int = 16, n_feats: int = 64, res_scale: float = 1.0, no_upsampling: bool = True) -> EDSRBaseline:
    _check_no_upsampling(no_upsampling)
    return EDSRBaseline(n_resblocks, n_feats, res_scale)


@register("encoder", "rdn")
def rdn(G0: int = 64, RDNkSize: int = 3, RDNconfig: str = "B", no_upsampling: bool = True) -> RDN:
    _check_no_upsampling(no_upsampling)
    return RDN(G0, RDNkSize, RDNconfig)
