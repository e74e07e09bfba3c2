"""Training: the ``train:``/``data:`` config schema, the learning-rate schedule, the loop with
exact resume and DDP, and cumulative (stage-1 -> RIM stage-2) initialisation.

Entry point: :func:`train` (``msit-lite train``). See :mod:`msit_lite.training.loop`.
"""
from msit_lite.training.config import (
    DataConfig,
    TrainConfig,
    parse_data_config,
    parse_train_config,
)
from msit_lite.training.cumulative import init_from_stage1, init_weights
from msit_lite.training.loop import StepBatchSampler, TrainResult, train, validate
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
