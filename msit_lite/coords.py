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
from torch import Tensor


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
