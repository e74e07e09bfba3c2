"""A7 -- a FEM whose shift stride really learns (paper §III-B(a); notebook 03 §4). Write your code here.

Read notebook ``A7_learnable_stride.ipynb`` first. Replace every ``raise NotImplementedError(...)``
and check your work with ``msit-lite grade A7`` (or the last cell of the notebook).

Keep the public names: the autograder imports them. Write the shifts yourself: a file that imports
or calls the package's FEM (``msit_lite.models.fem``) fails the checks -- the package is the answer
they compare with at integer strides.
"""
from __future__ import annotations

import torch
from torch import Tensor, nn

from msit_lite.models import register

FEM_NAME = "a7-learnable"  # your module, selected in a7_learnable_stride.yaml with `fem: a7-learnable`

# The paper's eight directions, in its order, as the displacement (dy, dx) of the content (y grows
# downwards): "up" moves the content up, out[y, x] = Z[y + 1, x].
DIRECTIONS = {
    "up": (-1, 0), "up-left": (-1, -1), "up-right": (-1, 1), "down": (1, 0),
    "down-left": (1, -1), "down-right": (1, 1), "left": (0, -1), "right": (0, 1),
}


def fractional_roll(x: Tensor, shift: Tensor | float, dim: int) -> Tensor:
    """Move the content of ``x`` by a real number of pixels ``shift`` along ``dim``, with wrap-around.

    For an integer shift this is ``torch.roll(x, shift, dims=dim)`` (shift > 0 moves the content towards
    higher indices). For a fractional shift it interpolates linearly between the two neighbouring
    integer shifts (notebook section 2). ``shift`` may be a 0-dim tensor that requires grad: the result
    must be differentiable with respect to it (notebook section 3).
    """
    raise NotImplementedError("A7: fractional_roll -- two rolls and their interpolation weights (notebook section 2)")


def shift2d(x: Tensor, dy: Tensor | float, dx: Tensor | float) -> Tensor:
    """Move the content of ``x`` ``[..., H, W]`` by ``dy`` rows and ``dx`` columns (bilinear, wrap-around)."""
    raise NotImplementedError("A7: shift2d -- one fractional roll per axis (notebook section 4)")


@register("fem", FEM_NAME)
class LearnableFEM(nn.Module):
    """The paper's FEM with a stride that learns (notebook section 5).

    The channels are split into 8 contiguous groups; group g moves by ``stride · DIRECTIONS[g]`` (in the
    dict's order). ``stride`` is the module's only trainable parameter, a 0-dim tensor starting at the
    constructor's value. ``receptive_radius`` says how far (pixels) an output may look.
    """

    circular_padding = True  # it wraps around: tiled inference must run it on the whole map

    def __init__(self, channels: int, stride: float = 1.0) -> None:
        super().__init__()
        self.channels = channels
        # TODO: the stride as a trainable parameter named `stride`.

    @property
    def receptive_radius(self) -> int:
        raise NotImplementedError("A7: LearnableFEM.receptive_radius (notebook section 5)")

    def forward(self, x: Tensor) -> Tensor:
        raise NotImplementedError("A7: LearnableFEM.forward -- eight groups, eight shifted copies (notebook section 5)")
