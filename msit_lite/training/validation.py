"""Validation during training: a few held-in images, predicted whole at a few scales, RGB PSNR.

The images are training images spread over the set and centre-cropped (``train.val``): a cheap,
steady signal of progress, not a benchmark number (``msit-lite eval`` makes those). Every
prediction goes through the inference runner (:func:`msit_lite.inference.predict`), so what is
validated is what users run.
"""
from __future__ import annotations

import math

import torch
from torch import Tensor, nn

from msit_lite.data.folders import ImageFolder
from msit_lite.data.io import to_tensor
from msit_lite.data.sampler import full_image_item
from msit_lite.errors import MsitError
from msit_lite.inference import predict
from msit_lite.metrics import psnr
from msit_lite.training.config import DataConfig, TrainConfig


def normalise(x: Tensor, d: DataConfig) -> Tensor:
    """Images in [0, 1] -> the model's input space (``data.norm``)."""
    return (x - d.norm.sub) / d.norm.div


def validation_images(images: ImageFolder, cfg: TrainConfig) -> list[Tensor]:
    """``val.images`` training images spread over the set, centre-cropped to ``val.crop`` (held-in)."""
    n = len(images.files)
    k = min(cfg.val.images, n)
    out = []
    for j in range(k):
        img = to_tensor(images.load(j * n // k))
        h, w = img.shape[-2:]
        c = min(cfg.val.crop, h, w)
        y0, x0 = (h - c) // 2, (w - c) // 2
        out.append(img[:, y0 : y0 + c, x0 : x0 + c])
    return out


def check_validation(hrs: list[Tensor], cfg: TrainConfig, source: str) -> None:
    """MsitError before training when a validation scale leaves no LR pixel of a validation crop.

    (Found only at the first validation otherwise -- possibly after the whole run.)
    """
    for hr in hrs:
        h, w = hr.shape[-2:]
        for s in cfg.val.scales:
            if math.floor(min(h, w) / s + 1e-9) < 1:
                raise MsitError(
                    f"{source}: train.val.scales has x{s:g}, too large for a {w}x{h} validation crop "
                    f"(train.val.crop = {cfg.val.crop}, cut to the image size); lower the scale or raise the crop"
                )


def validate(model: nn.Module, hrs: list[Tensor], scales: tuple[float, ...], data: DataConfig, device: torch.device,
             chunk: int = 4096) -> dict[float, float]:
    """Mean RGB PSNR per scale of full-image predictions (queried in chunks), border ``ceil(s)`` shaved."""
    result: dict[float, float] = {}
    for s in scales:
        values = []
        for hr in hrs:
            item = full_image_item(hr, s)
            inp = normalise(item["inp"].unsqueeze(0).to(device), data)
            hh, ww = item["hr"].shape[-2:]
            pred = predict(model, inp, (hh, ww), chunk=chunk)
            sr = (pred * data.norm.div + data.norm.sub).clamp(0, 1).cpu()
            values.append(psnr(sr, item["hr"].unsqueeze(0), crop_border=math.ceil(s), test_y_channel=False))
        result[float(s)] = sum(values) / len(values)
    return result


__all__ = ["check_validation", "normalise", "validate", "validation_images"]
