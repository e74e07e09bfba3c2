"""Benchmark evaluation: PSNR / SSIM tables for any upscaler (bicubic built in, models plug in).

The runner is deliberately model-agnostic.  An *upscaler* is any callable

    upscaler(lr: np.ndarray uint8 HxWx3, hr_size: (H, W)) -> sr

returning either a float tensor ``[3, H, W]`` in [0, 1] (it is clamped to [0, 1] here, as the
official ``test.py`` does) or a ``uint8`` ``HxWx3`` array.  A neural model is wrapped once
(:func:`msit_lite.inference.model_upscaler`, or ``load_upscaler`` for a checkpoint) and then
evaluated exactly like the built-in :class:`BicubicUpscaler`.

What makes the numbers comparable with published tables (docs/PROTOCOLS.md):

* **PSNR protocol** (the official ``utils.py``, ``calc_psnr``): ``'benchmark'`` = Y of the RGB difference, shave
  ``ceil(scale)``; ``'div2k'`` = RGB, shave ``ceil(scale) + 6``.  Computed with
  :func:`msit_lite.metrics.calc_psnr` in float64.  SSIM uses the same crop, on Y (with the
  +16 offset) for ``'benchmark'`` and on RGB for ``'div2k'``, after rounding the prediction to
  8 bits (an SR image is an 8-bit image once saved).
* **LR source**: ``'files'`` reads the stored MATLAB-bicubic LR files (the HR is used as stored,
  cropped to ``k x LR`` if a layout stores un-modcropped HR); ``'matlab'`` and ``'pil'`` make the
  LR on the fly like the official ``sr-implicit-downsampled`` wrapper: LR size
  ``floor(H / s + 1e-9)``, HR cropped (top-left) to ``round(LR * s)``, LR made from that crop
  with :func:`~msit_lite.data.resize.imresize` (MATLAB) or :func:`~msit_lite.data.resize.resize_pil`
  (what the official configs use).  With ``'files'``, scales without stored LR files
  (non-integer scales) fall back to ``'matlab'``; each record says which source it used.
* **Gray images** (Set14 ``img_003``): ``gray='channel'`` scores a single-channel HR on its gray
  channel -- the prediction is reduced to one channel with the BT.601 luma weights normalised to
  sum 1 (exact for R = G = B).  This reproduces the published numbers.  ``gray='rgb'`` scores the
  RGB copy through the Y conversion, which is what the official ``calc_psnr`` does: Y of a gray
  difference is 0.859 x the difference, so that image gains 1.32 dB and the Set14 mean ~0.09 dB.

* **Protocol presets** (``protocol=``): ``'auto'`` (default) scores DIV2K with ``'div2k'`` and
  every other set with ``'benchmark'``; ``'official'`` reproduces the official test configs'
  mix exactly (the official ``configs/test/*.yaml``): DIV2K RGB / shave s+6, the others Y / shave s; LR from
  the stored MATLAB files for Set14 and B100 at ×2, ×3, ×4 (the paired wrapper) and from PIL
  bicubic of the HR for everything else (Set5, Urban100, DIV2K at every scale, Set14/B100 at
  ×6, ×8 and beyond); gray images scored through Y as ``calc_psnr`` does (``gray='rgb'``).
  That is how the paper's Tables I-V were measured.
* **Memory**: one image is in memory at a time (HR, LR, the prediction as float64 and the
  scoring temporaries: ~0.5 GB for a 2040x1356 DIV2K image); the model side is bounded by
  :mod:`msit_lite.inference` (query chunks, tiled encoding; ``memory_budget_mb``).
  ``benchmarks/eval_memory.py`` measures the peak RSS at ×12 and ×30 on a 2K image.

The bicubic baseline uses the MATLAB-exact ``imresize`` with 8-bit output, which reproduces the
published "Bicubic" rows.  **Never** put PyTorch's bicubic (a = -0.75,
:func:`~msit_lite.data.resize.resize_torch`) beside published rows: it is a different
interpolator and gives different numbers.
"""
from __future__ import annotations

import csv
import json
import math
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Callable, Iterable, Literal, Sequence, Union

import numpy as np
import torch
from torch import Tensor
from tqdm import tqdm

from msit_lite import paper
from msit_lite.data.folders import ImagePair, benchmark_pairs, canonical_set
from msit_lite.data.io import is_single_channel, read_image, save_image
from msit_lite.data.resize import imresize, resize_pil
from msit_lite.errors import MsitError
from msit_lite.inference import MAX_SCALE, parse_factor
from msit_lite.metrics import calc_psnr, shave_for, ssim
from msit_lite.utils import atomic_path

__all__ = [
    "Upscaler",
    "BicubicUpscaler",
    "ImageResult",
    "EvalResults",
    "evaluate",
    "make_lr",
    "PUBLISHED_BICUBIC",
    "scale_key",
    "resolve_protocol",
    "compare_paper",
]

LrSource = Literal["files", "matlab", "pil"]
GrayMode = Literal["channel", "rgb"]
PsnrProtocol = Literal["benchmark", "div2k"]
Protocol = Literal["auto", "benchmark", "div2k", "official"]
PROTOCOLS = ("auto", "benchmark", "div2k", "official")
SrOutput = Union[Tensor, np.ndarray]
Upscaler = Callable[[np.ndarray, tuple[int, int]], SrOutput]

#: Published bicubic PSNR (dB, benchmark protocol, MATLAB LR files), e.g. EDSR / RCAN tables.
PUBLISHED_BICUBIC: dict[str, dict[str, float]] = {
    "Set5": {"2": 33.66, "3": 30.39, "4": 28.42},
    "Set14": {"2": 30.24, "3": 27.55, "4": 26.00},
    "B100": {"2": 29.56, "3": 27.21, "4": 25.96},
}

#: BT.601 luma weights normalised to sum 1: the "gray" of a colour prediction.
_GRAY_WEIGHTS = np.array([65.738, 129.057, 25.064]) / (65.738 + 129.057 + 25.064)


class BicubicUpscaler:
    """MATLAB ``imresize(lr, [H W], 'bicubic')`` with 8-bit output: the published baseline."""

    name = "bicubic"

    def __call__(self, lr: np.ndarray, hr_size: tuple[int, int]) -> np.ndarray:
        return imresize(lr, size=hr_size)


@dataclass(frozen=True)
class ImageResult:
    """One scored image."""

    dataset: str
    scale: str
    image: str
    psnr: float
    ssim: float
    lr_source: str
    height: int
    width: int
    gray: bool
    protocol: str = "benchmark"  # the PSNR protocol this image was scored with


def scale_key(scale: str | float) -> tuple[str, float]:
    """``"2"`` -> ``("2", 2.0)``: the value, and the user's spelling as the table key. Benchmark
    scales are one number from 1 (bicubic at ×1 scores infinite PSNR) to :data:`MAX_SCALE`."""
    key = scale if isinstance(scale, str) else f"{float(scale):g}"
    value = parse_factor(key)
    if value < 1:
        raise MsitError(f"scale {scale!r} must be a number >= 1 (the upsampling factor)")
    if value > MAX_SCALE:
        raise MsitError(f"scale {scale!r} is above the supported maximum x{MAX_SCALE:g} (the paper's tables go to x30)")
    return key, value


def _integer(s: float) -> int | None:
    return int(round(s)) if abs(s - round(s)) < 1e-9 else None


def make_lr(hr: np.ndarray, scale: float, how: Literal["matlab", "pil"]) -> tuple[np.ndarray, np.ndarray]:
    """The official on-the-fly pair: returns (HR cropped to ``round(lr * s)``, LR).

    LR size is ``floor(H / s + 1e-9)`` x ``floor(W / s + 1e-9)`` (``cascaded_wrappers.py``).
    """
    h_lr = math.floor(hr.shape[0] / scale + 1e-9)
    w_lr = math.floor(hr.shape[1] / scale + 1e-9)
    if h_lr < 1 or w_lr < 1:
        raise MsitError(f"image of {hr.shape[1]}x{hr.shape[0]} is too small for scale x{scale:g}")
    hr = hr[: round(h_lr * scale), : round(w_lr * scale)]
    lr = imresize(hr, size=(h_lr, w_lr)) if how == "matlab" else resize_pil(hr, (h_lr, w_lr))
    return hr, lr


def resolve_protocol(dataset: str, scale: float, protocol: str, lr_source: str) -> tuple[PsnrProtocol, LrSource]:
    """The (PSNR protocol, LR source) used for one set and scale under a preset.

    ``'auto'``: DIV2K -> ``'div2k'``, others -> ``'benchmark'``, LR source as given.
    ``'benchmark'`` / ``'div2k'``: that protocol for every set, LR source as given.
    ``'official'``: the official test configs (module docstring); ``lr_source`` is ignored.
    """
    if protocol not in PROTOCOLS:
        raise MsitError(f"unknown protocol {protocol!r}; use one of {', '.join(PROTOCOLS)}")
    per_set: PsnrProtocol = "div2k" if dataset == "DIV2K" else "benchmark"
    if protocol == "official":
        paired = dataset in ("Set14", "B100") and _integer(scale) in (2, 3, 4)
        return per_set, ("files" if paired else "pil")
    return (per_set if protocol == "auto" else protocol), lr_source  # type: ignore[return-value]


def _stored_pair(pair: ImagePair) -> tuple[np.ndarray, np.ndarray]:
    """(HR, LR) from files; the HR is cropped to ``k * LR`` (official paired wrapper)."""
    assert pair.lr is not None
    hr, lr = read_image(pair.hr), read_image(pair.lr)
    k = hr.shape[0] // lr.shape[0]
    return hr[: lr.shape[0] * k, : lr.shape[1] * k], lr


def _sr_to_chw(sr: SrOutput, hr_size: tuple[int, int], who: str) -> np.ndarray:
    """Validate an upscaler's output and return float64 ``[3, H, W]`` in [0, 1]."""
    if isinstance(sr, Tensor):
        x = sr.detach().to("cpu", torch.float64)
        if x.dim() == 4 and x.shape[0] == 1:
            x = x[0]
        arr = x.clamp(0, 1).numpy()
        ok = arr.ndim == 3 and arr.shape[0] == 3
    elif isinstance(sr, np.ndarray) and sr.dtype == np.uint8:
        arr = sr.transpose(2, 0, 1).astype(np.float64) / 255.0 if sr.ndim == 3 else sr
        ok = sr.ndim == 3 and sr.shape[2] == 3
    else:
        raise MsitError(f"upscaler {who} returned {type(sr).__name__}; expected a [3,H,W] tensor or uint8 HxWx3")
    if not ok or tuple(arr.shape[1:]) != tuple(hr_size):
        raise MsitError(
            f"upscaler {who} returned shape {tuple(sr.shape)} for a {hr_size[0]}x{hr_size[1]} "
            "target; expected [3, H, W] (tensor) or HxWx3 (uint8)"
        )
    if not np.isfinite(arr).all():
        raise MsitError(f"upscaler {who} returned NaN or infinite values; check the checkpoint (a diverged run?)")
    return arr


def _finite_or_none(value: float) -> float | None:
    return value if math.isfinite(value) else None


@dataclass
class EvalResults:
    """Per-image records plus the settings that produced them."""

    model: str
    protocol: str
    lr_source: str
    gray: str
    records: list[ImageResult]

    def summary(self) -> dict[str, dict[str, dict[str, Any]]]:
        """``{dataset: {scale: {"psnr", "ssim", "images", "protocol", "lr_source"}}}`` (means over images).

        ``lr_source`` is the one source of the group, or ``"mixed"`` (e.g. ``files`` with a
        fallback for some images).
        """
        out: dict[str, dict[str, dict[str, Any]]] = {}
        groups: dict[tuple[str, str], list[ImageResult]] = {}
        for r in self.records:
            groups.setdefault((r.dataset, r.scale), []).append(r)
        for (d, s), rs in groups.items():
            sources = sorted({r.lr_source for r in rs})
            out.setdefault(d, {})[s] = {
                "psnr": float(np.mean([r.psnr for r in rs])),
                "ssim": float(np.mean([r.ssim for r in rs])),
                "images": len(rs),
                "protocol": rs[0].protocol,
                "lr_source": sources[0] if len(sources) == 1 else "mixed",
            }
        return out

    def to_json(self) -> dict:
        """Exactly ``{"results": {DATASET: {SCALE: {"psnr": float, "ssim": float}}}}``.

        A value that is not finite -- the PSNR of a prediction identical to its target, e.g.
        bicubic at x1 -- is ``null``: JSON has no ``Infinity``, and strict parsers reject it.
        """
        return {
            "results": {
                d: {s: {"psnr": _finite_or_none(v["psnr"]), "ssim": _finite_or_none(v["ssim"])}
                    for s, v in by_scale.items()}
                for d, by_scale in self.summary().items()
            }
        }

    def write_json(self, path: str | Path) -> Path:
        with atomic_path(path) as tmp:
            tmp.write_text(json.dumps(self.to_json(), indent=2, allow_nan=False) + "\n")
        return Path(path)

    def write_csv(self, path: str | Path) -> Path:
        """One row per image: dataset, scale, image, psnr, ssim, lr_source, height, width, gray."""
        fields = list(ImageResult.__dataclass_fields__)
        with atomic_path(path) as tmp, open(tmp, "w", newline="") as f:
            w = csv.DictWriter(f, fieldnames=fields)
            w.writeheader()
            for r in self.records:
                row = asdict(r)
                row["psnr"] = f"{r.psnr:.6f}"
                row["ssim"] = f"{r.ssim:.6f}"
                w.writerow(row)
        return Path(path)

    def table(self, published: dict[str, dict[str, float]] | None = None) -> str:
        """A printable table, one row per set and scale (optionally with published PSNRs)."""
        head = f"{'dataset':<9}{'scale':>7}{'images':>8}{'scored':>14}{'LR':>8}{'PSNR':>9}{'SSIM':>8}"
        if published:
            head += f"{'published':>11}{'diff':>8}"
        lines = [
            f"model={self.model}  protocol={self.protocol}  lr-source={self.lr_source}  gray={self.gray}",
            head,
        ]
        for d, by_scale in self.summary().items():
            for s, v in by_scale.items():
                scored = f"Y, shave {shave_for('benchmark', float(s))}" if v["protocol"] == "benchmark" \
                    else f"RGB, shave {shave_for('div2k', float(s))}"
                line = (f"{d:<9}{'x' + s:>7}{v['images']:>8}{scored:>14}{v['lr_source']:>8}"
                        f"{v['psnr']:>9.3f}{v['ssim']:>8.4f}")
                ref = (published or {}).get(d, {}).get(s)
                if published:
                    line += f"{ref:>11.2f}{v['psnr'] - ref:>+8.3f}" if ref is not None else f"{'-':>11}{'':>8}"
                lines.append(line)
        return "\n".join(lines)


def _score(
    sr: np.ndarray, hr: np.ndarray, gray: bool, protocol: PsnrProtocol, scale: float
) -> tuple[float, float]:
    """PSNR (official formula, float64) and SSIM of ``sr`` [3,H,W] float vs ``hr`` uint8 HxWxC."""
    if gray:  # one-channel reference: compare with the prediction's gray
        sr = np.tensordot(_GRAY_WEIGHTS, sr, axes=([0], [0]))[None]
    pred = np.ascontiguousarray(sr.transpose(1, 2, 0))  # HxWxC float in [0, 1]
    p = calc_psnr(pred, hr, protocol, scale)
    border = shave_for(protocol, scale)
    q = ssim(pred, hr, crop_border=border, test_y_channel=protocol == "benchmark", quantize=True)
    return p, q


def _sr_to_uint8(sr: np.ndarray) -> np.ndarray:
    """Float ``[3, H, W]`` in [0, 1] -> uint8 ``H x W x 3`` (round half up, as an 8-bit save)."""
    return np.floor(sr.transpose(1, 2, 0) * 255.0 + 0.5).astype(np.uint8)


def evaluate(
    upscaler: Upscaler,
    datasets: Iterable[str],
    scales: Sequence[str | float],
    root: str | Path,
    *,
    protocol: Protocol = "auto",
    lr_source: LrSource = "files",
    gray: GrayMode | None = None,
    progress: bool = True,
    name: str | None = None,
    save_images: str | Path | None = None,
    max_images: int | None = None,
) -> EvalResults:
    """Score ``upscaler`` on every image of every ``dataset`` x ``scale`` (see module docstring).

    ``datasets`` are set names (Set5, Set14, B100, Urban100, DIV2K; aliases like ``bsd100``
    work); ``scales`` keep their spelling as keys (``"2"``, ``"2.5"``, ``"30"``); ``root`` is a
    folder in one of the layouts of :mod:`msit_lite.data.folders`.  ``protocol`` is a preset
    (:func:`resolve_protocol`); ``gray`` defaults to ``'rgb'`` under ``'official'`` and
    ``'channel'`` otherwise.  ``save_images`` writes every prediction as
    ``DIR/<set>/x<scale>/<image>.png``; ``max_images`` keeps the first N images of each set (a
    quick look -- the means are then not the published ones).  Raises :class:`MsitError` for unknown names, missing
    folders, unreadable images and malformed upscaler outputs.
    """
    if protocol not in PROTOCOLS:
        raise MsitError(f"unknown protocol {protocol!r}; use one of {', '.join(PROTOCOLS)}")
    if lr_source not in ("files", "matlab", "pil"):
        raise MsitError(f"unknown LR source {lr_source!r}; use 'files', 'matlab' or 'pil'")
    gray = gray or ("rgb" if protocol == "official" else "channel")
    if gray not in ("channel", "rgb"):
        raise MsitError(f"unknown gray mode {gray!r}; use 'channel' or 'rgb'")
    root = Path(root)
    if not root.is_dir():
        raise MsitError(f"data root {root} is not a folder; pass --data-root DIR (or set MSIT_DATA)")
    who = name or getattr(upscaler, "name", None) or type(upscaler).__name__
    parsed = [scale_key(s) for s in scales]
    sets = [canonical_set(d) for d in datasets]
    if not sets or not parsed:
        raise MsitError("give at least one dataset and one scale")
    if max_images is not None and max_images < 1:
        raise MsitError(f"max_images must be >= 1, got {max_images}")
    jobs = [(d, key, s, pair) for d in sets for key, s in parsed
            for pair in benchmark_pairs(root, d, s)[:max_images]]

    records: list[ImageResult] = []
    bar = tqdm(jobs, desc=f"eval {who}", unit="img", disable=not progress, leave=False)
    for d, key, s, pair in bar:
        bar.set_postfix_str(f"{d} x{key} {pair.name}", refresh=False)
        psnr_protocol, wanted = resolve_protocol(d, s, protocol, lr_source)
        single = is_single_channel(pair.hr)
        source = wanted if (wanted != "files" or pair.lr is not None) else "matlab"
        if source == "files":
            hr, lr = _stored_pair(pair)
        else:
            hr, lr = make_lr(read_image(pair.hr), s, source)  # type: ignore[arg-type]
        size = (hr.shape[0], hr.shape[1])
        sr = _sr_to_chw(upscaler(lr, size), size, who)
        del lr
        if save_images is not None:
            save_image(Path(save_images) / d / f"x{key}" / f"{pair.name}.png", _sr_to_uint8(sr))
        score_gray = single and gray == "channel"
        ref = hr[:, :, :1] if score_gray else hr
        p, q = _score(sr, ref, score_gray, psnr_protocol, s)
        del sr, hr, ref
        records.append(ImageResult(d, key, pair.name, p, q, source, size[0], size[1], single, psnr_protocol))
    return EvalResults(who, protocol, lr_source if protocol != "official" else "official", gray, records)


# ----------------------------------------------------------------------------------------------
# Side by side with the paper
# ----------------------------------------------------------------------------------------------
def compare_paper(
    results: EvalResults,
    *,
    model: str,
    encoder: str | None = None,
    params: int | None = None,
    rows: Sequence[str] | None = None,
) -> str:
    """Our means beside the paper's Table I (DIV2K) / II (benchmark sets) rows, with deltas.

    ``model`` is ``"bicubic"``, ``"liif"`` or ``"msit"`` (picks the reference row), ``encoder``
    ``"edsr-baseline"`` or ``"rdn"``, ``params`` our trainable count (the paper's column).
    A note is added when the numbers were not measured with the paper's protocol.
    """
    out = []
    summary = results.summary()
    for dataset, by_scale in summary.items():
        table = paper.table_for(dataset)
        ours = {s: v["psnr"] for s, v in by_scale.items()}
        if table is None:
            out.append(f"{dataset}: not in the paper's tables")
            continue
        out.append(paper.compare_table(ours, table, label=results.model, model=model, encoder=encoder,
                                       params=params, rows=rows))
        off = [s for s, v in by_scale.items() if v["protocol"] != table.protocol]
        if off:
            out.append(f"  note: x{', x'.join(off)} scored with a different PSNR protocol than the paper's "
                       f"({table.protocol}); use --protocol official")
        elif results.protocol != "official":
            out.append("  note: the paper's numbers use the official LR mix (--protocol official); "
                       f"these used --lr-source {results.lr_source}")
    return "\n\n".join(out)
