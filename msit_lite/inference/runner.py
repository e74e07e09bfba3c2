"""The one inference runner: encode (in tiles when large) -> the model's grid query -> the image.

Every way of running a model on a whole image goes through :func:`run`: :func:`predict` (the
normalised prediction, what training validation scores), :func:`upscale` (one uint8 image, what
``msit-lite upscale`` writes), :func:`model_upscaler` / :func:`load_upscaler` (what ``evaluate`` and
``viz`` call per image). A request is routed once (:func:`route`):

* **fast** (the default): the model's :meth:`~msit_lite.models.base.ImplicitSRModel.deploy`
  network (RIM folded; MSIT's large kernels by FFT on the CPU), its ``grid_features`` and its
  ``query_grid`` -- for MSIT and LIIF the re-associated decoders, for any other model ``query`` in
  chunks;
* **reference** (``fast=False``, ``--reference-path``): RIM folded, ``encode``, and ``query`` in
  chunks -- the straightforward computation, for checking. Both agree up to float rounding.

Memory is bounded by ``memory_budget_mb``: the LR image is encoded in exact overlapping tiles
when the whole-image encoder would not fit (:mod:`~msit_lite.inference.tiling`), and the grid is
queried in steps that fit (the model's ``query_grid``). The LR feature maps and the output image
come on top.

Normalisation follows the official test script: the model sees ``(x − 0.5)/0.5`` and its output
is de-normalised with ``·0.5 + 0.5`` and clamped to [0, 1].
"""
from __future__ import annotations

import copy
import weakref
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator, Sequence

import numpy as np
import torch
from torch import Tensor
from tqdm.auto import tqdm

from msit_lite.assets import checkpoint_dir
from msit_lite.checkpoint import load_checkpoint
from msit_lite.data.io import quantize, to_rgb_tensor
from msit_lite.errors import MsitError, describe
from msit_lite.inference.sizes import DEFAULT_MAX_OUTPUT_PIXELS, resolve_output_size
from msit_lite.inference.tiling import Encoder, encode
from msit_lite.models.base import ImplicitSRModel
from msit_lite.models.rim import fold, rim_modules
from msit_lite.models.runtime import DEFAULT_MEMORY_BUDGET_MB, Features, GridChunk, QueryBudget, chunked_query_grid
from msit_lite.utils import module_device

#: ``f(lr uint8 h×w×3, (H, W))`` -> the SR image: float ``[3, H, W]`` in [0, 1], or uint8 ``H×W×3``.
Upscaler = Callable[[np.ndarray, tuple[int, int]], "Tensor | np.ndarray"]
GridQuery = Callable[[Features, tuple[int, int], QueryBudget], Iterator[GridChunk]]


# ----------------------------------------------------------------------------------------------
# Routing: which network, which encoder, which grid query
# ----------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Route:
    """How one request runs: the network (``deploy``-ed, on the request's device), the function that
    makes its LR maps, and the grid query that reads them."""

    network: ImplicitSRModel
    features: Encoder
    grid: GridQuery
    fast: bool


def route(model: ImplicitSRModel, device: torch.device | str | None = None, *, fast: bool = True) -> Route:
    """The :class:`Route` of ``model`` on ``device`` (default: the model's); the model is never modified.

    Preparing a network copies it (and makes oneDNN build new convolution primitives: seconds
    for the full MSIT), so a prepared copy is kept per model and reused while the model's weights
    are unchanged (the key holds every tensor's storage and in-place version counter, which change
    with any optimizer step or ``load_state_dict``).
    """
    if not isinstance(model, ImplicitSRModel):
        raise MsitError(f"inference needs an ImplicitSRModel (encode once, query anywhere); "
                        f"{type(model).__name__} is not one")
    device = torch.device(device) if device is not None else module_device(model)
    net = _prepared(model, device, fast)
    if fast:
        return Route(net, net.grid_features, net.query_grid, fast)
    return Route(net, net.encode, lambda feats, size, budget: chunked_query_grid(net, feats, size, budget), fast)


_PREPARED: "weakref.WeakKeyDictionary[ImplicitSRModel, dict[bool, tuple[tuple, ImplicitSRModel]]]" = \
    weakref.WeakKeyDictionary()


def _prepared(model: ImplicitSRModel, device: torch.device, fast: bool) -> ImplicitSRModel:
    """``model`` on ``device``, deployed (fast) or only RIM-folded (reference); cached when it is a copy."""
    key = _signature(model, device)
    cached = _PREPARED.get(model, {}).get(fast)
    if cached is not None and cached[0] == key:
        return cached[1]
    net = model if device == module_device(model) else copy.deepcopy(model).to(device)
    net = net.deploy() if fast else (fold(net) if rim_modules(net) else net)
    if net is not model:
        _PREPARED.setdefault(model, {})[fast] = (key, net.eval())
    return net


def _signature(model: ImplicitSRModel, device: torch.device) -> tuple:
    tensors = [*model.parameters(), *model.buffers()]
    return (str(device), model.training, tuple((t.data_ptr(), t._version, t.dtype) for t in tensors))


# ----------------------------------------------------------------------------------------------
# The runner
# ----------------------------------------------------------------------------------------------
Write = Callable[[int, int, Tensor], None]


def run(way: Route, lr: Tensor, out_size: tuple[int, int], write: Write, *,
        memory_budget_mb: float = DEFAULT_MEMORY_BUDGET_MB, tile: int | None = None, chunk: int | None = None,
        progress: bool = False) -> None:
    """Encode the normalised ``lr`` ``[b, 3, h, w]`` and hand every step of the grid query to
    ``write(start, end, rgb [b, end-start, 3])`` (row-major HR pixels, normalised RGB).

    ``tile``: None = from the budget, 0 = never, N = N×N cores; ``chunk`` overrides the
    budget-derived number of queries per step. The network's train/eval flag is restored.
    """
    net = way.network
    was_training = net.training
    net.eval()
    try:
        with torch.inference_mode():
            feats = encode(net, lr, features=way.features, memory_budget_mb=memory_budget_mb, tile=tile)
            total = out_size[0] * out_size[1]
            with tqdm(total=total, disable=not progress, unit="px", desc="upscale", leave=False) as bar:
                for start, end, rgb in way.grid(feats, out_size, QueryBudget(memory_budget_mb, chunk)):
                    write(start, end, rgb)
                    bar.update(end - start)
    finally:
        net.train(was_training)


def _normalised(image: np.ndarray | Tensor, device: torch.device) -> Tensor:
    """An RGB image as the model's input: ``[1, 3, h, w]`` in [-1, 1] on ``device``."""
    return to_rgb_tensor(image).unsqueeze(0).to(device).sub(0.5).div(0.5)


def _unit(pred: Tensor) -> Tensor:
    """Normalised prediction -> [0, 1]: ``clamp(pred·0.5 + 0.5, 0, 1)``."""
    return pred.mul(0.5).add(0.5).clamp(0, 1)


# ----------------------------------------------------------------------------------------------
# Entry points
# ----------------------------------------------------------------------------------------------
def predict(
    model: ImplicitSRModel,
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

    ``lr`` is the **normalised** input ``(x − 0.5)/0.5``, ``[b, 3, h, w]`` on the device to run
    on; the result is in the same normalised space (not clamped) -- the official ``chop_forward``
    output reshaped to an image. ``fast=False``: the reference path (module docstring).
    """
    return _predict(route(model, lr.device, fast=fast), lr, hr_size, memory_budget_mb=memory_budget_mb, tile=tile,
                    chunk=chunk, progress=progress)


def _predict(way: Route, lr: Tensor, hr_size: tuple[int, int], **options: object) -> Tensor:
    """:func:`predict` on a resolved route."""
    b = lr.shape[0]
    out = lr.new_empty(b, hr_size[0] * hr_size[1], 3)

    def write(start: int, end: int, rgb: Tensor) -> None:
        out[:, start:end] = rgb

    run(way, lr, hr_size, write, **options)  # type: ignore[arg-type]
    return out.view(b, hr_size[0], hr_size[1], 3).permute(0, 3, 1, 2)


def _upscale(way: Route, image: np.ndarray | Tensor, hr_size: tuple[int, int], *, memory_budget_mb: float,
             tile: int | None = None, chunk: int | None = None, progress: bool = False) -> np.ndarray:
    """:func:`upscale` on a resolved route; the output is converted to 8 bits step by step."""
    out = np.empty((hr_size[0] * hr_size[1], 3), dtype=np.uint8)

    def write(start: int, end: int, rgb: Tensor) -> None:
        if not bool(torch.isfinite(rgb).all()):
            raise MsitError("the model produced NaN or infinite values; the image would be wrong (black), "
                            "so nothing is written -- check the checkpoint (a diverged run?) and the input")
        out[start:end] = quantize(_unit(rgb[0])).cpu().numpy()

    lr = _normalised(image, module_device(way.network))
    run(way, lr, hr_size, write, memory_budget_mb=memory_budget_mb, tile=tile, chunk=chunk, progress=progress)
    return out.reshape(hr_size[0], hr_size[1], 3)


def upscale(
    model: ImplicitSRModel,
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
    ``H×W×3`` uint8 array: the prediction de-normalised, clamped and rounded to 8 bits (a NaN or
    infinite prediction raises :class:`MsitError` instead of turning into black pixels).
    ``device`` defaults to the model's. Bad scales, sizes and images raise :class:`MsitError`
    before any work is done. Options as in :func:`predict`.
    """
    x = to_rgb_tensor(image)
    hr_size = resolve_output_size(tuple(x.shape[-2:]), scale, size, max_output_pixels)
    way = route(model, device, fast=fast)
    return _upscale(way, x, hr_size, memory_budget_mb=memory_budget_mb, tile=tile, chunk=chunk,
                    progress=progress)


def model_upscaler(model: ImplicitSRModel, *, device: str | torch.device | None = None,
                   memory_budget_mb: float = DEFAULT_MEMORY_BUDGET_MB, fast: bool = True,
                   uint8: bool = False) -> Upscaler:
    """``f(lr uint8 h×w×3, (H, W))`` for benchmarks and pictures: the model routed once, run per image.

    Returns the float ``[3, H, W]`` prediction in [0, 1], clamped but **not** rounded (the
    official test script scores the float image), or with ``uint8`` the ``H×W×3`` image
    :func:`upscale` would give. ``f.route`` tells which path runs.
    """
    way = route(model, device, fast=fast)
    dev = module_device(way.network)

    def upscaler(lr: np.ndarray, hr_size: tuple[int, int]) -> Tensor | np.ndarray:
        size = (int(hr_size[0]), int(hr_size[1]))
        if uint8:  # what upscale() writes, with its checks
            x = to_rgb_tensor(lr)
            return _upscale(way, x, resolve_output_size(tuple(x.shape[-2:]), size=size), memory_budget_mb=memory_budget_mb)
        return _unit(_predict(way, _normalised(lr, dev), size, memory_budget_mb=memory_budget_mb)[0])

    upscaler.route = way  # type: ignore[attr-defined]
    return upscaler


def load_model(checkpoint: str | Path, device: str | torch.device = "cpu") -> ImplicitSRModel:
    """The model of a checkpoint folder (``model.safetensors`` + ``config.yaml``) or of a shipped
    checkpoint's name (``lite-msit``), in eval mode on ``device``.

    Every failure a user can fix (missing folder, a config that does not match the weights)
    becomes a one-line :class:`MsitError`.
    """
    path = checkpoint_dir(checkpoint)
    try:
        model, _config = load_checkpoint(path, device=str(device))
    except MsitError:
        raise
    except (RuntimeError, KeyError, ValueError, OSError) as e:
        raise MsitError(f"checkpoint {path} does not match its config ({describe(e)}); "
                        "re-create it with msit-lite train/convert") from e
    if not isinstance(model, ImplicitSRModel):
        raise MsitError(f"checkpoint {path} holds a {type(model).__name__}, not an implicit SR model")
    return model


def load_upscaler(checkpoint: str | Path, device: str | torch.device = "cpu", *, fast: bool = True,
                  memory_budget_mb: float = DEFAULT_MEMORY_BUDGET_MB) -> Upscaler:
    """:func:`model_upscaler` (float output) of a checkpoint folder or shipped checkpoint name."""
    return model_upscaler(load_model(checkpoint, device), memory_budget_mb=memory_budget_mb, fast=fast)


__all__ = ["Route", "Upscaler", "load_model", "load_upscaler", "model_upscaler", "predict", "route", "run",
           "upscale"]
