r"""LIIF -- Local Implicit Image Function (Chen et al. 2021), the baseline MSIT builds on
(golden README §6).

A query χ reads the LR feature at the nearest LR pixel (optionally "unfolded": the 3×3
neighbourhood concatenated, 9C values), the relative coordinate (χ − centre)·(h, w) and the cell
(2/H, 2/W)·(h, w), and an MLP predicts RGB. Both are in units of *half* an LR pixel (one LR pixel
spans 2/h in coordinates): |rel| ≤ 2 for the four neighbours, and the cell term is 2/scale.
(Official names are kept below: ``rx``/``vx`` act on the y axis, ``ry``/``vy`` on x.) *Local ensemble*: the query is repeated from the four
LR pixels around χ (shifts ±1/h, ±1/w plus 1e-6) and the four predictions are blended with the
area of the rectangle between χ and the *diagonally opposite* pixel centre. No long skip.

``encode`` returns the (unfolded) feature map ``feat``; unfolding once per image instead of once
per query chunk is the only departure from the official call order, and it does not change a
bit (unfold only copies values).
"""
from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor

from msit_lite.coords import make_coord
from msit_lite.models.base import ImplicitSRModel, Trace, record, sample
from msit_lite.models.registry import make, register

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
    ) -> None:
        super().__init__()
        self.local_ensemble, self.feat_unfold, self.cell_decode = local_ensemble, feat_unfold, cell_decode
        self.encoder = make(encoder, "encoder")
        in_dim = self.encoder.out_dim * (9 if feat_unfold else 1) + 2 + (2 if cell_decode else 0)
        spec = decoder or {"name": "mlp", "args": {"hidden_list": [256, 256, 256, 256], "act": "relu"}}
        self.decoder = make(spec, "decoder", in_dim=in_dim, out_dim=3)

    @property
    def receptive_radius(self) -> int | None:
        """Encoder radius, plus 1 for the 3x3 feature unfolding done in :meth:`encode`."""
        r = getattr(self.encoder, "receptive_radius", None)
        return None if r is None else r + int(self.feat_unfold)

    def encode(self, lr: Tensor, trace: Trace | None = None) -> dict[str, Tensor]:
        feat = self.encoder(lr)
        record(trace, "encoder", feat)
        if self.feat_unfold:  # channel c·9 + 3·ky + kx, zero padding (F.unfold order)
            b, c, h, w = feat.shape
            feat = F.unfold(feat, 3, padding=1).view(b, c * 9, h, w)
        return {"feat": feat}

    def query(self, feats: dict[str, Tensor], coord: Tensor, cell: Tensor, trace: Trace | None = None) -> Tensor:
        feat = feats["feat"]
        b, n_q = coord.shape[:2]
        h, w = feat.shape[-2:]
        if cell.dim() == 2:
            cell = cell.unsqueeze(1).expand(b, n_q, 2)
        shifts, eps = ([-1, 1], 1e-6) if self.local_ensemble else ([0], 0.0)
        rx, ry = 2 / h / 2, 2 / w / 2  # half an LR pixel per axis
        lr_grid = make_coord((h, w), flatten=False).to(coord.device).permute(2, 0, 1)
        lr_grid = lr_grid.unsqueeze(0).expand(b, 2, h, w)

        preds, areas = [], []
        for vx in shifts:  # vertical shift (official naming)
            for vy in shifts:  # horizontal shift
                c = coord.clone()
                c[:, :, 0] += vx * rx + eps
                c[:, :, 1] += vy * ry + eps
                c.clamp_(-1 + 1e-6, 1 - 1e-6)
                q_feat = sample(feat, c.unsqueeze(1), "nearest")[:, :, 0, :].permute(0, 2, 1)
                q_coord = sample(lr_grid, c.unsqueeze(1), "nearest")[:, :, 0, :].permute(0, 2, 1)
                rel = coord - q_coord
                rel[:, :, 0] *= h
                rel[:, :, 1] *= w
                inp = torch.cat([q_feat, rel], dim=-1)
                if self.cell_decode:
                    rel_cell = cell.clone()
                    rel_cell[:, :, 0] *= h
                    rel_cell[:, :, 1] *= w
                    inp = torch.cat([inp, rel_cell], dim=-1)
                record(trace, f"imnet_in.{len(preds)}", inp)
                pred = self.decoder(inp.view(b * n_q, -1)).view(b, n_q, -1)
                record(trace, f"imnet_out.{len(preds)}", pred)
                preds.append(pred)
                areas.append(torch.abs(rel[:, :, 0] * rel[:, :, 1]) + 1e-9)

        total = torch.stack(areas).sum(dim=0)
        if self.local_ensemble:  # weight each prediction by the diagonally opposite area
            areas = [areas[3], areas[2], areas[1], areas[0]]
        out: Tensor | float = 0
        for pred, area in zip(preds, areas):
            out = out + pred * (area / total).unsqueeze(-1)
        assert isinstance(out, Tensor)
        return out
