r"""What MSSA attends to (paper §III-B(b), Eqs. 7-10; the official ``amsit.query_rgb``).

For one HR pixel χ MSSA computes, per head j, a softmax over the P = (2r+1)² LR window positions
around the LR pixel that contains χ:

    p_{n,j} = softmax_n( Q̂_j · K̂_{n,j} / √d  +  P(δ_n)_j )                           (Eq. 7/10)

The first term depends on the *content* (Q from the multi-scale projection at χ, K at the window
pixels), the second -- the positional bias -- only on the relative position δ_n (in half-LR-pixel
units) of χ to window pixel n. :func:`attention_at` reads both from a traced query of the chosen
HR pixels (``trace["attn_softmax"]``, ``trace["pos_bias"]``), so the numbers are exactly the
model's. :func:`positional_bias_field` evaluates the bias alone on a dense grid of δ: a picture of
the spatial prior each head has learned, independent of any image.

Note: the official code (``amsit.query_rgb``) does not *sum* the weighted values; every
``p_n V̂_n`` goes to the decoder. The weights still say how strongly each window pixel is passed on.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor, nn

from msit_lite.coords import make_cell, make_coord, target_size
from msit_lite.data.io import to_rgb_tensor
from msit_lite.errors import MsitError
from msit_lite.models.base import Trace


@dataclass
class AttentionView:
    """Attention of ``n`` HR pixels: ``[n, heads, 2r+1, 2r+1]`` maps (window rows/cols = LR offsets −r…r)."""

    pixels: list[tuple[int, int]]  # HR (y, x)
    centres: list[tuple[int, int]]  # the LR pixel (row, col) each window is centred on
    probs: Tensor  # softmax weights of the model
    bias: Tensor  # positional bias P(δ) alone (pre-softmax logits)
    bias_probs: Tensor  # softmax of the bias alone: what the weights would be without content
    radius: int

    @property
    def content_logits(self) -> Tensor:
        """``log p − P(δ)`` up to a per-head constant: the content part ``Q·K/√d`` of the logits."""
        logp = self.probs.clamp_min(1e-30).log()
        return logp - self.bias - (logp - self.bias).mean(dim=(-2, -1), keepdim=True)

    def entropy(self) -> Tensor:
        """Entropy (nats) of each head's distribution ``[n, heads]``; log(P) means uniform."""
        p = self.probs.flatten(-2)
        return -(p * p.clamp_min(1e-30).log()).sum(-1)


def _attention_module(model: nn.Module) -> nn.Module:
    att = getattr(model, "attention", None)
    if att is None or not hasattr(att, "pos_bias") or not hasattr(att, "radius"):
        raise MsitError(f"{type(model).__name__} has no window attention (MSSA/SA); attention maps need an MSIT")
    return att


def attention_at(
    model: nn.Module, lr: Tensor | np.ndarray, pixels: list[tuple[int, int]], *,
    scale: float | None = None, hr_size: tuple[int, int] | None = None,
) -> AttentionView:
    """Attention weights of ``model`` for HR ``pixels`` [(y, x), …] of the ``scale`` (or ``hr_size``) output."""
    att = _attention_module(model)
    x = to_rgb_tensor(lr).unsqueeze(0)
    h, w = x.shape[-2:]
    big_h, big_w = target_size((h, w), scale, hr_size)
    if not pixels:
        raise MsitError("give at least one HR pixel (y, x)")
    for y, xx in pixels:
        if not (0 <= y < big_h and 0 <= xx < big_w):
            raise MsitError(f"HR pixel ({y}, {xx}) lies outside the {big_h}x{big_w} output")
    grid = make_coord((big_h, big_w), flatten=False)
    coord = torch.stack([grid[y, xx] for y, xx in pixels]).unsqueeze(0)
    trace = Trace()
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            feats = model.encode((x - 0.5) / 0.5)
            model.query(feats, coord, make_cell((big_h, big_w), 1), trace)
    finally:
        model.train(was_training)
    side, u = 2 * att.radius + 1, att.heads
    n = len(pixels)

    def grid_of(t: Tensor) -> Tensor:  # [1, q, P, u] -> [q, u, side, side]
        return t[0].permute(0, 2, 1).reshape(n, u, side, side)

    probs, bias = grid_of(trace["attn_softmax"]), grid_of(trace["pos_bias"])
    centre = trace["gs_coord_k"][0, :, :, 0].T  # [q, 2] LR centre coordinates (y, x)
    rows = ((centre[:, 0] + 1) * h / 2 - 0.5).round().long().tolist()
    cols = ((centre[:, 1] + 1) * w / 2 - 0.5).round().long().tolist()
    return AttentionView(pixels=list(pixels), centres=list(zip(rows, cols)), probs=probs, bias=bias,
                         bias_probs=torch.softmax(bias.flatten(-2), dim=-1).view_as(bias), radius=att.radius)


def positional_bias_field(model: nn.Module, samples: int = 61) -> tuple[np.ndarray, Tensor]:
    """The positional bias alone, ``P(δ)_j``, on a ``samples×samples`` grid of δ ∈ [−(2r+1), 2r+1]².

    δ is in the model's units (half LR pixels; window pixel n = (a, b) sits at δ = −2(a, b) from a
    query on the centre pixel's centre). Returns ``(axis values, bias [heads, samples, samples])``.
    """
    att = _attention_module(model)
    extent = 2 * att.radius + 1
    axis = torch.linspace(-extent, extent, samples)
    yy, xx = torch.meshgrid(axis, axis, indexing="ij")
    with torch.no_grad():
        _, bias = att.pos_bias(torch.stack([yy, xx], dim=-1))
    return axis.numpy(), bias.permute(2, 0, 1)


def show_attention(view: AttentionView, lr: Tensor | np.ndarray, index: int = 0, heads: int | None = None, axes=None):
    """The LR neighbourhood of pixel ``index`` and the weights of each head on the 7×7 window."""
    import matplotlib.pyplot as plt

    x = to_rgb_tensor(lr).permute(1, 2, 0).numpy()
    r = view.radius
    cy, cx = view.centres[index]
    n_heads = view.probs.shape[1] if heads is None else heads
    if axes is None:
        _, axes = plt.subplots(1, n_heads + 1, figsize=(1.6 * (n_heads + 1), 1.9))
    pad = np.pad(x, ((r, r), (r, r), (0, 0)), mode="constant")
    axes[0].imshow(pad[cy:cy + 2 * r + 1, cx:cx + 2 * r + 1])
    axes[0].set_title(f"LR ({cy},{cx})", fontsize=8)
    for j, ax in enumerate(axes[1:n_heads + 1]):
        ax.imshow(view.probs[index, j].numpy(), cmap="viridis", vmin=0)
        ax.set_title(f"head {j}", fontsize=8)
    for ax in axes:
        ax.set_axis_off()
    return axes


__all__ = ["AttentionView", "attention_at", "positional_bias_field", "show_attention"]
