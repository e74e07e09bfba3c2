r"""MSIT on a full HR grid: the same outputs as :meth:`MSIT.query`, several times cheaper (:meth:`MSIT.query_grid`).

Where the time goes. Per HR query the straightforward decoder gathers the P = (2r+1)² = 49 window
values V_n ∈ R^C (C = 256), scales each by its head's probability and feeds the *concatenation*
(P·C + 2 = 12,546 numbers: the official ``amsit.query_rgb`` never sums over the window) to the MLP.
Its first layer,

    y₁ = W₁ · [p_{0,·}⊙V_0 | … | p_{P−1,·}⊙V_{P−1} | cell] + b₁,      W₁ ∈ R^{256 × 12546},

is ~3.2 M multiply-adds per query -- about 90 % of all the work at ×4, growing with the scale².

**The re-association.** Split W₁ into one block W₁_{n,j} ∈ R^{256×d} per window position n and
head j (d = C/heads), and let V_{n,j} be head j's channels of V_n. Then, exactly,

    y₁ = Σ_n Σ_j p_{n,j} · (W₁_{n,j} V_{n,j})  +  W₁_cell·cell + b₁.

``G[n, j] = W₁_{n,j} V_{n,j}`` depends only on the *window*, not on the query: every HR query
whose nearest LR pixel (the window centre) is the same shares all 49 window values, hence the
same ``G`` ([P·heads, 256] = [392, 256]). So we compute ``G`` once per LR centre pixel (3.2 M
multiply-adds, like one query used to cost) and then each query only needs ``y₁ = p · G`` -- a
[1, 392] × [392, 256] product (0.1 M). The ~s² queries of one centre are batched into one small
matrix product. Window positions outside the image have V = K = 0 (zero padding, *not* masked, as
in the official code): their ``G`` is 0 and their logit is 0 + bias, as before.

**Separable geometry.** On a regular HR grid the nearest LR row depends only on the HR row and
the nearest LR column only on the HR column, so the queries of one centre form a (rows × cols)
block, and the relative coordinates split too: ``rel_y`` depends on the HR row and the window
row offset only. The positional encoding is sin/cos of ``rel_y·ω`` for half of its features and
of ``rel_x·ω`` for the other half, so ``P(δ) = Wy·enc(rel_y) + Wx·enc(rel_x) + b``: the sin/cos
are computed once per HR row and once per HR column instead of 49 × 64 times per query. ``rel``
itself is computed with the very float32 operations of the reference (subtract, then scale: one
ulp of ``rel`` moves the output by ~1e-4), the centres with the same ``grid_sample`` kernel.

**What is not materialised.** No [queries × 49 × 256] tensor for K or V: the logits of a block
are ``Q̂ [S, heads, d] · K_window [49, heads, d]`` per centre.

Everything else (the bilinear Q̂ sample, the border-padded long skip, the rest of the MLP) is the
reference computation. The outputs differ from :meth:`MSIT.query` only by float rounding of the
re-associated sums (tests: ≤ 1e-5 on random models; ``benchmarks/inference.py`` reports the full
model). The encoder side of the speed-up, FFT convolutions for the large MSNO kernels, is
:meth:`MSIT.deploy` (:mod:`msit_lite.models.fft_conv`).

Applies to an MSIT whose attention is a :class:`WindowAttention` (``mssa`` or ``sa``) with the
built-in ``attend``, the built-in sinusoidal positional bias (each frequency row reads one axis)
and an :class:`~msit_lite.models.mlp.MLP` decoder; :func:`grid_unsupported` says why another MSIT
uses the chunked reference query instead.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Iterator

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from msit_lite.coords import make_cell, make_coord, nearest_on_axis, to_grid
from msit_lite.models.mlp import MLP
from msit_lite.models.mssa import SinusoidalPositionalBias, WindowAttention
from msit_lite.models.runtime import Features, GridChunk, QueryBudget

#: The functions below take an :class:`~msit_lite.models.msit.MSIT` (typed loosely: msit.py imports this module).
MSIT = nn.Module

#: Queries per step the automatic chunking aims at, and its bounds in LR centres. Small steps keep
#: ``G`` (400 KB per centre for the full model) in cache: measured (CPU time, one thread, full
#: model, 48×48 input) ×4: 16 centres 1.16 s, 64 1.29 s, 2304 1.99 s; ×2: 8 → 1.21 s, 64 → 0.75 s;
#: ×12 (24×24): 8-32 centres within 5 %.
TARGET_QUERIES = 512
MIN_BLOCKS, MAX_BLOCKS = 8, 64


def grid_unsupported(msit: MSIT) -> str | None:
    """``None`` when :func:`query_grid` computes ``msit``'s function; else a short reason."""
    att = msit.attention
    if not isinstance(att, WindowAttention) or type(att).attend is not WindowAttention.attend:
        return f"attention {type(att).__name__} has its own attend()"
    pb = att.pos_bias
    if not isinstance(pb, SinusoidalPositionalBias) or type(pb).forward is not SinusoidalPositionalBias.forward:
        return "positional bias is not the built-in sinusoid"
    b = pb.b_vals
    if not bool(((b[:, 0] == 0) | (b[:, 1] == 0)).all()):
        return "positional-encoding frequencies mix the two axes"
    dec = msit.decoder
    if not isinstance(dec, MLP) or not isinstance(dec.layers[0], nn.Linear):
        return f"decoder {type(dec).__name__} is not the built-in MLP"
    return None


# ----------------------------------------------------------------------------------------------
# One axis of the HR grid, grouped by nearest LR centre
# ----------------------------------------------------------------------------------------------
@dataclass
class AxisPlan:
    """One axis (rows or columns) of the HR grid, its HR positions grouped by nearest LR index.

    * ``coord`` [N]: HR pixel centres (the 1-D ``make_coord``);
    * ``centre`` [G]: LR index of each group (the window centre of its queries);
    * ``slots`` [G, m]: HR index of each of the group's ``m`` slots (short groups repeat their
      last index), ``first`` [G]: HR index of the group's first position, ``count`` [G];
    * ``bias`` [G·m, 2r+1, heads]: this axis' half of the positional bias for every slot and
      window offset.
    """

    coord: Tensor
    centre: Tensor
    slots: Tensor
    first: Tensor
    count: Tensor
    bias: Tensor

    @property
    def width(self) -> int:
        return self.slots.shape[1]


def plan_axis(msit: MSIT, axis: int, hr_len: int, lr_size: tuple[int, int], device: torch.device) -> AxisPlan:
    """Group the HR positions of one axis by nearest LR index; compute that axis' positional bias."""
    att = msit.attention
    r, lr_len = att.radius, lr_size[axis]
    coord = make_coord([hr_len])[:, 0].to(device)
    index, centre_coord = nearest_on_axis(coord, lr_len)
    if bool((index[1:] < index[:-1]).any()):  # cannot happen for make_coord grids
        raise RuntimeError("nearest LR index is not monotone along the HR axis")
    centre, count = torch.unique_consecutive(index, return_counts=True)
    first = torch.cumsum(count, 0) - count
    m = int(count.max())
    offs = torch.arange(m, device=device)
    slots = first[:, None] + torch.minimum(offs[None, :], count[:, None] - 1)  # [G, m]

    # rel along this axis, with the reference's float32 operations (WindowAttention.attend):
    # k = centre + fl32(a·fl32(2/len)); rel = (c − k)·len.
    step = torch.linspace(-r, r, 2 * r + 1, device=device) * (2 / lr_len)
    c = coord[slots].reshape(-1, 1)  # [G·m, 1]
    k = centre_coord[slots].reshape(-1, 1) + step.view(1, -1)
    rel = (c - k) * torch.tensor(float(lr_len), device=device)  # [G·m, 2r+1]

    # This axis' features of the sinusoidal encoding: enc = [a·sin(arg) | a·cos(arg)], arg = rel·B^T
    # where B's rows use one axis each (grid_unsupported checks it); other-axis args are exactly 0.
    pb = att.pos_bias
    b_vals, a_vals = pb.b_vals, pb.a_vals
    own = (b_vals[:, 1 - axis] == 0) if axis == 0 else (b_vals[:, 0] == 0) & (b_vals[:, 1] != 0)
    rows = own.nonzero()[:, 0]
    half = b_vals.shape[0]
    arg = rel.unsqueeze(-1) * b_vals[rows, axis]  # [G·m, 2r+1, n_own]
    enc = torch.cat([a_vals[rows] * torch.sin(arg), a_vals[rows] * torch.cos(arg)], dim=-1)
    weight = torch.cat([pb.proj.weight[:, rows], pb.proj.weight[:, half + rows]], dim=1)  # [heads, 2·n_own]
    bias = torch.matmul(enc, weight.t())
    if axis == 0 and pb.proj.bias is not None:
        bias = bias + pb.proj.bias
    return AxisPlan(coord, centre, slots, first, count, bias)


# ----------------------------------------------------------------------------------------------
# Memory and chunking
# ----------------------------------------------------------------------------------------------
def bytes_per_block(msit: MSIT, slots: int) -> int:
    """Working bytes of one LR centre block with ``slots`` HR queries (float32).

    Windows of K and V (2·P·C), ``G`` and its layout copy (2·P·heads·hidden), and per query: Q̂ and
    its copy (2·C), logits/bias/probabilities (4·P·heads), MLP activations (4·hidden), coords.
    """
    att, lin = msit.attention, msit.decoder.layers[0]
    p, c, u, hid = att.window, att.dim, att.heads, lin.out_features
    return 4 * (2 * p * c + 2 * p * u * hid + slots * (2 * c + 4 * p * u + 4 * hid + 16))


def blocks_per_step(msit: MSIT, slots: int, budget: QueryBudget) -> int:
    """LR centres per step: ``budget.queries`` when given, else about :data:`TARGET_QUERIES` queries
    (8 to 64 centres) so that ``G`` stays in cache, and never more than the memory budget allows."""
    if budget.queries:
        return max(1, budget.queries // slots)
    by_cache = min(MAX_BLOCKS, max(MIN_BLOCKS, TARGET_QUERIES // max(1, slots)))
    by_budget = max(1, int(budget.memory_mb * 2**20 // bytes_per_block(msit, slots)))
    return min(by_cache, by_budget)


# ----------------------------------------------------------------------------------------------
# The computation
# ----------------------------------------------------------------------------------------------
class _Decoder:
    """W₁ split per window position and head, the cell term, and the rest of the MLP."""

    def __init__(self, msit: MSIT, lr_size: tuple[int, int], hr_size: tuple[int, int], device: torch.device) -> None:
        att = msit.attention
        lin: nn.Linear = msit.decoder.layers[0]
        p, c, u = att.window, att.dim, att.heads
        d, hid = c // u, lin.out_features
        w1 = lin.weight
        # [hid, P·C] -> [P, u, d, hid] -> [P·u, d, hid]: block (n, j) maps head j's V_n to y₁.
        self.w1 = w1[:, : p * c].reshape(hid, p, u, d).permute(1, 2, 3, 0).reshape(p * u, d, hid).contiguous()
        const = lin.bias.clone() if lin.bias is not None else w1.new_zeros(hid)
        if msit.cell_decode:
            cell = make_cell(hr_size, 1).to(device)
            rel_cell = cell * cell.new_tensor([float(lr_size[0]), float(lr_size[1])])  # as MSIT.query
            const = const + torch.matmul(rel_cell[0], w1[:, p * c:].t())
        self.const = const
        self.rest = msit.decoder.layers[1:]
        self.p, self.u, self.d, self.hid = p, u, d, hid


def _windows(padded: Tensor, rows: Tensor, cols: Tensor, r: int) -> Tensor:
    """Zero-padded [C, h+2r, w+2r] map -> [C, ny, nx, 2r+1, 2r+1]: the window of each centre (a view
    when the centres are consecutive LR indices, as they are when upscaling)."""
    k = 2 * r + 1
    ny, nx = rows.numel(), cols.numel()
    y0, x0 = int(rows[0]), int(cols[0])
    if int(rows[-1]) - y0 + 1 == ny and int(cols[-1]) - x0 + 1 == nx:
        return padded[:, y0:y0 + ny + 2 * r, x0:x0 + nx + 2 * r].unfold(1, k, 1).unfold(2, k, 1)
    off = torch.arange(k, device=padded.device)
    ry = (rows[:, None, None, None] + off[None, None, :, None])  # padded coords: centre + a, a in 0..2r
    rx = (cols[None, :, None, None] + off[None, None, None, :])
    return padded[:, ry, rx]


def _query_blocks(msit: MSIT, dec: _Decoder, feats: Features, padded: Features, bi: int,
                  py: AxisPlan, px: AxisPlan, gy: slice, gx: slice) -> Tensor:
    """Predictions for the centre groups ``gy × gx`` of image ``bi``: [ny·my, nx·mx, 3] (padded slots)."""
    att = msit.attention
    r, p, u, d, hid = att.radius, dec.p, dec.u, dec.d, dec.hid
    q_map = feats["q"][bi]
    cy, cx = py.centre[gy], px.centre[gx]
    ny, nx, my, mx = cy.numel(), cx.numel(), py.width, px.width
    nb, ns = ny * nx, my * mx

    # G[n, j] = W₁_{n,j} V_{n,j} for every centre: [P·u, B, d] @ [P·u, d, hid] -> [P·u, B, hid].
    vwin = _windows(padded["v"][bi], cy, cx, r).reshape(u, d, nb, p)  # [C, ny, nx, a, b] -> (j, t, B, n)
    g = torch.matmul(vwin.permute(3, 0, 2, 1).reshape(p * u, nb, d), dec.w1)
    del vwin
    kwin = _windows(padded["k" if "k" in padded else "q"][bi], cy, cx, r).reshape(u, d, nb, p)

    # Q̂ and the skip at every slot, with the reference's grid_sample calls ([1, N, 1, 2] grids).
    ys = py.coord[py.slots[gy]]  # [ny, my]
    xs = px.coord[px.slots[gx]]  # [nx, mx]
    pts = torch.stack(torch.broadcast_tensors(ys[:, None, :, None], xs[None, :, None, :]), dim=-1)
    grid = to_grid(pts.reshape(1, nb * ns, 1, 2))
    qhat = F.grid_sample(q_map[None], grid, mode="bilinear", align_corners=False)  # [1, C, B·S, 1]
    qhat = qhat[0, :, :, 0].t().reshape(nb, ns, u, d)
    skip = F.grid_sample(feats["inp"][bi][None], grid, mode="bilinear", padding_mode="border", align_corners=False)
    skip = skip[0, :, :, 0].t()  # [B·S, 3]

    # logits [B, u, S, P] = Q̂·K / √d + Py(row, a) + Px(col, b); softmax over the window.
    logits = torch.matmul(qhat.permute(0, 2, 1, 3), kwin.permute(2, 0, 1, 3))  # [B, u, S, P]
    logits.div_(math.sqrt(d))
    del qhat, kwin
    k = 2 * r + 1
    logits = logits.view(ny, nx, u, my, mx, k, k)
    bias_y = py.bias.view(py.centre.numel(), my, k, u)[gy].permute(0, 3, 1, 2)  # [ny, u, my, k]
    bias_x = px.bias.view(px.centre.numel(), mx, k, u)[gx].permute(0, 3, 1, 2)  # [nx, u, mx, k]
    logits += bias_y[:, None, :, :, None, :, None]
    logits += bias_x[None, :, :, None, :, None, :]
    attn = torch.softmax(logits.view(nb, u, ns, p), dim=-1)
    del logits
    attn = attn.permute(0, 2, 3, 1).reshape(nb, ns, p * u)  # (n, j) order, like G

    # y₁ = p·G + W₁_cell·cell + b₁, then the rest of the MLP and the long skip.
    y1 = torch.baddbmm(dec.const.view(1, 1, hid), attn, g.transpose(0, 1))
    del attn, g
    out = dec.rest(y1.view(nb * ns, hid)) + skip
    return out.view(ny, nx, my, mx, 3).permute(0, 2, 1, 3, 4).reshape(ny * my, nx * mx, 3)


def _valid_positions(plan: AxisPlan, groups: slice) -> tuple[Tensor, int, int]:
    """Padded positions of the real HR indices of ``groups`` (in order), and their HR range."""
    count = plan.count[groups]
    m = plan.width
    pos = torch.arange(count.numel() * m, device=count.device).view(-1, m)
    keep = torch.arange(m, device=count.device)[None, :] < count[:, None]
    first = int(plan.first[groups][0])
    return pos[keep], first, first + int(count.sum())


def query_grid(msit: MSIT, feats: Features, out_size: tuple[int, int], budget: QueryBudget) -> Iterator[GridChunk]:
    """Yield ``(start, end, rgb [b, end-start, 3])`` over the row-major HR grid, band by band.

    The same contract as :meth:`ImplicitSRModel.query_grid`; a band covers whole HR rows and
    :func:`blocks_per_step` LR centres are processed at a time.
    """
    v = feats["v"]
    b, _, h, w = v.shape
    big_h, big_w = out_size
    device = v.device
    with torch.inference_mode():
        py = plan_axis(msit, 0, big_h, (h, w), device)
        px = plan_axis(msit, 1, big_w, (h, w), device)
        dec = _Decoder(msit, (h, w), out_size, device)
        r = msit.attention.radius
        padded = {key: F.pad(feats[key], (r, r, r, r)) for key in ("q", "k", "v") if key in feats}
        per_step = blocks_per_step(msit, py.width * px.width, budget)
        n_gy, n_gx = py.centre.numel(), px.centre.numel()
        step_x = min(n_gx, per_step)
        step_y = max(1, min(n_gy, per_step // step_x))
        for gy0 in range(0, n_gy, step_y):
            gy = slice(gy0, min(gy0 + step_y, n_gy))
            rows, r0, r1 = _valid_positions(py, gy)
            band = v.new_empty(b, r1 - r0, big_w, 3)
            for bi in range(b):
                for gx0 in range(0, n_gx, step_x):
                    gx = slice(gx0, min(gx0 + step_x, n_gx))
                    cols, c0, c1 = _valid_positions(px, gx)
                    out = _query_blocks(msit, dec, feats, padded, bi, py, px, gy, gx)
                    band[bi, :, c0:c1] = out[rows][:, cols]
            yield r0 * big_w, r1 * big_w, band.view(b, -1, 3)


__all__ = ["AxisPlan", "TARGET_QUERIES", "blocks_per_step", "bytes_per_block", "grid_unsupported", "plan_axis",
           "query_grid"]
