r"""MSC feature maps and the scale merge (paper Fig. 7, §IV-C "Effectiveness of MSNO").

The paper shows the output of each parallel convolution of MSC (Eq. 5) and claims that small
kernels keep *detailed texture* while larger kernels keep the *overall shape*; and that SIM
merges the branches without losing the detail that a regular convolution loses. Here we make
those statements measurable on a real image:

* :func:`msc_features` runs ``model.features`` with a :class:`~msit_lite.models.base.Trace` and
  collects FEM's output, every branch ``Conv_{2i+3}(Z'_i)`` and the merge output.
* :func:`frequency_energy` splits a map's energy into low and high spatial frequencies with a
  radial cut in the 2-D FFT (the per-channel mean, i.e. the DC term, is removed first: it carries
  no spatial structure). "More texture" = a larger high-frequency share.
* :func:`fit_linear_merge` fits, by least squares, the 1×1 convolution (with bias) that best
  reproduces SIM's output from the concatenated branches *on this very image*. That is the best a
  plain linear merge could do with these features -- an upper bound for "regular conv" with the
  same features, **not** the paper's retrained ``merge: conv`` model (Table IV "SIM W/O"), whose
  branches would have trained differently.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor, nn

from msit_lite.data.io import to_rgb_tensor
from msit_lite.errors import MsitError
from msit_lite.models.base import Trace


@dataclass
class MscFeatures:
    """Intermediates of MSNO for one image (batch element 0), all ``[c, h, w]`` tensors."""

    fem: Tensor  # Z' = FEM(W_s·Z), the input of MSC
    branches: list[Tensor]  # Conv_{k_i}(Z'_i), one per branch
    kernel_sizes: list[int]
    merged: Tensor  # SIM (or plain conv) output, before the modulation by v
    v: Tensor  # the modulation weights W_Z·Z
    output: Tensor  # Z'' = proj(merged ⊙ v)

    @property
    def concat(self) -> Tensor:
        """The merge input: all branches stacked along channels ``[C, h, w]``."""
        return torch.cat(self.branches, dim=0)


def msc_features(model: nn.Module, lr: Tensor | np.ndarray) -> MscFeatures:
    """Run MSIT's encoder + MSNO on ``lr`` (uint8 ``h×w×3`` or float ``[3, h, w]`` in [0, 1])."""
    if not hasattr(model, "features") or not hasattr(getattr(model, "msno", None), "msc"):
        raise MsitError(f"{type(model).__name__} has no MSNO with multi-scale convolutions (msno: none?)")
    x = to_rgb_tensor(lr).unsqueeze(0)
    trace = Trace()
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            out = model.features((x - 0.5) / 0.5, trace)
    finally:
        model.train(was_training)
    convs = model.msno.msc.convs
    branches = [trace[f"msno.msc.{i}"][0] for i in range(len(convs))]
    sizes = [_kernel_size(c) for c in convs]
    return MscFeatures(fem=trace["msno.fem"][0], branches=branches, kernel_sizes=sizes,
                       merged=trace["msno.merge.reduce"][0], v=trace["msno.v"][0], output=out[0])


def _kernel_size(conv: nn.Module) -> int:
    """``k`` of a k×k conv: ``nn.Conv2d`` stores a tuple, RIM an int."""
    k = conv.kernel_size
    return int(k[0] if isinstance(k, tuple) else k)


def radial_frequency(h: int, w: int) -> np.ndarray:
    """``|f|`` in cycles per pixel of every bin of an ``h×w`` FFT (0 … √2/2)."""
    fy = np.fft.fftfreq(h)[:, None]
    fx = np.fft.fftfreq(w)[None, :]
    return np.sqrt(fy**2 + fx**2)


def frequency_energy(fmap: Tensor | np.ndarray, cutoff: float = 0.25) -> tuple[float, float]:
    """Shares ``(low, high)`` of the spectral energy of ``[c, h, w]`` maps below/above ``cutoff`` cycles/pixel.

    The DC term is removed (per-channel mean); the shares sum to 1 (both 0 for a constant map).
    ``cutoff = 0.25`` is half the Nyquist frequency.
    """
    a = np.asarray(fmap.detach().cpu() if isinstance(fmap, Tensor) else fmap, dtype=np.float64)
    if a.ndim == 2:
        a = a[None]
    if a.ndim != 3:
        raise MsitError(f"frequency_energy expects [c, h, w] maps, got shape {a.shape}")
    if not 0 < cutoff < np.sqrt(0.5):
        raise MsitError(f"cutoff must lie in (0, 0.707) cycles/pixel, got {cutoff}")
    a = a - a.mean(axis=(1, 2), keepdims=True)
    power = (np.abs(np.fft.fft2(a)) ** 2).sum(axis=0)
    r = radial_frequency(*a.shape[1:])
    low, high = power[r <= cutoff].sum(), power[r > cutoff].sum()
    total = low + high
    return (float(low / total), float(high / total)) if total > 0 else (0.0, 0.0)


def radial_profile(fmap: Tensor | np.ndarray, bins: int = 12) -> tuple[np.ndarray, np.ndarray]:
    """Spectral energy share per radial-frequency bin (DC removed): ``(bin centres, shares)``."""
    a = np.asarray(fmap.detach().cpu() if isinstance(fmap, Tensor) else fmap, dtype=np.float64)
    a = a - a.mean(axis=(-2, -1), keepdims=True)
    power = (np.abs(np.fft.fft2(a)) ** 2).reshape(-1, *a.shape[-2:]).sum(axis=0)
    r = radial_frequency(*a.shape[-2:])
    edges = np.linspace(0, np.sqrt(0.5) + 1e-9, bins + 1)
    idx = np.clip(np.digitize(r, edges) - 1, 0, bins - 1)
    energy = np.bincount(idx.ravel(), weights=power.ravel(), minlength=bins)
    total = energy.sum()
    return 0.5 * (edges[1:] + edges[:-1]), energy / total if total > 0 else energy


def feature_image(fmap: Tensor | np.ndarray, low: float = 1.0, high: float = 99.0) -> np.ndarray:
    """One picture of ``[c, h, w]`` maps: per-pixel RMS over channels, stretched to [0, 1] by percentiles.

    Each channel's mean is removed first: biases shift whole channels and would wash the picture
    out without showing any structure.
    """
    a = np.asarray(fmap.detach().cpu() if isinstance(fmap, Tensor) else fmap, dtype=np.float64)
    if a.ndim == 2:
        a = a[None]
    a = a - a.mean(axis=(1, 2), keepdims=True)
    img = np.sqrt((a**2).mean(axis=0))
    lo, hi = np.percentile(img, [low, high])
    return np.clip((img - lo) / (hi - lo), 0, 1) if hi > lo else np.zeros_like(img)


@dataclass
class LinearMerge:
    """A least-squares 1×1 conv ``y ≈ W x + b`` fitted to reproduce a merge output."""

    weight: Tensor  # [C_out, C_in]
    bias: Tensor  # [C_out]
    prediction: Tensor  # [C_out, h, w]
    r2: float  # explained variance of the target (1 = perfect)


def fit_linear_merge(inputs: Tensor, target: Tensor, ridge: float = 1e-6) -> LinearMerge:
    """Fit the 1×1 conv (with bias) mapping ``inputs`` ``[C_in, h, w]`` to ``target`` ``[C_out, h, w]``.

    Ordinary least squares over the h·w pixels (float64, a tiny ridge for rank-deficient inputs).
    """
    if inputs.dim() != 3 or target.dim() != 3 or inputs.shape[1:] != target.shape[1:]:
        raise MsitError(f"fit_linear_merge needs [C, h, w] maps of the same size, got {tuple(inputs.shape)} "
                        f"and {tuple(target.shape)}")
    c_in, h, w = inputs.shape
    x = inputs.detach().double().reshape(c_in, -1).T  # [N, C_in]
    x = torch.cat([x, torch.ones(x.shape[0], 1, dtype=x.dtype)], dim=1)
    y = target.detach().double().reshape(target.shape[0], -1).T  # [N, C_out]
    gram = x.T @ x + ridge * torch.eye(x.shape[1], dtype=x.dtype)
    coef = torch.linalg.solve(gram, x.T @ y)  # [C_in + 1, C_out]
    pred = x @ coef
    resid = ((y - pred) ** 2).sum()
    spread = ((y - y.mean(dim=0)) ** 2).sum()
    r2 = float(1 - resid / spread) if spread > 0 else 1.0
    return LinearMerge(weight=coef[:-1].T.float(), bias=coef[-1].float(),
                       prediction=pred.T.reshape(target.shape).float(), r2=r2)


def show_msc(features: MscFeatures, lr: np.ndarray | None = None, axes=None):
    """Fig. 7 (top row): the input, then one :func:`feature_image` per branch with its high-frequency share."""
    import matplotlib.pyplot as plt

    n = len(features.branches) + (lr is not None)
    if axes is None:
        _, axes = plt.subplots(1, n, figsize=(2.2 * n, 2.4))
    axes = list(np.atleast_1d(axes))
    panels = axes
    if lr is not None:
        axes[0].imshow(lr)
        axes[0].set_title("input", fontsize=9)
        panels = axes[1:]
    for ax, k, fmap in zip(panels, features.kernel_sizes, features.branches):
        ax.imshow(feature_image(fmap), cmap="magma")
        ax.set_title(f"{k}×{k}: high {frequency_energy(fmap)[1]:.0%}", fontsize=9)
    for ax in axes:
        ax.set_axis_off()
    return axes


__all__ = [
    "LinearMerge", "MscFeatures", "feature_image", "fit_linear_merge", "frequency_energy", "msc_features",
    "radial_frequency", "radial_profile", "show_msc",
]
