"""A1 -- the FEM shift kernel (paper §III-B(a), Eqs. 2-3). Write your code in this file.

Read notebook ``A1_fem_shift.ipynb`` first. Replace every ``raise NotImplementedError(...)`` and
check your work with ``msit-lite grade A1`` (or the last cell of the notebook).

Do not rename the three public names below: the autograder imports them. Write the kernel and the
shift yourself: a file that imports or calls the package's FEM (``msit_lite.models.fem``) fails the
checks -- the package is the answer they compare with.
"""
from __future__ import annotations

from typing import Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from msit_lite.models import register

# The eight directions of the paper, in the paper's order. "up" means the *content* moves up:
# out[y, x] = Z[y + m, x]. Eq. 3's kernel [[0,0,0],[1,0,0],[0,0,0]] is "right".
DIRECTIONS = ["up", "up-left", "up-right", "down", "down-left", "down-right", "left", "right"]


def shift_mask(channels: int, directions: Sequence[str] = DIRECTIONS) -> Tensor:
    """The depthwise shift kernel of FEM, shape ``[channels, 1, 3, 3]``.

    Split the channels into 8 contiguous groups of ``channels // 8`` (group g = channels
    ``g*channels//8 ... (g+1)*channels//8 - 1``); every channel of group g gets a 3x3 kernel
    with a single 1 that shifts its content in direction ``directions[g]`` (Eq. 3), zeros elsewhere.
    ``directions`` is a list of the 8 names of ``DIRECTIONS`` in any order (default: the paper's).
    """
    raise NotImplementedError("A1: shift_mask -- build the [C, 1, 3, 3] kernel of Eq. 3 (notebook section 2)")


def fem_shift(z: Tensor, mask: Tensor, stride: int = 1) -> Tensor:
    """Eq. 2: shift every channel of ``z`` ``[B, C, H, W]`` by ``stride`` pixels with wrap-around.

    Apply ``mask`` as a depthwise 3x3 convolution whose taps are ``stride`` pixels apart; what
    leaves the image on one side comes back on the other. The output has the shape of ``z``.
    """
    raise NotImplementedError("A1: fem_shift -- circular padding + a dilated depthwise conv (notebook section 3)")


@register("fem", "student-shift")
class StudentFEM(nn.Module):
    """FEM as a module, selected in a config with ``fem: student-shift`` (see a1_fem_shift.yaml).

    MSNO builds it as ``StudentFEM(channels=C)``. It has no trainable parameters: keep the mask
    in a buffer and the stride ``int(mix_margin)`` as a plain int.
    """

    def __init__(self, channels: int, mix_margin: float = 1.0) -> None:
        super().__init__()
        self.stride = int(mix_margin)
        self.receptive_radius = self.stride  # how far (pixels) an output looks; tiled inference uses it
        # TODO: store the mask of shift_mask(channels) as a buffer named `mask` here (forward uses self.mask).

    def forward(self, x: Tensor) -> Tensor:
        raise NotImplementedError("A1: StudentFEM.forward -- shift x with your mask and stride (notebook section 4)")
