r"""Fast LIIF inference: the same outputs as :meth:`LIIF.query`, with the first decoder layer per LR pixel.

Where the time goes (golden README §6). For each HR query χ and each of the 4 local-ensemble
shifts, the reference :meth:`~msit_lite.models.liif.LIIF.query` ``grid_sample``\ s the
*unfolded* feature (9C numbers) at the nearest LR pixel, concatenates the relative coordinate
and the cell (9C + 4 numbers, 292 for LIIF-lite), and runs the whole MLP on it. Its first layer
is a [256 × 292] product per query and shift, and the gather/concatenate copies move ~1.2 kB
per query and shift on top.

**The re-association.** The first layer is linear in its input, so split its weight by the
three parts of the input, ``W₁ = [W_f | W_rel | W_cell]``:

    y₁ = W_f · unfold(feat)[p] + b₁  +  W_rel · rel  +  W_cell · cell,

where ``p`` is the LR pixel the (shifted) query reads. The first term depends on ``p`` only,
not on the query: every query that reads pixel ``p`` -- about s² queries per shift at scale s,
4 s² in all -- shares it. So :meth:`FastLIIF.encode` computes ``F[p] = W_f · unfold(feat)[p] + b₁``
once per LR pixel, as a 3×3 convolution of the encoder map with ``W_f`` reshaped to
``[hidden, C, 3, 3]`` (``F.unfold`` orders the 9C channels ``c·9 + 3·ky + kx``, which is the
layout of a conv weight, and both pad with zeros, so this is the same sum; a 1×1 conv without
``feat_unfold``). Per query and shift only a row of ``F`` (``hidden`` numbers) is gathered and a
rank-4 update ``W_rel · rel + W_cell · cell`` is added (one ``addmm_`` for all queries); then the
remaining layers run as in the reference. The 9C-channel unfolded map is never built.

**Shared geometry.** The nearest LR pixel of a shifted query is separable: its row depends only
on the query's y (and the shift's vertical sign), its column only on x. So the LR row/column
indices and the relative coordinates are computed once per axis and sign -- 2 + 2 one-dimensional
``grid_sample``\ s instead of 4 two-dimensional ones -- and combined into the 4 shifts by
indexing. On a full HR grid (:func:`iter_grid`) the per-axis work is done once per HR row and
once per HR column for the whole image. Everything per query runs in chunks of thousands of
queries with the 4 shifts stacked into one MLP batch; there is no Python loop over pixels.

**Exactness.** The indices and ``rel`` come from the reference's own float32 operations (the
same shifted-and-clamped coordinate, the same nearest ``grid_sample`` kernel on a table of LR
centres and indices, ``(χ − centre)·h``), so every query reads the same pixels with the same
``rel``; the area weights are the reference's formula. Only the order of the first layer's sum
changes, so outputs differ by float rounding (tests: ≤ 1e-5 max abs, with/without
``feat_unfold``, ``local_ensemble``, ``cell_decode``, non-square maps, anisotropic and
non-integer scales, batches). What it saves is bounded: the remaining hidden layers
(3 × 256² multiply-adds per query and shift for LIIF-lite) are untouched;
``benchmarks/liif_fast.py`` measures the gain.

Supported: :class:`~msit_lite.models.liif.LIIF` whose ``encode``/``query`` are not overridden,
with an :class:`~msit_lite.models.mlp.MLP` decoder. :func:`unsupported_reason` says why another
model keeps the reference path.
"""
from __future__ import annotations

import copy
from typing import Iterator

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from msit_lite.coords import make_cell, make_coord, to_grid
from msit_lite.models.base import long_skip

#: Queries per chunk of :func:`iter_grid` unless the budget or the caller says otherwise (the MLP
#: runs on 4× as many rows). Measured: LIIF-lite, B100 img_001 ×4 (153,600 queries), one thread on
#: the shared 2-core CPU: 512 → 1.8-2.6 s, 1024 → 1.9 s, 2048 → 1.7-1.8 s, 4096 → 2.3 s, 8192 → 2.8 s.
TARGET_QUERIES = 2048


# ----------------------------------------------------------------------------------------------
# Which models are supported
# ----------------------------------------------------------------------------------------------
def unsupported_reason(model: nn.Module) -> str | None:
    """``None`` when :class:`FastLIIF` can run ``model``; else a short reason (reference path used)."""
    from msit_lite.models.liif import LIIF
    from msit_lite.models.mlp import MLP

    inner = model.inner if isinstance(model, FastLIIF) else model
    if not isinstance(inner, LIIF) or type(inner).query is not LIIF.query or type(inner).encode is not LIIF.encode:
        return f"{type(inner).__name__} is not the built-in LIIF"
    dec = inner.decoder
    if not isinstance(dec, MLP) or type(dec).forward is not MLP.forward or not isinstance(dec.layers[0], nn.Linear):
        return f"decoder {type(dec).__name__} is not the built-in MLP"
    for layer in dec.layers[1:]:
        if not isinstance(layer, (nn.Linear, nn.ReLU, nn.GELU)):
            return f"decoder layer {type(layer).__name__} is not Linear/ReLU/GELU"
    return None


# ----------------------------------------------------------------------------------------------
# The prepared network
# ----------------------------------------------------------------------------------------------
class FastLIIF(nn.Module):
    """An inference copy of a LIIF whose ``encode`` returns ``{"proj": F}``, the first decoder layer's
    feature part per LR pixel (``[b, hidden, h, w]``, channels_last memory), and whose ``query``
    finishes the decoder from it. ``inner`` is the wrapped LIIF (its reference path)."""

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.inner = model

    # -- the split first layer ------------------------------------------------------------------
    def _first(self) -> nn.Linear:
        return self.inner.decoder.layers[0]

    def _n_feat(self) -> int:
        return self._first().in_features - 2 - (2 if self.inner.cell_decode else 0)

    def _small_weight(self) -> Tensor:
        """``[W_rel | W_cell]`` as ``[2 or 4, hidden]`` (the transposed rank-4 update)."""
        return self._first().weight[:, self._n_feat():].t()

    @property
    def receptive_radius(self) -> int | None:
        return getattr(self.inner, "receptive_radius", None)

    def bytes_per_query(self) -> int:
        """Working bytes per query (float32): per shift two ``hidden``-wide activations, the
        gathered rows' indices, ``rel``/cell and the prediction."""
        widths = [m.out_features for m in self.inner.decoder.layers if isinstance(m, nn.Linear)]
        shifts = 4 if self.inner.local_ensemble else 1
        return shifts * 4 * (2 * max(widths) + 16) + 64

    def encode_bytes_per_pixel(self) -> int | None:
        value = getattr(self.inner, "encode_bytes_per_pixel", None)
        return value() if callable(value) else value

    def encode(self, lr: Tensor) -> dict[str, Tensor]:
        liif = self.inner
        feat = liif.encoder(lr)
        lin = self._first()
        hidden, c = lin.out_features, feat.shape[1]
        k = 3 if liif.feat_unfold else 1
        weight = lin.weight[:, : self._n_feat()].reshape(hidden, c, k, k)
        proj = F.conv2d(feat, weight, lin.bias, padding=k // 2)
        maps = {"proj": proj.contiguous(memory_format=torch.channels_last)}
        if liif.long_skip:
            maps["inp"] = lr
        return maps

    def query(self, feats: dict[str, Tensor], coord: Tensor, cell: Tensor) -> Tensor:
        """:meth:`LIIF.query` for any ``coord [b, q, 2]`` and ``cell [b, 2]`` or ``[b, q, 2]``."""
        proj = feats["proj"]
        b, _, h, w = proj.shape
        n_q = coord.shape[1]
        if cell.dim() == 2:
            cell = cell.unsqueeze(1).expand(b, n_q, 2)
        rows = [_axis_lookup(coord[..., 0].reshape(-1), 0, (h, w), v, eps) for v, eps in self._signs()]
        cols = [_axis_lookup(coord[..., 1].reshape(-1), 1, (h, w), v, eps) for v, eps in self._signs()]
        base = (torch.arange(b, device=coord.device) * (h * w)).repeat_interleave(n_q)
        out = _decode(self, _rows_of(proj), w, base, rows, cols,
                      (cell[..., 0].reshape(-1) * h, cell[..., 1].reshape(-1) * w)).view(b, n_q, -1)
        return out + long_skip(feats["inp"], coord) if self.inner.long_skip else out

    def forward(self, lr: Tensor, coord: Tensor, cell: Tensor) -> Tensor:
        return self.query(self.encode(lr), coord, cell)

    def _signs(self) -> list[tuple[int, float]]:
        return [(-1, 1e-6), (1, 1e-6)] if self.inner.local_ensemble else [(0, 0.0)]


def prepare_fast(model: nn.Module) -> FastLIIF:
    """A :class:`FastLIIF` around a deep copy of ``model`` (eval mode); the caller's model is untouched."""
    return FastLIIF(copy.deepcopy(model)).eval()


# ----------------------------------------------------------------------------------------------
# Geometry, one axis at a time
# ----------------------------------------------------------------------------------------------
def _axis_lookup(coord: Tensor, axis: int, lr_size: tuple[int, int], v: int, eps: float) -> tuple[Tensor, Tensor]:
    """For 1-D query coordinates along ``axis`` (0 = y) and shift sign ``v``: the LR index each
    shifted query reads and its ``rel`` along that axis, with the reference's float32 steps:

    c = clamp(χ + (v·(2/n/2) + eps), −1 + 1e-6, 1 − 1e-6); index, centre = nearest(c); rel = (χ − centre)·n.

    ``nearest`` is the reference's ``grid_sample(mode='nearest')`` on a table of (centre, index)
    that is one pixel wide on the other axis: the kernel computes each axis' index from that
    axis' coordinate and size only, so ties round as in :meth:`LIIF.query`.
    """
    n = lr_size[axis]
    r = 2 / n / 2
    c = coord.clone()
    c += v * r + eps
    c.clamp_(-1 + 1e-6, 1 - 1e-6)
    seq = make_coord(lr_size, flatten=False)[:, 0, 0] if axis == 0 else make_coord(lr_size, flatten=False)[0, :, 1]
    table = torch.stack([seq, torch.arange(n, dtype=torch.float32)]).to(coord.device)  # [2, n]
    table = table.view(1, 2, n, 1) if axis == 0 else table.view(1, 2, 1, n)
    pts = torch.zeros(1, c.numel(), 1, 2, device=coord.device)
    pts[0, :, 0, axis] = c
    out = F.grid_sample(table, to_grid(pts), mode="nearest", padding_mode="zeros", align_corners=False)
    centre, index = out[0, 0, :, 0], out[0, 1, :, 0].round().long()
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
def _decode(net: FastLIIF, table: Tensor, lr_w: int, base: Tensor, rows: list[tuple[Tensor, Tensor]],
            cols: list[tuple[Tensor, Tensor]], cell: tuple[Tensor, Tensor]) -> Tensor:
    """RGB ``[N, 3]`` for N queries from per-axis lookups.

    ``table``: ``[b·h·w, hidden]`` rows of ``F`` (``lr_w`` = w); ``base`` [N]: ``b_i·h·w`` of each query's image;
    ``rows``/``cols``: per shift sign, (LR index, rel) along y / x, each [N]; ``cell``: the
    cell·(h, w) per query. The shifts are (row sign, column sign) in the reference's order
    (−,−), (−,+), (+,−), (+,+) and run through the MLP as one batch of ``S·N`` rows.
    """
    liif = net.inner
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
    x.addmm_(small, net._small_weight())
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
def iter_grid(net: FastLIIF, feats: dict[str, Tensor], hr_size: tuple[int, int], *, chunk: int | None = None,
              memory_budget_mb: float = 1024) -> Iterator[tuple[int, int, Tensor]]:
    """Yield ``(start, end, rgb [b, end-start, 3])`` over the row-major HR grid of ``hr_size``.

    The same values as :meth:`FastLIIF.query` on ``make_coord(hr_size)`` rows (and hence as the
    reference up to float rounding); the per-axis lookups are done once for the H rows and the W
    columns, and ``F`` is laid out as rows once. ``chunk`` queries per step (default
    :data:`TARGET_QUERIES`, lowered to fit ``memory_budget_mb``).
    """
    proj = feats["proj"]
    b, _, h, w = proj.shape
    big_h, big_w = hr_size
    device = proj.device
    table = _rows_of(proj.contiguous(memory_format=torch.channels_last))
    seq_h = make_coord([big_h])[:, 0].to(device)
    seq_w = make_coord([big_w])[:, 0].to(device)
    signs = net._signs()
    rows = [_axis_lookup(seq_h, 0, (h, w), v, eps) for v, eps in signs]
    cols = [_axis_lookup(seq_w, 1, (h, w), v, eps) for v, eps in signs]
    cell = make_cell(hr_size, 1).to(device)[0]
    cell_y, cell_x = cell[0] * h, cell[1] * w
    if chunk is None:
        by_budget = int(memory_budget_mb * 2**20 // (b * net.bytes_per_query()))
        chunk = max(1, min(TARGET_QUERIES, by_budget))
    total = big_h * big_w
    for start in range(0, total, chunk):
        end = min(start + chunk, total)
        idx = torch.arange(start, end, device=device)
        r_i, c_i = (idx // big_w).repeat(b), (idx % big_w).repeat(b)
        base = (torch.arange(b, device=device) * (h * w)).repeat_interleave(end - start)
        n = base.shape[0]
        out = _decode(net, table, w, base, [(i[r_i], r[r_i]) for i, r in rows], [(i[c_i], r[c_i]) for i, r in cols],
                      (cell_y.expand(n), cell_x.expand(n))).view(b, end - start, -1)
        if net.inner.long_skip:  # the same make_coord values the reference queries at
            coord = torch.stack([seq_h[idx // big_w], seq_w[idx % big_w]], dim=-1).unsqueeze(0).expand(b, -1, -1)
            out = out + long_skip(feats["inp"], coord)
        yield start, end, out


__all__ = ["FastLIIF", "TARGET_QUERIES", "iter_grid", "prepare_fast", "unsupported_reason"]
