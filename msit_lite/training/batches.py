"""The batches of a run: step ``s`` always gets the same batch, whatever happened before.

The batch at step ``s`` is a pure function of ``(seed, s)``: :class:`StepBatchSampler` walks the
epochs of a :class:`~msit_lite.data.sampler.ScaleBatchSampler` (one magnification per batch, a
fresh order per epoch) starting at any step. That is what makes a resumed run end with the same
weights as an uninterrupted one.
"""
from __future__ import annotations

from pathlib import Path
from typing import Iterator

from torch.utils.data import Sampler

from msit_lite.data.folders import ImageFolder, find_training_folders
from msit_lite.data.sampler import ASSRPatches, SampleKey, ScaleBatchSampler
from msit_lite.errors import MsitError
from msit_lite.training.config import DataConfig, TrainConfig
from msit_lite.training.distributed import Distributed


class StepBatchSampler(Sampler[list[SampleKey]]):
    """Endless batches starting at ``start_step``: step ``s`` is batch ``s mod E`` of epoch ``s // E``
    of ``inner`` (``E = len(inner)``), so the batch at any step depends only on ``(seed, s)``."""

    def __init__(self, inner: ScaleBatchSampler, start_step: int = 0) -> None:
        self.inner, self.start_step = inner, int(start_step)

    def __iter__(self) -> Iterator[list[SampleKey]]:
        per_epoch = len(self.inner)
        epoch, skip = divmod(self.start_step, per_epoch)
        while True:
            self.inner.set_epoch(epoch)
            for i, keys in enumerate(self.inner):
                if i >= skip:
                    yield keys
            epoch, skip = epoch + 1, 0


def make_data(cfg: TrainConfig, dcfg: DataConfig, root: Path, ddp: Distributed
              ) -> tuple[ImageFolder, ScaleBatchSampler, ASSRPatches]:
    """The training images, this process's batch sampler and the patch data set of ``cfg``."""
    if not root.is_dir():
        raise MsitError(f"data root {root} does not exist; pass --data-root DIR or set MSIT_DATA")
    folders = find_training_folders(root, dcfg.train)
    images = ImageFolder(folders, cache=dcfg.cache, repeat=dcfg.repeat)
    patches = ASSRPatches(
        images, patch=cfg.patch_size, scale_min=cfg.scale_min, scale_max=cfg.scale_max, sample_q=cfg.sample_q,
        seed=cfg.seed, on_small=cfg.on_small,
    )
    inner = ScaleBatchSampler(patches, cfg.batch_size, seed=cfg.seed, rank=ddp.rank, world_size=ddp.world)
    if len(inner) == 0:
        raise MsitError(
            f"training set {dcfg.train} has {len(patches)} items, too few for batch_size={cfg.batch_size} "
            f"on {ddp.world} process(es); lower train.batch_size or raise data.repeat"
        )
    return images, inner, patches


__all__ = ["StepBatchSampler", "make_data"]
