r"""Looking at RIM's weight remapping (paper §III-C, Eq. 11; the official ``RiM`` in ``test_mod.py``).

Stage 2 of cumulative training freezes the stage-1 kernels ``W`` and learns

    W' = W + DWConv3x3(W) ⊙ Linear(W)                                        (Eq. 11)

per 2-D kernel. ``Linear`` is a depthwise 1×1 conv: ``Linear(W)_K = a_K·W_K``, the kernel times
its own learned scalar, so the correction ``DWConv3x3(W) ⊙ a·W`` is *quadratic* in W -- it is
largest where the kernel itself is large. :func:`rim_parts` returns the pieces -- ``W``,
``DWConv3x3(W)``, ``Linear(W)``, the scalars ``a``, their product (the correction) and
``W'`` -- as ``[K, k, k]`` stacks; :func:`kernel_spectrum` their mean amplitude spectra (a 3×3
filtering of the kernel acts like a smoothing or sharpening of its frequency response);
:func:`layer_drift` how far every layer moved, ``‖W' − W‖ / ‖W‖``.

:func:`rim_from_stage1` builds the stage-2 network *at the switch* from a stage-1 model, with
either the official fresh maps (``W' ≠ W``: the network starts as a different function) or the
project's default identity start (``linear = 0`` so ``W' = W``; ``msit_lite.training.cumulative``).
A *trained* remap needs a stage-2 checkpoint.
"""
from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any, Literal, Mapping

import numpy as np
import torch
from torch import Tensor, nn

from msit_lite.errors import MsitError
from msit_lite.models import make
from msit_lite.models.rim import RIMConv2d, load_stage1, rim_modules


@dataclass
class RimParts:
    """The pieces of Eq. 11 for one RIM layer, each ``[K, k, k]`` (K = out·in/groups kernels)."""

    name: str
    w: Tensor  # W (frozen stage-1 kernels)
    dwconv: Tensor  # DWConv3x3(W)
    linear: Tensor  # Linear(W) = a·W (ones for RefConv, which has no Linear)
    scale: Tensor  # a: [K], the per-kernel scalars of Linear (ones for RefConv)
    delta: Tensor  # DWConv3x3(W) ⊙ Linear(W) = W' − W
    w_prime: Tensor  # W'

    @property
    def kernel_size(self) -> int:
        return int(self.w.shape[-1])

    @property
    def relative_change(self) -> float:
        """``‖W' − W‖_F / ‖W‖_F`` (0 at an identity start)."""
        norm = float(self.w.norm())
        return float(self.delta.norm()) / norm if norm > 0 else float("nan")


def rim_parts(rim: RIMConv2d, name: str = "") -> RimParts:
    """Split one RIM layer's remap into its factors (no gradient)."""
    if not isinstance(rim, RIMConv2d):
        raise MsitError(f"rim_parts expects a RIM/RefConv layer, got {type(rim).__name__}")
    k, n = rim.kernel_size, rim.num_kernels
    with torch.no_grad():
        w = rim.weight.view(1, n, k, k)
        dw = rim.convmap(w)
        if rim.linear is not None:
            lin, scale = rim.linear(w), rim.linear.weight.reshape(n).clone()
        else:
            lin, scale = torch.ones_like(w), torch.ones(n, dtype=w.dtype)
        delta = dw * lin
    return RimParts(name=name, w=w[0].clone(), dwconv=dw[0], linear=lin[0], scale=scale, delta=delta[0],
                    w_prime=(w + delta)[0])


def all_rim_parts(model: nn.Module) -> list[RimParts]:
    """:func:`rim_parts` of every RIM/RefConv layer of ``model``, in module order."""
    return [rim_parts(m, name) for name, m in rim_modules(model).items()]


@dataclass(frozen=True)
class LayerDrift:
    name: str
    kernel_size: int
    kernels: int
    relative_change: float  # ‖W' − W‖ / ‖W‖


def layer_drift(model: nn.Module) -> list[LayerDrift]:
    """How much each RIM layer's effective kernel moved away from its stage-1 kernel."""
    out = []
    for p in all_rim_parts(model):
        out.append(LayerDrift(p.name, p.kernel_size, int(p.w.shape[0]), p.relative_change))
    if not out:
        raise MsitError("the model has no RIM layers (a stage-1 model: conv: plain)")
    return out


def kernel_spectrum(kernels: Tensor, size: int = 32) -> np.ndarray:
    """Mean amplitude spectrum ``|FFT2|`` of ``[..., k, k]`` kernels, zero-padded to ``size×size``, centred."""
    if kernels.dim() < 2 or kernels.shape[-1] != kernels.shape[-2]:
        raise MsitError(f"kernel_spectrum expects [..., k, k] kernels, got {tuple(kernels.shape)}")
    if size < kernels.shape[-1]:
        raise MsitError(f"spectrum size {size} is smaller than the {kernels.shape[-1]}x{kernels.shape[-1]} kernel")
    k = kernels.detach().double().reshape(-1, *kernels.shape[-2:]).cpu().numpy()
    amp = np.abs(np.fft.fft2(k, s=(size, size))).mean(axis=0)
    return np.fft.fftshift(amp)


def _to_rim_spec(spec: Any) -> Any:
    """The inverse of ``fold_spec``: every ``conv: plain`` becomes ``conv: rim``."""
    if isinstance(spec, Mapping):
        return {k: ("rim" if k == "conv" and v == "plain" else _to_rim_spec(v)) for k, v in spec.items()}
    if isinstance(spec, list):
        return [_to_rim_spec(v) for v in spec]
    return spec


def rim_from_stage1(
    model_spec: Mapping[str, Any],
    stage1: nn.Module | Mapping[str, Tensor],
    rim_init: Literal["official", "identity"] = "official",
    seed: int = 0,
) -> nn.Module:
    """The stage-2 network at the switch: ``model_spec`` with RIM convs, stage-1 weights loaded.

    ``model_spec`` is the stage-1 ``model`` section of a config (``conv: plain`` is turned into
    ``rim``); ``stage1`` a stage-1 model or its state dict. ``rim_init='official'`` keeps the fresh
    ``convmap``/``linear`` (drawn with ``seed``), ``'identity'`` zeroes ``linear`` so that ``W' = W``.
    """
    if rim_init not in ("official", "identity"):
        raise MsitError(f"rim_init must be 'official' or 'identity', got {rim_init!r}")
    state = stage1.state_dict() if isinstance(stage1, nn.Module) else dict(stage1)
    torch.manual_seed(seed)
    model = make(_to_rim_spec(copy.deepcopy(dict(model_spec))), "model")
    if not rim_modules(model):
        raise MsitError("the model spec builds no RIM layers; does it use conv: plain?")
    load_stage1(model, state)
    if rim_init == "identity":
        with torch.no_grad():
            for rim in rim_modules(model).values():
                (rim.linear if rim.linear is not None else rim.convmap).weight.zero_()
    return model.eval()


def show_rim_kernel(parts: RimParts, index: int = 0, axes=None):
    """One kernel, 7 panels: W, DWConv3×3(W), Linear(W) = a·W, their product W′ − W, W′, and the
    amplitude spectra of W and W′. Each kernel panel has its own symmetric colour scale."""
    import matplotlib.pyplot as plt

    if axes is None:
        _, axes = plt.subplots(1, 7, figsize=(13, 2.2))
    i = int(index)
    panels = [(parts.w[i], "W"), (parts.dwconv[i], "DWConv3×3(W)"),
              (parts.linear[i], f"Linear(W) = {float(parts.scale[i]):+.2f}·W"),
              (parts.delta[i], "W′ − W (product)"), (parts.w_prime[i], "W′")]
    for ax, (t, title) in zip(axes, panels):
        lim = max(float(t.abs().max()), 1e-12)
        ax.imshow(t.numpy(), cmap="RdBu_r", vmin=-lim, vmax=lim)
        ax.set_title(title, fontsize=8)
    for ax, t, title in zip(axes[5:], (parts.w[i], parts.w_prime[i]), ("|FFT W|", "|FFT W′|")):
        ax.imshow(kernel_spectrum(t, 16), cmap="viridis")
        ax.set_title(title, fontsize=8)
    for ax in axes:
        ax.set_axis_off()
    return axes


__all__ = [
    "LayerDrift", "RimParts", "all_rim_parts", "kernel_spectrum", "layer_drift", "rim_from_stage1", "rim_parts",
    "show_rim_kernel",
]
