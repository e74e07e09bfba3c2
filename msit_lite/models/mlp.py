"""The decoder D_ψ: a plain MLP applied to every query independently (golden README §4.8).

``Linear → act → … → Linear``; MSIT uses GELU (exact erf form) with hidden ``[256]*4``, LIIF uses
ReLU. The input ``[..., in_dim]`` is flattened to ``[N, in_dim]`` and reshaped back, as in the
official code (so the float results are the same). Keys: ``layers.{0,2,4,...}``.
"""
from __future__ import annotations

from typing import Sequence

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
        last = in_dim
        for hidden in hidden_list:
            layers.append(nn.Linear(last, hidden))
            if act is not None:
                layers.append(acts[act.lower()]())
            last = hidden
        layers.append(nn.Linear(last, out_dim))
        self.layers = nn.Sequential(*layers)
        self.in_dim, self.out_dim = in_dim, out_dim

    def forward(self, x: Tensor) -> Tensor:
        shape = x.shape[:-1]
        return self.layers(x.reshape(-1, x.shape[-1])).view(*shape, -1)
