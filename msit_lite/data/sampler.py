r"""The arbitrary-scale (ASSR) training sampler of the paper (Section IV-A) and LIIF.

One training item is made from one HR image like this (paper §IV-A "Training Setting"; LIIF's
``sr-implicit-downsampled`` wrapper):

1. draw a magnification :math:`\eta \sim U(\eta_{min}, \eta_{max})` -- **one per batch**, so every
   item of a batch has the same HR crop size (the paper: "per batch"; LIIF draws it per item);
2. crop an HR patch of ``round(48 eta) x round(48 eta)`` pixels at a random position;
3. make the 48 x 48 LR input with PyTorch bicubic (antialiased, ``resize_torch``), clamped to
   [0, 1] (the paper says "bicubic interpolation in PyTorch"; the official code uses PIL bicubic
   on 8-bit images -- ``quantize_lr=True`` at least reproduces the 8-bit rounding, and ``resize``
   accepts any function);
4. augment HR and LR alike with random horizontal flip, vertical flip and transpose (the 8
   symmetries of the square, i.e. flips and 90-degree rotations);
5. sample ``Q = 48^2`` (coordinate, RGB) pairs of the HR patch without replacement, coordinates
   from :func:`msit_lite.coords.to_pixel_samples` (pixel centres in [-1, 1], (y, x) order).

An item is a dict: ``inp`` [3, 48, 48] and ``gt`` [Q, 3] in [0, 1] (the model normalises),
``coord`` [Q, 2], ``cell`` [2] = (2/H_hr, 2/W_hr) (MSIT's ``collate_fn`` uses one cell per image)
and ``scale`` = ``H_hr / 48``, the realised magnification (``eta`` rounded to the pixel).

**Reproducibility.** Nothing here touches global RNG state. The batch sampler draws the
shuffling and each batch's ``eta`` from ``(seed, epoch, batch)``; each item draws its crop,
flips and query subset from ``(seed, epoch, index)``. The same seed therefore gives the same
batches for any ``num_workers`` and any worker scheduling.

**Images smaller than the crop.** With ``eta`` up to 4 the crop is 192 x 192, larger than some
T91 images. ``on_small="error"`` (default) raises :class:`MsitError` naming the file and the
size needed; ``on_small="other"`` replaces the image with another one drawn from the item's own
RNG (up to 20 tries) -- the batch keeps its ``eta``, and the set is sampled slightly unevenly.
"""
from __future__ import annotations

import math
from typing import Callable, Iterator, Literal, NamedTuple

import numpy as np
import torch
from torch import Tensor
from torch.utils.data import DataLoader, Dataset, Sampler

from msit_lite.coords import make_cell, to_pixel_samples
from msit_lite.data.io import to_tensor
from msit_lite.data.resize import resize_torch
from msit_lite.errors import MsitError

ResizeFn = Callable[[Tensor, tuple[int, int]], Tensor]


class SampleKey(NamedTuple):
    """What the batch sampler hands the dataset: which image, at which scale, in which epoch."""

    index: int
    scale: float
    epoch: int


def _rng(*entropy: int) -> np.random.Generator:
    """An independent generator for a tuple of non-negative integers (NumPy SeedSequence)."""
    return np.random.default_rng([int(e) for e in entropy])


# Salts keep the streams of (seed, epoch, ...) for different purposes apart.
_SALT_SHUFFLE, _SALT_SCALE, _SALT_ITEM = 11, 22, 33


def augment(img: Tensor, hflip: bool, vflip: bool, transpose: bool) -> Tensor:
    """Apply the flips/transpose to ``[C, H, W]`` (LIIF's order: hflip, vflip, then transpose)."""
    if hflip:
        img = img.flip(-1)
    if vflip:
        img = img.flip(-2)
    if transpose:
        img = img.transpose(-2, -1)
    return img


class ASSRPatches(Dataset):
    """(inp, coord, cell, gt, scale) training items from a dataset of HR images.

    ``images`` is any dataset whose items are uint8 ``H x W x 3`` arrays or float ``[3, H, W]``
    tensors in [0, 1] (e.g. :class:`msit_lite.data.folders.ImageFolder`). Index it with a
    :class:`SampleKey` (what :class:`ScaleBatchSampler` yields); a plain ``int`` draws its own
    ``eta`` from ``(seed, 0, index)``, which is handy for looking at single items.
    """

    def __init__(
        self,
        images: Dataset,
        *,
        patch: int = 48,
        scale_min: float = 1.0,
        scale_max: float = 4.0,
        sample_q: int | None = 48 * 48,
        augment: bool = True,
        seed: int = 0,
        resize: ResizeFn = resize_torch,
        quantize_lr: bool = False,
        on_small: Literal["error", "other"] = "error",
    ) -> None:
        if patch < 1:
            raise MsitError(f"patch must be >= 1, got {patch}")
        if not (1.0 <= scale_min <= scale_max) or not math.isfinite(scale_max):
            raise MsitError(
                f"need 1 <= scale_min <= scale_max, got scale_min={scale_min}, scale_max={scale_max}"
            )
        if sample_q is not None and sample_q > patch * patch:
            raise MsitError(
                f"sample_q={sample_q} is more than the {patch}x{patch} pixels of the smallest HR crop"
            )
        if on_small not in ("error", "other"):
            raise MsitError(f"on_small must be 'error' or 'other', got {on_small!r}")
        self.images = images
        self.patch = int(patch)
        self.scale_min, self.scale_max = float(scale_min), float(scale_max)
        self.sample_q = sample_q
        self.augment = augment
        self.seed = int(seed)
        self.resize = resize
        self.quantize_lr = quantize_lr
        self.on_small = on_small

    def __len__(self) -> int:
        return len(self.images)  # type: ignore[arg-type]

    def draw_scale(self, rng: np.random.Generator) -> float:
        return float(rng.uniform(self.scale_min, self.scale_max))

    def _name(self, index: int) -> str:
        path = getattr(self.images, "path", None)
        return str(path(index)) if callable(path) else f"image #{index}"

    def _load(self, index: int) -> Tensor:
        item = self.images[index]
        return item.float() if isinstance(item, Tensor) else to_tensor(item)

    def __getitem__(self, key: SampleKey | int) -> dict[str, Tensor | float]:
        if not isinstance(key, SampleKey):
            index = int(key)
            key = SampleKey(index, self.draw_scale(_rng(self.seed, 0, index, _SALT_SCALE)), 0)
        return self.make_item(key.index, key.scale, _rng(self.seed, key.epoch, key.index, _SALT_ITEM))

    def make_item(self, index: int, scale: float, rng: np.random.Generator) -> dict[str, Tensor | float]:
        """One item for image ``index`` at magnification ``scale``, randomness from ``rng``."""
        p = self.patch
        w_hr = round(p * scale)
        img = self._load(index)
        tries = 0
        while img.shape[-2] < w_hr or img.shape[-1] < w_hr:
            if self.on_small == "error" or tries >= 20:
                raise MsitError(
                    f"training image {self._name(index)} is {img.shape[-1]}x{img.shape[-2]}, smaller "
                    f"than the {w_hr}x{w_hr} HR crop for scale {scale:.3f}; lower scale_max, remove "
                    "small images, or use on_small='other'"
                )
            index = int(rng.integers(len(self)))
            img = self._load(index)
            tries += 1

        # 2. random HR crop
        y0 = int(rng.integers(img.shape[-2] - w_hr + 1))
        x0 = int(rng.integers(img.shape[-1] - w_hr + 1))
        hr = img[:, y0 : y0 + w_hr, x0 : x0 + w_hr]
        # 3. LR by bicubic downsampling
        lr = self.resize(hr, (p, p)).clamp(0, 1)
        if self.quantize_lr:
            lr = torch.round(lr * 255) / 255
        # 4. the same flips for HR and LR
        if self.augment:
            flips = [bool(b) for b in rng.random(3) < 0.5]
            hr, lr = augment(hr, *flips), augment(lr, *flips)
        # 5. (coordinate, RGB) pairs of the HR patch
        coord, gt = to_pixel_samples(hr.contiguous())
        if self.sample_q is not None:
            pick = torch.from_numpy(rng.choice(coord.shape[0], self.sample_q, replace=False))
            coord, gt = coord[pick], gt[pick]
        return {
            "inp": lr.contiguous(),
            "coord": coord,
            "cell": make_cell((w_hr, w_hr))[0],
            "gt": gt,
            "scale": w_hr / p,
        }


class ScaleBatchSampler(Sampler[list[SampleKey]]):
    """Shuffled batches of :class:`SampleKey` with one ``eta ~ U(min, max)`` per batch.

    Use it as ``DataLoader(patches, batch_sampler=ScaleBatchSampler(patches, 16, seed=0))`` and
    call :meth:`set_epoch` before each epoch (as with ``DistributedSampler``).
    ``rank``/``world_size`` give each DDP process every ``world_size``-th batch; the batches --
    and so the per-batch ``eta`` -- are the same on every process.
    """

    def __init__(
        self,
        patches: ASSRPatches,
        batch_size: int,
        *,
        seed: int | None = None,
        shuffle: bool = True,
        drop_last: bool = True,
        rank: int = 0,
        world_size: int = 1,
    ) -> None:
        if batch_size < 1:
            raise MsitError(f"batch_size must be >= 1, got {batch_size}")
        self.patches = patches
        self.batch_size = int(batch_size)
        self.seed = patches.seed if seed is None else int(seed)
        self.shuffle = shuffle
        self.drop_last = drop_last
        self.rank, self.world_size = int(rank), int(world_size)
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = int(epoch)

    def _all_batches(self) -> list[list[int]]:
        n = len(self.patches)
        order = (
            _rng(self.seed, self.epoch, _SALT_SHUFFLE).permutation(n) if self.shuffle else np.arange(n)
        )
        b = self.batch_size
        batches = [order[i : i + b].tolist() for i in range(0, n, b)]
        if self.drop_last and batches and len(batches[-1]) < b:
            batches.pop()
        return batches

    def __len__(self) -> int:
        total = len(self._all_batches())
        return len(range(self.rank, total, self.world_size))

    def __iter__(self) -> Iterator[list[SampleKey]]:
        for bi, idx in enumerate(self._all_batches()):
            if bi % self.world_size != self.rank:
                continue
            scale = self.patches.draw_scale(_rng(self.seed, self.epoch, bi, _SALT_SCALE))
            yield [SampleKey(i, scale, self.epoch) for i in idx]


def make_loader(
    patches: ASSRPatches,
    batch_size: int,
    *,
    num_workers: int = 0,
    shuffle: bool = True,
    drop_last: bool = True,
    pin_memory: bool = False,
    rank: int = 0,
    world_size: int = 1,
) -> DataLoader:
    """A ``DataLoader`` over ``patches`` with per-batch scales; its ``batch_sampler`` has
    ``set_epoch``. Batches are dicts of stacked tensors (``scale`` becomes a float64 [B] tensor)."""
    sampler = ScaleBatchSampler(
        patches, batch_size, shuffle=shuffle, drop_last=drop_last, rank=rank, world_size=world_size
    )
    return DataLoader(
        patches,
        batch_sampler=sampler,
        num_workers=num_workers,
        pin_memory=pin_memory,
        persistent_workers=False,
    )


def full_image_item(
    hr: Tensor,
    scale: float,
    *,
    lr: Tensor | None = None,
    resize: ResizeFn = resize_torch,
) -> dict[str, Tensor | float]:
    """Evaluation item for a whole image: ``inp`` (all of the LR), ``coord``/``gt`` for every HR
    pixel, ``cell`` [2], ``scale``, and the (cropped) ``hr`` [3, H, W].

    Without ``lr`` the LR is made by ``resize`` at ``floor(H / s + 1e-9) x floor(W / s + 1e-9)``
    and clamped to [0, 1]; with a stored ``lr`` its size is used. Either way the HR is cropped to
    ``round(lr_size * s)``, as the official test wrappers do.
    """
    if hr.dim() != 3 or hr.shape[0] != 3:
        raise MsitError(f"full_image_item expects an HR tensor [3, H, W], got {tuple(hr.shape)}")
    s = float(scale)
    if not (math.isfinite(s) and s > 0):
        raise MsitError(f"scale must be a positive number, got {scale!r}")
    H, W = hr.shape[-2:]
    if lr is None:
        h, w = math.floor(H / s + 1e-9), math.floor(W / s + 1e-9)
        if h < 1 or w < 1:
            raise MsitError(f"an HR image of {W}x{H} is too small for scale {s}")
    else:
        h, w = lr.shape[-2:]
    hh, ww = round(h * s), round(w * s)
    if hh > H or ww > W:
        raise MsitError(f"LR {w}x{h} at scale {s} needs an HR of at least {ww}x{hh}, got {W}x{H}")
    hr = hr[:, :hh, :ww]
    if lr is None:
        lr = resize(hr, (h, w)).clamp(0, 1)
    coord, gt = to_pixel_samples(hr.contiguous())
    return {
        "inp": lr,
        "coord": coord,
        "cell": make_cell((hh, ww))[0],
        "gt": gt,
        "scale": s,
        "hr": hr,
    }

