r"""MSSA -- Multi-Scale Self-Attention over a local window (paper §III-B(b), Eqs. 7-10;
the official ``MsC`` in ``test_mod.py`` and ``amsit.query_rgb`` in ``models/msit.py``).

For a query point χ̂ʰ (continuous (y, x) in [-1, 1]) MSSA attends over the P = (2r+1)² LR pixels
around the LR pixel that contains it:

* **Q/K map** (official ``MsC``): ``proj_in`` 1×1 → N parallel convs with kernels 3, 5, …, 2N+1
  on N channel chunks (the "projection matrices" of Eq. 9) → ``expand`` 1×1 C → 2C with
  ``groups = C/N`` → BatchNorm → GELU → ``reduce`` 1×1 2C → C. The same map gives Q *and* K.
* **V map**: one 3×3 conv (``v_proj``). Eq. 9 makes V multi-scale too; the code does not
  (``amsit.__init__``: ``conv_vs`` is one 3×3 ``RiM``).
* Q̂ = **bilinear** sample of the Q map at χ̂ʰ (zero padding); K̂_n, V̂_n = **nearest** samples
  at the window centres k_n = (nearest LR centre of χ̂ʰ) + (a·2/h, b·2/w), a, b ∈ −r…r
  (window position n = (a+r)·(2r+1) + (b+r), row-major). Outside-image positions give zeros and
  are *not* masked.
* relative coordinate δ_n = (χ̂ʰ − k_n)·(h, w) (in half LR pixels, Eq. 8's δ(x)), positional
  bias P(δ) = Linear[sin(ω_i δ), cos(ω_i δ)] with ω_i = 2^{t_i} − 1, t = linspace(0, 10, 16)
  (no 2π; per axis), one bias per head.
* per head j: p_{n,j} = softmax_n( Q̂_j·K̂_{n,j} / √(C/heads) + P(δ_n)_j )              (Eq. 7/10)
* **no sum over the window** (``amsit.query_rgb``: ``torch.mul(sample_feat_v, attn)``): the code
  scales every V̂_n by its head's probability and *concatenates* all P of them: the decoder gets ``[p_0 V̂_0 | … | p_{P−1} V̂_{P−1}]`` (P·C values).

The official float32 recipes (window offsets, δ, frequencies) are followed operation by
operation: the positional encoder turns one ulp of δ into ~1e-4 of output, so *how* δ is computed
matters.

:class:`ConvSA` is the conventional self-attention of the Table III ablation (as in CLIT, from
which MSIT's code is derived): separate 3×3 convs for Q, K and V. With the full config it gives
8,431,436 parameters -- the paper's 8.4M (MSSA with plain convs: 8.1M).
"""
from __future__ import annotations

import math
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from msit_lite.coords import make_coord
from msit_lite.errors import MsitError
from msit_lite.models.base import Trace, child, nearest_pixel, record, sample
from msit_lite.models.msno import official_init
from msit_lite.models.registry import make, register

Spec = dict[str, Any] | str


class MultiScaleProjection(nn.Module):
    """MsC: the multi-scale Q (= K) projection of MSSA (Eq. 9, official class ``MsC``)."""

    def __init__(self, channels: int, projections: int = 4, conv: Spec = "rim", expand_ratio: int = 2) -> None:
        super().__init__()
        if projections < 1 or channels % projections:
            raise MsitError(f"MSSA: channels {channels} must be divisible by projections {projections}")
        self.chunk = channels // projections
        hidden = channels * expand_ratio
        self.proj_in = nn.Conv2d(channels, channels, 1)  # official proj0
        self.convs = nn.ModuleList(
            make(conv, "conv", in_channels=self.chunk, out_channels=self.chunk, kernel_size=3 + 2 * i, padding=1 + i)
            for i in range(projections)
        )
        # groups = C/N (channels per chunk), not N: each group mixes N consecutive channels (``MsC.proj1``).
        self.expand = nn.Conv2d(channels, hidden, 1, groups=self.chunk)  # official proj1
        self.bn = nn.BatchNorm2d(hidden)
        self.act = nn.GELU()
        self.reduce = nn.Conv2d(hidden, channels, 1)  # official proj2
        official_init(self)

    def forward(self, z: Tensor, trace: Trace | None = None) -> Tensor:
        x = self.proj_in(z)
        record(trace, "proj_in", x)
        outs = []
        for i, (part, conv) in enumerate(zip(torch.split(x, self.chunk, dim=1), self.convs)):
            out = conv(part)
            record(trace, f"convs.{i}", out)
            outs.append(out)
        x = self.expand(torch.cat(outs, dim=1))
        record(trace, "expand", x)
        x = self.bn(x)
        record(trace, "bn", x)
        return self.reduce(self.act(x))


def sinusoid_frequencies(posenc_scale: float = 10, enc_dims: int = 64) -> Tensor:
    """ω_i = 2^{t_i} − 1 with t = float32 ``linspace(0, S, E/4)``: float32 all the way (``PositionEncoder``)."""
    t = torch.linspace(0, posenc_scale, enc_dims // 4)
    return 2.0**t - 1


class SinusoidalPositionalBias(nn.Module):
    """P(δ) of Eq. 8: sin/cos features of δ at 16 frequencies per axis, then Linear(64 → heads).

    ``b_vals`` [E/2, 2] (rows (ω_i, 0) then (0, ω_i)) and ``a_vals`` (ones) are non-persistent
    buffers, like the official plain attributes; only ``proj`` is in the state dict.
    """

    def __init__(self, heads: int, enc_dims: int = 64, posenc_scale: float = 10) -> None:
        super().__init__()
        if enc_dims % 4:
            raise MsitError(f"positional encoder: enc_dims must be divisible by 4, got {enc_dims}")
        f = sinusoid_frequencies(posenc_scale, enc_dims)
        n = enc_dims // 4
        b_vals = torch.zeros(enc_dims // 2, 2)
        b_vals[:n, 0] = f
        b_vals[n:, 1] = f
        self.register_buffer("b_vals", b_vals, persistent=False)
        self.register_buffer("a_vals", torch.ones(enc_dims // 2), persistent=False)
        self.proj = nn.Linear(enc_dims, heads)

    def forward(self, rel: Tensor, rel_x: Tensor | None = None) -> Any:
        """``forward(rel)`` -> ``(enc, P(δ))`` for δ = ``rel`` ``[..., 2]``; ``forward(rel_y, rel_x)`` -> P(δ) on
        the grid ``δ[..., a, b] = (rel_y[..., a], rel_x[..., b])``, ``[..., A, B, heads]`` (see :meth:`grid`)."""
        if rel_x is not None:
            return self.grid(rel, rel_x)
        arg = torch.matmul(rel, self.b_vals.t())  # [..., E/2]: rel_y·ω_i, then rel_x·ω_i
        # The official code multiplies both halves by ``a_vals`` (ones): x·1 is x to the bit, so
        # that product (two full passes over the largest tensor of the step) is skipped.
        enc = torch.cat([torch.sin(arg), torch.cos(arg)], dim=-1)
        return enc, self.proj(enc)

    def grid(self, rel_y: Tensor, rel_x: Tensor) -> Tensor:
        """P(δ) on the grid ``rel[..., a, b] = (rel_y[..., a], rel_x[..., b])``: ``[..., A, B, heads]``.

        Each frequency row of ``b_vals`` reads one axis, so P(δ) splits into a y part and an x part,
        ``W_y·enc(δ_y) + W_x·enc(δ_x) + b``: for a 7×7 window the sines and cosines are taken 7 + 7
        times per query instead of 49 × 2 (the arguments ``δ·ω`` are the very same float32 numbers;
        only the final sum is associated differently).
        """
        n = self.b_vals.shape[0] // 2
        f_y, f_x = self.b_vals[:n, 0], self.b_vals[n:, 1]
        arg_y, arg_x = rel_y.unsqueeze(-1) * f_y, rel_x.unsqueeze(-1) * f_x
        enc_y = torch.cat([torch.sin(arg_y), torch.cos(arg_y)], dim=-1)  # features 0:n and 2n:3n of enc
        enc_x = torch.cat([torch.sin(arg_x), torch.cos(arg_x)], dim=-1)  # features n:2n and 3n:4n
        w = self.proj.weight
        w_y = torch.cat([w[:, :n], w[:, 2 * n : 3 * n]], dim=1)
        w_x = torch.cat([w[:, n : 2 * n], w[:, 3 * n :]], dim=1)
        p_y = F.linear(enc_y, w_y, self.proj.bias)  # [..., A, heads]
        p_x = F.linear(enc_x, w_x)  # [..., B, heads]
        return p_y.unsqueeze(-2) + p_x.unsqueeze(-3)


class WindowAttention(nn.Module):
    """Shared query side of MSSA and conventional SA: local-window attention with positional bias.

    Subclasses build the maps in :meth:`project` (``"q"``, optional ``"k"`` -- defaults to the Q map
    -- and ``"v"``, all ``[b, C, h, w]``); :meth:`attend` does the per-query part.
    """

    def __init__(self, dim: int, heads: int = 8, radius: int = 3, enc_dims: int = 64, posenc_scale: float = 10) -> None:
        super().__init__()
        if dim % heads:
            raise MsitError(f"attention: dim {dim} must be divisible by heads {heads}")
        self.dim, self.heads, self.radius = dim, heads, radius
        self.window = (2 * radius + 1) ** 2  # P
        self.pos_bias = SinusoidalPositionalBias(heads, enc_dims, posenc_scale)

    @property
    def out_dim(self) -> int:
        """Length of the attention latent code handed to the decoder: P·C."""
        return self.window * self.dim

    def project(self, z: Tensor, trace: Trace | None = None) -> dict[str, Tensor]:
        raise NotImplementedError

    def window_axes(self, h: int, w: int, device: torch.device) -> tuple[Tensor, Tensor]:
        """Window offsets per axis ``[2r+1]``: float32 integers −r…r times the Python floats 2/h, 2/w (as ``amsit.query_rgb``)."""
        r = self.radius
        dh = torch.linspace(-r, r, 2 * r + 1, device=device) * (2 / h)
        dw = torch.linspace(-r, r, 2 * r + 1, device=device) * (2 / w)
        return dh, dw

    def window_offsets(self, h: int, w: int, device: torch.device) -> Tensor:
        """δ-grid [1, 1, P, 2] of the window positions, row-major (the official ``meshgrid``)."""
        dh, dw = self.window_axes(h, w, device)
        return torch.stack(torch.meshgrid(dh, dw, indexing="ij"), dim=-1).view(1, 1, -1, 2)

    def attend(self, feats: dict[str, Tensor], coord: Tensor, trace: Trace | None = None) -> Tensor:
        """Attention latent codes Z^A ``[b, q, P·C]`` for queries ``coord`` ``[b, q, 2]`` inside [-1, 1].

        The window values are *gathered* by integer index rather than sampled with 49 ``nearest``
        ``grid_sample`` calls: the official code's nearest samples at ``centre + a·2/h`` land
        exactly on LR pixel ``centre_index + a`` (zero outside the image), so a gather from the
        zero-padded map returns the very same numbers -- and autograd's backward of a gather is a
        cheap scatter-add, where ``grid_sample``'s backward zero-fills and walks the whole map.
        """
        q_map, v_map = feats["q"], feats["v"]
        k_map = feats.get("k", q_map)
        b, n_q = coord.shape[:2]
        h, w = q_map.shape[-2:]
        u, d, p = self.heads, self.dim // self.heads, self.window
        c = coord.unsqueeze(2)  # [b, q, 1, 2]

        # Nearest LR pixel centre (an exact copy of one make_coord entry), as the official nearest grid_sample.
        row, col = nearest_pixel(coord, h, w)  # [b, q] each
        centre_y = make_coord((h,)).to(coord.device)[row, 0]
        centre_x = make_coord((w,)).to(coord.device)[col, 0]
        record(trace, "gs_coord_k", torch.stack([centre_y, centre_x], dim=1).unsqueeze(-1))  # [b, 2, q, 1]

        gs_q = sample(q_map, c, "bilinear")  # [b, C, q, 1]
        record(trace, "gs_q", gs_q)
        q = gs_q[..., 0].permute(0, 2, 1).reshape(b, n_q, 1, u, d)  # [b, q, 1, u, d]
        index = window_index(row, col, h, w, self.radius)  # [b, q, P]
        k = gather_windows(k_map, index, self.radius)  # [b, q, P, C]
        v = k if v_map is k_map else gather_windows(v_map, index, self.radius)
        record(trace, "gs_k", k.permute(0, 3, 1, 2))
        record(trace, "gs_v", v.permute(0, 3, 1, 2))

        # δ in half-LR-pixel units: subtract, then scale each axis (this order, as the official code). The window
        # centres are k_n = centre + (dh_a, dw_b), so δ_y depends on the row a only, δ_x on b only.
        dh, dw = self.window_axes(h, w, coord.device)
        rel_y = (coord[..., :1] - (centre_y.unsqueeze(-1) + dh)) * float(h)  # [b, q, 2r+1]
        rel_x = (coord[..., 1:] - (centre_x.unsqueeze(-1) + dw)) * float(w)
        pb = self.pos_bias(rel_y, rel_x).reshape(b, n_q, p, u)  # P(δ_n), n = a·(2r+1) + b
        if trace is not None:
            rel = torch.stack(torch.broadcast_tensors(rel_y.unsqueeze(-1), rel_x.unsqueeze(-2)), dim=-1).view(b, n_q, p, 2)
            record(trace, "rel_coord", rel)
            record(trace, "pos_enc", self.pos_bias(rel)[0])
            record(trace, "pos_bias", pb)

        logits = (q * k.view(b, n_q, p, u, d)).sum(-1) / math.sqrt(d)  # [b, q, P, u]
        attn = F.softmax(logits + pb, dim=-2)
        record(trace, "attn_softmax", attn)

        # Scale each window position's V by its head's probability and concatenate (as the official code).
        v = v.view(b, n_q, p, u, d) * attn.unsqueeze(-1)
        return v.reshape(b, n_q, p * self.dim)

def window_index(row: Tensor, col: Tensor, h: int, w: int, radius: int) -> Tensor:
    """Flat indices ``[b, q, P]`` of the (2r+1)² window around (row, col) in the r-padded, flattened maps
    of the whole batch (row-major window order, as :meth:`WindowAttention.window_offsets`)."""
    b = row.shape[0]
    hp, wp = h + 2 * radius, w + 2 * radius
    span = torch.arange(0, 2 * radius + 1, device=row.device)
    offsets = (span.view(-1, 1) * wp + span.view(1, -1)).view(1, 1, -1)  # [1, 1, P]
    base = torch.arange(b, device=row.device).view(b, 1, 1) * (hp * wp)
    return base + (row * wp + col).unsqueeze(-1) + offsets


def gather_windows(fmap: Tensor, index: Tensor, radius: int) -> Tensor:
    """Values of ``fmap`` ``[b, C, h, w]`` at ``index`` (:func:`window_index`): ``[b, q, P, C]``, zeros
    outside the image (the zero padding of the official ``grid_sample``)."""
    rows = F.pad(fmap.permute(0, 2, 3, 1), (0, 0, radius, radius, radius, radius))  # [b, h', w', C]
    return rows.reshape(-1, rows.shape[-1])[index]


@register("attention", "mssa")
class MSSA(WindowAttention):
    """Multi-scale self-attention: MsC for Q (= K), one k×k conv for V (official behaviour)."""

    def __init__(
        self,
        dim: int,
        heads: int = 8,
        radius: int = 3,
        projections: int = 4,
        conv: Spec = "rim",
        v_kernel: int = 3,
        enc_dims: int = 64,
        posenc_scale: float = 10,
    ) -> None:
        super().__init__(dim, heads, radius, enc_dims, posenc_scale)
        self.q_proj = MultiScaleProjection(dim, projections, conv)
        self.v_proj = make(conv, "conv", in_channels=dim, out_channels=dim, kernel_size=v_kernel, padding=v_kernel // 2)
        self.receptive_radius = max(projections, v_kernel // 2)  # Q's largest kernel is 2N+1

    def project(self, z: Tensor, trace: Trace | None = None) -> dict[str, Tensor]:
        q = self.q_proj(z, child(trace, "q_proj"))
        v = self.v_proj(z)
        record(trace, "q", q)
        record(trace, "v", v)
        return {"q": q, "v": v}


@register("attention", "sa")
class ConvSA(WindowAttention):
    """Conventional SA (Table III, "MSSA ✗"): separate 3×3 convs for Q, K and V, as in CLIT."""

    def __init__(
        self,
        dim: int,
        heads: int = 8,
        radius: int = 3,
        conv: Spec = "plain",
        kernel_size: int = 3,
        enc_dims: int = 64,
        posenc_scale: float = 10,
    ) -> None:
        super().__init__(dim, heads, radius, enc_dims, posenc_scale)
        kw = dict(in_channels=dim, out_channels=dim, kernel_size=kernel_size, padding=kernel_size // 2)
        self.q_proj = make(conv, "conv", **kw)
        self.k_proj = make(conv, "conv", **kw)
        self.v_proj = make(conv, "conv", **kw)
        self.receptive_radius = kernel_size // 2

    def project(self, z: Tensor, trace: Trace | None = None) -> dict[str, Tensor]:
        out = {"q": self.q_proj(z), "k": self.k_proj(z), "v": self.v_proj(z)}
        for name, t in out.items():
            record(trace, name, t)
        return out
