r"""Memory-bounded inference: upscale an image by any factor, on any size of image.

An implicit SR model works in two steps (golden README §5):

1. ``feats = model.encode(lr)`` -- LR-resolution feature maps ``[b, *, h, w]``;
2. ``rgb = model.query(feats, coord, cell)`` -- one RGB value per HR pixel centre ``coord``
   (``make_coord``, (y, x) in [-1, 1]) with the HR ``cell = (2/H, 2/W)`` (§3.3).

Both steps can run out of memory on large images (LIIF users hit it: yinboc/liif issues #33,
#44). This module bounds the *working* memory of both by ``memory_budget_mb``:

* **Query chunks.** The HR pixels are queried in chunks of ``q`` queries, ``q`` chosen so that
  ``q · batch · bytes_per_query ≤ budget``. MSIT materialises, per query, the K and V windows
  (``(2r+1)² · C`` floats each), the attention-weighted MLP input (``49·C + 2`` floats) and the
  positional encoding of the window, so it needs ~100× more per query than LIIF. A model tells
  us its cost through an optional ``bytes_per_query`` attribute or method; otherwise
  :data:`DEFAULT_BYTES_PER_QUERY` (conservative, sized for a full MSIT) is used. Chunking changes
  nothing beyond float rounding (README §5.7). The coordinates of a chunk are built from the two
  1-D axes of :func:`~msit_lite.coords.make_coord`, so they are bit for bit the rows of the full
  grid, and the whole ``[H·W, 2]`` grid is never held.

* **Tiled encoding.** When the whole-image encoder would need more than the budget (estimated
  from an optional ``encode_bytes_per_pixel`` of the model, else
  :data:`DEFAULT_ENCODE_BYTES_PER_PIXEL`), the LR image is cut into tiles. Each tile core is
  extended by an overlap of ``receptive_radius`` LR pixels on every side (clipped at the image
  border), encoded, and only the core of each output map is written into the full map.

  *Why this is exact for zero-padded convolutions:* an output pixel depends on input pixels at
  most ``receptive_radius`` away. Inside the image the extended tile contains all of them; at the
  image border the tile border *is* the image border, so the zero padding the convolution sees
  is the same one it sees on the whole image.

  *Why naive tiling is not exact for MSIT:* its FEM (README §4.3) pads **circularly over the
  whole image** -- row 0 reads row ``h−1``. A tile touching the top edge would wrap around to
  its own bottom rows instead. We handle every *circular module* (a module with a true
  ``circular_padding`` attribute, a ``Conv2d`` with ``padding_mode='circular'``, or a class
  named ``FEM``/``LEM``) by evaluating it on the whole LR map, in phases:

  phase 1: encode every tile, capture the *input* of the first circular module (a forward
  pre-hook) on the tile core, and stop the tile there; the cores stitch into the module's
  full-image input, on which the module is run once, untiled.
  phase 2: encode every tile again; a forward hook replaces the circular module's tile output
  by the matching crop of that full-image output; the encoder outputs are stitched.

  (With k circular modules there are k+1 phases; the layers before the first circular module
  run twice, which for MSIT is the EDSR encoder.) The rest of the encoder is local, so with an
  overlap of at least the receptive radius of the local parts before plus after the circular
  module, every stitched map equals the untiled one up to float rounding (tests: ≤ 1e-5).

  **Guarantee.** Tiled and untiled encoding agree up to float rounding when (a) the model's
  ``receptive_radius`` (in LR pixels) bounds how far any encoder output looks at its input
  through the local layers (a circular module is evaluated on the whole map, so its own reach,
  local or wrapped, need not be counted -- counting it is harmless); (b) all other
  encoder ops are local and position-independent (convolutions with zero padding, pointwise ops,
  BatchNorm in eval mode); (c) each circular module takes one map ``[b, C, h, w]`` as its first
  argument, returns a map of the same size and is called once per forward. A model that does
  not declare ``receptive_radius`` gets it measured once by :func:`probe_receptive_radius`
  (a gradient-support probe, conservative by the circular modules' own reach).

**Fast path** (default for MSIT, ``fast=True``): :mod:`msit_lite.fast` re-associates the decoder's
first layer so that its big matrix product runs once per LR window centre instead of once per HR
query, and prepares a copy of the network whose large MSNO kernels run by FFT; for LIIF,
:mod:`msit_lite.fast_liif` likewise computes the first layer's feature part once per LR pixel.
Same outputs up to float rounding; ``fast=False`` (``--reference-path``) runs the straightforward
``model.query`` chunks below. A model neither fast path supports (custom pieces) silently uses
the reference path.

RIM models (README §4.4) are folded (``msit_lite.models.rim.fold``) on a copy before inference:
the folded network computes the same function with plain convolutions and is cheaper.

Normalisation follows the official test script (README §4.1): the model sees ``(x − 0.5)/0.5``
and its output is de-normalised with ``·0.5 + 0.5`` and clamped to [0, 1].
"""
from __future__ import annotations

import copy
import math
import weakref
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterator, Sequence

import numpy as np
import torch
from torch import Tensor, nn

from msit_lite.coords import make_cell, make_coord, output_size
from msit_lite.errors import MsitError, describe

#: Working-memory budget of :func:`upscale` / :func:`predict` when none is given (MiB).
DEFAULT_MEMORY_BUDGET_MB = 1024
#: Largest up-scaling factor per axis that :func:`upscale` accepts (the paper tests up to ×30).
MAX_SCALE = 32.0
#: Largest output (pixels) accepted unless ``max_output_pixels`` says otherwise (64 megapixels).
DEFAULT_MAX_OUTPUT_PIXELS = 64_000_000
#: Bytes per query assumed for a model without a ``bytes_per_query`` hint: conservative for a full
#: MSIT (C = 256, 49-pixel window), whose K, V, weighted values and their grid_sample/permute
#: copies measured 217 KiB per query on the CPU (peak RSS growth of one chunk, 2048 and 8192
#: queries); the full LIIF measured 10 KiB.
DEFAULT_BYTES_PER_QUERY = 512 * 1024
#: Encoder working bytes per LR pixel for a model without an ``encode_bytes_per_pixel`` hint.
#: Measured peak RSS growth of ``encode`` (outputs included): full EDSR-MSIT 12-18 KiB/px
#: (64² to 192² inputs), full EDSR-LIIF 3 KiB/px.
DEFAULT_ENCODE_BYTES_PER_PIXEL = 32 * 1024
#: Smallest tile core (LR pixels) the automatic tiler uses, whatever the budget.
MIN_TILE = 16


# ----------------------------------------------------------------------------------------------
# Model hints and validation
# ----------------------------------------------------------------------------------------------
def _hint(model: nn.Module, name: str) -> Any:
    """An optional model attribute, or the result of calling it when it is a method."""
    value = getattr(model, name, None)
    return value() if callable(value) else value


def bytes_per_query(model: nn.Module) -> int:
    """Working bytes of one query: ``model.bytes_per_query`` if given, else the default."""
    value = _hint(model, "bytes_per_query")
    return int(value) if value else DEFAULT_BYTES_PER_QUERY


def encode_bytes_per_pixel(model: nn.Module) -> int:
    """Encoder working bytes per LR pixel: ``model.encode_bytes_per_pixel`` or the default."""
    value = _hint(model, "encode_bytes_per_pixel")
    return int(value) if value else DEFAULT_ENCODE_BYTES_PER_PIXEL


def receptive_radius(model: nn.Module, probe: bool = True) -> int | None:
    """How far (LR pixels) an encoder output looks at its input.

    ``model.receptive_radius`` when the model declares it; else (``probe=True``) measured once by
    :func:`probe_receptive_radius` and cached for this module object; else ``None``.
    """
    value = _hint(model, "receptive_radius")
    if value is not None:
        return int(value)
    if not probe:
        return None
    if model not in _PROBED:
        _PROBED[model] = probe_receptive_radius(model)
    return _PROBED[model]


_PROBED: "weakref.WeakKeyDictionary[nn.Module, int]" = weakref.WeakKeyDictionary()


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
    device = _model_device(model)
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


def _as_pair(scale: float | Sequence[float]) -> tuple[float, float]:
    if isinstance(scale, (int, float)):
        return float(scale), float(scale)
    values = tuple(float(s) for s in scale)
    if len(values) != 2:
        raise MsitError(f"scale {scale!r}: give one number or a (height, width) pair")
    return values[0], values[1]


def resolve_output_size(
    lr_size: tuple[int, int],
    scale: float | Sequence[float] | None = None,
    size: tuple[int, int] | None = None,
    max_output_pixels: int = DEFAULT_MAX_OUTPUT_PIXELS,
) -> tuple[int, int]:
    """Validate ``scale`` xor ``size`` for an LR image of ``lr_size = (h, w)``; return ``(H, W)``.

    ``scale`` is a float or a ``(s_h, s_w)`` pair; the output is ``round(h·s_h) × round(w·s_w)``
    (:func:`~msit_lite.coords.output_size`, as the official test code). Each axis must be
    enlarged by a factor in [1, 32], and the output must be larger than the input: no axis
    smaller and at least one larger (a factor just above 1 that rounds back to the input size
    is refused); ``size = (H, W)`` obeys the same rule through ``H/h`` and ``W/w``. Anything
    else raises :class:`MsitError`.
    """
    h, w = lr_size
    if (scale is None) == (size is None):
        raise MsitError("give exactly one of scale (e.g. 4 or 2.5) and size (H, W)")
    if scale is not None:
        sh, sw = _as_pair(scale)
        if not all(math.isfinite(s) for s in (sh, sw)):
            raise MsitError(f"scale {scale!r} is not a finite number")
        out = output_size((h, w), (sh, sw))
        what = f"scale {sh:g}x{sw:g}" if sh != sw else f"scale {sh:g}"
    else:
        out = (int(size[0]), int(size[1]))
        sh, sw = out[0] / h, out[1] / w
        what = f"size H={out[0]}, W={out[1]}"
        if out[0] < h or out[1] < w:
            raise MsitError(f"{what} is smaller than the {h}x{w} (HxW) input; this tool only enlarges")
    if sh < 1 or sw < 1 or max(sh, sw) <= 1:
        raise MsitError(f"{what} does not enlarge the {h}x{w} (HxW) input; use a scale > 1 (up to {MAX_SCALE:g})")
    if max(sh, sw) > MAX_SCALE:
        raise MsitError(f"{what} is larger than the supported maximum x{MAX_SCALE:g}; upscale in two steps")
    if out[0] < h or out[1] < w or tuple(out) == (h, w):
        raise MsitError(f"{what} of the {h}x{w} (HxW) input gives {out[0]}x{out[1]}, not larger than the input; "
                        "use a larger scale")
    if out[0] * out[1] > max_output_pixels:
        raise MsitError(
            f"{what} of the {h}x{w} (HxW) input gives {out[0]}x{out[1]} = {out[0] * out[1] / 1e6:.1f} megapixels, "
            f"above the limit of {max_output_pixels / 1e6:g}; use a smaller scale or raise the limit"
        )
    return out


def image_to_tensor(image: np.ndarray | Tensor) -> Tensor:
    """An ``H×W×3`` uint8 array or a float ``[3, h, w]`` tensor in [0, 1] -> float ``[1, 3, h, w]`` in [0, 1]."""
    if isinstance(image, Tensor):
        if image.ndim != 3 or image.shape[0] != 3 or not image.is_floating_point():
            raise MsitError(f"expected a float tensor [3, h, w] in [0, 1], got {image.dtype} {tuple(image.shape)}")
        return image.detach().float().unsqueeze(0)
    if not isinstance(image, np.ndarray):
        raise MsitError(f"expected an RGB image (H×W×3 uint8 array), got {type(image).__name__}")
    if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
        raise MsitError(
            f"expected an RGB image (H×W×3 uint8 array), got {image.dtype} array of shape {image.shape}; "
            "convert grey/RGBA/16-bit images with msit_lite.data.io.read_image"
        )
    return torch.from_numpy(np.array(image, dtype=np.uint8, order="C")).permute(2, 0, 1).float().div(255).unsqueeze(0)


# ----------------------------------------------------------------------------------------------
# Preparing the model: fold RIM, eval mode, device
# ----------------------------------------------------------------------------------------------
def _has_rim(model: nn.Module) -> bool:
    """Whether any sub-module is a RIM layer (a class defined in ``msit_lite.models.rim``)."""
    return any(type(m).__module__ == "msit_lite.models.rim" for m in model.modules())


def prepare_model(model: nn.Module, device: torch.device | str | None = None, *, fast: bool = False) -> nn.Module:
    """The network to run inference with: RIM folded, eval mode, on ``device``.

    The caller's model is never modified: folding and moving work on a deep copy (a model that
    needs neither is returned as it is, and :func:`predict` restores its train/eval flag).
    ``fast=True`` additionally wraps a supported MSIT in :class:`msit_lite.fast.FastMSIT` (a
    copy, FFT for the large MSNO kernels on the CPU) and a supported LIIF in
    :class:`msit_lite.fast_liif.FastLIIF`; other models are returned unwrapped.
    ``fast=False`` on a ``FastMSIT``/``FastLIIF`` unwraps it (reference query, its network).
    """
    if fast:
        from msit_lite import fast_liif
        from msit_lite.fast import FastMSIT, prepare_fast, unsupported_reason

        if isinstance(model, (FastMSIT, fast_liif.FastLIIF)):
            return model.to(torch.device(device)).eval() if device is not None else model.eval()
        signature = _state_signature(model, device)
        cached = _FAST_CACHE.get(model)
        if cached is not None and cached[0] == signature:
            return cached[1]
        net = prepare_model(model, device)
        if unsupported_reason(net) is None:
            net = prepare_fast(net)
        elif fast_liif.unsupported_reason(net) is None:
            net = fast_liif.prepare_fast(net)
        else:
            return net
        _FAST_CACHE[model] = (signature, net)
        return net
    from msit_lite.fast import FastMSIT
    from msit_lite.fast_liif import FastLIIF

    if isinstance(model, (FastMSIT, FastLIIF)):  # already prepared: the reference query on its network
        model = model.inner
    device = torch.device(device) if device is not None else _model_device(model)
    needs_fold = _has_rim(model)
    if not needs_fold and device == _model_device(model):
        return model
    if needs_fold:
        from msit_lite.models.rim import fold  # lazy: models are optional for this module

        model = fold(model)  # documented to return a folded copy
    else:
        model = copy.deepcopy(model)
    return model.to(device).eval()


#: model -> (state signature, its fast copy). Re-preparing on every ``predict`` call would not only
#: copy the weights but also make oneDNN re-create its convolution primitives for the new tensors
#: (seconds for the full MSIT); the signature (every tensor's storage and in-place version
#: counter) changes with any optimizer step or ``load_state_dict``, so a stale copy is never used.
_FAST_CACHE: "weakref.WeakKeyDictionary[nn.Module, tuple[tuple, nn.Module]]" = weakref.WeakKeyDictionary()


def _state_signature(model: nn.Module, device: torch.device | str | None) -> tuple:
    tensors = [*model.parameters(), *model.buffers()]
    return (str(device), model.training, tuple((t.data_ptr(), t._version, t.dtype) for t in tensors))


def _model_device(model: nn.Module) -> torch.device:
    for p in model.parameters():
        return p.device
    for b in model.buffers():
        return b.device
    return torch.device("cpu")


# ----------------------------------------------------------------------------------------------
# Tiled encoding
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


def auto_tile(model: nn.Module, lr_shape: Sequence[int], memory_budget_mb: float) -> int:
    """Tile core size for ``lr_shape = [b, 3, h, w]`` under the budget; 0 = encode untiled.

    Untiled when the whole-image estimate ``b·h·w·encode_bytes_per_pixel`` fits the budget;
    else the largest core ``t`` with ``b·(t + 2R)²·encode_bytes_per_pixel ≤ budget``,
    R = :func:`receptive_radius` -- but at least ``max(MIN_TILE, 2R)``: a smaller core would
    recompute the overlap more than (1 + 2R/t)² = 4× per pass (the full MSIT has R = 55), so for
    a budget that small speed wins and the budget may be exceeded.
    """
    b, _, h, w = lr_shape
    budget = memory_budget_mb * 2**20
    per_px = b * encode_bytes_per_pixel(model)
    if h * w * per_px <= budget:
        return 0
    radius = receptive_radius(model)
    if radius is None:
        return 0
    side = int(math.isqrt(int(budget // per_px)))
    return max(MIN_TILE, 2 * radius, side - 2 * radius)


def _is_circular(module: nn.Module) -> bool:
    if getattr(module, "circular_padding", False) is True:
        return True
    if isinstance(module, nn.modules.conv._ConvNd) and module.padding_mode == "circular":
        return True
    return type(module).__name__ in ("FEM", "LEM")


def circular_modules(model: nn.Module) -> list[nn.Module]:
    """The outermost sub-modules that pad circularly over the whole map (see module docstring)."""
    found: list[tuple[str, nn.Module]] = []
    for name, module in model.named_modules():
        if _is_circular(module) and not any(name.startswith(p + ".") or p == "" for p, _ in found):
            found.append((name, module))
    return [m for _, m in found]


class _StopTile(Exception):
    """Raised by a capture hook: the rest of this tile's forward pass is not needed."""


def _stitch(full: dict[str, Tensor], out: dict[str, Tensor], t: Tile, shape: Sequence[int]) -> None:
    """Write the core of each tile output map into the full-size map (allocated on first use)."""
    ys, xs = t.core_in_extended()
    for key, value in out.items():
        if not isinstance(value, Tensor) or value.ndim < 3 or value.shape[-2:] != (t.ey1 - t.ey0, t.ex1 - t.ex0):
            raise RuntimeError(f"encode output {key!r} is not an LR-resolution map [b, *, h, w]; cannot tile")
        if key not in full:
            full[key] = value.new_empty(*value.shape[:-2], shape[-2], shape[-1])
        full[key][..., t.y0:t.y1, t.x0:t.x1] = value[..., ys, xs]


def encode_tiled(model: nn.Module, lr: Tensor, tile: int, overlap: int, *, exact_circular: bool = True) -> dict[str, Tensor]:
    """``model.encode(lr)`` computed tile by tile (see the module docstring for the guarantee).

    ``exact_circular=False`` skips the circular-module phases (naive tiling); it exists to show
    in the tests that the phases are needed.
    """
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
                    out = model.encode(lr[..., t.ey0:t.ey1, t.ex0:t.ex1])
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


def encode(model: nn.Module, lr: Tensor, *, memory_budget_mb: float = DEFAULT_MEMORY_BUDGET_MB,
           tile: int | None = None, probe: bool = True) -> dict[str, Tensor]:
    """``model.encode(lr)``, tiled when needed. ``tile``: None = from the budget, 0 = never, N = N×N cores.

    The overlap is :func:`receptive_radius` (declared, else probed unless ``probe=False``).
    """
    if tile is None:
        tile = auto_tile(model, lr.shape, memory_budget_mb)
    h, w = lr.shape[-2:]
    if tile <= 0 or (tile >= h and tile >= w):
        return model.encode(lr)
    radius = receptive_radius(model, probe=probe)
    if radius is None:
        raise MsitError(f"{type(model).__name__} declares no receptive_radius, so it cannot be tiled exactly; "
                        "use tile=0 (--tile 0)")
    return encode_tiled(model, lr, tile, radius)


# ----------------------------------------------------------------------------------------------
# Chunked queries
# ----------------------------------------------------------------------------------------------
def query_chunk_size(model: nn.Module, batch: int, memory_budget_mb: float) -> int:
    """Queries per chunk so that ``chunk · batch · bytes_per_query ≤ budget`` (at least 1)."""
    return max(1, int(memory_budget_mb * 2**20 // (batch * bytes_per_query(model))))


def iter_queries(model: nn.Module, feats: dict[str, Tensor], hr_size: tuple[int, int], chunk: int,
                 batch: int, progress: bool = False) -> Iterator[tuple[int, int, Tensor]]:
    """Yield ``(start, end, rgb [b, end-start, 3])`` over the row-major HR pixels, ``chunk`` at a time.

    The coordinates of a chunk are gathered from the 1-D axes of ``make_coord`` and are therefore
    bit for bit the rows ``start:end`` of ``make_coord(hr_size)``.
    """
    from tqdm.auto import tqdm

    big_h, big_w = hr_size
    device = next(iter(feats.values())).device
    seq_h = make_coord([big_h])[:, 0].to(device)
    seq_w = make_coord([big_w])[:, 0].to(device)
    cell = make_cell(hr_size, batch).to(device)
    total = big_h * big_w
    with tqdm(total=total, disable=not progress, unit="px", desc="upscale", leave=False) as bar:
        for start in range(0, total, chunk):
            end = min(start + chunk, total)
            idx = torch.arange(start, end, device=device)
            coord = torch.stack([seq_h[idx // big_w], seq_w[idx % big_w]], dim=-1)
            rgb = model.query(feats, coord.unsqueeze(0).expand(batch, -1, -1), cell)
            bar.update(end - start)
            yield start, end, rgb


def _iter_predictions(net: nn.Module, feats: dict[str, Tensor], hr_size: tuple[int, int], batch: int,
                      memory_budget_mb: float, chunk: int | None, progress: bool) -> Iterator[tuple[int, int, Tensor]]:
    """The fast grid iterator for a :class:`~msit_lite.fast.FastMSIT` or a
    :class:`~msit_lite.fast_liif.FastLIIF`, else :func:`iter_queries`."""
    from msit_lite import fast_liif
    from msit_lite.fast import FastMSIT, iter_grid

    if isinstance(net, fast_liif.FastLIIF):
        grid = fast_liif.iter_grid(net, feats, hr_size, chunk=chunk, memory_budget_mb=memory_budget_mb)
    elif isinstance(net, FastMSIT):
        grid = iter_grid(net, feats, hr_size, memory_budget_mb=memory_budget_mb, queries=chunk)
    else:
        chunk = chunk or query_chunk_size(net, batch, memory_budget_mb)
        yield from iter_queries(net, feats, hr_size, chunk, batch, progress)
        return
    from tqdm.auto import tqdm

    with tqdm(total=hr_size[0] * hr_size[1], disable=not progress, unit="px", desc="upscale", leave=False) as bar:
        for start, end, rgb in grid:
            bar.update(end - start)
            yield start, end, rgb


# ----------------------------------------------------------------------------------------------
# Public entry points
# ----------------------------------------------------------------------------------------------
def predict(
    model: nn.Module,
    lr: Tensor,
    hr_size: tuple[int, int],
    *,
    memory_budget_mb: float = DEFAULT_MEMORY_BUDGET_MB,
    tile: int | None = None,
    chunk: int | None = None,
    progress: bool = False,
    fast: bool = True,
) -> Tensor:
    """The model's prediction for every pixel of an ``hr_size = (H, W)`` grid: ``[b, 3, H, W]``.

    ``lr`` is the **normalised** input ``(x − 0.5)/0.5``, ``[b, 3, h, w]`` on the model's device;
    the result is in the same normalised space (not clamped) -- the official ``chop_forward``
    output reshaped to an image. ``chunk`` overrides the budget-derived number of queries per
    chunk; ``tile`` as in :func:`encode`. RIM is folded on a copy; the model's mode is restored.
    ``fast`` picks :mod:`msit_lite.fast` / :mod:`msit_lite.fast_liif` for supported MSIT / LIIF models
    (``False``: the reference path).
    """
    net = prepare_model(model, lr.device, fast=fast)
    was_training = net.training
    net.eval()
    try:
        with torch.inference_mode():
            feats = encode(net, lr, memory_budget_mb=memory_budget_mb, tile=tile)
            b = lr.shape[0]
            out = lr.new_empty(b, hr_size[0] * hr_size[1], 3)
            for start, end, rgb in _iter_predictions(net, feats, hr_size, b, memory_budget_mb, chunk, progress):
                out[:, start:end] = rgb
    finally:
        net.train(was_training)
    return out.view(b, hr_size[0], hr_size[1], 3).permute(0, 3, 1, 2)


def upscale(
    model: nn.Module,
    image: np.ndarray | Tensor,
    scale: float | Sequence[float] | None = None,
    size: tuple[int, int] | None = None,
    *,
    memory_budget_mb: float = DEFAULT_MEMORY_BUDGET_MB,
    tile: int | None = None,
    chunk: int | None = None,
    device: str | torch.device | None = None,
    progress: bool = False,
    max_output_pixels: int = DEFAULT_MAX_OUTPUT_PIXELS,
    fast: bool = True,
) -> np.ndarray:
    """Upscale one RGB image by ``scale`` (float or ``(s_h, s_w)``) or to ``size = (H, W)``.

    ``image``: an ``h×w×3`` uint8 array, or a float tensor ``[3, h, w]`` in [0, 1]. Returns an
    ``H×W×3`` uint8 array (always a NumPy array, whatever the input type): the prediction
    de-normalised (``·0.5 + 0.5``), clamped to [0, 1] and rounded to 8 bits (a NaN or infinite
    prediction raises :class:`MsitError` instead of turning into black pixels). ``device`` defaults
    to the model's device. Working memory is bounded by ``memory_budget_mb`` (module docstring);
    the LR feature maps and the output image come on top. Bad scales/sizes/images raise
    :class:`MsitError` before any work is done. ``fast`` as in :func:`predict`.
    """
    x = image_to_tensor(image)
    hr_size = resolve_output_size(tuple(x.shape[-2:]), scale, size, max_output_pixels)
    dev = torch.device(device) if device is not None else _model_device(model)
    net = prepare_model(model, dev, fast=fast)
    was_training = net.training
    net.eval()
    lr = x.to(dev).sub(0.5).div(0.5)
    out = np.empty((hr_size[0] * hr_size[1], 3), dtype=np.uint8)
    try:
        with torch.inference_mode():
            feats = encode(net, lr, memory_budget_mb=memory_budget_mb, tile=tile)
            for start, end, rgb in _iter_predictions(net, feats, hr_size, 1, memory_budget_mb, chunk, progress):
                if not bool(torch.isfinite(rgb).all()):
                    raise MsitError("the model produced NaN or infinite values; the image would be wrong (black), "
                                    "so nothing is written -- check the checkpoint (a diverged run?) and the input")
                out[start:end] = _to_uint8(rgb[0])
    finally:
        net.train(was_training)
    return out.reshape(hr_size[0], hr_size[1], 3)


def _to_uint8(pred: Tensor) -> np.ndarray:
    """Normalised prediction -> uint8: ``clamp(pred·0.5 + 0.5, 0, 1)·255``, rounded (half to even)."""
    return pred.mul(0.5).add(0.5).clamp(0, 1).mul(255).round().to(torch.uint8).cpu().numpy()


def load_model(checkpoint_dir: str | Path, device: str | torch.device = "cpu", *, fast: bool = False) -> nn.Module:
    """Load a checkpoint folder (``model.safetensors`` + ``config.yaml``), ready for inference.

    Every failure a user can fix (missing folder, a config that does not match the weights)
    becomes a one-line :class:`MsitError`.
    """
    path = Path(checkpoint_dir)
    if not path.is_dir():
        raise MsitError(f"checkpoint folder {path} not found; pass --checkpoint DIR, or train one "
                        "(msit-lite train) / convert an official one (msit-lite convert)")
    try:
        from msit_lite.checkpoint import load_checkpoint
    except ModuleNotFoundError as e:  # pragma: no cover - only before the models land
        raise MsitError(f"cannot load {path}: this installation has no checkpoint support ({e})") from e
    try:
        model, _config = load_checkpoint(path, device=str(device))
    except MsitError:
        raise
    except (RuntimeError, KeyError, ValueError, OSError) as e:
        raise MsitError(f"checkpoint {path} does not match its config ({describe(e)}); "
                        "re-create it with msit-lite train/convert") from e
    return prepare_model(model, device, fast=fast).eval()


def load_upscaler(checkpoint_dir: str | Path, device: str | torch.device = "cpu", *, fast: bool = True,
                  memory_budget_mb: float = DEFAULT_MEMORY_BUDGET_MB) -> Callable[[np.ndarray, tuple[int, int]], Tensor]:
    """A function ``f(lr_uint8 h×w×3, (H, W)) -> float tensor [3, H, W] in [0, 1]`` for evaluation.

    The model is loaded and folded once (and prepared for the fast path once when ``fast``). The
    result is clamped but **not** rounded to 8 bits (the official test script scores the float
    image, README §4.1).
    """
    model = load_model(checkpoint_dir, device, fast=fast)
    dev = _model_device(model)

    def upscaler(lr: np.ndarray, hr_size: tuple[int, int]) -> Tensor:
        x = image_to_tensor(lr).to(dev).sub(0.5).div(0.5)
        pred = predict(model, x, tuple(hr_size), memory_budget_mb=memory_budget_mb, fast=fast)
        return pred[0].mul(0.5).add(0.5).clamp(0, 1)

    return upscaler


__all__ = [
    "DEFAULT_MEMORY_BUDGET_MB", "DEFAULT_MAX_OUTPUT_PIXELS", "MAX_SCALE", "Tile", "auto_tile", "bytes_per_query",
    "circular_modules", "encode", "encode_tiled", "image_to_tensor", "load_model", "load_upscaler", "plan_tiles",
    "predict", "prepare_model", "query_chunk_size", "resolve_output_size", "upscale",
]
