"""Resizing: PyTorch bicubic (training), MATLAB-compatible ``imresize`` and PIL bicubic (evaluation).

Why three resizers?  Super-resolution numbers are only comparable when the low-resolution input
was made the same way.  Three conventions meet in this project:

* :func:`resize_torch` -- PyTorch bicubic (Keys kernel with a = -0.75, antialiased), the paper's
  training recipe.  Never use it to make the bicubic *baseline* of a published table.
* :func:`imresize` -- MATLAB's ``imresize(img, s, 'bicubic')``: Keys cubic with a = -0.5, the
  kernel stretched by 1/s when shrinking (antialiasing), weights normalised per output pixel.
  The benchmark LR files (``benchmark/<Set>/X<k>/LR``) were made with it, and published
  "Bicubic" rows upsample with it.  For ``uint8`` input every 1-D pass is rounded to 8 bits
  (half away from zero), as MATLAB does; this is what makes the stored LR files come out bit for
  bit (``benchmarks/imresize_exactness.py``; measured 100 % identical pixels on Set5/Set14/B100
  at x2/x3/x4).
* :func:`resize_pil` -- Pillow's bicubic on an 8-bit image, what the official MSIT test configs
  do with torchvision ``Resize`` on PIL images for Set5 / Urban100 / DIV2K and x6/x8
  (the official ``datasets/cascaded_wrappers.py``).

The MATLAB resize is separable: for each axis we precompute the input indices and weights of
every output pixel (the "contributions" of MATLAB's ``imresize.m``) and apply them as a gather
plus weighted sum in float64 (numpy); the torch path uses the same weights as a dense matrix.
Borders use *replicate* padding: out-of-range taps are folded onto the first/last pixel (a
mirrored border does not reproduce the stored files).  The axis with the smaller scale is resized
first (MATLAB's order; rows first when both scales are equal).
"""
from __future__ import annotations

import math
from functools import lru_cache
from typing import Sequence

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image
from torch import Tensor

from msit_lite.errors import MsitError

__all__ = [
    "resize_torch",
    "imresize",
    "imresize_torch",
    "imresize_output_size",
    "cubic",
    "resize_taps",
    "resize_weights",
    "resize_pil",
]


def resize_torch(img: Tensor, size: tuple[int, int]) -> Tensor:
    """PyTorch bicubic (a = -0.75) with antialiasing, as the paper's training recipe says.

    ``img`` is ``[C, H, W]`` or ``[B, C, H, W]`` float; returns the same rank at ``size`` = (h, w).
    No clamping: callers that need [0, 1] clamp themselves.
    """
    batched = img.dim() == 4
    x = img if batched else img.unsqueeze(0)
    y = F.interpolate(x, size=size, mode="bicubic", align_corners=False, antialias=True)
    return y if batched else y.squeeze(0)


# --------------------------------------------------------------------------------------------
# MATLAB-compatible imresize
# --------------------------------------------------------------------------------------------


def cubic(x: np.ndarray) -> np.ndarray:
    """Keys' cubic convolution kernel with a = -0.5 (MATLAB's ``cubic``), support [-2, 2]."""
    ax = np.abs(x)
    ax2, ax3 = ax * ax, ax * ax * ax
    near = (1.5 * ax3 - 2.5 * ax2 + 1.0) * (ax <= 1)
    far = (-0.5 * ax3 + 2.5 * ax2 - 4.0 * ax + 2.0) * ((ax > 1) & (ax <= 2))
    return near + far


def imresize_output_size(
    in_size: tuple[int, int], scale: float | Sequence[float]
) -> tuple[int, int]:
    """MATLAB's output-size rule for a given scale: ``ceil(scale * size)`` per axis."""
    sh, sw = _pair(scale)
    return (math.ceil(sh * in_size[0]), math.ceil(sw * in_size[1]))


@lru_cache(maxsize=256)
def resize_taps(
    in_len: int, out_len: int, scale: float, antialias: bool = True
) -> tuple[np.ndarray, np.ndarray]:
    """Input indices and weights of one MATLAB bicubic 1-D resize, both ``[out_len, taps]``.

    Output pixel ``x`` (1-based) maps to input position ``u = x/scale + (1 - 1/scale)/2``
    (pixel centres aligned).  When shrinking with antialiasing the kernel is ``s * cubic(s * t)``,
    i.e. stretched to width ``4/s``.  The weights of each row are normalised to sum 1, and
    indices outside ``[0, in_len)`` are clamped to the edge pixel (replicate border).
    """
    if in_len < 1 or out_len < 1:
        raise MsitError(f"cannot resize a length-{in_len} axis to length {out_len}; sizes must be >= 1")
    shrink = scale < 1 and antialias
    width = 4.0 / scale if shrink else 4.0
    x = np.arange(1, out_len + 1, dtype=np.float64)
    u = x / scale + 0.5 * (1.0 - 1.0 / scale)
    left = np.floor(u - width / 2.0)
    taps = int(math.ceil(width)) + 2
    idx = left[:, None] + np.arange(taps, dtype=np.float64)[None, :]  # 1-based input indices
    dist = u[:, None] - idx
    w = scale * cubic(scale * dist) if shrink else cubic(dist)
    w = w / w.sum(axis=1, keepdims=True)
    keep = np.any(w != 0, axis=0)  # drop tap columns that are zero for every output pixel
    cols = np.clip(idx[:, keep].astype(np.int64) - 1, 0, in_len - 1)  # replicate border
    w = np.ascontiguousarray(w[:, keep])
    cols.setflags(write=False)
    w.setflags(write=False)
    return cols, w


def resize_weights(in_len: int, out_len: int, scale: float, antialias: bool = True) -> np.ndarray:
    """The same resize as a dense ``[out_len, in_len]`` float64 matrix (``out = M @ in``)."""
    cols, w = resize_taps(in_len, out_len, scale, antialias)
    mat = np.zeros((out_len, in_len), dtype=np.float64)
    np.add.at(mat, (np.repeat(np.arange(out_len), cols.shape[1]), cols.ravel()), w.ravel())
    return mat


def _resize_axis(x: np.ndarray, axis: int, cols: np.ndarray, w: np.ndarray) -> np.ndarray:
    """``out[i] = sum_t w[i, t] * x[cols[i, t]]`` along ``axis`` (0 or 1) of an HxW[xC] array.

    A gather and a weighted sum: cheaper than a dense matmul for these banded matrices, and
    free of BLAS threads (which stall on a busy machine).
    """
    shape = [1] * x.ndim
    shape[axis] = w.shape[0]
    out = np.zeros(x.shape[:axis] + (w.shape[0],) + x.shape[axis + 1 :], dtype=np.float64)
    for t in range(w.shape[1]):
        out += np.take(x, cols[:, t], axis=axis) * w[:, t].reshape(shape)
    return out


def _pair(v: float | Sequence[float]) -> tuple[float, float]:
    if isinstance(v, (int, float, np.floating, np.integer)):
        return float(v), float(v)
    t = tuple(float(a) for a in v)
    if len(t) != 2:
        raise MsitError(f"scale must be a number or a pair (sh, sw), got {v!r}")
    return t  # type: ignore[return-value]


def _plan(
    in_size: tuple[int, int],
    scale: float | Sequence[float] | None,
    size: Sequence[int] | None,
) -> tuple[tuple[int, int], tuple[float, float]]:
    """Output size and per-axis scale, as MATLAB derives them from ``scale`` or ``size``."""
    if (scale is None) == (size is None):
        raise MsitError("imresize needs exactly one of scale= or size=")
    if size is not None:
        if len(size) != 2 or any(int(s) < 1 for s in size):
            raise MsitError(f"imresize size must be (height, width) with positive ints, got {size!r}")
        out = (int(size[0]), int(size[1]))
        return out, (out[0] / in_size[0], out[1] / in_size[1])
    sh, sw = _pair(scale)  # type: ignore[arg-type]
    if not (sh > 0 and sw > 0 and math.isfinite(sh) and math.isfinite(sw)):
        raise MsitError(f"imresize scale must be positive and finite, got {scale!r}")
    return imresize_output_size(in_size, (sh, sw)), (sh, sw)


def _round_u8(x: np.ndarray) -> np.ndarray:
    # Values are clipped to [0, 255] first, so "half away from zero" is floor(x + 0.5).
    return np.floor(np.clip(x, 0.0, 255.0) + 0.5)


def imresize(
    img: np.ndarray,
    scale: float | Sequence[float] | None = None,
    size: Sequence[int] | None = None,
    *,
    antialias: bool = True,
) -> np.ndarray:
    """MATLAB ``imresize(img, scale)`` / ``imresize(img, [h w])`` with the default bicubic method.

    ``img`` is ``HxW`` or ``HxWxC``, ``uint8`` or floating point.  Give ``scale`` (a number or
    ``(sh, sw)``; the output is ``ceil(scale * size)``) or ``size`` = ``(h, w)``.

    * ``uint8`` in -> ``uint8`` out, rounded (half away from zero, clipped to 0..255) after each
      1-D pass, exactly as MATLAB does.
    * float in -> float64 out, no rounding and no clipping (MATLAB's behaviour for ``double``).
    """
    if not isinstance(img, np.ndarray) or img.ndim not in (2, 3):
        raise MsitError(f"imresize expects an HxW or HxWxC numpy array, got {getattr(img, 'shape', type(img))}")
    is_u8 = img.dtype == np.uint8
    if not is_u8 and not np.issubdtype(img.dtype, np.floating):
        raise MsitError(f"imresize supports uint8 or float images, got dtype {img.dtype}")
    out_size, scales = _plan((img.shape[0], img.shape[1]), scale, size)
    x = img.astype(np.float64)
    # smallest scale first (most reduction first); stable, so rows first on ties
    for axis in sorted((0, 1), key=lambda a: scales[a]):
        cols, w = resize_taps(img.shape[axis], out_size[axis], scales[axis], antialias)
        x = _resize_axis(x, axis, cols, w)
        if is_u8:
            x = _round_u8(x)
    return x.astype(np.uint8) if is_u8 else x


def imresize_torch(
    img: Tensor,
    scale: float | Sequence[float] | None = None,
    size: Sequence[int] | None = None,
    *,
    quantize: bool = False,
    antialias: bool = True,
) -> Tensor:
    """:func:`imresize` on a ``[C, H, W]`` / ``[B, C, H, W]`` float tensor (values in [0, 1]).

    Same weights, applied with two float64 matmuls on the tensor's device.  With
    ``quantize=True`` the input is taken as 8-bit (``round(255 x)``) and each pass is rounded to
    8 bits (half away from zero), reproducing the ``uint8`` path for 8-bit inputs; the result is
    ``k / 255``.  Returns the input dtype.
    """
    if not isinstance(img, Tensor) or img.dim() not in (3, 4):
        raise MsitError(f"imresize_torch expects a [C,H,W] or [B,C,H,W] tensor, got {getattr(img, 'shape', type(img))}")
    h, w = img.shape[-2], img.shape[-1]
    out_size, scales = _plan((h, w), scale, size)
    x = img.to(torch.float64)
    if quantize:  # work in 0..255 units so that ties (x.5) are exact, as in the uint8 path
        x = torch.floor(x.mul(255.0).clamp(0.0, 255.0) + 0.5)
    for axis in sorted((0, 1), key=lambda a: scales[a]):
        mat = torch.from_numpy(resize_weights((h, w)[axis], out_size[axis], scales[axis], antialias))
        mat = mat.to(x.device)
        x = torch.matmul(mat, x) if axis == 0 else torch.matmul(x, mat.T)
        if quantize:
            x = torch.floor(x.clamp(0.0, 255.0) + 0.5)
    if quantize:
        x = x / 255.0
    return x.to(img.dtype)


# --------------------------------------------------------------------------------------------
# PIL bicubic (the official on-the-fly protocol)
# --------------------------------------------------------------------------------------------


def resize_pil(img: np.ndarray, size: Sequence[int]) -> np.ndarray:
    """Pillow bicubic (antialiased, a = -0.5, 8-bit result) to ``size`` = (h, w).

    This is what the official test configs do for on-the-fly LR: a ``[0,1]`` tensor -> PIL image
    -> torchvision ``Resize((h, w), BICUBIC)`` -> tensor.  For 8-bit images that round trip is
    lossless, so resizing the uint8 array directly gives the same pixels.  ``img`` is ``uint8``
    ``HxW``, ``HxWx1`` or ``HxWx3``; the output keeps the layout.
    """
    if not isinstance(img, np.ndarray) or img.dtype != np.uint8 or img.ndim not in (2, 3):
        raise MsitError("resize_pil expects a uint8 HxW or HxWxC numpy array")
    h, w = int(size[0]), int(size[1])
    if h < 1 or w < 1:
        raise MsitError(f"resize_pil size must be positive, got {tuple(size)!r}")
    squeeze = img.ndim == 3 and img.shape[2] == 1
    arr = img[:, :, 0] if squeeze else img
    out = np.asarray(Image.fromarray(arr).resize((w, h), Image.Resampling.BICUBIC))
    return out[:, :, None] if squeeze else out
