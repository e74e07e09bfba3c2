"""The decoder D_ψ: a plain MLP applied to every query independently (LIIF's ``models/mlp.py``, ``MLP``).

``Linear → act → … → Linear``; MSIT uses GELU (exact erf form) with hidden ``[256]*4``, LIIF uses
ReLU. The input ``[..., in_dim]`` is flattened to ``[N, in_dim]`` and reshaped back, as in the
official code (so the float results are the same). Keys: ``layers.{0,2,4,...}``.
"""
from __future__ import annotations

from typing import Sequence

import torch.nn.functional as F
from torch import Tensor, nn

from msit_lite.errors import MsitError
from msit_lite.models.registry import register


@register("decoder", "mlp")
class MLP(nn.Module):
    def __init__(self, in_dim: int, out_dim: int = 3, hidden_list: Sequence[int] = (256, 256, 256, 256), act: str | None = "gelu") -> None:
        super().__init__()
        acts = {"relu": nn.ReLU, "gelu": nn.GELU}
        if act is not None and act.lower() not in acts:
            raise MsitError(f"mlp: act must be one of {sorted(acts)} or null, got {act!r}")
        layers: list[nn.Module] = []
        dims = [in_dim, *hidden_list, out_dim]
        for i in range(len(dims) - 1):
            layers.append((SplitLinear if i == 0 else nn.Linear)(dims[i], dims[i + 1]))
            if act is not None and i < len(dims) - 2:
                layers.append(acts[act.lower()]())
        self.layers = nn.Sequential(*layers)
        self.in_dim, self.out_dim = in_dim, out_dim

    def forward(self, x: Tensor, extra: Tensor | None = None) -> Tensor:
        """``MLP([x | extra])``; ``extra`` (trailing input features, e.g. MSIT's cell) may be passed
        separately so that the concatenation -- a copy of the widest tensor of a training step -- is
        never built (see :class:`SplitLinear`)."""
        shape = x.shape[:-1]
        x = x.reshape(-1, x.shape[-1])
        if extra is None:
            return self.layers(x).view(*shape, -1)
        first = self.layers[0]
        if not isinstance(first, SplitLinear):
            raise MsitError("mlp: a separate extra input needs a SplitLinear first layer")
        y = first(x, extra.reshape(-1, extra.shape[-1]))
        for layer in list(self.layers)[1:]:  # the registered modules themselves (hooks, FLOP counters)
            y = layer(y)
        return y.view(*shape, -1)


class SplitLinear(nn.Linear):
    """``nn.Linear`` (same parameters and state-dict keys) that also takes its input in two parts:
    ``forward(x, extra) = W[:, :n]·x + W[:, n:]·extra + b`` equals ``forward(cat([x, extra]))`` up to
    float rounding of the split sum, without the copy."""

    def forward(self, x: Tensor, extra: Tensor | None = None) -> Tensor:
        if extra is None:
            return super().forward(x)
        n = x.shape[-1]
        if n + extra.shape[-1] != self.in_features:
            raise MsitError(f"mlp: inputs of width {n} + {extra.shape[-1]} do not match in_dim {self.in_features}")
        return F.linear(x, self.weight[:, :n], self.bias) + F.linear(extra, self.weight[:, n:])
