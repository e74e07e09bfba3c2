"""Learning-rate schedules as pure functions of the step.

The paper (§IV-A) warms the learning rate up linearly from 1e-5 to 1e-4 over 50 epochs and then
anneals it with a cosine over 1000 epochs (the official code: ``GradualWarmupScheduler`` with
multiplier 10 around ``CosineAnnealingLR``, stepped once per epoch in ``train.py``, ``main``). We step
the same curve once per *optimizer step*, which is smoother and -- being a pure function of
the step -- makes resuming trivial: there is no scheduler state to restore beyond the step.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

from msit_lite.training.config import SchedulerConfig, TrainConfig, WarmupConfig


def _to_steps(epochs: float | None, steps: int | None, steps_per_epoch: int) -> int:
    if steps is not None:
        return int(steps)
    return int(round((epochs or 0) * steps_per_epoch))


@dataclass(frozen=True)
class Schedule:
    """lr(step) = linear warm-up ``start_lr -> peak`` over ``warmup`` steps, then the main schedule
    over ``main`` steps; training lasts ``total = warmup + main`` steps."""

    peak: float
    start_lr: float
    warmup: int
    main: int
    name: str = "cosine"
    min_lr: float = 0.0
    milestones: tuple[int, ...] = ()
    gamma: float = 0.5

    @property
    def total(self) -> int:
        return self.warmup + self.main

    def __call__(self, step: int) -> float:
        """The learning rate used for the update that takes the model from ``step`` to ``step + 1``."""
        if step < self.warmup:
            return self.start_lr + (self.peak - self.start_lr) * step / self.warmup
        t = step - self.warmup
        if self.name == "cosine":
            frac = min(t, self.main) / max(self.main, 1)
            return self.min_lr + (self.peak - self.min_lr) * 0.5 * (1.0 + math.cos(math.pi * frac))
        if self.name == "multistep":
            return self.peak * self.gamma ** sum(t >= m for m in self.milestones)
        return self.peak

    def state_dict(self) -> dict:
        return {k: getattr(self, k) for k in self.__dataclass_fields__}


def make_schedule(cfg: TrainConfig, steps_per_epoch: int) -> Schedule:
    """Resolve epochs to steps (``steps_per_epoch`` = batches per pass over the data, per process)."""
    w: WarmupConfig = cfg.warmup
    s: SchedulerConfig = cfg.scheduler
    in_epochs = s.steps is None
    unit = steps_per_epoch if in_epochs else 1
    return Schedule(
        peak=cfg.optimizer.lr,
        start_lr=w.start_lr,
        warmup=_to_steps(w.epochs, w.steps, steps_per_epoch),
        main=_to_steps(s.epochs, s.steps, steps_per_epoch),
        name=s.name,
        min_lr=s.min_lr,
        milestones=tuple(int(round(m * unit)) for m in s.milestones),
        gamma=s.gamma,
    )
