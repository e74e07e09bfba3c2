"""Scales and output sizes: what a user asks for, checked before any work is done.

One parser for ``--scale`` (``4``, ``3.5``, ``2x3``) and ``--size`` (``1920x1080``), and
:func:`resolve_output_size`, which turns a scale or a size into the HR size and refuses what
this tool does not do (shrinking, factors above :data:`MAX_SCALE`, outputs above a pixel limit).
"""
from __future__ import annotations

import math
import re
from typing import Sequence

from msit_lite.coords import target_size
from msit_lite.errors import MsitError

#: Largest up-scaling factor per axis (the paper tests up to ×30).
MAX_SCALE = 32.0
#: Largest output (pixels) accepted unless ``max_output_pixels`` says otherwise (64 megapixels).
DEFAULT_MAX_OUTPUT_PIXELS = 64_000_000

Scale = float | tuple[float, float]
_PAIR = re.compile(r"^\s*([0-9.eE+-]+)\s*[xX×]\s*([0-9.eE+-]+)\s*$")


def parse_factor(text: str | float) -> float:
    """``"3.5"`` -> 3.5: one finite number (whether it is a sensible factor depends on the use)."""
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not math.isfinite(value):
        raise MsitError(f"scale {text!r} is not a number like 4 or 3.5")
    return value


def parse_scale(text: str) -> Scale:
    """``"3.5"`` -> 3.5; ``"2x3"`` -> ``(2.0, 3.0)`` = (height, width) factors (``--scale``)."""
    m = _PAIR.match(text)
    try:
        return (parse_factor(m.group(1)), parse_factor(m.group(2))) if m else parse_factor(text)
    except MsitError:
        raise MsitError(f"scale {text!r} is not a number like 4 or 3.5, or a HEIGHTxWIDTH pair like 2x3") from None


def parse_size(text: str) -> tuple[int, int]:
    """``"1920x1080"`` (WIDTH x HEIGHT, as image tools print it) -> ``(1080, 1920)`` = (H, W)."""
    m = _PAIR.match(text)
    if m:
        try:
            width, height = int(m.group(1)), int(m.group(2))
        except ValueError:
            width = height = 0
        if width > 0 and height > 0:
            return height, width
    raise MsitError(f"size {text!r} is not WIDTHxHEIGHT with positive integers, like 1920x1080")


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
    pair = _as_pair(scale) if scale is not None else None
    if pair is not None and not all(math.isfinite(s) for s in pair):
        raise MsitError(f"scale {scale!r} is not a finite number")
    out = target_size((h, w), pair, size)
    if pair is not None:
        sh, sw = pair
        what = f"scale {sh:g}x{sw:g}" if sh != sw else f"scale {sh:g}"
    else:
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


__all__ = ["DEFAULT_MAX_OUTPUT_PIXELS", "MAX_SCALE", "Scale", "parse_factor", "parse_scale", "parse_size", "resolve_output_size"]
