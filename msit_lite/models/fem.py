r"""FEM -- Feature Enhancement Module (paper §III-B(a), Eqs. 2-3; the official ``LEM`` in ``test_mod.py``).

FEM enriches the latent code Z with *no parameters* by shifting channels spatially (with
wrap-around, Eq. 2). A shift is a 3×3 depthwise convolution whose kernel has a single 1 (Eq. 3:
``[[0,0,0],[1,0,0],[0,0,0]]`` moves the content right). With a dilation of ``m`` the same kernel
shifts by ``m`` pixels, and circular padding by ``m`` implements the wrap-around:

    out[c, y, x] = Σ_{a,b∈{0,1,2}} mask[c,0,a,b] · Z[c, (y + (a−1)·m) mod h, (x + (b−1)·m) mod w]

Two channel-to-direction assignments are available:

* ``official`` (the released code, what every official checkpoint was trained with): directions
  by channel index **modulo 4/8** (interleaved), and channels ≡ 4…7 (mod 8) get *two* taps --
  an axial and a diagonal one, because the constructor sets the diagonal taps without clearing
  the axial ones. Those channels output the *sum* of two shifted copies, not a shift
  (``LEM.__init__`` sets the taps, it does not add them). ``mask_margin`` reproduces the constructor argument, which the official
  code uses as a kernel *index* (only right for 1; golden ``lem_m2`` covers 2).
* ``paper``: 8 **contiguous** channel groups (C/8 channels each), one pure shift each, in the
  order the paper lists them: up, up-left, up-right, down, down-left, down-right, left, right
  ("up" = the content moves up: ``out[y, x] = Z[y + m, x]``; "right" is Eq. 3).

The stride ``m``: the paper calls it learnable; in the code ``int(mix_margin)`` leaves the
autograd graph, so it never receives a gradient and stays at its initial value (``LEM.forward``). Here
``mix_margin`` is a (non-trainable) buffer in the state dict, read with ``int()`` at every
forward exactly like the official code. The mask is rebuilt by the constructor and not stored
(a non-persistent buffer); the checkpoint converter verifies that an official mask equals it.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from msit_lite.errors import MsitError
from msit_lite.models.base import Identity
from msit_lite.models.registry import register

# (a, b) tap of the paper's eight pure shifts, in the paper's order (a = row, b = column).
PAPER_DIRECTIONS: list[tuple[str, tuple[int, int]]] = [
    ("up", (2, 1)),
    ("up-left", (2, 2)),
    ("up-right", (2, 0)),
    ("down", (0, 1)),
    ("down-left", (0, 2)),
    ("down-right", (0, 0)),
    ("left", (1, 2)),
    ("right", (1, 0)),
]


def official_mask(channels: int, mask_margin: int = 1) -> Tensor:
    """The official ``LEM`` mask [C, 1, 3, 3], built in the constructor's order (taps *set*, not added)."""
    if channels % 8:
        raise MsitError(f"FEM needs a channel count divisible by 8, got {channels}")
    if mask_margin not in (0, 1, 2):
        raise MsitError(f"FEM mask_margin must be 0, 1 or 2 (a 3x3 kernel index), got {mask_margin}")
    m0 = mask_margin
    mask = torch.zeros(channels, 1, 3, 3)
    mask[3::4, 0, 0, m0] = 1.0
    mask[2::4, 0, 2, m0] = 1.0
    mask[1::4, 0, m0, 0] = 1.0
    mask[0::4, 0, m0, 2] = 1.0
    mask[4::8, 0, 0, 2] = 1.0
    mask[5::8, 0, 2, 0] = 1.0
    mask[6::8, 0, 2, 2] = 1.0
    mask[7::8, 0, 0, 0] = 1.0
    return mask


def paper_mask(channels: int) -> Tensor:
    """The paper's reading: 8 contiguous groups, one pure shift each (:data:`PAPER_DIRECTIONS`)."""
    if channels % 8:
        raise MsitError(f"FEM needs a channel count divisible by 8, got {channels}")
    mask = torch.zeros(channels, 1, 3, 3)
    part = channels // 8
    for g, (_, (a, b)) in enumerate(PAPER_DIRECTIONS):
        mask[g * part : (g + 1) * part, 0, a, b] = 1.0
    return mask


class FEM(nn.Module):
    """Parameter-free spatial shifting: circular pad by m, depthwise 3×3 conv with ``mask``, dilation m.

    It wraps around the whole map it is given (row 0 reads row h−1), which it declares with
    ``circular_padding``: tiled inference runs it on the whole map instead of per tile.
    """

    circular_padding = True

    def __init__(self, channels: int, mix_margin: float = 1.0, mode: str = "official", mask_margin: int = 1) -> None:
        super().__init__()
        if mode == "official":
            mask = official_mask(channels, mask_margin)
        elif mode == "paper":
            mask = paper_mask(channels)
        else:
            raise MsitError(f"FEM mode must be 'official' or 'paper', got {mode!r}")
        self.channels, self.mode = channels, mode
        self.register_buffer("mask", mask, persistent=False)
        # The shift stride: a 0-dim float like the official nn.Parameter, but never trained (it never gets a gradient).
        self.register_buffer("mix_margin", torch.tensor(float(mix_margin)))

    @property
    def stride(self) -> int:
        """The shift in pixels actually used: ``int(mix_margin)`` (truncation, as in the code)."""
        return int(self.mix_margin.item())

    @property
    def receptive_radius(self) -> int:
        return self.stride

    def forward(self, x: Tensor) -> Tensor:
        m = self.stride
        if m < 1:
            raise MsitError(f"FEM shift stride int(mix_margin) must be >= 1, got {m}")
        if x.dim() != 4 or x.shape[1] != self.channels:
            raise MsitError(f"FEM built for {self.channels} channels got a tensor of shape {tuple(x.shape)}")
        if m > min(x.shape[-2:]):
            raise MsitError(f"FEM shift stride {m} exceeds the {x.shape[-2]}x{x.shape[-1]} feature map (circular padding)")
        x = F.pad(x, (m, m, m, m), mode="circular")
        return F.conv2d(x, self.mask, None, stride=1, padding=0, dilation=m, groups=self.channels)

    def extra_repr(self) -> str:
        return f"{self.channels}, mode={self.mode!r}, stride={self.stride}"


@register("fem", "official")
def fem_official(channels: int, mix_margin: float = 1.0, mask_margin: int = 1) -> FEM:
    return FEM(channels, mix_margin=mix_margin, mode="official", mask_margin=mask_margin)


@register("fem", "paper")
def fem_paper(channels: int, mix_margin: float = 1.0) -> FEM:
    return FEM(channels, mix_margin=mix_margin, mode="paper")


@register("fem", "none")
def fem_none(channels: int, **_: object) -> nn.Module:
    """Table IV "FEM W/O": no shifting at all."""
    return Identity()
