"""The interface every implicit super-resolution model shares, and a tiny tracing helper.

An *implicit* SR model (LIIF, MSIT) splits into two halves:

* :meth:`ImplicitSRModel.encode` runs once per LR image and returns LR-resolution maps
  ``[b, *, h, w]`` (plus whatever else the query needs, e.g. the LR image ``"inp"`` for MSIT's
  long skip);
* :meth:`ImplicitSRModel.query` turns those maps into RGB values at any set of continuous
  coordinates ``coord`` ``[b, q, 2]`` in (y, x) order, given the size of one HR pixel ``cell``.

Inference (:mod:`msit_lite.inference`) relies on exactly this split: encode once (in tiles when
the image is large), then query the whole HR grid chunk by chunk.
``forward(lr, coord, cell) == query(encode(lr), coord, cell)``.

**Runtime protocol.** What inference needs beyond ``encode``/``query`` is declared on the model,
by each class for itself (defaults and the rules for parts: :mod:`msit_lite.models.runtime`):

* ``receptive_radius`` -- LR pixels on each side that one encoded value depends on (tiles overlap
  by it; ``None`` = unknown, inference measures it);
* ``circular_padding`` -- whether a part of ``encode`` pads circularly over the whole map (FEM);
  tiled encoding then runs such parts on the whole map;
* ``bytes_per_query`` / ``encode_bytes_per_pixel`` -- working memory, for chunks and tiles;
* ``grid_features(lr)`` and ``query_grid(features, out_size, budget)`` -- the same function as
  ``query`` on every pixel of a regular HR grid, computed however the class does that best (the
  default: ``query`` in chunks; MSIT and LIIF re-associate their decoders,
  :mod:`~msit_lite.models.msit_grid`, :mod:`~msit_lite.models.liif_grid`). A subclass that
  redefines ``encode`` or ``query`` gets the defaults back unless it redefines these two as well;
* ``deploy()`` -- the network inference runs: RIM layers folded into plain convolutions (the
  paper's inference form), and whatever else the class computes faster at inference.

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
from msit_lite.models.rim import fold, rim_modules
from msit_lite.models.runtime import (
    DEFAULT_BYTES_PER_QUERY,
    DEFAULT_ENCODE_BYTES_PER_PIXEL,
    Features,
    GridChunk,
    QueryBudget,
    chunked_query_grid,
    circular_modules,
)


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

    ``align_corners=False`` always, as every official ``grid_sample`` call: -1/+1 are the outer pixel edges.
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

    The runtime protocol (module docstring) has defaults that are right for any model and
    conservative in memory; a class overrides what it knows better.
    """

    def __init_subclass__(cls, **kwargs: object) -> None:
        """A class that redefines ``encode`` or ``query`` but not the grid pair gets the defaults back:
        an inherited accelerated grid query computes the parent's function, not this class's."""
        super().__init_subclass__(**kwargs)
        own = vars(cls)
        if ("encode" in own or "query" in own) and not ("grid_features" in own or "query_grid" in own):
            cls.grid_features = ImplicitSRModel.grid_features  # type: ignore[method-assign]
            cls.query_grid = ImplicitSRModel.query_grid  # type: ignore[method-assign]

    def encode(self, lr: Tensor, trace: Trace | None = None) -> dict[str, Tensor]:
        raise NotImplementedError

    def query(
        self, feats: dict[str, Tensor], coord: Tensor, cell: Tensor, trace: Trace | None = None
    ) -> Tensor:
        raise NotImplementedError

    def forward(self, lr: Tensor, coord: Tensor, cell: Tensor, trace: Trace | None = None) -> Tensor:
        return self.query(self.encode(lr, trace), coord, cell, trace)

    # -- runtime protocol ----------------------------------------------------------------------
    #: LR pixels on each side that one encoded value depends on; ``None``: unknown (inference measures it).
    receptive_radius: int | None = None
    #: Working bytes of one ``query`` per query point (chunk sizes of the default grid query).
    bytes_per_query: int = DEFAULT_BYTES_PER_QUERY
    #: Working bytes of ``encode`` per LR pixel (when to encode in tiles).
    encode_bytes_per_pixel: int = DEFAULT_ENCODE_BYTES_PER_PIXEL

    @property
    def circular_padding(self) -> bool:
        """Whether a part of ``encode`` pads circularly over the whole map (declared by the part)."""
        return bool(circular_modules(self))

    def grid_features(self, lr: Tensor) -> Features:
        """The LR maps :meth:`query_grid` reads (tiled like ``encode``); by default ``encode(lr)``."""
        return self.encode(lr)

    def query_grid(self, feats: Features, out_size: tuple[int, int], budget: QueryBudget) -> Iterator[GridChunk]:
        """``query`` at every pixel centre of an ``out_size = (H, W)`` grid, row-major, in steps that
        fit ``budget``: yields ``(start, end, rgb [b, end-start, 3])``. ``feats`` come from
        :meth:`grid_features`. By default ``query`` on chunks of pixels."""
        return chunked_query_grid(self, feats, out_size, budget)

    def deploy(self) -> "ImplicitSRModel":
        """The network to run inference with: a copy with every RIM folded into a plain convolution
        (the paper's inference form); ``self`` when there is nothing to change."""
        return fold(self) if rim_modules(self) else self


class Identity(nn.Identity):
    """A part that does nothing (Table III/IV rows without MSNO or FEM): it looks 0 pixels away."""

    receptive_radius = 0

    def forward(self, x: Tensor, trace: Trace | None = None) -> Tensor:
        return x


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
