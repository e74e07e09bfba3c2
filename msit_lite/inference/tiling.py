r"""Tiled encoding: the LR image encoded in overlapping tiles that stitch into exactly the one-pass maps.

When the whole-image encoder would need more than the memory budget (estimated from the model's
``encode_bytes_per_pixel``), the LR image is cut into tiles. Each tile core is extended by an
overlap of ``receptive_radius`` LR pixels on every side (clipped at the image border), encoded,
and only the core of each output map is written into the full map.

*Why this is exact for zero-padded convolutions:* an output pixel depends on input pixels at most
``receptive_radius`` away. Inside the image the extended tile contains all of them; at the image
border the tile border *is* the image border, so the zero padding the convolution sees is the
same one it sees on the whole image.

*Why naive tiling is not exact for MSIT:* its FEM pads **circularly over the whole image** (the
official ``LEM.forward`` pads with ``mode='circular'``) -- row 0 reads row ``h−1``. A tile touching
the top edge would wrap around to its own bottom rows instead. Every part that declares
``circular_padding`` (:func:`~msit_lite.models.runtime.circular_modules`) is therefore evaluated
on the whole LR map, in phases:

phase 1: encode every tile, capture the *input* of the first circular module (a forward
pre-hook) on the tile core, and stop the tile there; the cores stitch into the module's
full-image input, on which the module is run once, untiled.
phase 2: encode every tile again; a forward hook replaces the circular module's tile output by
the matching crop of that full-image output; the encoder outputs are stitched.

(With k circular modules there are k+1 phases; the layers before the first circular module run
twice, which for MSIT is the EDSR encoder.) The rest of the encoder is local, so with an overlap
of at least the receptive radius of the local parts before plus after the circular module, every
stitched map equals the untiled one up to float rounding (tests: ≤ 1e-5).

**Guarantee.** Tiled and untiled encoding agree up to float rounding when (a) the model's
``receptive_radius`` (in LR pixels) bounds how far any encoder output looks at its input through
the local layers (a circular module is evaluated on the whole map, so its own reach need not be
counted -- counting it is harmless); (b) all other encoder ops are local and
position-independent (convolutions with zero padding, pointwise ops, BatchNorm in eval mode);
(c) each circular module takes one map ``[b, C, h, w]`` as its first argument, returns a map of
the same size and is called once per forward. A model whose ``receptive_radius`` is ``None``
gets it measured once by :func:`probe_receptive_radius`.
"""
from __future__ import annotations

import math
import weakref
from dataclasses import dataclass
from typing import Any, Callable, Sequence

import torch
from torch import Tensor, nn

from msit_lite.errors import MsitError
from msit_lite.models.base import ImplicitSRModel
from msit_lite.models.runtime import DEFAULT_MEMORY_BUDGET_MB, Features, circular_modules
from msit_lite.utils import module_device

#: Smallest tile core (LR pixels) the automatic tiler uses, whatever the budget.
MIN_TILE = 16

Encoder = Callable[[Tensor], Features]


# ----------------------------------------------------------------------------------------------
# How far the encoder looks
# ----------------------------------------------------------------------------------------------
_PROBED: "weakref.WeakKeyDictionary[nn.Module, int]" = weakref.WeakKeyDictionary()


def receptive_radius(model: ImplicitSRModel, probe: bool = True) -> int | None:
    """How far (LR pixels) an encoder output looks at its input.

    The model's declared ``receptive_radius``; when that is ``None`` (a part declares none),
    measured once by :func:`probe_receptive_radius` and cached for this module object -- or
    ``None`` when ``probe`` is false.
    """
    value = model.receptive_radius
    if value is not None:
        return int(value)
    if not probe:
        return None
    if model not in _PROBED:
        _PROBED[model] = probe_receptive_radius(model)
    return _PROBED[model]


def probe_receptive_radius(model: nn.Module, max_radius: int = 256, seed: int = 0) -> int:
    """Measure how far ``model.encode`` looks: the support of d(centre pixel)/d(input).

    Encodes a random ``s×s`` input, back-propagates a random combination of every output map at
    the centre pixel and returns the largest distance (Chebyshev, LR pixels) of an input pixel
    with a non-zero gradient. If that support reaches the border (it may wrap around through a
    circular module) ``s`` is doubled. The circular modules' own reach is included, so the value
    is conservative for :func:`encode_tiled`. It is a measurement on one random input -- a path
    closed by every ReLU on that input would be missed, which random weights and inputs make
    vanishingly unlikely; models should declare ``receptive_radius`` where they can.
    """
    gen = torch.Generator().manual_seed(seed)
    device = module_device(model)
    size = 33
    while True:
        c = size // 2
        with torch.inference_mode(False), torch.enable_grad():  # also when called from predict()
            x = torch.randn(1, 3, size, size, generator=gen).to(device).requires_grad_(True)
            feats = model.encode(x)
            total = sum((v[..., c, c] * torch.randn(v[..., c, c].shape, generator=gen).to(device)).sum()
                        for v in feats.values() if isinstance(v, Tensor) and v.ndim >= 3)
            (grad,) = torch.autograd.grad(total, x)
        ys, xs = (grad.abs().sum(dim=(0, 1)) > 0).nonzero(as_tuple=True)
        reach = int(max(c - ys.min(), ys.max() - c, c - xs.min(), xs.max() - c))
        if reach < c:
            return reach
        if size > 2 * max_radius:
            raise RuntimeError(f"{type(model).__name__}.encode looks further than {max_radius} pixels; cannot tile")
        size = 2 * size + 1


# ----------------------------------------------------------------------------------------------
# Tiles
# ----------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Tile:
    """One tile: its core ``[y0:y1, x0:x1]`` and the extended region ``[ey0:ey1, ex0:ex1]`` encoded."""

    y0: int
    y1: int
    x0: int
    x1: int
    ey0: int
    ey1: int
    ex0: int
    ex1: int

    def core_in_extended(self) -> tuple[slice, slice]:
        """Where the core lies inside the extended tile's output."""
        return slice(self.y0 - self.ey0, self.y1 - self.ey0), slice(self.x0 - self.ex0, self.x1 - self.ex0)


def plan_tiles(h: int, w: int, tile: int, overlap: int) -> list[Tile]:
    """Cut an ``h×w`` map into cores of at most ``tile×tile``, each extended by ``overlap`` (clipped)."""
    if tile <= 0:
        raise ValueError("tile must be positive")
    tiles = []
    for y0 in range(0, h, tile):
        for x0 in range(0, w, tile):
            y1, x1 = min(y0 + tile, h), min(x0 + tile, w)
            tiles.append(Tile(y0, y1, x0, x1, max(0, y0 - overlap), min(h, y1 + overlap),
                              max(0, x0 - overlap), min(w, x1 + overlap)))
    return tiles


def auto_tile(model: ImplicitSRModel, lr_shape: Sequence[int], memory_budget_mb: float) -> int:
    """Tile core size for ``lr_shape = [b, 3, h, w]`` under the budget; 0 = encode untiled.

    Untiled when the whole-image estimate ``b·h·w·encode_bytes_per_pixel`` fits the budget;
    else the largest core ``t`` with ``b·(t + 2R)²·encode_bytes_per_pixel ≤ budget``,
    R = :func:`receptive_radius` -- but at least ``max(MIN_TILE, 2R)``: a smaller core would
    recompute the overlap more than (1 + 2R/t)² = 4× per pass (the full MSIT has R = 55), so for
    a budget that small speed wins and the budget may be exceeded.
    """
    b, _, h, w = lr_shape
    budget = memory_budget_mb * 2**20
    per_px = b * model.encode_bytes_per_pixel
    if h * w * per_px <= budget:
        return 0
    radius = receptive_radius(model)
    if radius is None:
        return 0
    side = int(math.isqrt(int(budget // per_px)))
    return max(MIN_TILE, 2 * radius, side - 2 * radius)


# ----------------------------------------------------------------------------------------------
# Encoding tile by tile
# ----------------------------------------------------------------------------------------------
class _StopTile(Exception):
    """Raised by a capture hook: the rest of this tile's forward pass is not needed."""


def _stitch(full: dict[str, Tensor], out: Features, t: Tile, shape: Sequence[int]) -> None:
    """Write the core of each tile output map into the full-size map (allocated on first use)."""
    ys, xs = t.core_in_extended()
    for key, value in out.items():
        if not isinstance(value, Tensor) or value.ndim < 3 or value.shape[-2:] != (t.ey1 - t.ey0, t.ex1 - t.ex0):
            raise RuntimeError(f"encode output {key!r} is not an LR-resolution map [b, *, h, w]; cannot tile")
        if key not in full:
            full[key] = value.new_empty(*value.shape[:-2], shape[-2], shape[-1])
        full[key][..., t.y0:t.y1, t.x0:t.x1] = value[..., ys, xs]


def encode_tiled(model: nn.Module, lr: Tensor, tile: int, overlap: int, *, features: Encoder | None = None,
                 exact_circular: bool = True) -> Features:
    """``features(lr)`` (default ``model.encode``) computed tile by tile (module docstring: the guarantee).

    ``exact_circular=False`` skips the circular-module phases (naive tiling); it exists to show
    in the tests that the phases are needed.
    """
    run = features or model.encode
    h, w = lr.shape[-2:]
    tiles = plan_tiles(h, w, tile, overlap)
    pending = circular_modules(model) if exact_circular else []
    resolved: dict[nn.Module, Tensor] = {}  # circular module -> its output on the whole map

    while True:
        captured: dict[str, Any] = {"module": None, "input": None}
        full: dict[str, Tensor] = {}
        current: list[Tile] = []
        calls: dict[nn.Module, int] = {}
        handles = []

        def replace(module: nn.Module, args: tuple, output: Tensor) -> Tensor:
            calls[module] = calls.get(module, 0) + 1
            t = current[0]
            crop = resolved[module][..., t.ey0:t.ey1, t.ex0:t.ex1]
            if calls[module] > 1 or crop.shape != output.shape:
                raise RuntimeError(f"{type(module).__name__} cannot be tiled exactly (called twice, or output "
                                   "not the size of its input); run with tile=0")
            return crop

        def capture(module: nn.Module, args: tuple) -> None:
            if full or (captured["module"] is not None and captured["module"] is not module):
                raise RuntimeError("circular modules ran in a different order in different tiles")
            captured["module"] = module
            t = current[0]
            ys, xs = t.core_in_extended()
            x = args[0]
            if captured["input"] is None:
                captured["input"] = x.new_empty(*x.shape[:-2], h, w)
            captured["input"][..., t.y0:t.y1, t.x0:t.x1] = x[..., ys, xs]
            raise _StopTile

        for m in resolved:
            handles.append(m.register_forward_hook(replace))
        for m in pending:
            handles.append(m.register_forward_pre_hook(capture))
        try:
            for t in tiles:
                current[:] = [t]
                calls.clear()
                try:
                    out = run(lr[..., t.ey0:t.ey1, t.ex0:t.ex1])
                except _StopTile:
                    continue
                if captured["module"] is not None:
                    raise RuntimeError("a circular module ran in some tiles but not in others")
                _stitch(full, out, t, lr.shape)
        finally:
            for handle in handles:
                handle.remove()
        module = captured["module"]
        if module is None:
            return full
        # The circular module on the whole map, once, untiled (hooks are removed).
        resolved[module] = module(captured["input"])
        pending.remove(module)


def encode(model: ImplicitSRModel, lr: Tensor, *, features: Encoder | None = None,
           memory_budget_mb: float = DEFAULT_MEMORY_BUDGET_MB, tile: int | None = None,
           probe: bool = True) -> Features:
    """``features(lr)`` (default ``model.encode``), tiled when needed.

    ``tile``: None = from the budget (:func:`auto_tile`), 0 = never, N = N×N cores. The overlap is
    :func:`receptive_radius` (declared, else probed unless ``probe=False``).
    """
    run = features or model.encode
    if tile is None:
        tile = auto_tile(model, lr.shape, memory_budget_mb)
    h, w = lr.shape[-2:]
    if tile <= 0 or (tile >= h and tile >= w):
        return run(lr)
    radius = receptive_radius(model, probe=probe)
    if radius is None:
        raise MsitError(f"{type(model).__name__} declares no receptive_radius, so it cannot be tiled exactly; "
                        "use tile=0 (--tile 0)")
    return encode_tiled(model, lr, tile, radius, features=run)


__all__ = ["MIN_TILE", "Tile", "auto_tile", "encode", "encode_tiled", "plan_tiles", "probe_receptive_radius",
           "receptive_radius"]
