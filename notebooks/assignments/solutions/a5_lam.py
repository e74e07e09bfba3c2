# SOLUTION -- reference solution of assignment A5 (instructors only; never hand this file out).
"""A5 -- a Local Attribution Map for a module of your own (paper §IV-C, Fig. 8), reference solution.

Same public names as ``student/a5_lam.py``.
"""
from __future__ import annotations

from typing import Callable

import numpy as np
import torch
from torch import Tensor, nn

from msit_lite.models import register
from msit_lite.viz.lam import Window, WindowObjective, blur

FEM_NAME = "a5-cross-shift"


def blur_path(
    img: Tensor, sigma: float = 1.2, steps: int = 8, size: int = 9, blur_fn: Callable[..., Tensor] = blur
) -> tuple[Tensor, Tensor]:
    alphas = [i / steps for i in range(steps + 1)]
    ends = torch.stack([blur_fn(img, sigma * (1 - a), size) for a in alphas])  # λ(α_0) ... λ(α_n)
    return ends[1:], ends[1:] - ends[:-1]


def path_integrated_gradients(objective: Callable[[Tensor], Tensor], points: Tensor, deltas: Tensor) -> Tensor:
    p = points.detach().clone().requires_grad_(True)
    with torch.enable_grad():
        (grad,) = torch.autograd.grad(objective(p).sum(), p)
    return (grad * deltas).sum(dim=0).detach()


def attribute(
    model: nn.Module, lr: Tensor, window: Window, scale: float, sigma: float = 1.2, steps: int = 8, size: int = 9,
    blur_fn: Callable[..., Tensor] = blur,
) -> Tensor:
    hr = (round(lr.shape[-2] * scale), round(lr.shape[-1] * scale))
    objective = WindowObjective(model.eval(), hr, window)
    points, deltas = blur_path(lr, sigma, steps, size, blur_fn)
    return path_integrated_gradients(objective, points, deltas)


def diffusion_index(attribution: Tensor) -> float:
    heat = attribution.detach().double().sum(dim=0).abs().flatten().numpy()
    if heat.max() > 0:
        heat = heat / heat.max()
    v = np.sort(heat)
    n, total = v.size, v.sum()
    if total == 0:
        return 100.0
    gini = float(np.sum((2 * np.arange(1, n + 1) - n - 1) * v) / (n * total))
    return (1.0 - gini) * 100.0


@register("fem", FEM_NAME)
class CrossShift(nn.Module):
    """Four contiguous channel groups shifted up, down, left, right by ``stride`` pixels (wrap-around)."""

    def __init__(self, channels: int, stride: int = 2) -> None:
        super().__init__()
        if channels % 4:
            raise ValueError(f"CrossShift needs a channel count divisible by 4, got {channels}")
        self.channels, self.stride = channels, int(stride)
        self.receptive_radius = self.stride

    def forward(self, x: Tensor) -> Tensor:
        s, q = self.stride, self.channels // 4
        up, down, left, right = x.split(q, dim=1)
        return torch.cat([up.roll(-s, dims=2), down.roll(s, dims=2), left.roll(-s, dims=3), right.roll(s, dims=3)], 1)
