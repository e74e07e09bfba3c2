"""What inference needs to know about a model, and the defaults a model class may override.

:class:`~msit_lite.models.base.ImplicitSRModel` declares a small runtime protocol -- how far its
encoder looks (``receptive_radius``), whether a part of it pads circularly over the whole map
(``circular_padding``), what a query and an encoded pixel cost in memory, and how to query a whole
HR grid (``query_grid``). This module holds the pieces of that protocol that do not depend on a
particular model: the defaults, the budget type, the chunked grid query every model starts from,
and two rules about *parts* (an encoder, an MSNO, a FEM, ...):

* a part declares ``receptive_radius`` (LR pixels its output looks at on each side), as an
  attribute or a property; a model sums its parts' radii (:func:`parts_radius`) and says ``None``
  -- "unknown, measure it" -- when a part does not declare one;
* a part that pads circularly over the whole map it is given (FEM's wrap-around) declares the
  class attribute ``circular_padding = True``; ``Conv2d(padding_mode='circular')`` counts too
  (:func:`circular_modules`). Tiled encoding runs those parts on the whole map.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Iterator, Protocol

import torch
from torch import Tensor, nn

from msit_lite.coords import make_cell, make_coord

Features = dict[str, Tensor]
#: One step of a grid query: HR pixels ``start:end`` (row-major) and their normalised RGB ``[b, end-start, 3]``.
GridChunk = tuple[int, int, Tensor]

#: Working memory of one inference request when none is given (MiB).
DEFAULT_MEMORY_BUDGET_MB = 1024
#: Bytes per query of a model that declares nothing: conservative for a full MSIT (C = 256, 49-pixel
#: window), whose K, V, weighted values and their grid_sample/permute copies measured 217 KiB per query
#: on the CPU (peak RSS growth of one chunk, 2048 and 8192 queries); the full LIIF measured 10 KiB.
DEFAULT_BYTES_PER_QUERY = 512 * 1024
#: Encoder working bytes per LR pixel of a model that declares nothing. Measured peak RSS growth of
#: ``encode`` (outputs included): full EDSR-MSIT 12-18 KiB/px (64² to 192² inputs), full EDSR-LIIF 3 KiB/px.
DEFAULT_ENCODE_BYTES_PER_PIXEL = 32 * 1024


@dataclass(frozen=True)
class QueryBudget:
    """How much one step of a grid query may hold: ``memory_mb`` MiB of working memory, or exactly
    ``queries`` HR queries per step when that is given (tests and benchmarks pin it)."""

    memory_mb: float = DEFAULT_MEMORY_BUDGET_MB
    queries: int | None = None

    @property
    def bytes(self) -> float:
        return self.memory_mb * 2**20


class _Queryable(Protocol):
    bytes_per_query: int

    def query(self, feats: Features, coord: Tensor, cell: Tensor) -> Tensor: ...


def query_chunk_size(bytes_per_query: int, batch: int, memory_mb: float) -> int:
    """Queries per chunk so that ``chunk · batch · bytes_per_query ≤ budget`` (at least 1)."""
    return max(1, int(memory_mb * 2**20 // (batch * bytes_per_query)))


def chunked_query_grid(model: _Queryable, feats: Features, out_size: tuple[int, int],
                       budget: QueryBudget) -> Iterator[GridChunk]:
    """The straightforward grid query: ``model.query`` on chunks of the row-major HR pixel centres.

    The coordinates of a chunk are gathered from the two 1-D axes of :func:`make_coord`, so they
    are bit for bit the rows ``start:end`` of ``make_coord(out_size)`` and the whole ``[H·W, 2]``
    grid is never held. Chunking changes nothing beyond float rounding (the official test script
    queries in chunks too).
    """
    big_h, big_w = out_size
    first = next(iter(feats.values()))
    batch, device = first.shape[0], first.device
    chunk = budget.queries or query_chunk_size(model.bytes_per_query, batch, budget.memory_mb)
    seq_h = make_coord([big_h])[:, 0].to(device)
    seq_w = make_coord([big_w])[:, 0].to(device)
    cell = make_cell(out_size, batch).to(device)
    total = big_h * big_w
    for start in range(0, total, chunk):
        end = min(start + chunk, total)
        idx = torch.arange(start, end, device=device)
        coord = torch.stack([seq_h[idx // big_w], seq_w[idx % big_w]], dim=-1)
        yield start, end, model.query(feats, coord.unsqueeze(0).expand(batch, -1, -1), cell)


def parts_radius(*parts: nn.Module) -> int | None:
    """Sum of the parts' declared ``receptive_radius``; ``None`` when any part declares none."""
    radii: list[Any] = [getattr(part, "receptive_radius", None) for part in parts]
    return None if any(r is None for r in radii) else sum(int(r) for r in radii)


def pads_circularly(module: nn.Module) -> bool:
    """Whether ``module`` itself pads circularly over the whole map (see the module docstring)."""
    if getattr(module, "circular_padding", False) is True:
        return True
    return isinstance(module, nn.modules.conv._ConvNd) and module.padding_mode == "circular"


def circular_modules(model: nn.Module) -> list[nn.Module]:
    """The outermost sub-modules of ``model`` that pad circularly over the whole map."""
    found: list[str] = []
    modules: list[nn.Module] = []
    for name, module in model.named_modules():
        if name and pads_circularly(module) and not any(name.startswith(p + ".") for p in found):
            found.append(name)
            modules.append(module)
    return modules


__all__ = [
    "DEFAULT_BYTES_PER_QUERY", "DEFAULT_ENCODE_BYTES_PER_PIXEL", "DEFAULT_MEMORY_BUDGET_MB", "Features", "GridChunk",
    "QueryBudget", "chunked_query_grid", "circular_modules", "pads_circularly", "parts_radius", "query_chunk_size",
]
