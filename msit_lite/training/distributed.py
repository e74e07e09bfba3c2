"""Several processes, one run: what ``torchrun`` tells a training process, and the process group.

Started by ``torchrun``, every process trains a replica wrapped in ``DistributedDataParallel``;
each takes every ``world_size``-th batch of the same sequence. Rank 0 alone logs, validates and
writes checkpoints. A plain ``python`` start is one process of rank 0.
"""
from __future__ import annotations

import os
from dataclasses import dataclass

import torch
import torch.distributed as dist

from msit_lite.utils import pick_device


@dataclass
class Distributed:
    """This process's place in the run: rank, world size, local rank; ``owned``: we made the process group."""

    rank: int = 0
    world: int = 1
    local_rank: int = 0
    owned: bool = False

    @property
    def main(self) -> bool:
        return self.rank == 0

    def close(self) -> None:
        """Destroy the process group if this process created it."""
        if self.owned and dist.is_initialized():
            dist.destroy_process_group()


def setup_distributed(device: str | None) -> tuple[Distributed, torch.device]:
    """This process's :class:`Distributed` and device (``cuda:LOCAL_RANK`` under torchrun on GPUs)."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world <= 1:
        return Distributed(), pick_device(device)
    rank, local = int(os.environ.get("RANK", "0")), int(os.environ.get("LOCAL_RANK", "0"))
    dev = pick_device(device)
    if dev.type == "cuda":
        dev = torch.device("cuda", local)
        torch.cuda.set_device(dev)
    owned = False
    if not dist.is_initialized():
        dist.init_process_group("nccl" if dev.type == "cuda" else "gloo", rank=rank, world_size=world)
        owned = True
    return Distributed(rank, world, local, owned), dev


__all__ = ["Distributed", "setup_distributed"]
