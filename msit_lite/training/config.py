"""The ``train:`` and ``data:`` sections of a config, as typed dataclasses with validation.

YAML stays the source of truth; these classes only say what keys exist, what type each has and
what it defaults to -- so a typo (``bach_size``) or a wrong type (``lr: fast``) is reported as a
one-line :class:`~msit_lite.errors.MsitError` naming the key, before any data is read.

Defaults are the paper's recipe (§IV-A): 48×48 LR patches, η ~ U(1, 4) drawn once per batch,
48² sampled queries, batch 32, Adam, L1, learning rate 1e-5 warmed up linearly to 1e-4 over
50 epochs, then cosine annealing over 1000 epochs (the official ``train_edsr_baseline_MSIT.yaml``:
``epoch_max: 1050``).
An *epoch* is one pass over the training images (``data.repeat`` times each) split into batches;
the lite configs give the schedule in ``steps`` instead.

Schema (every key optional)::

    train:
      stage: 1                 # 1 = plain convs; 2 = RIM (cumulative training, needs init_from)
      init_from: null          # stage-1 checkpoint dir (or --init)
      init_drop: []            # key prefixes of that checkpoint to ignore (an ablation that removes a module)
      rim_init: identity       # identity: linear = 0 so W' = W at the switch | official: fresh maps
      seed: 0
      batch_size: 32
      patch_size: 48           # LR patch side
      sample_q: 2304           # queries per patch (null = every HR pixel)
      scale_min: 1.0
      scale_max: 4.0           # the stage-2 (RIM) configs of the official code use 8.0
      on_small: other          # images smaller than the HR crop: other | error
      loss: l1                 # l1 | l2
      optimizer: {name: adam, lr: 1.0e-4, betas: [0.9, 0.999], weight_decay: 0.0}
      warmup: {epochs: 50, start_lr: 1.0e-5}        # or {steps: N, ...}; epochs/steps 0 = none
      scheduler: {name: cosine, epochs: 1000, min_lr: 0.0}   # or steps; multistep: milestones, gamma
      grad_clip: null          # max gradient norm
      amp: auto                # auto (bf16 on CUDA) | bf16 | off
      channels_last: auto      # auto (CPU and no kernel > 9x9: faster convolutions) | true | false
      num_workers: auto        # auto: 0 on CPU, min(8, cpus) on CUDA
      log_every: 50            # steps between CSV/TensorBoard rows
      val_every: 1000          # steps between validations (0 = only at the end)
      save_every: 1000         # steps between checkpoints (0 = only at the end)
      tensorboard: true        # also log to OUT/tb (if tensorboard is installed; CSV always)
      val: {images: 2, crop: 144, scales: [2, 3, 4]}   # held-in images, centre crop, full-image query
    data:
      train: DF2K              # DF2K | DIV2K | Flickr2K | T91 | BSD200 | train291
      repeat: 1                # items per image and epoch
      cache: true              # keep decoded images in memory
      norm: {sub: 0.5, div: 0.5}
"""
from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field, fields
from typing import Any, Literal, Mapping, get_args, get_origin, get_type_hints

from msit_lite.errors import MsitError


@dataclass(frozen=True)
class OptimizerConfig:
    name: Literal["adam", "adamw"] = "adam"
    lr: float = 1e-4
    betas: tuple[float, float] = (0.9, 0.999)
    weight_decay: float = 0.0


@dataclass(frozen=True)
class WarmupConfig:
    epochs: float | None = None
    steps: int | None = None
    start_lr: float = 1e-5


@dataclass(frozen=True)
class SchedulerConfig:
    name: Literal["cosine", "multistep", "constant"] = "cosine"
    epochs: float | None = None
    steps: int | None = None
    min_lr: float = 0.0
    milestones: tuple[float, ...] = ()  # in the same unit as epochs/steps
    gamma: float = 0.5


@dataclass(frozen=True)
class ValConfig:
    images: int = 2
    crop: int = 144
    scales: tuple[float, ...] = (2.0, 3.0, 4.0)
    chunk: int = 4096


@dataclass(frozen=True)
class TrainConfig:
    stage: int = 1
    init_from: str | None = None
    init_drop: tuple[str, ...] = ()
    rim_init: Literal["identity", "official"] = "identity"
    seed: int = 0
    batch_size: int = 32
    patch_size: int = 48
    sample_q: int | None = 48 * 48
    scale_min: float = 1.0
    scale_max: float = 4.0
    on_small: Literal["other", "error"] = "other"
    loss: Literal["l1", "l2"] = "l1"
    optimizer: OptimizerConfig = field(default_factory=OptimizerConfig)
    warmup: WarmupConfig = field(default_factory=lambda: WarmupConfig(epochs=50))
    scheduler: SchedulerConfig = field(default_factory=lambda: SchedulerConfig(epochs=1000))
    grad_clip: float | None = None
    amp: Literal["auto", "bf16", "off"] = "auto"
    channels_last: bool | Literal["auto"] = "auto"
    num_workers: int | Literal["auto"] = "auto"
    log_every: int = 50
    val_every: int = 1000
    save_every: int = 1000
    tensorboard: bool = True
    val: ValConfig = field(default_factory=ValConfig)


@dataclass(frozen=True)
class NormConfig:
    sub: float = 0.5
    div: float = 0.5


@dataclass(frozen=True)
class DataConfig:
    train: str = "DF2K"
    repeat: int = 1
    cache: bool = True
    norm: NormConfig = field(default_factory=NormConfig)


# ----------------------------------------------------------------------------------------------
# A small typed parser: dict -> dataclass, naming the offending key.
# ----------------------------------------------------------------------------------------------
def _type_name(tp: Any) -> str:
    origin = get_origin(tp)
    if origin is Literal:
        return " | ".join(repr(a) for a in get_args(tp))
    if origin is tuple:
        return "list"
    if origin is not None and get_args(tp):
        return " or ".join(_type_name(a) for a in get_args(tp))
    return "null" if tp is type(None) else getattr(tp, "__name__", str(tp))


def _convert(value: Any, tp: Any, key: str, source: str) -> Any:
    """``value`` checked against the annotation ``tp`` (nested dataclasses parsed recursively)."""
    origin = get_origin(tp)
    if dataclasses.is_dataclass(tp):
        return parse_section(value, tp, key, source)
    if origin is Literal:
        if value in get_args(tp):
            return value
    elif origin is tuple:
        if isinstance(value, (list, tuple)):
            args = get_args(tp)
            items = args[:1] * len(value) if (len(args) == 2 and args[1] is Ellipsis) else args
            if len(items) == len(value):
                return tuple(_convert(v, t, f"{key}[{i}]", source) for i, (v, t) in enumerate(zip(value, items)))
    elif origin is not None:  # a Union (X | None, int | Literal[...])
        for arg in get_args(tp):
            try:
                return _convert(value, arg, key, source)
            except MsitError:
                continue
    elif tp is type(None):
        if value is None:
            return None
    elif tp is bool:
        if isinstance(value, bool):
            return value
    elif tp is int:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
    elif tp is float:
        if isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value):
            return float(value)
    elif tp is str:
        if isinstance(value, str):
            return value
    raise MsitError(f"{source}: key '{key}' must be {_type_name(tp)}, got {value!r}")


def parse_section(raw: Any, cls: type, prefix: str, source: str = "config") -> Any:
    """Build dataclass ``cls`` from the mapping ``raw`` (None = all defaults)."""
    if raw is None:
        return cls()
    if isinstance(raw, cls):
        return raw
    if not isinstance(raw, Mapping):
        raise MsitError(f"{source}: key '{prefix}' must be a mapping, got {raw!r}")
    hints = get_type_hints(cls)
    names = [f.name for f in fields(cls)]
    for key in raw:
        if key not in names:
            raise MsitError(f"{source}: unknown key '{prefix}.{key}' (allowed: {', '.join(names)})")
    kwargs = {k: _convert(v, hints[k], f"{prefix}.{k}", source) for k, v in raw.items()}
    return cls(**kwargs)


def _positive(value: Any, key: str, source: str, allow_zero: bool = False) -> None:
    if value is not None and (value < 0 or (value == 0 and not allow_zero)):
        raise MsitError(f"{source}: key '{key}' must be {'>= 0' if allow_zero else '> 0'}, got {value}")


def parse_train_config(raw: Any, source: str = "config") -> TrainConfig:
    """The ``train:`` section as a :class:`TrainConfig`, with range checks."""
    cfg: TrainConfig = parse_section(raw, TrainConfig, "train", source)
    if cfg.stage not in (1, 2):
        raise MsitError(f"{source}: key 'train.stage' must be 1 or 2, got {cfg.stage}")
    for key in ("batch_size", "patch_size", "sample_q"):
        _positive(getattr(cfg, key), f"train.{key}", source)
    for key in ("log_every", "val_every", "save_every"):
        _positive(getattr(cfg, key), f"train.{key}", source, allow_zero=True)
    if not 1.0 <= cfg.scale_min <= cfg.scale_max:
        raise MsitError(f"{source}: need 1 <= train.scale_min <= train.scale_max, got {cfg.scale_min}, {cfg.scale_max}")
    if cfg.sample_q is not None and cfg.sample_q > cfg.patch_size**2:
        raise MsitError(
            f"{source}: key 'train.sample_q' = {cfg.sample_q} exceeds patch_size² = {cfg.patch_size**2} "
            "(the HR crop at scale 1 has only that many pixels)"
        )
    _positive(cfg.optimizer.lr, "train.optimizer.lr", source)
    _positive(cfg.warmup.start_lr, "train.warmup.start_lr", source)
    _positive(cfg.grad_clip, "train.grad_clip", source)
    if isinstance(cfg.num_workers, int):
        _positive(cfg.num_workers, "train.num_workers", source, allow_zero=True)
    for sect, obj in (("warmup", cfg.warmup), ("scheduler", cfg.scheduler)):
        if obj.epochs is not None and obj.steps is not None:
            raise MsitError(f"{source}: give either 'train.{sect}.epochs' or 'train.{sect}.steps', not both")
        _positive(obj.epochs, f"train.{sect}.epochs", source, allow_zero=True)
        _positive(obj.steps, f"train.{sect}.steps", source, allow_zero=True)
    if cfg.scheduler.epochs is None and cfg.scheduler.steps is None:
        raise MsitError(f"{source}: key 'train.scheduler' needs 'epochs' or 'steps' (the length of training)")
    if cfg.val.images < 0 or cfg.val.crop < 8 or any(s < 1 for s in cfg.val.scales):
        raise MsitError(f"{source}: key 'train.val' needs images >= 0, crop >= 8 and scales >= 1")
    too_large = [s for s in cfg.val.scales if s > cfg.val.crop]
    if cfg.val.images and too_large:
        raise MsitError(f"{source}: key 'train.val.scales' has x{too_large[0]:g}, larger than train.val.crop = "
                        f"{cfg.val.crop} (no LR pixel would be left); lower the scale or raise the crop")
    return cfg


def parse_data_config(raw: Any, source: str = "config") -> DataConfig:
    """The ``data:`` section as a :class:`DataConfig`."""
    cfg: DataConfig = parse_section(raw, DataConfig, "data", source)
    _positive(cfg.repeat, "data.repeat", source)
    if cfg.norm.div == 0:
        raise MsitError(f"{source}: key 'data.norm.div' must not be 0")
    return cfg


def to_dict(obj: Any) -> Any:
    """A dataclass config as plain YAML-able data (tuples become lists)."""
    if dataclasses.is_dataclass(obj):
        return {f.name: to_dict(getattr(obj, f.name)) for f in fields(obj)}
    if isinstance(obj, (list, tuple)):
        return [to_dict(v) for v in obj]
    return obj
