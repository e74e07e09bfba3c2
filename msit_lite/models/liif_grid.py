r"""LIIF on a full HR grid: the same outputs as :meth:`LIIF.query`, with the first decoder layer per LR pixel.

Where the time goes. For each HR query χ and each of the 4 local-ensemble shifts, the reference
:meth:`~msit_lite.models.liif.LIIF.query` gathers the *unfolded* feature (9C numbers) at the
nearest LR pixel, concatenates the relative coordinate and the cell (9C + 4 numbers, 292 for
LIIF-lite), and runs the whole MLP on it. Its first layer is a [256 × 292] product per query and
shift, and the gather/concatenate copies move ~1.2 kB per query and shift on top.

**The re-association.** The first layer is linear in its input, so split its weight by the
three parts of the input, ``W₁ = [W_f | W_rel | W_cell]``:

    y₁ = W_f · unfold(feat)[p] + b₁  +  W_rel · rel  +  W_cell · cell,

where ``p`` is the LR pixel the (shifted) query reads. The first term depends on ``p`` only,
not on the query: every query that reads pixel ``p`` -- about s² queries per shift at scale s,
4 s² in all -- shares it. So :func:`grid_features` computes ``F[p] = W_f · unfold(feat)[p] + b₁``
once per LR pixel, as a 3×3 convolution of the encoder map with ``W_f`` reshaped to
``[hidden, C, 3, 3]`` (``F.unfold`` orders the 9C channels ``c·9 + 3·ky + kx``, which is the
layout of a conv weight, and both pad with zeros, so this is the same sum; a 1×1 conv without
``feat_unfold``). Per query and shift only a row of ``F`` (``hidden`` numbers) is gathered and a
rank-4 update ``W_rel · rel + W_cell · cell`` is added (one ``addmm_`` for all queries); then the
remaining layers run as in the reference. The 9C-channel unfolded map is never built.

**Shared geometry.** The nearest LR pixel of a shifted query is separable: its row depends only
on the query's y (and the shift's vertical sign), its column only on x. So the LR row/column
indices and the relative coordinates are computed once per HR row and once per HR column, for
each sign -- 2 + 2 one-dimensional lookups for the whole image -- and combined into the 4 shifts
by indexing. Everything per query runs in chunks of thousands of queries with the 4 shifts
stacked into one MLP batch; there is no Python loop over pixels.

**Exactness.** The indices and ``rel`` come from the reference's own float32 operations (the
same shifted-and-clamped coordinate, the same nearest ``grid_sample`` kernel, ``(χ − centre)·h``),
so every query reads the same pixels with the same ``rel``; the area weights are the reference's
formula. Only the order of the first layer's sum changes, so outputs differ by float rounding
(tests: ≤ 1e-5 max abs, with/without ``feat_unfold``, ``local_ensemble``, ``cell_decode``,
non-square maps, anisotropic and non-integer scales, batches). What it saves is bounded: the
remaining hidden layers (3 × 256² multiply-adds per query and shift for LIIF-lite) are untouched;
``benchmarks/liif_fast.py`` measures the gain.

Applies to a LIIF with an :class:`~msit_lite.models.mlp.MLP` decoder of Linear/ReLU/GELU layers;
:func:`grid_unsupported` says why another LIIF uses the chunked reference query instead.
"""
from __future__ import annotations

from typing import Iterator

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from msit_lite.coords import make_cell, make_coord, nearest_on_axis
from msit_lite.models.base import long_skip
from msit_lite.models.mlp import MLP
from msit_lite.models.runtime import Features, GridChunk, QueryBudget

#: The functions below take a :class:`~msit_lite.models.liif.LIIF` (typed loosely: liif.py imports this module).
LIIF = nn.Module

#: Queries per step unless the budget says otherwise (the MLP runs on 4× as many rows). Measured:
#: LIIF-lite, B100 img_001 ×4 (153,600 queries), one thread on the shared 2-core CPU: 512 → 1.8-2.6 s,
#: 1024 → 1.9 s, 2048 → 1.7-1.8 s, 4096 → 2.3 s, 8192 → 2.8 s.
TARGET_QUERIES = 2048


def grid_unsupported(liif: LIIF) -> str | None:
    """``None`` when :func:`query_grid` computes ``liif``'s function; else a short reason."""
    dec = liif.decoder
    if not isinstance(dec, MLP) or type(dec).forward is not MLP.forward or not isinstance(dec.layers[0], nn.Linear):
        return f"decoder {type(dec).__name__} is not the built-in MLP"
    for layer in dec.layers[1:]:
        if not isinstance(layer, (nn.Linear, nn.ReLU, nn.GELU)):
            return f"decoder layer {type(layer).__name__} is not Linear/ReLU/GELU"
    return None


# ----------------------------------------------------------------------------------------------
# The first layer per LR pixel
# ----------------------------------------------------------------------------------------------
def _first(liif: LIIF) -> nn.Linear:
    return liif.decoder.layers[0]


def _n_feat(liif: LIIF) -> int:
    return _first(liif).in_features - 2 - (2 if liif.cell_decode else 0)


def grid_features(liif: LIIF, lr: Tensor) -> Features:
    """``{"proj": F}``: the first decoder layer's feature part per LR pixel ``[b, hidden, h, w]``
    (channels_last memory, so that its rows are a view), plus ``"inp"`` for the long skip."""
    feat = liif.encoder(lr)
    lin = _first(liif)
    hidden, c = lin.out_features, feat.shape[1]
    k = 3 if liif.feat_unfold else 1
    weight = lin.weight[:, : _n_feat(liif)].reshape(hidden, c, k, k)
    proj = F.conv2d(feat, weight, lin.bias, padding=k // 2)
    maps = {"proj": proj.contiguous(memory_format=torch.channels_last)}
    if liif.long_skip:
        maps["inp"] = lr
    return maps


def bytes_per_query(liif: LIIF) -> int:
    """Working bytes per query (float32): per shift two ``hidden``-wide activations, the gathered
    rows' indices, ``rel``/cell and the prediction."""
    widths = [m.out_features for m in liif.decoder.layers if isinstance(m, nn.Linear)]
    shifts = 4 if liif.local_ensemble else 1
    return shifts * 4 * (2 * max(widths) + 16) + 64


def _signs(liif: LIIF) -> list[tuple[int, float]]:
    return [(-1, 1e-6), (1, 1e-6)] if liif.local_ensemble else [(0, 0.0)]


# ----------------------------------------------------------------------------------------------
# Geometry, one axis at a time
# ----------------------------------------------------------------------------------------------
def axis_lookup(coord: Tensor, n: int, v: int, eps: float) -> tuple[Tensor, Tensor]:
    """For 1-D query coordinates along an axis of ``n`` LR pixels and shift sign ``v``: the LR index
    each shifted query reads and its ``rel`` along that axis, with the reference's float32 steps:

    c = clamp(χ + (v·(2/n/2) + eps), −1 + 1e-6, 1 − 1e-6); index, centre = nearest(c); rel = (χ − centre)·n.
    """
    r = 2 / n / 2
    c = coord.clone()
    c += v * r + eps
    c.clamp_(-1 + 1e-6, 1 - 1e-6)
    index, centre = nearest_on_axis(c, n)
    rel = coord - centre
    rel *= n
    return index, rel


def _rows_of(proj: Tensor) -> Tensor:
    """``[b, hidden, h, w]`` -> ``[b·h·w, hidden]`` (a view for channels_last maps, else one copy)."""
    b, hidden, h, w = proj.shape
    return proj.permute(0, 2, 3, 1).reshape(b * h * w, hidden)


# ----------------------------------------------------------------------------------------------
# The decoder on gathered rows
# ----------------------------------------------------------------------------------------------
def _decode(liif: LIIF, table: Tensor, lr_w: int, base: Tensor, rows: list[tuple[Tensor, Tensor]],
            cols: list[tuple[Tensor, Tensor]], cell: tuple[Tensor, Tensor]) -> Tensor:
    """RGB ``[N, 3]`` for N queries from per-axis lookups.

    ``table``: ``[b·h·w, hidden]`` rows of ``F`` (``lr_w`` = w); ``base`` [N]: ``b_i·h·w`` of each query's image;
    ``rows``/``cols``: per shift sign, (LR index, rel) along y / x, each [N]; ``cell``: the
    cell·(h, w) per query. The shifts are (row sign, column sign) in the reference's order
    (−,−), (−,+), (+,−), (+,+) and run through the MLP as one batch of ``S·N`` rows.
    """
    pairs = [(ry, cx) for ry in rows for cx in cols]
    n = base.shape[0]
    index = torch.cat([base + iy * lr_w + ix for (iy, _), (ix, _) in pairs])
    rel_y = torch.cat([r for (_, r), _ in pairs])
    rel_x = torch.cat([r for _, (_, r) in pairs])
    parts = [rel_y, rel_x]
    if liif.cell_decode:
        parts += [cell[0].repeat(len(pairs)), cell[1].repeat(len(pairs))]
    small = torch.stack(parts, dim=1)  # [S·N, 2 or 4]

    x = table.index_select(0, index)  # [S·N, hidden]: F at each shifted query's pixel (b₁ included)
    x.addmm_(small, _first(liif).weight[:, _n_feat(liif):].t())  # + [W_rel | W_cell]·[rel | cell]
    for layer in liif.decoder.layers[1:]:
        if isinstance(layer, nn.Linear):
            x = torch.addmm(layer.bias, x, layer.weight.t()) if layer.bias is not None else x @ layer.weight.t()
        elif isinstance(layer, nn.ReLU):
            x.relu_()
        else:
            x = layer(x)
    preds = x.view(len(pairs), n, -1)

    if not liif.local_ensemble:  # the reference weighs its one prediction by area/area = 1 exactly
        return preds[0]
    areas = (torch.abs(rel_y * rel_x) + 1e-9).view(4, n)
    total = areas.sum(dim=0)
    out = preds[0] * (areas[3] / total).unsqueeze(-1)  # diagonally opposite area
    for s in (1, 2, 3):
        out = out + preds[s] * (areas[3 - s] / total).unsqueeze(-1)
    return out


# ----------------------------------------------------------------------------------------------
# A full HR grid
# ----------------------------------------------------------------------------------------------
def query_grid(liif: LIIF, feats: Features, out_size: tuple[int, int], budget: QueryBudget) -> Iterator[GridChunk]:
    """Yield ``(start, end, rgb [b, end-start, 3])`` over the row-major HR grid of ``out_size``.

    ``feats`` come from :func:`grid_features`. The per-axis lookups are done once for the H rows
    and the W columns, and ``F`` is laid out as rows once; ``budget.queries`` queries per step, else
    :data:`TARGET_QUERIES`, lowered to fit the memory budget.
    """
    proj = feats["proj"]
    b, _, h, w = proj.shape
    big_h, big_w = out_size
    device = proj.device
    table = _rows_of(proj.contiguous(memory_format=torch.channels_last))
    seq_h = make_coord([big_h])[:, 0].to(device)
    seq_w = make_coord([big_w])[:, 0].to(device)
    signs = _signs(liif)
    rows = [axis_lookup(seq_h, h, v, eps) for v, eps in signs]
    cols = [axis_lookup(seq_w, w, v, eps) for v, eps in signs]
    cell = make_cell(out_size, 1).to(device)[0]
    cell_y, cell_x = cell[0] * h, cell[1] * w
    chunk = budget.queries or max(1, min(TARGET_QUERIES, int(budget.bytes // (b * bytes_per_query(liif)))))
    total = big_h * big_w
    for start in range(0, total, chunk):
        end = min(start + chunk, total)
        idx = torch.arange(start, end, device=device)
        r_i, c_i = (idx // big_w).repeat(b), (idx % big_w).repeat(b)
        base = (torch.arange(b, device=device) * (h * w)).repeat_interleave(end - start)
        n = base.shape[0]
        out = _decode(liif, table, w, base, [(i[r_i], r[r_i]) for i, r in rows], [(i[c_i], r[c_i]) for i, r in cols],
                      (cell_y.expand(n), cell_x.expand(n)))
        out = out.view(b, end - start, -1)
        if liif.long_skip:  # as LIIF.query: + the bilinear, border-padded LR input at the pixel centres
            coord = torch.stack([seq_h[idx // big_w], seq_w[idx % big_w]], dim=-1)
            out = out + long_skip(feats["inp"], coord.unsqueeze(0).expand(b, -1, -1))
        yield start, end, out


__all__ = ["TARGET_QUERIES", "axis_lookup", "bytes_per_query", "grid_features", "grid_unsupported", "query_grid"]
