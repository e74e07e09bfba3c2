r"""LIIF -- Local Implicit Image Function (Chen et al. 2021), the baseline MSIT builds on
(LIIF's ``models/liif.py``, ``LIIF.query_rgb``).

A query χ reads the LR feature at the nearest LR pixel (optionally "unfolded": the 3×3
neighbourhood concatenated, 9C values), the relative coordinate (χ − centre)·(h, w) and the cell
(2/H, 2/W)·(h, w), and an MLP predicts RGB. Both are in units of *half* an LR pixel (one LR pixel
spans 2/h in coordinates): |rel| ≤ 2 for the four neighbours, and the cell term is 2/scale.
(Official names are kept below: ``rx``/``vx`` act on the y axis, ``ry``/``vy`` on x.) *Local ensemble*: the query is repeated from the four
LR pixels around χ (shifts ±1/h, ±1/w plus 1e-6) and the four predictions are blended with the
area of the rectangle between χ and the *diagonally opposite* pixel centre. No long skip in the
original; ``long_skip: true`` adds MSIT's (the bilinear, border-padded I_LR↑ of Eq. 1) -- the
control that separates "MSIT's query side" from "predicting a residual" in the lite study.

``encode`` returns the (unfolded) feature map ``feat``; unfolding once per image instead of once
per query chunk is the only departure from the official call order, and it does not change a
bit (unfold only copies values).
"""
from __future__ import annotations

from typing import Any, Iterator

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from msit_lite.coords import make_coord
from msit_lite.models import liif_grid
from msit_lite.models.base import ImplicitSRModel, Trace, long_skip, nearest_pixel, record
from msit_lite.models.mlp import MLP
from msit_lite.models.registry import make, register
from msit_lite.models.runtime import Features, GridChunk, QueryBudget

Spec = dict[str, Any] | str


@register("model", "liif")
class LIIF(ImplicitSRModel):
    def __init__(
        self,
        encoder: Spec,
        decoder: Spec | None = None,
        local_ensemble: bool = True,
        feat_unfold: bool = True,
        cell_decode: bool = True,
        long_skip: bool = False,
    ) -> None:
        super().__init__()
        self.local_ensemble, self.feat_unfold, self.cell_decode = local_ensemble, feat_unfold, cell_decode
        self.long_skip = long_skip
        self.encoder = make(encoder, "encoder")
        in_dim = self.decoder_in_features
        spec = decoder or {"name": "mlp", "args": {"hidden_list": [256, 256, 256, 256], "act": "relu"}}
        self.decoder = make(spec, "decoder", in_dim=in_dim, out_dim=3)

    @property
    def receptive_radius(self) -> int | None:
        """Encoder radius, plus 1 for the 3x3 feature unfolding done in :meth:`encode`."""
        r = getattr(self.encoder, "receptive_radius", None)
        return None if r is None else r + int(self.feat_unfold)

    @property
    def bytes_per_query(self) -> int:
        """Float32 working bytes of one :meth:`query`, per shift of the local ensemble: the gathered
        (unfolded) feature, rel and cell, two hidden-wide activations (the full LIIF: 17 KiB, against
        10 KiB measured)."""
        shifts = 4 if self.local_ensemble else 1
        hidden = max((m.out_features for m in self.decoder.modules() if isinstance(m, nn.Linear)), default=0)
        return 4 * shifts * (self.decoder_in_features + 2 * hidden + 8)

    @property
    def decoder_in_features(self) -> int:
        """Width of the decoder's input: the (unfolded) feature, rel and cell."""
        return self.encoder.out_dim * (9 if self.feat_unfold else 1) + 2 + (2 if self.cell_decode else 0)

    def grid_features(self, lr: Tensor) -> Features:
        """For the grid query: the first decoder layer's feature part per LR pixel (:mod:`~msit_lite.models.liif_grid`)."""
        return self.encode(lr) if liif_grid.grid_unsupported(self) else liif_grid.grid_features(self, lr)

    def query_grid(self, feats: Features, out_size: tuple[int, int], budget: QueryBudget) -> Iterator[GridChunk]:
        """The whole HR grid with the first layer re-associated (:mod:`~msit_lite.models.liif_grid`)."""
        if liif_grid.grid_unsupported(self):
            return super().query_grid(feats, out_size, budget)
        return liif_grid.query_grid(self, feats, out_size, budget)

    def encode(self, lr: Tensor, trace: Trace | None = None) -> dict[str, Tensor]:
        feat = self.encoder(lr)
        record(trace, "encoder", feat)
        if self.feat_unfold:  # channel c·9 + 3·ky + kx, zero padding (F.unfold order)
            b, c, h, w = feat.shape
            feat = F.unfold(feat, 3, padding=1).view(b, c * 9, h, w)
        return {"feat": feat, "inp": lr} if self.long_skip else {"feat": feat}

    def query(self, feats: dict[str, Tensor], coord: Tensor, cell: Tensor, trace: Trace | None = None) -> Tensor:
        feat = feats["feat"]
        b, n_q = coord.shape[:2]
        h, w = feat.shape[-2:]
        if cell.dim() == 2:
            cell = cell.unsqueeze(1).expand(b, n_q, 2)
        shifts, eps = ([-1, 1], 1e-6) if self.local_ensemble else ([0], 0.0)
        rx, ry = 2 / h / 2, 2 / w / 2  # half an LR pixel per axis
        points = []
        for vx in shifts:  # vertical shift (official naming)
            for vy in shifts:  # horizontal shift
                c = coord.clone()
                c[:, :, 0] += vx * rx + eps
                c[:, :, 1] += vy * ry + eps
                c.clamp_(-1 + 1e-6, 1 - 1e-6)
                points.append(c)
        n_s = len(points)
        # All shifts at once ([S·b, q]): the nearest LR pixel of each shifted point, found by
        # PyTorch's own nearest rounding; its (unfolded) feature is gathered by index, which is the
        # official nearest grid_sample's value to the bit and far cheaper to differentiate.
        row, col = nearest_pixel(torch.cat(points), h, w)
        q_coord = torch.stack([make_coord((h,)).to(coord.device)[row, 0], make_coord((w,)).to(coord.device)[col, 0]], dim=-1)
        rel = coord.repeat(n_s, 1, 1) - q_coord
        rel[:, :, 0] *= h
        rel[:, :, 1] *= w
        image = torch.arange(n_s * b, device=coord.device).remainder(b).view(-1, 1)
        rows = feat.permute(0, 2, 3, 1).reshape(b * h * w, -1)
        q_feat = rows[(image * h + row) * w + col]  # [S·b, q, C']
        extra = rel
        if self.cell_decode:
            rel_cell = cell.clone()
            rel_cell[:, :, 0] *= h
            rel_cell[:, :, 1] *= w
            extra = torch.cat([rel, rel_cell.repeat(n_s, 1, 1)], dim=-1)
        if isinstance(self.decoder, MLP):
            preds = self.decoder(q_feat, extra)  # [q_feat | rel | cell] without building it
        else:
            preds = self.decoder(torch.cat([q_feat, extra], dim=-1))
        preds = preds.view(n_s, b, n_q, -1)
        if trace is not None:
            inp = torch.cat([q_feat, extra], dim=-1).view(n_s, b, n_q, -1)
            for i in range(n_s):
                record(trace, f"imnet_in.{i}", inp[i])
                record(trace, f"imnet_out.{i}", preds[i])

        areas = (torch.abs(rel[:, :, 0] * rel[:, :, 1]) + 1e-9).view(n_s, b, n_q)
        total = areas.sum(dim=0)
        if self.local_ensemble:  # weight each prediction by the diagonally opposite area
            areas = areas.flip(0)
        out: Tensor | float = 0
        for pred, area in zip(preds, areas):
            out = out + pred * (area / total).unsqueeze(-1)
        assert isinstance(out, Tensor)
        return out + long_skip(feats["inp"], coord) if self.long_skip else out
