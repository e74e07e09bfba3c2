"""The interface every implicit super-resolution model shares, and a tiny tracing helper.

An *implicit* SR model (LIIF, MSIT) splits into two halves:

* :meth:`ImplicitSRModel.encode` runs once per LR image and returns LR-resolution maps
  ``[b, *, h, w]`` (plus whatever else the query needs, e.g. the LR image ``"inp"`` for MSIT's
  long skip);
* :meth:`ImplicitSRModel.query` turns those maps into RGB values at any set of continuous
  coordinates ``coord`` ``[b, q, 2]`` in (y, x) order, given the size of one HR pixel ``cell``.

Tiled or chunked inference (:mod:`msit_lite.inference`) relies on exactly this split: encode once,
query the HR grid in chunks. ``forward(lr, coord, cell) == query(encode(lr), coord, cell)``.

Intermediates: every ``encode``/``query`` accepts an optional :class:`Trace`. When given, the
modules store their intermediate tensors in it under dotted names (``"msno.v"``,
``"attn_softmax"``, ...). Nothing is recorded -- and nothing is kept alive -- when it is ``None``;
there is no global state and no hook to forget to remove.
"""
from __future__ import annotations

from typing import Iterator

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from msit_lite.coords import to_grid
from msit_lite.errors import MsitError


class Trace:
    """A dict of named intermediates, plus a prefix so that sub-modules can write into a child."""

    def __init__(self, store: dict[str, Tensor] | None = None, prefix: str = "") -> None:
        self.store: dict[str, Tensor] = {} if store is None else store
        self.prefix = prefix

    def __call__(self, name: str, value: Tensor) -> None:
        self.store[self.prefix + name] = value

    def child(self, name: str) -> "Trace":
        return Trace(self.store, f"{self.prefix}{name}.")

    def __getitem__(self, name: str) -> Tensor:
        return self.store[name]

    def __contains__(self, name: object) -> bool:
        return name in self.store

    def __iter__(self) -> Iterator[str]:
        return iter(self.store)

    def keys(self) -> list[str]:
        return list(self.store)


def record(trace: Trace | None, name: str, value: Tensor) -> None:
    """Store ``value`` under ``name`` if tracing is on (a no-op otherwise)."""
    if trace is not None:
        trace(name, value)


def child(trace: Trace | None, name: str) -> Trace | None:
    """The sub-trace ``name`` (``None`` stays ``None``)."""
    return None if trace is None else trace.child(name)


def sample(feat: Tensor, coord: Tensor, mode: str, padding_mode: str = "zeros") -> Tensor:
    """``F.grid_sample`` at (y, x) coordinates ``coord`` ``[b, q, k, 2]`` -> ``[b, C, q, k]``.

    ``align_corners=False`` always (golden README §3.2): -1/+1 are the outer pixel edges.
    ``nearest`` rounds half to even on the CPU kernel; out-of-range samples are 0 unless
    ``padding_mode='border'``. We call PyTorch's kernel rather than re-implementing it, so that
    ties and rounding match the official code bit for bit.
    """
    return F.grid_sample(feat, to_grid(coord), mode=mode, padding_mode=padding_mode, align_corners=False)


def nearest_pixel(coord: Tensor, h: int, w: int) -> tuple[Tensor, Tensor]:
    """Row and column ``[b, q]`` (int64) of the LR pixel that ``nearest`` sampling picks for ``coord``.

    Found with ``grid_sample`` itself (on maps holding ``index + 1``), so that rounding -- half to
    even at pixel edges -- is PyTorch's own, exactly as in the official code. Coordinates must lie
    inside the image: outside (and at +1, which rounds half-to-even past the last pixel) the official
    sample is a zero-padded 0, a "centre" at the image middle, which no real query produces.
    """
    b = coord.shape[0]
    rows = torch.arange(1, h + 1, device=coord.device, dtype=torch.float32).view(1, 1, h, 1).expand(b, 1, h, w)
    cols = torch.arange(1, w + 1, device=coord.device, dtype=torch.float32).view(1, 1, 1, w).expand(b, 1, h, w)
    idx = sample(torch.cat([rows, cols], dim=1), coord.detach().float().unsqueeze(2), "nearest")[..., 0]  # [b, 2, q]
    idx = idx.long() - 1
    if bool((idx < 0).any()):
        raise MsitError("query coordinates must lie inside the image (-1 <= y, x < 1: pixel centres of the HR grid)")
    return idx[:, 0], idx[:, 1]


def long_skip(inp: Tensor, coord: Tensor) -> Tensor:
    """MSIT's long skip ``I_LR↑(χ)`` (Eq. 1): the **bilinear, border-padded** sample of the LR input at
    each query, ``[b, q, 3]`` -- the model then only has to predict the residual."""
    return sample(inp, coord.unsqueeze(2), "bilinear", padding_mode="border")[:, :, :, 0].permute(0, 2, 1)


class ImplicitSRModel(nn.Module):
    """Base class of LIIF and MSIT: ``encode`` once, ``query`` at arbitrary coordinates.

    * ``lr``: ``[b, 3, h, w]``, normalised as ``(img - 0.5) / 0.5``;
    * ``coord``: ``[b, q, 2]``, (y, x) pixel centres in [-1, 1] (:func:`msit_lite.coords.make_coord`);
    * ``cell``: ``[b, 2]`` = ``(2/H, 2/W)`` (one HR pixel), or per query ``[b, q, 2]``;
    * result: ``[b, q, 3]`` normalised RGB.
    """

    def encode(self, lr: Tensor, trace: Trace | None = None) -> dict[str, Tensor]:
        raise NotImplementedError

    def query(
        self, feats: dict[str, Tensor], coord: Tensor, cell: Tensor, trace: Trace | None = None
    ) -> Tensor:
        raise NotImplementedError

    def forward(self, lr: Tensor, coord: Tensor, cell: Tensor, trace: Trace | None = None) -> Tensor:
        return self.query(self.encode(lr, trace), coord, cell, trace)


def with_defaults(spec: dict | str | None, **defaults: object) -> dict:
    """A ``{"name", "args"}`` spec whose ``args`` are ``defaults`` overridden by the spec's own."""
    if spec is None:
        raise ValueError("spec is None")
    if isinstance(spec, str):
        spec = {"name": spec}
    if not isinstance(spec, dict):
        raise MsitError(f"a spec must be a name or a {{name, args}} mapping, got {spec!r}")
    own = spec.get("args") or {}
    if not isinstance(own, dict):
        raise MsitError(f"{spec.get('name', 'spec')!r}: 'args' must be a mapping, got {own!r}")
    args = dict(defaults)
    args.update(own)
    out = dict(spec)
    out["args"] = args
    return out
