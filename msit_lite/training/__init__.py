"""Training: the ``train:``/``data:`` config schema, the learning-rate schedule, the loop with
exact resume and DDP, and cumulative (stage-1 -> RIM stage-2) initialisation.

Entry point: :func:`train` (``msit-lite train``). Modules: ``config`` (the typed ``train:``/``data:``
schema), ``schedule`` (warm-up + cosine as a function of the step), ``batches`` (the batch of every
step), ``step`` (what the forward pass runs), ``state`` (``train_state.pt``), ``cumulative``
(stage-1 -> RIM), ``validation``, ``logs``, ``distributed`` and ``loop``.
"""
from msit_lite.training.config import (
    DataConfig,
    TrainConfig,
    parse_data_config,
    parse_train_config,
)
from msit_lite.training.cumulative import init_from_stage1, init_weights
from msit_lite.training.batches import StepBatchSampler
from msit_lite.training.loop import TrainResult, train
from msit_lite.training.validation import validate
from msit_lite.training.schedule import Schedule, make_schedule

__all__ = [
    "DataConfig",
    "Schedule",
    "StepBatchSampler",
    "TrainConfig",
    "TrainResult",
    "init_from_stage1",
    "init_weights",
    "make_schedule",
    "parse_data_config",
    "parse_train_config",
    "train",
    "validate",
]
