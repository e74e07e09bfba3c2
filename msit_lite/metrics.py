"""Image-quality metrics for super-resolution: PSNR (two official protocols) and SSIM.

Why so many variants?  A PSNR number means nothing without its protocol, and SR papers mix
several (the official ``utils.py``, ``calc_psnr``; docs/PROTOCOLS.md):

* :func:`calc_psnr` is the official MSIT/LIIF function (``utils.py:139-156``), reproduced
  operation by operation in the input's dtype, so it matches the golden tensors to float32
  precision.  ``protocol='benchmark'``: the RGB *difference* is turned into a luma difference
  with (65.738, 129.057, 25.064)/256 (no +16 offset -- it cancels in a difference) and
  ``shave = scale`` pixels are cut from every border.  ``protocol='div2k'``: RGB, shave
  ``scale + 6``.  ``None``: whole image, RGB.  Single-channel input is never converted.
* :func:`psnr` is the explicit BasicSR-style function used for tables: you say how many border
  pixels to crop and whether to score the Y channel (ITU-R BT.601, ``16 + 65.481 R + 128.553 G +
  24.966 B`` on [0,1] RGB, i.e. MATLAB's ``rgb2ycbcr``).  Computed in float64.
* :func:`ssim` is the "MATLAB-style" SSIM of the SR literature (Wang et al. 2004 as in the
  authors' ``ssim_index.m``, and BasicSR): 11x11 Gaussian window, sigma 1.5, on values in
  [0, 255] (Y with the +16 offset when ``test_y_channel``), ``valid`` filtering, float64, mean of
  the SSIM map (averaged over channels when scoring RGB).

Inputs (all functions): a ``torch.Tensor`` ``[C,H,W]`` or ``[B,C,H,W]`` holding values in
``[0, data_range]`` (default 1), or a ``numpy`` array ``HxW`` / ``HxWxC`` (``uint8``: values
0..255; float: ``[0, data_range]``).  ``sr`` and ``hr`` must have the same shape after that
conversion, otherwise :class:`~msit_lite.errors.MsitError` is raised.  A single-channel image is
scored on its only channel (no Y conversion), which is how the published tables treat the
grayscale Set14 image.
"""
from __future__ import annotations

import math
from typing import Literal, Sequence

import numpy as np
import torch
from scipy.ndimage import correlate1d
from torch import Tensor

from msit_lite.errors import MsitError

__all__ = ["calc_psnr", "psnr", "ssim", "rgb_to_y", "shave_for", "to_nchw"]

Protocol = Literal["benchmark", "div2k"]

#: Luma weights of the difference in the official ``calc_psnr`` (sum 219.859/256).
DIFF_Y_WEIGHTS = (65.738 / 256, 129.057 / 256, 25.064 / 256)
#: ITU-R BT.601 luma of MATLAB's ``rgb2ycbcr`` for RGB in [0, 1] -> Y in [16, 235] (/255 here).
YCBCR_WEIGHTS = (65.481, 128.553, 24.966)


def shave_for(protocol: Protocol | None, scale: float) -> int:
    """Border pixels cut by the official protocol: ``ceil(scale)`` (benchmark), ``+6`` (div2k).

    The official code only ever sees integer scales (``eval_type='benchmark-4'`` is parsed with
    ``int``); a float scale would make its slicing raise ``TypeError``.  We take ``ceil`` so that
    non-integer scales crop at least the pixels the integer rule would.
    """
    if protocol is None:
        return 0
    base = int(math.ceil(float(scale) - 1e-9))
    if protocol == "benchmark":
        return base
    if protocol == "div2k":
        return base + 6
    raise MsitError(f"unknown PSNR protocol {protocol!r}; use 'benchmark', 'div2k' or None")


def to_nchw(img: Tensor | np.ndarray, *, data_range: float = 1.0) -> Tensor:
    """Convert an accepted input (see module docstring) to a float ``[B, C, H, W]`` tensor in [0, 1].

    Tensors keep their float dtype (float32 stays float32, so :func:`calc_psnr` can reproduce the
    official float32 arithmetic); numpy arrays become float64.
    """
    if isinstance(img, np.ndarray):
        if img.ndim == 2:
            img = img[:, :, None]
        if img.ndim != 3:
            raise MsitError(f"expected an HxW or HxWxC image array, got shape {img.shape}")
        if img.dtype == np.uint8:
            arr = img.astype(np.float64) / 255.0
        elif np.issubdtype(img.dtype, np.floating):
            arr = img.astype(np.float64) / data_range
        else:
            raise MsitError(f"image arrays must be uint8 or float, got dtype {img.dtype}")
        return torch.from_numpy(np.ascontiguousarray(arr.transpose(2, 0, 1)))[None]
    if isinstance(img, Tensor):
        if img.dim() == 3:
            img = img[None]
        if img.dim() != 4:
            raise MsitError(f"expected a [C,H,W] or [B,C,H,W] tensor, got shape {tuple(img.shape)}")
        if img.dtype == torch.uint8:
            return img.to(torch.float64) / 255.0
        if not img.is_floating_point():
            raise MsitError(f"image tensors must be float or uint8, got dtype {img.dtype}")
        return img if data_range == 1.0 else img / data_range
    raise MsitError(f"expected a torch.Tensor or numpy array image, got {type(img).__name__}")


def _check_shapes(sa: Sequence[int], sb: Sequence[int]) -> None:
    if tuple(sa) != tuple(sb):
        raise MsitError(
            f"prediction and reference differ in shape: {tuple(sa)} vs {tuple(sb)} "
            "(as [B,C,H,W]); crop or resize them to the same size first"
        )
    if sa[1] not in (1, 3):
        raise MsitError(f"images must have 1 or 3 channels, got {sa[1]}")


def _crop(x: np.ndarray | Tensor, border: int) -> np.ndarray | Tensor:
    if border < 0:
        raise MsitError(f"crop_border must be >= 0, got {border}")
    if border == 0:
        return x
    if x.shape[-2] <= 2 * border or x.shape[-1] <= 2 * border:
        raise MsitError(f"image {tuple(x.shape[-2:])} is too small for a {border}-pixel border crop")
    return x[..., border:-border, border:-border]


def calc_psnr(
    sr: Tensor | np.ndarray,
    hr: Tensor | np.ndarray,
    protocol: Protocol | None = None,
    scale: float = 1,
    *,
    rgb_range: float = 1.0,
) -> float:
    """The official ``calc_psnr`` (``utils.py``), returned as a Python float.

    Same operations in the same order and dtype as the official code, so float32 tensors give the
    official float32 result.  When *both* inputs are numpy arrays the same formula runs in numpy
    float64 (faster for evaluation loops; torch's thread pool is slow on tiny CPU ops).
    Differences from the official function, all on inputs it rejects or mishandles: a
    non-integer ``scale`` uses ``shave = ceil(scale)`` (the official slicing raises
    ``TypeError``); ``shave = 0`` means no crop (the official ``x[0:-0]`` is empty -> NaN).
    """
    shave = shave_for(protocol, scale)
    if isinstance(sr, np.ndarray) and isinstance(hr, np.ndarray):
        x, y = _as_array(sr, 1.0), _as_array(hr, 1.0)
        _check_shapes(x.shape, y.shape)
        d = (x - y) / rgb_range
        if protocol == "benchmark" and d.shape[1] > 1:
            d = _luma(d, [65.738 / 256, 129.057 / 256, 25.064 / 256], 0.0)
        mse = float(np.mean(_crop(d, shave) ** 2))
        return math.inf if mse == 0 else -10.0 * math.log10(mse)
    a, b = to_nchw(sr), to_nchw(hr)
    _check_shapes(a.shape, b.shape)
    diff = (a - b) / rgb_range
    if protocol == "benchmark" and diff.shape[1] > 1:
        convert = diff.new_tensor([65.738, 129.057, 25.064]).view(1, 3, 1, 1) / 256
        diff = diff.mul(convert).sum(dim=1)
    mse = _crop(diff, shave).pow(2).mean()
    return float(-10 * torch.log10(mse))


def rgb_to_y(img: Tensor) -> Tensor:
    """BT.601 luma in [16/255, 235/255] of an RGB ``[B,3,H,W]`` tensor in [0,1] (MATLAB ``rgb2ycbcr``)."""
    w = img.new_tensor(YCBCR_WEIGHTS).view(1, 3, 1, 1)
    return ((img * w).sum(dim=1, keepdim=True) + 16.0) / 255.0


def _as_array(img: Tensor | np.ndarray, data_range: float) -> np.ndarray:
    """Like :func:`to_nchw` but a float64 numpy ``[B, C, H, W]`` array (a view where possible)."""
    if isinstance(img, np.ndarray) and img.ndim in (2, 3) and (
        img.dtype == np.uint8 or np.issubdtype(img.dtype, np.floating)
    ):
        a = img[:, :, None] if img.ndim == 2 else img
        scale = 255.0 if img.dtype == np.uint8 else data_range
        return (a.astype(np.float64) / scale).transpose(2, 0, 1)[None]
    return to_nchw(img, data_range=data_range).detach().to("cpu", torch.float64).numpy()


def _luma(x: np.ndarray, weights: Sequence[float], offset: float) -> np.ndarray:
    """``offset + sum_c w_c x_c`` over the channel axis of ``[B, 3, H, W]`` -> ``[B, 1, H, W]``."""
    return (offset + weights[0] * x[:, 0] + weights[1] * x[:, 1] + weights[2] * x[:, 2])[:, None]


def _prepare(
    sr: Tensor | np.ndarray,
    hr: Tensor | np.ndarray,
    crop_border: int,
    test_y_channel: bool,
    data_range: float,
    quantize: bool,
) -> tuple[np.ndarray, np.ndarray]:
    """Validated float64 ``[B, C, H, W]`` numpy arrays in [0, 1], quantised / Y / cropped."""
    a, b = _as_array(sr, data_range), _as_array(hr, data_range)
    _check_shapes(a.shape, b.shape)
    if quantize:
        a = np.floor(np.clip(a, 0.0, 1.0) * 255.0 + 0.5) / 255.0
    if test_y_channel and a.shape[1] == 3:
        w = [c / 255.0 for c in YCBCR_WEIGHTS]
        a, b = _luma(a, w, 16.0 / 255.0), _luma(b, w, 16.0 / 255.0)
    return _crop(a, crop_border), _crop(b, crop_border)  # type: ignore[return-value]


def psnr(
    sr: Tensor | np.ndarray,
    hr: Tensor | np.ndarray,
    *,
    crop_border: int,
    test_y_channel: bool,
    data_range: float = 1.0,
    quantize: bool = False,
) -> float:
    """PSNR in dB (BasicSR style, float64): ``10 log10(1 / mse)`` on [0,1] values.

    ``crop_border`` pixels are removed on every side; ``test_y_channel`` scores the BT.601 Y
    (with its +16 offset, which cancels) of RGB inputs.  ``quantize`` rounds the prediction to
    8 bits first.  Identical images give ``inf``.  A batch is scored as one pooled MSE.
    """
    a, b = _prepare(sr, hr, crop_border, test_y_channel, data_range, quantize)
    mse = float(((a - b) ** 2).mean())
    return math.inf if mse == 0 else -10.0 * math.log10(mse)


def _gaussian_1d(size: int = 11, sigma: float = 1.5) -> np.ndarray:
    x = np.arange(size, dtype=np.float64) - (size - 1) / 2.0
    g = np.exp(-(x**2) / (2.0 * sigma**2))
    return g / g.sum()


def _filter_valid(img: np.ndarray, g: np.ndarray) -> np.ndarray:
    """Separable ``valid`` correlation of a 2-D plane with ``g gᵀ`` (the 2-D Gaussian).

    ``correlate1d`` pads the border, and cutting ``k // 2`` pixels from each side keeps exactly
    the outputs whose window lies inside the image (MATLAB ``filter2(..., 'valid')``).
    """
    r = g.shape[0] // 2
    out = correlate1d(correlate1d(img, g, axis=1, mode="nearest"), g, axis=0, mode="nearest")
    return out[r:-r, r:-r]


def _ssim_plane(x: np.ndarray, y: np.ndarray) -> float:
    """SSIM of two 2-D float64 planes with values in [0, 255] (mean of the valid SSIM map)."""
    c1, c2 = (0.01 * 255) ** 2, (0.03 * 255) ** 2
    g = _gaussian_1d()
    mu_x, mu_y = _filter_valid(x, g), _filter_valid(y, g)
    sxx = _filter_valid(x * x, g) - mu_x**2
    syy = _filter_valid(y * y, g) - mu_y**2
    sxy = _filter_valid(x * y, g) - mu_x * mu_y
    num = (2 * mu_x * mu_y + c1) * (2 * sxy + c2)
    den = (mu_x**2 + mu_y**2 + c1) * (sxx + syy + c2)
    return float((num / den).mean())


def ssim(
    sr: Tensor | np.ndarray,
    hr: Tensor | np.ndarray,
    *,
    crop_border: int,
    test_y_channel: bool,
    data_range: float = 1.0,
    quantize: bool = False,
) -> float:
    """MATLAB-style SSIM (Gaussian 11x11, sigma 1.5, K = 0.01/0.03, float64, values in [0,255]).

    Same conventions as :func:`psnr`.  RGB without ``test_y_channel`` averages the three
    channel SSIMs; a batch averages over images.  Images smaller than 11x11 after the crop
    raise :class:`MsitError`.
    """
    a, b = _prepare(sr, hr, crop_border, test_y_channel, data_range, quantize)
    if a.shape[-1] < 11 or a.shape[-2] < 11:
        raise MsitError(f"SSIM needs at least 11x11 pixels after cropping, got {tuple(a.shape[-2:])}")
    x, y = a * 255.0, b * 255.0
    vals = [_ssim_plane(x[i, c], y[i, c]) for i in range(x.shape[0]) for c in range(x.shape[1])]
    return float(np.mean(vals))
