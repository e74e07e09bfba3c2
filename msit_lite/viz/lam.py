r"""Local Attribution Maps (LAM, Gu & Dong, CVPR 2021) for arbitrary-scale SR models, and
straight-line Integrated Gradients through captum for comparison (paper Fig. 8, §IV-C).

*Which input pixels does the network use to draw this small HR window?* LAM answers with a
path-integrated gradient:

* **objective** ``F(x)``: the edge strength of the SR output in an HR window,
  ``Σ_{c, y, x ∈ window} sqrt(Δ_y² + Δ_x²)`` with forward differences (:func:`edge_strength`).
  A *textured* window is what an SR network has to invent, so that is what is explained.
* **path** ``λ(α) = blur_{σ(α)}(x)``, ``σ(α) = σ_max·(1 − α)``: from a blurred copy of the LR input
  (α = 0, the *baseline*: no high frequencies) to the input itself (α = 1). Unlike the straight
  line of Integrated Gradients, every point of this path is a natural-looking image, and the
  frequencies come back low to high.
* **attribution** ``A = ∫₀¹ ∇F(λ(α)) ⊙ λ'(α) dα``, approximated with ``n`` steps as
  ``Σ_i ∇F(λ(α̃_i)) ⊙ (λ(α_{i+1}) − λ(α_i))`` -- LAM evaluates the gradient at the right end
  ``α̃_i = α_{i+1}`` (``rule="right"``); ``rule="midpoint"`` is more accurate for the same cost.
  **Completeness**: the increments telescope, ``Σ_i (λ(α_{i+1}) − λ(α_i)) = x − x'``, so
  ``ΣA ≈ F(x) − F(x')`` with an error that vanishes as ``n`` grows (exact for a linear ``F``);
  :class:`LamResult` reports the gap.
* the **heat map** ``|Σ_c A_c|`` (normalised), and the **Diffusion Index**
  ``DI = (1 − Gini(heat))·100``: a large DI means the network draws on many input pixels.

Arbitrary scale makes the objective cheap: instead of up-scaling the whole image we *query only
the window's HR coordinates* (plus one row and column for the forward differences)
-- :class:`WindowSR`. The encoder still runs on the whole LR input, so attributions may reach
anywhere its receptive field (and FEM's wrap-around) allows.

LAM's reference settings: σ_max = 1.2, a 9×9 kernel, 50 steps, 16×16 window. Our default steps
are fewer in quick mode (:func:`default_steps`, ``MSIT_QUICK``). Blurring pads by reflection
(OpenCV's ``filter2D`` default, which LAM uses).
"""
from __future__ import annotations

import copy
import math
from dataclasses import dataclass, field
from typing import Callable, Literal

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from msit_lite.coords import make_cell, make_coord, target_size
from msit_lite.data.io import to_rgb_tensor
from msit_lite.errors import MsitError
from msit_lite.models.base import Identity
from msit_lite.utils import quick_mode

Rule = Literal["left", "right", "midpoint"]

#: LAM's reference blur path: σ_max, kernel size, steps (Gu & Dong 2021).
LAM_SIGMA, LAM_KERNEL, LAM_STEPS = 1.2, 9, 50
#: Steps used in quick mode (notebooks, ``MSIT_QUICK`` on).
QUICK_STEPS = 12


def default_steps() -> int:
    """Path steps: LAM's 50, or :data:`QUICK_STEPS` when :func:`msit_lite.utils.quick_mode` is on."""
    return QUICK_STEPS if quick_mode() else LAM_STEPS


# ----------------------------------------------------------------------------------------------
# The blur path
# ----------------------------------------------------------------------------------------------
def gaussian_kernel(sigma: float, size: int = LAM_KERNEL) -> Tensor:
    """A normalised isotropic Gaussian on a ``size×size`` grid; ``sigma = 0`` gives the identity (a delta)."""
    if size < 1 or size % 2 == 0:
        raise MsitError(f"blur kernel size must be odd and positive, got {size}")
    if sigma < 0 or not math.isfinite(sigma):
        raise MsitError(f"blur sigma must be finite and >= 0, got {sigma}")
    kernel = torch.zeros(size, size, dtype=torch.float64)
    if sigma == 0:
        kernel[size // 2, size // 2] = 1.0
        return kernel
    ax = torch.arange(size, dtype=torch.float64) - size // 2
    yy, xx = torch.meshgrid(ax, ax, indexing="ij")
    kernel = torch.exp(-(yy**2 + xx**2) / (2.0 * sigma**2))
    return kernel / kernel.sum()


def blur(img: Tensor, sigma: float, size: int = LAM_KERNEL) -> Tensor:
    """Gaussian blur of ``[b, c, h, w]`` (or ``[c, h, w]``), per channel, reflection padding."""
    x = img if img.dim() == 4 else img.unsqueeze(0)
    c, h, w = x.shape[1:]
    if min(h, w) <= size // 2:
        raise MsitError(f"image {h}x{w} is too small for a {size}x{size} blur kernel")
    k = gaussian_kernel(sigma, size).to(x).expand(c, 1, size, size)
    out = F.conv2d(F.pad(x, [size // 2] * 4, mode="reflect"), k, groups=c)
    return out if img.dim() == 4 else out[0]


def blur_path(
    img: Tensor, sigma: float = LAM_SIGMA, steps: int | None = None, size: int = LAM_KERNEL, rule: Rule = "right"
) -> tuple[Tensor, Tensor]:
    """Points and increments of the progressive-blur path for ``img`` ``[c, h, w]``.

    Returns ``(points, deltas)``, both ``[n, c, h, w]``: ``deltas[i] = λ(α_{i+1}) − λ(α_i)`` with
    ``α_i = i/n``, and ``points[i]`` where the gradient of step ``i`` is taken (``rule``).
    ``deltas`` sum to ``img − blur(img, sigma)`` (up to float rounding).
    """
    if img.dim() != 3:
        raise MsitError(f"blur_path expects one image [c, h, w], got shape {tuple(img.shape)}")
    n = default_steps() if steps is None else int(steps)
    if n < 1:
        raise MsitError(f"path steps must be >= 1, got {n}")
    if rule not in ("left", "right", "midpoint"):
        raise MsitError(f"rule must be 'left', 'right' or 'midpoint', got {rule!r}")
    alphas = [i / n for i in range(n + 1)]
    ends = torch.stack([blur(img, sigma * (1 - a), size) for a in alphas])  # λ(α_0) … λ(α_n)
    deltas = ends[1:] - ends[:-1]
    if rule == "right":
        points = ends[1:]
    elif rule == "left":
        points = ends[:-1]
    else:
        points = torch.stack([blur(img, sigma * (1 - (a + 0.5 / n)), size) for a in alphas[:-1]])
    return points, deltas


def path_integrated_gradients(
    objective: Callable[[Tensor], Tensor], points: Tensor, deltas: Tensor, batch_size: int = 8
) -> Tensor:
    """``Σ_i ∇F(points_i) ⊙ deltas_i`` for a batched scalar objective ``F: [b, ...] -> [b]``.

    Works for any path (blur, straight line, ...): the path only enters through its points and
    increments. Returns a tensor shaped like one point.
    """
    if points.shape != deltas.shape:
        raise MsitError(f"points {tuple(points.shape)} and deltas {tuple(deltas.shape)} differ in shape")
    total = torch.zeros_like(points[0])
    with torch.enable_grad():
        for start in range(0, points.shape[0], max(1, batch_size)):
            p = points[start:start + batch_size].detach().clone().requires_grad_(True)
            value = objective(p)
            if value.dim() != 1 or value.shape[0] != p.shape[0]:
                raise MsitError(f"the objective must return one number per path point, got shape {tuple(value.shape)}")
            (grad,) = torch.autograd.grad(value.sum(), p)
            total += (grad * deltas[start:start + batch_size]).sum(dim=0)
    return total.detach()


# ----------------------------------------------------------------------------------------------
# The objective: edge strength of an HR window, queried from an arbitrary-scale model
# ----------------------------------------------------------------------------------------------
def edge_strength(patch: Tensor, eps: float = 1e-8) -> Tensor:
    """LAM's objective on ``[b, c, n+1, n+1]`` patches: ``Σ sqrt(Δ_y² + Δ_x² + eps)`` over c and n×n -> ``[b]``.

    Forward differences per channel (LAM's ``attr_grad``); ``eps`` keeps the gradient finite on
    flat patches.
    """
    if patch.dim() != 4 or patch.shape[-1] < 2 or patch.shape[-2] < 2:
        raise MsitError(f"edge_strength expects [b, c, n+1, n+1] patches, got {tuple(patch.shape)}")
    dy = patch[:, :, 1:, :-1] - patch[:, :, :-1, :-1]
    dx = patch[:, :, :-1, 1:] - patch[:, :, :-1, :-1]
    return torch.sqrt(dy**2 + dx**2 + eps).sum(dim=(1, 2, 3))


@dataclass(frozen=True)
class Window:
    """An HR window: ``size×size`` pixels with top-left corner ``(top, left)`` in an ``H×W`` output."""

    top: int
    left: int
    size: int = 16

    def check(self, hr_size: tuple[int, int]) -> None:
        big_h, big_w = hr_size
        if self.size < 1 or self.top < 0 or self.left < 0:
            raise MsitError(f"window {self} must have size >= 1 and a non-negative corner")
        if self.top + self.size + 1 > big_h or self.left + self.size + 1 > big_w:
            raise MsitError(f"window {self} (+1 pixel for the differences) leaves the {big_h}x{big_w} output; "
                            f"choose top <= {big_h - self.size - 1} and left <= {big_w - self.size - 1}")

    def to_lr(self, hr_size: tuple[int, int], lr_size: tuple[int, int]) -> tuple[float, float, float, float]:
        """The window in LR pixel units: ``(top, left, height, width)`` (for drawing on the input)."""
        sy, sx = lr_size[0] / hr_size[0], lr_size[1] / hr_size[1]
        return self.top * sy, self.left * sx, self.size * sy, self.size * sx


class WindowSR(nn.Module):
    """``x`` in [0, 1] ``[b, 3, h, w]`` -> the SR output on one HR window (+1 row/column), in [0, 1] units.

    Only the ``(size+1)²`` HR coordinates of the window are queried -- the arbitrary-scale model
    never renders the rest of the image. The output is de-normalised (``·0.5 + 0.5``) but not
    clamped, so gradients flow everywhere.
    """

    def __init__(self, model: nn.Module, hr_size: tuple[int, int], window: Window) -> None:
        super().__init__()
        window.check(hr_size)
        self.model, self.hr_size, self.window = model, (int(hr_size[0]), int(hr_size[1])), window
        n = window.size + 1
        grid = make_coord(self.hr_size, flatten=False)
        coord = grid[window.top:window.top + n, window.left:window.left + n].reshape(-1, 2)
        self.register_buffer("coord", coord, persistent=False)
        self.register_buffer("cell", make_cell(self.hr_size, 1), persistent=False)

    def forward(self, x: Tensor) -> Tensor:
        b, n = x.shape[0], self.window.size + 1
        feats = self.model.encode((x - 0.5) / 0.5)
        coord = self.coord.unsqueeze(0).expand(b, -1, -1)
        rgb = self.model.query(feats, coord, self.cell.expand(b, 2))
        return (rgb * 0.5 + 0.5).permute(0, 2, 1).reshape(b, 3, n, n)


class WindowObjective(nn.Module):
    """LAM's scalar objective: ``edge_strength(WindowSR(x))`` -> ``[b]`` (a captum ``forward_func``)."""

    def __init__(self, model: nn.Module, hr_size: tuple[int, int], window: Window) -> None:
        super().__init__()
        self.sr = WindowSR(model, hr_size, window)

    def forward(self, x: Tensor) -> Tensor:
        return edge_strength(self.sr(x))


# ----------------------------------------------------------------------------------------------
# Heat maps and the Diffusion Index
# ----------------------------------------------------------------------------------------------
def heat_map(attribution: Tensor) -> np.ndarray:
    """``|Σ_c A_c|`` normalised to max 1 (LAM's ``grad_abs_norm``) -> ``[h, w]`` float64 array."""
    heat = attribution.detach().double().sum(dim=0).abs().cpu().numpy()
    peak = heat.max()
    return heat / peak if peak > 0 else heat


def gini(values: np.ndarray | Tensor) -> float:
    """Gini coefficient of non-negative values: 0 when all are equal, (n−1)/n for a single spike."""
    v = np.sort(np.abs(np.asarray(values, dtype=np.float64)).ravel())
    n, total = v.size, v.sum()
    if n == 0 or total == 0:
        return 0.0
    index = np.arange(1, n + 1)
    return float(np.sum((2 * index - n - 1) * v) / (n * total))


def diffusion_index(heat: np.ndarray | Tensor) -> float:
    """LAM's Diffusion Index ``(1 − Gini)·100``: how widely the attribution spreads (0…100)."""
    return (1.0 - gini(heat)) * 100.0


# ----------------------------------------------------------------------------------------------
# LAM and captum's Integrated Gradients
# ----------------------------------------------------------------------------------------------
@dataclass
class LamResult:
    """Attribution of one HR window; ``gap = ΣA − (F(x) − F(x'))`` is the completeness error."""

    attribution: Tensor  # [3, h, w]
    heat: np.ndarray  # [h, w], max 1
    objective: float  # F(x)
    objective_baseline: float  # F(x'), x' = blurred input (LAM) / the IG baseline
    window: Window
    hr_size: tuple[int, int]
    steps: int
    method: str
    sr_window: np.ndarray = field(repr=False)  # HR window of the SR output, [size, size, 3] in [0, 1]

    @property
    def gap(self) -> float:
        return float(self.attribution.double().sum()) - (self.objective - self.objective_baseline)

    @property
    def relative_gap(self) -> float:
        """``|gap| / |F(x) − F(x')|`` -- the completeness error relative to what is explained."""
        change = abs(self.objective - self.objective_baseline)
        return abs(self.gap) / change if change > 0 else float("inf")

    @property
    def gini(self) -> float:
        return gini(self.heat)

    @property
    def diffusion_index(self) -> float:
        return diffusion_index(self.heat)


def _eval_copy(model: nn.Module) -> nn.Module:
    """An eval-mode view of ``model``: BatchNorm must use running statistics for per-image gradients."""
    if model.training:
        model = copy.deepcopy(model).eval()
    return model


def _finish(
    objective: WindowObjective, x: Tensor, baseline: Tensor, attr: Tensor, steps: int, method: str
) -> LamResult:
    with torch.no_grad():
        f_x = objective(x.unsqueeze(0))
        f_b = objective(baseline.unsqueeze(0))
        n = objective.sr.window.size
        patch = objective.sr(x.unsqueeze(0))[0, :, :n, :n].clamp(0, 1).permute(1, 2, 0).cpu().numpy()
    return LamResult(attribution=attr, heat=heat_map(attr), objective=float(f_x), objective_baseline=float(f_b),
                     window=objective.sr.window, hr_size=objective.sr.hr_size, steps=steps, method=method,
                     sr_window=patch)


def lam(
    model: nn.Module,
    lr: Tensor | np.ndarray,
    window: Window,
    *,
    scale: float | None = None,
    hr_size: tuple[int, int] | None = None,
    sigma: float = LAM_SIGMA,
    steps: int | None = None,
    kernel_size: int = LAM_KERNEL,
    rule: Rule = "right",
    batch_size: int = 8,
) -> LamResult:
    """LAM of ``model`` for an HR ``window`` of the ``scale``-times (or ``hr_size``) output of ``lr``.

    ``lr``: uint8 ``h×w×3`` or float ``[3, h, w]`` in [0, 1]. ``steps`` defaults to
    :func:`default_steps`. ``rule="right"`` is LAM's discretisation.
    """
    x = to_rgb_tensor(lr)
    size = target_size(tuple(x.shape[-2:]), scale, hr_size)
    objective = WindowObjective(_eval_copy(model), size, window)
    points, deltas = blur_path(x, sigma, steps, kernel_size, rule)
    attr = path_integrated_gradients(objective, points, deltas, batch_size)
    return _finish(objective, x, blur(x, sigma, kernel_size), attr, points.shape[0], f"LAM blur path ({rule})")


def integrated_gradients(
    model: nn.Module,
    lr: Tensor | np.ndarray,
    window: Window,
    *,
    scale: float | None = None,
    hr_size: tuple[int, int] | None = None,
    sigma: float = LAM_SIGMA,
    steps: int | None = None,
    kernel_size: int = LAM_KERNEL,
    method: str = "riemann_trapezoid",
    batch_size: int = 8,
) -> tuple[LamResult, float]:
    """Straight-line Integrated Gradients (captum) from the same blurred baseline, same objective.

    Returns ``(result, delta)`` where ``delta`` is captum's convergence delta
    ``ΣA − (F(x) − F(x'))`` (equal to ``result.gap`` up to rounding).
    """
    from captum.attr import IntegratedGradients

    x = to_rgb_tensor(lr)
    size = target_size(tuple(x.shape[-2:]), scale, hr_size)
    objective = WindowObjective(_eval_copy(model), size, window)
    baseline = blur(x, sigma, kernel_size)
    n = default_steps() if steps is None else int(steps)
    ig = IntegratedGradients(objective)
    with torch.enable_grad():
        attr, delta = ig.attribute(x.unsqueeze(0), baselines=baseline.unsqueeze(0), n_steps=n, method=method,
                                   internal_batch_size=batch_size, return_convergence_delta=True)
    return _finish(objective, x, baseline, attr[0].detach(), n, f"IG straight line ({method})"), float(delta.sum())


# ----------------------------------------------------------------------------------------------
# The FEM ablation with fixed weights
# ----------------------------------------------------------------------------------------------
def without_fem(model: nn.Module) -> nn.Module:
    """A copy of an MSIT with FEM's shifts removed and **every weight unchanged**.

    This is *not* the paper's "FEM W/O" model (Table IV retrains without FEM); it shows what the
    trained network does when the shifts are taken away -- which input pixels it then cannot reach.
    """
    msno = getattr(model, "msno", None)
    if msno is None or not hasattr(msno, "fem"):
        raise MsitError(f"{type(model).__name__} has no MSNO with a FEM to remove")
    clone = copy.deepcopy(model)
    clone.msno.fem = Identity()
    return clone.eval()


# ----------------------------------------------------------------------------------------------
# Pictures
# ----------------------------------------------------------------------------------------------
def show_lam(result: LamResult, lr: Tensor | np.ndarray, ax=None, title: str | None = None, alpha: float = 0.95,
             gamma: float = 0.4):
    """Draw the LR input (grey), the heat map in red on top (LAM's style) and the window as a rectangle.

    The opacity is ``alpha·heat**gamma``: attributions are heavy-tailed (a DI of a few percent), and
    ``gamma < 1`` keeps the faint context visible next to the bright core.
    """
    import matplotlib.pyplot as plt
    from matplotlib.patches import Rectangle

    x = to_rgb_tensor(lr).permute(1, 2, 0).numpy()
    ax = ax if ax is not None else plt.gca()
    grey = x.mean(axis=2, keepdims=True).repeat(3, axis=2)
    ax.imshow(0.25 + 0.5 * grey)
    rgba = np.zeros(result.heat.shape + (4,))
    rgba[..., 0] = 1.0
    rgba[..., 3] = np.clip(alpha * result.heat**gamma, 0, 1)
    ax.imshow(rgba)
    top, left, hh, ww = result.window.to_lr(result.hr_size, x.shape[:2])
    ax.add_patch(Rectangle((left - 0.5, top - 0.5), ww, hh, fill=False, edgecolor="red", linewidth=1.5))
    ax.set_title(title if title is not None else f"{result.method}\nDI {result.diffusion_index:.1f}", fontsize=9)
    ax.set_axis_off()
    return ax


def show_heat_zoom(result: LamResult, ax, margin: int = 8, floor: float = 1e-3, title: str | None = None):
    """The heat map around the window on a log scale (``log10 max(heat, floor)``): the faint context
    that a linear colour scale hides. ``margin`` LR pixels on each side of the window."""
    from matplotlib.patches import Rectangle

    h, w = result.heat.shape
    top, left, hh, ww = result.window.to_lr(result.hr_size, (h, w))
    y0, x0 = max(int(top) - margin, 0), max(int(left) - margin, 0)
    y1, x1 = min(int(np.ceil(top + hh)) + margin, h), min(int(np.ceil(left + ww)) + margin, w)
    ax.imshow(np.log10(np.maximum(result.heat[y0:y1, x0:x1], floor)), cmap="inferno", vmin=np.log10(floor), vmax=0)
    ax.add_patch(Rectangle((left - x0 - 0.5, top - y0 - 0.5), ww, hh, fill=False, edgecolor="cyan", linewidth=1))
    ax.set_title(title if title is not None else f"log10 heat, DI {result.diffusion_index:.1f}", fontsize=9)
    ax.set_axis_off()
    return ax


def show_captum(result: LamResult, lr: Tensor | np.ndarray, ax, title: str | None = None):
    """The same attribution drawn by ``captum.attr.visualization.visualize_image_attr`` (blended heat map)."""
    from captum.attr import visualization

    x = to_rgb_tensor(lr).permute(1, 2, 0).numpy()
    attr = result.attribution.permute(1, 2, 0).numpy()
    visualization.visualize_image_attr(attr, x, method="blended_heat_map", sign="absolute_value",
                                       plt_fig_axis=(ax.figure, ax), use_pyplot=False, alpha_overlay=0.6,
                                       title=title if title is not None else result.method)
    return ax


__all__ = [
    "LAM_KERNEL", "LAM_SIGMA", "LAM_STEPS", "LamResult", "QUICK_STEPS", "Window", "WindowObjective", "WindowSR",
    "blur", "blur_path", "default_steps", "diffusion_index", "edge_strength", "gaussian_kernel", "gini",
    "heat_map", "integrated_gradients", "lam", "path_integrated_gradients", "show_captum", "show_heat_zoom", "show_lam",
    "without_fem",
]
