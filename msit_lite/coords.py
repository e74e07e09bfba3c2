r"""Coordinates, cells and pixel samples: the one place the coordinate convention lives.

An image of ``n`` pixels along an axis is a set of samples of a continuous signal on [-1, 1]:
pixel ``i`` covers ``[-1 + 2i/n, -1 + 2(i+1)/n]`` and is sampled at its centre
``-1 + (2i + 1)/n``. This is the official LIIF/MSIT convention, and it is exactly what
``F.grid_sample(..., align_corners=False)`` assumes (-1 and +1 are the *outer edges* of the
first and last pixel). Coordinates are stored in **(y, x)** order (row, column); call
:func:`to_grid` before handing them to ``grid_sample``, which wants (x, y).

The float32 arithmetic is part of the convention. MSIT's positional encoder multiplies relative
coordinates by frequencies up to 1023 rad, so one ulp in a coordinate moves the output by ~1e-4.
:func:`make_coord` therefore reproduces the official rounding bit for bit: the centres are
``fl32(fl32(2r * i) + fl32(v0 + r))`` with ``r = (v1 - v0) / (2n)`` -- *not* ``-1 + (2i+1)/n``
evaluated in float64 and rounded.
"""
from __future__ import annotations

from typing import Sequence

import torch
import torch.nn.functional as F
from torch import Tensor

from msit_lite.errors import MsitError


def make_coord(
    shape: Sequence[int],
    ranges: Sequence[tuple[float, float]] | None = None,
    flatten: bool = True,
) -> Tensor:
    """Pixel-centre coordinates of a grid of ``shape`` (e.g. ``(h, w)``), last dim in axis order.

    Returns ``[h, w, 2]`` (or ``[h*w, 2]`` when ``flatten``), with ``coord[i, j] = (y_i, x_j)``;
    a 1-D shape gives ``[n, 1]``.
    """
    seqs = []
    for i, n in enumerate(shape):
        v0, v1 = (-1.0, 1.0) if ranges is None else ranges[i]
        r = (v1 - v0) / (2 * n)
        # float32 arange times a Python float, plus a Python float: the official rounding.
        seqs.append(v0 + r + (2 * r) * torch.arange(n).float())
    grid = torch.stack(torch.meshgrid(*seqs, indexing="ij"), dim=-1)
    if flatten:
        grid = grid.view(-1, grid.shape[-1])
    return grid


def make_cell(hr_size: tuple[int, int], batch: int = 1) -> Tensor:
    """The cell of one HR pixel in [-1, 1] units, ``(2/H, 2/W)``, shape ``[batch, 2]`` (float32).

    Built as the official wrappers do: ``ones(2)`` times the Python floats ``2/H`` and ``2/W``.
    """
    h, w = hr_size
    cell = torch.ones(2)
    cell[0] *= 2 / h
    cell[1] *= 2 / w
    return cell.unsqueeze(0).expand(batch, 2).contiguous()


def to_grid(coord: Tensor) -> Tensor:
    """(y, x) coordinates ``[..., 2]`` -> the (x, y) order that ``F.grid_sample`` expects."""
    return coord.flip(-1)


def to_pixel_samples(img: Tensor) -> tuple[Tensor, Tensor]:
    """An image ``[3, H, W]`` -> (coordinates ``[H*W, 2]``, RGB values ``[H*W, 3]``), row-major."""
    coord = make_coord(img.shape[-2:])
    rgb = img.reshape(img.shape[0], -1).permute(1, 0)
    return coord, rgb


def output_size(lr_size: tuple[int, int], scale: float | tuple[float, float]) -> tuple[int, int]:
    """HR size for an LR size and a scale: ``round(h * s_h) x round(w * s_w)`` (official test code)."""
    sh, sw = (scale, scale) if isinstance(scale, (int, float)) else scale
    return round(lr_size[0] * sh), round(lr_size[1] * sw)


def target_size(lr_size: tuple[int, int], scale: float | tuple[float, float] | None = None,
                size: tuple[int, int] | None = None) -> tuple[int, int]:
    """The HR size asked for by exactly one of ``scale`` (:func:`output_size`) and ``size = (H, W)``."""
    if (scale is None) == (size is None):
        raise MsitError("give exactly one of scale (e.g. 4 or 2.5) and size (H, W)")
    if size is not None:
        return int(size[0]), int(size[1])
    return output_size(lr_size, scale)  # type: ignore[arg-type]


def nearest_on_axis(coord: Tensor, n: int) -> tuple[Tensor, Tensor]:
    """The pixel that ``grid_sample(mode='nearest')`` picks for 1-D coordinates along an axis of ``n``
    pixels: ``(index [N] int64, centre [N] float32)``, the centre an exact copy of a :func:`make_coord` entry.

    Found with PyTorch's own kernel (sampling a one-pixel-wide table of centres and indices), so
    that ties at pixel edges round half to even exactly as the official nearest samples do; the
    kernel computes each axis' index from that axis' coordinate and size alone, so one table
    serves rows and columns. Coordinates outside [-1, 1) read the zero padding (index 0, centre 0).
    """
    table = torch.stack([make_coord([n])[:, 0], torch.arange(n, dtype=torch.float32)]).to(coord.device)
    pts = torch.zeros(1, coord.numel(), 1, 2, device=coord.device)
    pts[0, :, 0, 0] = coord
    out = F.grid_sample(table.view(1, 2, n, 1), to_grid(pts), mode="nearest", padding_mode="zeros",
                        align_corners=False)
    return out[0, 1, :, 0].round().long(), out[0, 0, :, 0]
