r"""Fast MSIT inference on a full HR grid: the same outputs as :meth:`MSIT.query`, several times cheaper.

Where the time goes (golden README §5). Per HR query the straightforward decoder gathers the
P = (2r+1)² = 49 window values V_n ∈ R^C (C = 256), scales each by its head's probability and
feeds the *concatenation* (P·C + 2 = 12,546 numbers, §5.6) to the MLP. Its first layer,

    y₁ = W₁ · [p_{0,·}⊙V_0 | … | p_{P−1,·}⊙V_{P−1} | cell] + b₁,      W₁ ∈ R^{256 × 12546},

is ~3.2 M multiply-adds per query -- about 90 % of all the work at ×4, growing with the scale².

**The re-association.** Split W₁ into one block W₁_{n,j} ∈ R^{256×d} per window position n and
head j (d = C/heads), and let V_{n,j} be head j's channels of V_n. Then, exactly,

    y₁ = Σ_n Σ_j p_{n,j} · (W₁_{n,j} V_{n,j})  +  W₁_cell·cell + b₁.

``G[n, j] = W₁_{n,j} V_{n,j}`` depends only on the *window*, not on the query: every HR query
whose nearest LR pixel (the window centre, §5.1) is the same shares all 49 window values, hence
the same ``G`` ([P·heads, 256] = [392, 256]). So we compute ``G`` once per LR centre pixel
(3.2 M multiply-adds, like one query used to cost) and then each query only needs
``y₁ = p · G`` -- a [1, 392] × [392, 256] product (0.1 M). The ~s² queries of one centre are
batched into one small matrix product. Window positions outside the image have V = K = 0
(zero padding, *not* masked, §5.3): their ``G`` is 0 and their logit is 0 + bias, as before.

**Separable geometry.** On a regular HR grid the nearest LR row depends only on the HR row and
the nearest LR column only on the HR column, so the queries of one centre form a (rows × cols)
block, and the relative coordinates split too: ``rel_y`` (§5.4) depends on the HR row and the
window row offset only. The positional encoding (§5.8) is sin/cos of ``rel_y·ω`` for half of its
features and of ``rel_x·ω`` for the other half, so ``P(δ) = Wy·enc(rel_y) + Wx·enc(rel_x) + b``:
the sin/cos are computed once per HR row and once per HR column instead of 49 × 64 times per
query. ``rel`` itself is computed with the very float32 operations of the reference (the output
is sensitive to one ulp of it, README §5.4), the centres with the same ``grid_sample`` call.

**What is not materialised.** No [queries × 49 × 256] tensor for K or V: the logits of a block
are ``Q̂ [S, heads, d] · K_window [49, heads, d]`` per centre.

Everything else (the bilinear Q̂ sample, the border-padded long skip, the rest of the MLP) is the
reference computation. The outputs differ from :meth:`MSIT.query` only by float rounding of the
re-associated sums (tests: ≤ 1e-5 on random models; benchmarks/inference.py reports the full
model). Encoder side, :func:`prepare_fast` computes the large MSNO kernels (≥ 21×21, up to 33×33)
by FFT on the CPU -- half the encoder time at 128×128 -- exact up to float rounding (~1e-6
relative); ``channels_last`` is available but off (it did not pay on top of the FFT).

Supported: :class:`~msit_lite.models.msit.MSIT` with a :class:`WindowAttention` (``mssa`` or
``sa``) whose ``attend`` is not overridden, an :class:`~msit_lite.models.mlp.MLP` decoder, and a
sinusoidal positional bias whose frequency rows each use one axis (the built-in one).
:func:`unsupported_reason` says why another model falls back to the reference path.
"""
from __future__ import annotations

import copy
import math
from dataclasses import dataclass
from typing import Iterator

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from msit_lite.coords import make_cell, make_coord, to_grid

#: MSNO kernels at least this large are computed by FFT (measured on the CPU: direct 33×33 with
#: 16 channels is ~10× slower than 19×19, the FFT cost hardly depends on k).
FFT_MIN_KERNEL = 21
#: Queries per chunk the automatic chunking aims at, and its bounds in LR centres. Small chunks
#: keep ``G`` (400 KB per centre for the full model) in cache: measured (CPU time, one thread,
#: full model, 48×48 input) ×4: 16 centres 1.16 s, 64 1.29 s, 2304 1.99 s; ×2: 8 → 1.21 s,
#: 64 → 0.75 s; ×12 (24×24): 8-32 centres within 5 %.
TARGET_QUERIES = 512
MIN_BLOCKS, MAX_BLOCKS = 8, 64


# ----------------------------------------------------------------------------------------------
# Which models are supported
# ----------------------------------------------------------------------------------------------
def unsupported_reason(model: nn.Module) -> str | None:
    """``None`` when :func:`iter_grid` can run ``model``; else a short reason (reference path used)."""
    from msit_lite.models.mlp import MLP
    from msit_lite.models.msit import MSIT
    from msit_lite.models.mssa import SinusoidalPositionalBias, WindowAttention

    inner = model.inner if isinstance(model, FastMSIT) else model
    if not isinstance(inner, MSIT) or type(inner).query is not MSIT.query:
        return f"{type(inner).__name__} is not the built-in MSIT"
    att = inner.attention
    if not isinstance(att, WindowAttention) or type(att).attend is not WindowAttention.attend:
        return f"attention {type(att).__name__} has its own attend()"
    if not isinstance(att.pos_bias, SinusoidalPositionalBias) or type(att.pos_bias).forward is not SinusoidalPositionalBias.forward:
        return "positional bias is not the built-in sinusoid"
    b = att.pos_bias.b_vals
    if not bool(((b[:, 0] == 0) | (b[:, 1] == 0)).all()):
        return "positional-encoding frequencies mix the two axes"
    dec = inner.decoder
    if not isinstance(dec, MLP) or not isinstance(dec.layers[0], nn.Linear):
        return f"decoder {type(dec).__name__} is not the built-in MLP"
    return None


# ----------------------------------------------------------------------------------------------
# Encoder side: channels_last and FFT convolutions
# ----------------------------------------------------------------------------------------------
class FFTConv2d(nn.Module):
    """A stride-1, zero-padded ``nn.Conv2d`` computed as a product of 2-D real FFTs.

    conv2d is a cross-correlation: ``out[y] = Σ_p w[p] · x[y + p − pad]``, i.e. the linear
    convolution of ``x`` with the flipped kernel, cropped at ``pad``. An FFT size of
    ``(h + k − 1, w + k − 1)`` makes the circular convolution linear (no wrap-around), so the
    result equals the direct one up to float rounding (~1e-6 relative). The channel mixing is a
    per-frequency [out × in] product, done as ``in`` multiply-adds of [out, F] spectra.
    """

    def __init__(self, conv: nn.Conv2d) -> None:
        super().__init__()
        k = conv.kernel_size
        if conv.stride != (1, 1) or conv.dilation != (1, 1) or conv.groups != 1 or k[0] != k[1] \
                or conv.padding != (k[0] // 2, k[1] // 2) or k[0] % 2 == 0 or conv.padding_mode != "zeros":
            raise ValueError("FFTConv2d needs a stride-1, groups-1, 'same' zero-padded odd square conv")
        self.k = k[0]
        self.weight = nn.Parameter(conv.weight.detach().clone(), requires_grad=False)
        self.bias = None if conv.bias is None else nn.Parameter(conv.bias.detach().clone(), requires_grad=False)

    def forward(self, x: Tensor) -> Tensor:
        k, pad = self.k, self.k // 2
        h, w = x.shape[-2:]
        size = (h + k - 1, w + k - 1)
        spec_x = torch.fft.rfft2(x.float(), s=size)  # [b, in, Fh, Fw]
        spec_w = torch.fft.rfft2(self.weight.flip(-1, -2).float(), s=size)  # [out, in, Fh, Fw]
        out = spec_x[:, None, 0] * spec_w[None, :, 0]
        for i in range(1, spec_x.shape[1]):
            out.addcmul_(spec_x[:, None, i], spec_w[None, :, i])
        y = torch.fft.irfft2(out, s=size)[..., pad:pad + h, pad:pad + w].to(x.dtype)
        if self.bias is not None:
            y = y + self.bias.view(1, -1, 1, 1)
        return y.contiguous()


class FastMSIT(nn.Module):
    """An inference copy of an MSIT: large MSNO kernels by FFT (optionally channels_last), same ``encode``.

    ``encode`` returns contiguous maps, so :func:`iter_grid` and the reference ``query`` both
    accept them; tiled encoding (:mod:`msit_lite.inference`) sees the same sub-modules.
    """

    def __init__(self, model: nn.Module, fft_min_kernel: int = FFT_MIN_KERNEL, channels_last: bool = False) -> None:
        super().__init__()
        self.inner = model
        self.channels_last = channels_last
        msc = getattr(getattr(model, "msno", None), "msc", None)
        convs = getattr(msc, "convs", None)
        if fft_min_kernel and isinstance(convs, nn.ModuleList):
            for i, conv in enumerate(convs):
                if type(conv) is nn.Conv2d and conv.kernel_size[0] >= fft_min_kernel:
                    try:
                        convs[i] = FFTConv2d(conv)
                    except ValueError:
                        pass
        if channels_last:
            self.inner.to(memory_format=torch.channels_last)

    @property
    def receptive_radius(self) -> int | None:
        return getattr(self.inner, "receptive_radius", None)

    def encode(self, lr: Tensor) -> dict[str, Tensor]:
        if self.channels_last and lr.device.type == "cpu":
            lr = lr.contiguous(memory_format=torch.channels_last)
        maps = self.inner.encode(lr)
        return {k: v.contiguous() for k, v in maps.items()}

    def query(self, feats: dict[str, Tensor], coord: Tensor, cell: Tensor) -> Tensor:
        return self.inner.query(feats, coord, cell)

    def forward(self, lr: Tensor, coord: Tensor, cell: Tensor) -> Tensor:
        return self.query(self.encode(lr), coord, cell)


def prepare_fast(model: nn.Module, *, fft_min_kernel: int | None = None, channels_last: bool = False) -> FastMSIT:
    """A :class:`FastMSIT` around a deep copy of ``model`` (already RIM-folded, eval mode).

    ``fft_min_kernel`` defaults to :data:`FFT_MIN_KERNEL` on the CPU and 0 (all convolutions
    direct, cuDNN's choice) elsewhere. ``channels_last`` is off by default: measured on the
    2-core CPU (one thread, CPU time of a 128×128 encode) it did not pay once the large kernels
    use the FFT (direct 2.30 s, FFT 1.15 s, FFT + channels_last 1.44 s, channels_last 1.34 s).
    """
    device = next(iter(model.parameters())).device
    if fft_min_kernel is None:
        fft_min_kernel = FFT_MIN_KERNEL if device.type == "cpu" else 0
    return FastMSIT(copy.deepcopy(model), fft_min_kernel, channels_last).eval()


# ----------------------------------------------------------------------------------------------
# Query side: one axis of the HR grid, grouped by nearest LR centre
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


def _nearest_index(coords: Tensor, axis: int, lr_size: tuple[int, int]) -> tuple[Tensor, Tensor]:
    """LR index and LR centre coordinate nearest to each HR coordinate along ``axis`` (0 = y).

    Uses the reference's own call: nearest ``grid_sample`` of the LR coordinate grid at a
    ``[1, N, 1, 2]`` grid (the other coordinate 0), so ties round exactly as in §5.1.
    """
    h, w = lr_size
    lr_grid = make_coord((h, w), flatten=False).to(coords.device).permute(2, 0, 1)  # [2, h, w]
    iy = torch.arange(h, device=coords.device, dtype=torch.float32).view(h, 1).expand(h, w)
    ix = torch.arange(w, device=coords.device, dtype=torch.float32).view(1, w).expand(h, w)
    table = torch.cat([lr_grid, iy[None], ix[None]], dim=0).unsqueeze(0)  # [1, 4, h, w]
    pts = torch.zeros(1, coords.numel(), 1, 2, device=coords.device)
    pts[0, :, 0, axis] = coords
    out = F.grid_sample(table, to_grid(pts), mode="nearest", padding_mode="zeros", align_corners=False)
    return out[0, 2 + axis, :, 0].round().long(), out[0, axis, :, 0]


def plan_axis(model: nn.Module, axis: int, hr_len: int, lr_size: tuple[int, int], device: torch.device) -> AxisPlan:
    """Group the HR positions of one axis by nearest LR index; compute that axis' positional bias."""
    att = _msit(model).attention
    r, lr_len = att.radius, lr_size[axis]
    coord = make_coord([hr_len])[:, 0].to(device)
    index, centre_coord = _nearest_index(coord, axis, lr_size)
    if bool((index[1:] < index[:-1]).any()):  # cannot happen for make_coord grids
        raise RuntimeError("nearest LR index is not monotone along the HR axis")
    centre, count = torch.unique_consecutive(index, return_counts=True)
    first = torch.cumsum(count, 0) - count
    m = int(count.max())
    offs = torch.arange(m, device=device)
    slots = first[:, None] + torch.minimum(offs[None, :], count[:, None] - 1)  # [G, m]

    # rel along this axis, with the reference's float32 operations (§5.2, §5.4):
    # k = centre + fl32(a·fl32(2/len)); rel = (c − k)·len.
    step = torch.linspace(-r, r, 2 * r + 1, device=device) * (2 / lr_len)
    c = coord[slots].reshape(-1, 1)  # [G·m, 1]
    k = centre_coord[slots].reshape(-1, 1) + step.view(1, -1)
    rel = (c - k) * torch.tensor(float(lr_len), device=device)  # [G·m, 2r+1]

    # This axis' features of the sinusoidal encoding: enc = [a·sin(arg) | a·cos(arg)], arg = rel·B^T
    # where B's rows use one axis each (unsupported_reason checks it); other-axis args are exactly 0.
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


def _msit(model: nn.Module) -> nn.Module:
    return model.inner if isinstance(model, FastMSIT) else model


# ----------------------------------------------------------------------------------------------
# Query side: memory and chunking
# ----------------------------------------------------------------------------------------------
def bytes_per_block(model: nn.Module, slots: int) -> int:
    """Working bytes of one LR centre block with ``slots`` HR queries (float32).

    Windows of K and V (2·P·C), ``G`` and its layout copy (2·P·heads·hidden), and per query: Q̂ and
    its copy (2·C), logits/bias/probabilities (4·P·heads), MLP activations (4·hidden), coords.
    """
    net = _msit(model)
    att, lin = net.attention, net.decoder.layers[0]
    p, c, u, hid = att.window, att.dim, att.heads, lin.out_features
    return 4 * (2 * p * c + 2 * p * u * hid + slots * (2 * c + 4 * p * u + 4 * hid + 16))


def blocks_per_chunk(model: nn.Module, slots: int, memory_budget_mb: float) -> int:
    """LR centres per chunk: about :data:`TARGET_QUERIES` queries (8 to 64 centres), so that ``G``
    stays in cache, and never more than the budget allows (at least 1)."""
    by_cache = min(MAX_BLOCKS, max(MIN_BLOCKS, TARGET_QUERIES // max(1, slots)))
    by_budget = max(1, int(memory_budget_mb * 2**20 // bytes_per_block(model, slots)))
    return min(by_cache, by_budget)


# ----------------------------------------------------------------------------------------------
# Query side: the computation
# ----------------------------------------------------------------------------------------------
class _Decoder:
    """W₁ split per window position and head, the cell term, and the rest of the MLP."""

    def __init__(self, net: nn.Module, lr_size: tuple[int, int], hr_size: tuple[int, int], device: torch.device) -> None:
        att = net.attention
        lin: nn.Linear = net.decoder.layers[0]
        p, c, u = att.window, att.dim, att.heads
        d, hid = c // u, lin.out_features
        w1 = lin.weight
        # [hid, P·C] -> [P, u, d, hid] -> [P·u, d, hid]: block (n, j) maps head j's V_n to y₁.
        self.w1 = w1[:, : p * c].reshape(hid, p, u, d).permute(1, 2, 3, 0).reshape(p * u, d, hid).contiguous()
        const = lin.bias.clone() if lin.bias is not None else w1.new_zeros(hid)
        if net.cell_decode:
            cell = make_cell(hr_size, 1).to(device)
            rel_cell = cell * cell.new_tensor([float(lr_size[0]), float(lr_size[1])])  # as MSIT.query
            const = const + torch.matmul(rel_cell[0], w1[:, p * c:].t())
        self.const = const
        self.rest = net.decoder.layers[1:]
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


def _query_blocks(net: nn.Module, dec: _Decoder, feats: dict[str, Tensor], padded: dict[str, Tensor], bi: int,
                  py: AxisPlan, px: AxisPlan, gy: slice, gx: slice) -> Tensor:
    """Predictions for the centre groups ``gy × gx`` of image ``bi``: [ny·my, nx·mx, 3] (padded slots)."""
    att = net.attention
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


def iter_grid(model: nn.Module, feats: dict[str, Tensor], hr_size: tuple[int, int], *,
              memory_budget_mb: float = 1024, blocks: int | None = None,
              queries: int | None = None) -> Iterator[tuple[int, int, Tensor]]:
    """Yield ``(start, end, rgb [b, end-start, 3])`` over the row-major HR grid, band by band.

    The drop-in fast counterpart of :func:`msit_lite.inference.iter_queries` (same ``start:end``
    meaning, normalised RGB). ``blocks`` LR centres are processed at a time (default: enough for
    about ``queries`` HR queries if given, else from the budget via :func:`bytes_per_block`); a
    band covers whole HR rows.
    """
    net = _msit(model)
    v = feats["v"]
    b, _, h, w = v.shape
    big_h, big_w = hr_size
    device = v.device
    with torch.inference_mode():
        py = plan_axis(net, 0, big_h, (h, w), device)
        px = plan_axis(net, 1, big_w, (h, w), device)
        dec = _Decoder(net, (h, w), hr_size, device)
        r = net.attention.radius
        padded = {key: F.pad(feats[key], (r, r, r, r)) for key in ("q", "k", "v") if key in feats}
        slots = py.width * px.width
        per_chunk = blocks or (max(1, queries // slots) if queries else blocks_per_chunk(net, slots, memory_budget_mb))
        n_gy, n_gx = py.centre.numel(), px.centre.numel()
        step_x = min(n_gx, per_chunk)
        step_y = max(1, min(n_gy, per_chunk // step_x))
        for gy0 in range(0, n_gy, step_y):
            gy = slice(gy0, min(gy0 + step_y, n_gy))
            rows, r0, r1 = _valid_positions(py, gy)
            band = v.new_empty(b, r1 - r0, big_w, 3)
            for bi in range(b):
                for gx0 in range(0, n_gx, step_x):
                    gx = slice(gx0, min(gx0 + step_x, n_gx))
                    cols, c0, c1 = _valid_positions(px, gx)
                    out = _query_blocks(net, dec, feats, padded, bi, py, px, gy, gx)
                    band[bi, :, c0:c1] = out[rows][:, cols]
            yield r0 * big_w, r1 * big_w, band.view(b, -1, 3)


__all__ = [
    "FFT_MIN_KERNEL", "TARGET_QUERIES", "AxisPlan", "FFTConv2d", "FastMSIT", "blocks_per_chunk", "bytes_per_block", "iter_grid",
    "plan_axis", "prepare_fast", "unsupported_reason",
]
