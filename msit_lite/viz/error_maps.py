r"""Error maps across scales (paper Fig. 1), zoomed comparisons (Figs. 5, 9) and stepwise
incremental SR (Fig. 6).

* **Mean error map** (Fig. 1): ``|SR − HR|`` averaged over the RGB channels, per pixel. The paper's
  claim: at small scales the error sits on *shapes* (edges of objects), at large scales on
  *texture*. To compare scales on the same picture we degrade one HR image by each factor s
  (MATLAB-style bicubic, :func:`msit_lite.data.resize.imresize`, to ``round(H/s) × round(W/s)``)
  and super-resolve back to exactly ``H × W``; the effective factor is ``H / round(H/s)``.
* **Zoomed comparisons**: the same HR box cut out of bicubic, LIIF, MSIT and the ground truth,
  each with its PSNR on the box (Y channel, no border crop -- a *local* number, not a benchmark one).
* **Stepwise incremental SR** (Fig. 6): one LR input enlarged by ×1.7, ×2.6, ×3.5, ×4.4, showing
  the same LR region at each factor -- one trained model, any factor, no retraining.

An *upscaler* here is any function ``f(lr_uint8, (H, W)) -> uint8 H×W×3``:
:func:`model_upscaler` wraps a model (the inference runner, 8-bit output), :func:`bicubic_upscaler`
MATLAB bicubic.
"""
from __future__ import annotations

from typing import Any, Callable, Sequence

import numpy as np

from msit_lite import inference
from msit_lite.data.resize import imresize
from msit_lite.errors import MsitError
from msit_lite.metrics import psnr
from msit_lite.models.base import ImplicitSRModel

Upscaler = Callable[[np.ndarray, tuple[int, int]], np.ndarray]


def model_upscaler(model: ImplicitSRModel, **kwargs: Any) -> Upscaler:
    """``f(lr, (H, W))`` for ``model``: :func:`msit_lite.inference.model_upscaler` with 8-bit output
    (the image :func:`~msit_lite.inference.upscale` writes); ``kwargs`` as there."""
    return inference.model_upscaler(model, uint8=True, **kwargs)  # type: ignore[return-value]


def bicubic_upscaler() -> Upscaler:
    """``f(lr, (H, W))``: MATLAB bicubic (the "Bicubic" rows of SR tables)."""
    return lambda lr, size: imresize(lr, size=(int(size[0]), int(size[1])))


def _check_u8(img: np.ndarray, what: str) -> None:
    if not isinstance(img, np.ndarray) or img.ndim != 3 or img.shape[2] != 3 or img.dtype != np.uint8:
        raise MsitError(f"{what}: expected an H×W×3 uint8 image, got {getattr(img, 'dtype', type(img))} "
                        f"{getattr(img, 'shape', '')}")


def degrade(hr: np.ndarray, scale: float) -> np.ndarray:
    """The LR input for factor ``scale``: MATLAB bicubic to ``round(H/s) × round(W/s)``."""
    _check_u8(hr, "degrade")
    if not scale >= 1:
        raise MsitError(f"scale must be >= 1, got {scale}")
    size = (max(1, round(hr.shape[0] / scale)), max(1, round(hr.shape[1] / scale)))
    return imresize(hr, size=size)


def error_map(sr: np.ndarray, hr: np.ndarray) -> np.ndarray:
    """Per-pixel mean absolute error over RGB, in [0, 1] units: ``[H, W]`` float64."""
    _check_u8(sr, "error_map sr")
    _check_u8(hr, "error_map hr")
    if sr.shape != hr.shape:
        raise MsitError(f"error_map: SR {sr.shape} and HR {hr.shape} differ in size")
    return np.abs(sr.astype(np.float64) - hr.astype(np.float64)).mean(axis=2) / 255.0


def error_maps_across_scales(upscaler: Upscaler, hr: np.ndarray, scales: Sequence[float]) -> dict[float, np.ndarray]:
    """``{s: error_map(upscaler(degrade(hr, s), (H, W)), hr)}`` for every scale ``s``."""
    _check_u8(hr, "error_maps_across_scales")
    out = {}
    for s in scales:
        sr = upscaler(degrade(hr, s), hr.shape[:2])
        out[float(s)] = error_map(sr, hr)
    return out


def error_share_on_edges(err: np.ndarray, hr: np.ndarray, quantile: float = 0.8) -> float:
    """Share of the total error on the "edge" pixels: HR gradient magnitude strictly above its ``quantile``.

    With the default 0.8 that is (at most) the 20 % strongest-gradient pixels. A number for Fig. 1's
    story: a high share = the error sits on edges and texture.
    """
    grey = hr.astype(np.float64).mean(axis=2)
    gy, gx = np.gradient(grey)
    mag = np.hypot(gy, gx)
    mask = mag > np.quantile(mag, quantile)
    total = err.sum()
    return float(err[mask].sum() / total) if total > 0 else 0.0


def crop(img: np.ndarray, box: tuple[int, int, int, int]) -> np.ndarray:
    """``img[top:top+h, left:left+w]`` for ``box = (top, left, h, w)``, checked."""
    top, left, h, w = box
    if top < 0 or left < 0 or h < 1 or w < 1 or top + h > img.shape[0] or left + w > img.shape[1]:
        raise MsitError(f"box {box} (top, left, h, w) leaves the {img.shape[0]}x{img.shape[1]} image")
    return img[top:top + h, left:left + w]


def box_psnr(sr: np.ndarray, hr: np.ndarray, box: tuple[int, int, int, int]) -> float:
    """PSNR (Y channel, no border crop) of the box -- a local number for a zoomed panel."""
    return float(psnr(crop(sr, box), crop(hr, box), crop_border=0, test_y_channel=True))


def stepwise_sr(
    upscaler: Upscaler, lr: np.ndarray, scales: Sequence[float] = (1.7, 2.6, 3.5, 4.4)
) -> dict[float, np.ndarray]:
    """One LR image enlarged by each factor (Fig. 6): ``{s: uint8 round(h·s) × round(w·s)}``."""
    _check_u8(lr, "stepwise_sr")
    return {float(s): upscaler(lr, (round(lr.shape[0] * s), round(lr.shape[1] * s))) for s in scales}


def show_error_maps(maps: dict[float, np.ndarray], axes=None, vmax: float | None = None):
    """One panel per scale, a shared colour scale (brighter = larger error, as in Fig. 1)."""
    import matplotlib.pyplot as plt

    if axes is None:
        _, axes = plt.subplots(1, len(maps), figsize=(2.6 * len(maps), 2.8))
    axes = np.atleast_1d(axes)
    top = vmax if vmax is not None else max(float(np.percentile(m, 99.5)) for m in maps.values())
    for ax, (s, m) in zip(axes, maps.items()):
        ax.imshow(m, cmap="inferno", vmin=0, vmax=top)
        ax.set_title(f"×{s:g}: MAE {m.mean() * 255:.2f}/255", fontsize=9)
        ax.set_axis_off()
    return axes


def show_zoom(panels: dict[str, np.ndarray], hr: np.ndarray, box: tuple[int, int, int, int], axes=None):
    """The HR image with the box, then the box from every panel (titles: name and box PSNR)."""
    import matplotlib.pyplot as plt
    from matplotlib.patches import Rectangle

    if axes is None:
        _, axes = plt.subplots(1, len(panels) + 1, figsize=(2.4 * (len(panels) + 1), 2.6))
    axes = np.atleast_1d(axes)
    axes[0].imshow(hr)
    top, left, h, w = box
    axes[0].add_patch(Rectangle((left - 0.5, top - 0.5), w, h, fill=False, edgecolor="red", linewidth=1.5))
    axes[0].set_title("HR", fontsize=9)
    for ax, (name, img) in zip(axes[1:], panels.items()):
        ax.imshow(crop(img, box), interpolation="nearest")
        title = name if img is hr else f"{name}\n{box_psnr(img, hr, box):.2f} dB"
        ax.set_title(title, fontsize=9)
    for ax in axes:
        ax.set_axis_off()
    return axes


def show_stepwise(lr: np.ndarray, outs: dict[float, np.ndarray], box: tuple[int, int, int, int], axes=None):
    """Fig. 6: the input with an LR box, then that box at every factor (each panel at its own size)."""
    import matplotlib.pyplot as plt
    from matplotlib.patches import Rectangle

    if axes is None:
        _, axes = plt.subplots(1, len(outs) + 1, figsize=(2.4 * (len(outs) + 1), 2.6))
    axes = np.atleast_1d(axes)
    top, left, h, w = box
    axes[0].imshow(lr)
    axes[0].add_patch(Rectangle((left - 0.5, top - 0.5), w, h, fill=False, edgecolor="red", linewidth=1.5))
    axes[0].set_title(f"input {lr.shape[0]}×{lr.shape[1]}", fontsize=9)
    for ax, (s, img) in zip(axes[1:], outs.items()):
        y0, x0 = round(top * s), round(left * s)
        big = (y0, x0, min(round(h * s), img.shape[0] - y0), min(round(w * s), img.shape[1] - x0))
        ax.imshow(crop(img, big), interpolation="nearest")
        ax.set_title(f"×{s:g} ({img.shape[0]}×{img.shape[1]})", fontsize=9)
    for ax in axes:
        ax.set_axis_off()
    return axes


__all__ = [
    "Upscaler", "bicubic_upscaler", "box_psnr", "crop", "degrade", "error_map", "error_maps_across_scales",
    "error_share_on_edges", "model_upscaler", "show_error_maps", "show_stepwise", "show_zoom", "stepwise_sr",
]
