"""A5 -- a Local Attribution Map for a module of your own (paper §IV-C, Fig. 8). Write your code here.

Read notebook ``A5_lam.ipynb`` first. Replace every ``raise NotImplementedError(...)`` and check
your work with ``msit-lite grade A5`` (or the last cell of the notebook).

Keep the public names: the autograder imports them. You may use ``msit_lite.viz.lam.blur`` (the
Gaussian blur), ``Window`` and ``WindowObjective`` (LAM's objective), but write the path, the
path-integrated gradient and the Diffusion Index yourself -- the autograder compares them with
``msit_lite.viz.lam``, and a file that imports or calls its ``blur_path``, ``path_integrated_gradients``,
``lam``, ``heat_map``, ``gini`` or ``diffusion_index`` fails the checks.
"""
from __future__ import annotations

from typing import Callable

import numpy as np
import torch
from torch import Tensor, nn

from msit_lite.models import register
from msit_lite.viz.lam import Window, WindowObjective, blur  # noqa: F401  (allowed helpers)

FEM_NAME = "a5-cross-shift"  # your module, selected in a5_lam.yaml with `fem: a5-cross-shift`


def blur_path(
    img: Tensor, sigma: float = 1.2, steps: int = 8, size: int = 9, blur_fn: Callable[..., Tensor] = blur
) -> tuple[Tensor, Tensor]:
    """LAM's progressive-blur path for one image ``[c, h, w]`` (notebook section 2).

    ``λ(α) = blur_fn(img, σ·(1 − α), size)`` for ``α_i = i / steps``, i = 0 … steps. Return
    ``(points, deltas)``, both ``[steps, c, h, w]``: ``deltas[i] = λ(α_{i+1}) − λ(α_i)`` and
    ``points[i] = λ(α_{i+1})`` (LAM's right-end rule: the gradient of step i is taken at the end of the
    step). ``blur_fn`` defaults to the Gaussian blur; any function with ``blur_fn(img, 0, size) == img``
    gives a path (the grader uses another one).
    """
    raise NotImplementedError("A5: blur_path -- blur with a shrinking sigma, stack, difference (notebook section 2)")


def path_integrated_gradients(objective: Callable[[Tensor], Tensor], points: Tensor, deltas: Tensor) -> Tensor:
    """``A = Σ_i ∇F(points[i]) ⊙ deltas[i]`` -> a tensor shaped like one point (notebook section 3).

    ``objective`` maps a batch ``[b, c, h, w]`` to ``[b]`` (one number per image).
    """
    raise NotImplementedError("A5: path_integrated_gradients -- autograd.grad of F at every point (notebook section 3)")


def attribute(
    model: nn.Module, lr: Tensor, window: Window, scale: float, sigma: float = 1.2, steps: int = 8, size: int = 9,
    blur_fn: Callable[..., Tensor] = blur,
) -> Tensor:
    """LAM of ``model`` for the HR ``window`` of the ``scale``-times output of ``lr`` ``[3, h, w]`` in [0, 1].

    The HR size is ``(round(h·scale), round(w·scale))``; the objective is
    ``WindowObjective(model.eval(), hr_size, window)``; the path is your ``blur_path`` with ``blur_fn``.
    Returns the attribution ``[3, h, w]``.
    """
    raise NotImplementedError("A5: attribute -- objective + your path + your integrated gradient (notebook section 4)")


def diffusion_index(attribution: Tensor) -> float:
    """LAM's Diffusion Index of an attribution ``[c, h, w]`` (notebook section 5).

    heat = |Σ_c A_c| normalised to max 1; DI = (1 − Gini(heat))·100, with
    Gini(v) = Σ_i (2i − n − 1)·v_(i) / (n·Σ v) over the n values sorted ascending (i = 1 … n).
    """
    raise NotImplementedError("A5: diffusion_index -- heat map, Gini coefficient, (1 - Gini)*100 (notebook section 5)")


@register("fem", FEM_NAME)
class CrossShift(nn.Module):
    """Your module: a parameter-free FEM variant (notebook section 6).

    Split the channels into 4 contiguous groups and move the content of group 0 up, group 1 down,
    group 2 left and group 3 right by ``stride`` pixels, with wrap-around (``torch.roll``). It has
    no trainable parameters, so it can replace FEM in a trained model without retraining.
    ``receptive_radius`` must say how far (pixels) an output looks.
    """

    def __init__(self, channels: int, stride: int = 2) -> None:
        super().__init__()
        self.channels, self.stride = channels, int(stride)
        self.receptive_radius = self.stride

    def forward(self, x: Tensor) -> Tensor:
        raise NotImplementedError("A5: CrossShift.forward -- four rolls and a cat (notebook section 6)")
