r"""MSIT -- the whole model (paper §III-A, Eq. 1; the official ``amsit`` in ``models/msit.py``).

    I_HR(χ) = D_ψ( MSSA( MSNO( conv_1×1( E_ψ(I_LR) ) ), χ, cell ) ) + I_LR↑(χ)        (Eq. 1)

* ``encoder`` E_ψ (EDSR-baseline or RDN, LR resolution) → ``channel_proj`` (1×1 conv to C,
  official ``conv_ch``) → ``msno`` (Z'') → ``attention.project`` (Q/K and V maps). All of that is
  :meth:`MSIT.encode` and runs once per image.
* :meth:`MSIT.query` per HR coordinate: windowed attention (``attention.attend``) gives P·C
  values, the cell ``(2/H, 2/W)·(h, w)`` (= 2/scale per axis) is appended, the MLP decoder
  ``decoder`` predicts RGB and the long skip adds the **bilinear, border-padded** sample of the
  LR input at the query point.

Only the single-stage path of the official cascaded code is implemented (the released configs
use one stage: ``imnet_num = conv_num = 1``), so the ``0.75 × previous prediction`` term of later
stages (``amsit.query_rgb``) never appears.

Every swappable piece is a registry spec: ``encoder``, ``msno`` (``msno`` | ``none``),
``attention`` (``mssa`` | ``sa``), ``decoder`` (``mlp``), and ``conv`` (``plain`` | ``rim`` |
``refconv``) -- the factory for the k×k convs inside MSNO and MSSA, i.e. the training stage.
``conv`` is handed to the ``msno`` and ``attention`` builders unless their own args set it.
"""
from __future__ import annotations

import copy
from typing import Any, Iterator

import torch
from torch import Tensor, nn

from msit_lite.models import msit_grid
from msit_lite.models.base import ImplicitSRModel, Trace, child, long_skip, record, with_defaults
from msit_lite.models.fft_conv import large_convs, use_fft
from msit_lite.models.mlp import MLP
from msit_lite.models.registry import make, register
from msit_lite.models.runtime import Features, GridChunk, QueryBudget, parts_radius
from msit_lite.utils import module_device

Spec = dict[str, Any] | str

DEFAULT_MSNO: dict[str, Any] = {"name": "msno", "args": {"branches": 16, "fem": "official", "merge": "sim"}}
DEFAULT_ATTENTION: dict[str, Any] = {"name": "mssa", "args": {"projections": 4, "enc_dims": 64, "posenc_scale": 10}}
DEFAULT_DECODER: dict[str, Any] = {"name": "mlp", "args": {"hidden_list": [256, 256, 256, 256], "act": "gelu"}}


@register("model", "msit")
class MSIT(ImplicitSRModel):
    """Multi-Scale Implicit Transformer (official class ``amsit``, single stage)."""

    def __init__(
        self,
        encoder: Spec,
        dim: int = 256,
        heads: int = 8,
        radius: int = 3,
        conv: Spec = "rim",
        msno: Spec | None = None,
        attention: Spec | None = None,
        decoder: Spec | None = None,
        cell_decode: bool = True,
    ) -> None:
        super().__init__()
        self.dim, self.cell_decode = dim, cell_decode
        self.encoder = make(encoder, "encoder")
        self.channel_proj = nn.Conv2d(self.encoder.out_dim, dim, 1)
        self.msno = make(with_defaults(msno or DEFAULT_MSNO, conv=conv), "msno", channels=dim)
        self.attention = make(with_defaults(attention or DEFAULT_ATTENTION, conv=conv), "attention", dim=dim, heads=heads, radius=radius)
        in_dim = self.attention.out_dim + (2 if cell_decode else 0)
        self.decoder = make(decoder or DEFAULT_DECODER, "decoder", in_dim=in_dim, out_dim=3)

    @property
    def receptive_radius(self) -> int | None:
        """LR pixels on each side that one encoded map value depends on (tiled inference uses it).

        ``None`` when a registered piece does not declare its own radius (inference then probes).
        """
        return parts_radius(self.encoder, self.msno, self.attention)

    @property
    def bytes_per_query(self) -> int:
        """Float32 working bytes of one :meth:`query`: the K and V windows, the weighted values and their
        concatenation (4 × the attention's P·C output), and the decoder's activations (4·hidden). The full
        model: 200 KiB, against 217 KiB measured (peak RSS of one chunk; logits and bias are the rest)."""
        hidden = max((m.out_features for m in self.decoder.modules() if isinstance(m, nn.Linear)), default=0)
        return 4 * (4 * self.attention.out_dim + 4 * hidden)

    def query_grid(self, feats: Features, out_size: tuple[int, int], budget: QueryBudget) -> Iterator[GridChunk]:
        """The whole HR grid with the decoder's first layer re-associated (:mod:`~msit_lite.models.msit_grid`)."""
        if msit_grid.grid_unsupported(self):
            return super().query_grid(feats, out_size, budget)
        return msit_grid.query_grid(self, feats, out_size, budget)

    def deploy(self) -> ImplicitSRModel:
        """RIM folded, and on the CPU the large MSNO kernels (≥ 21×21) computed by FFT
        (:mod:`~msit_lite.models.fft_conv`): the same function, the encoder about twice as fast."""
        net = super().deploy()
        if module_device(net).type != "cpu" or not large_convs(net):
            return net
        return use_fft(copy.deepcopy(net) if net is self else net)

    def features(self, lr: Tensor, trace: Trace | None = None) -> Tensor:
        """Z'': the MSNO-modulated latent code ``[b, C, h, w]``."""
        feat = self.encoder(lr)
        record(trace, "encoder", feat)
        z = self.channel_proj(feat)
        record(trace, "channel_proj", z)
        z = self.msno(z, child(trace, "msno"))
        record(trace, "msno", z)
        return z

    def encode(self, lr: Tensor, trace: Trace | None = None) -> dict[str, Tensor]:
        """LR-resolution maps: ``inp`` (for the long skip), ``q`` (and ``k`` for SA), ``v``."""
        z = self.features(lr, trace)
        maps = self.attention.project(z, child(trace, "attention"))
        return {"inp": lr, **maps}

    def query(self, feats: dict[str, Tensor], coord: Tensor, cell: Tensor, trace: Trace | None = None) -> Tensor:
        h, w = feats["v"].shape[-2:]
        x = self.attention.attend(feats, coord, trace)
        rel_cell = None
        if self.cell_decode:
            if cell.dim() == 2:  # one cell per image -> per query
                cell = cell.unsqueeze(1).expand(-1, coord.shape[1], -1)
            rel_cell = cell * cell.new_tensor([float(h), float(w)])
        if trace is not None:
            record(trace, "imnet_in", x if rel_cell is None else torch.cat([x, rel_cell], dim=-1))
        if rel_cell is not None and isinstance(self.decoder, MLP):
            out = self.decoder(x, rel_cell)  # [Z^A | cell] without building the concatenation
        elif rel_cell is not None:
            out = self.decoder(torch.cat([x, rel_cell], dim=-1))
        else:
            out = self.decoder(x)
        record(trace, "imnet_out", out)
        skip = long_skip(feats["inp"], coord)  # [b, q, 3]
        record(trace, "gs_skip", skip.permute(0, 2, 1).unsqueeze(-1))  # the official [b, 3, q, 1]
        return out + skip

