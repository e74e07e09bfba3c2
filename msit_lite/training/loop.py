"""The training loop: data -> model -> L1 -> Adam, with logging, validation and exact resume.

One step: a batch of ``B`` LR patches with one magnification η for the whole batch, ``Q``
(coordinate, RGB) pairs per patch (:mod:`msit_lite.data.sampler`); the model predicts the RGB at
each coordinate and the L1 loss against the HR pixels drives Adam (paper §IV-A). The learning
rate is a pure function of the step (:mod:`msit_lite.training.schedule`).

**Exact resume.** The batch at step ``s`` is a pure function of ``(seed, s)``
(:class:`StepBatchSampler` over :class:`~msit_lite.data.sampler.ScaleBatchSampler`), and
``train_state.pt`` holds everything else that changes (:mod:`msit_lite.training.state`). A run
stopped after ``k`` steps and resumed to ``n`` therefore ends with the same weights as one run
of ``n`` steps -- bit for bit on the CPU (``tests/test_train_resume.py``).

**Several GPUs.** Started by ``torchrun``, every process trains a replica wrapped in
``DistributedDataParallel`` (:mod:`~msit_lite.training.distributed`); each takes every
``world_size``-th batch of the same sequence, so an epoch has ``1/world_size`` as many steps.
Rank 0 alone logs (:mod:`~msit_lite.training.logs`), validates
(:mod:`~msit_lite.training.validation`) and writes checkpoints.

The code reads top-down: :func:`train` resolves the config and the run folder, :func:`_start`
builds everything a run holds (a :class:`_Session`), :func:`_run` is the loop, and
:meth:`_Session.train_step` / :meth:`_Session.save` are one step and one checkpoint.

**On CUDA** the forward pass runs under bf16 autocast (the loss in float32), the loader uses
worker processes and pinned memory, and decoded images are cached in memory.
"""
from __future__ import annotations

import dataclasses
import os
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

import torch
import torch.distributed as dist
import torch.nn.functional as F
from torch import Tensor, nn
from torch.utils.data import DataLoader
from tqdm.auto import tqdm

from msit_lite.checkpoint import load_state_dict_checked, plain_config, save_checkpoint
from msit_lite.config import build_model, validate_config
from msit_lite.data.sampler import ASSRPatches, ScaleBatchSampler
from msit_lite.errors import MsitError
from msit_lite.paths import data_root as default_data_root
from msit_lite.training.batches import StepBatchSampler, make_data
from msit_lite.training.config import DataConfig, TrainConfig, parse_data_config, parse_train_config, to_dict
from msit_lite.training.cumulative import init_weights
from msit_lite.training.distributed import Distributed, setup_distributed
from msit_lite.training.logs import Logs
from msit_lite.training.schedule import Schedule, make_schedule
from msit_lite.training.state import load_state, prepare_run_dir, rng_state, save_state, set_rng_state
from msit_lite.training.step import prepare_for_training
from msit_lite.training.validation import check_validation, normalise, validate, validation_images


@dataclass
class TrainResult:
    """The trained model and what happened: steps ``start_step`` .. ``step`` ran (none when equal)."""

    model: nn.Module
    step: int
    out: Path
    val: dict[float, float] = field(default_factory=dict)
    losses: list[float] = field(default_factory=list)
    start_step: int = 0


def _is_oom(e: BaseException) -> bool:
    oom_type = getattr(torch, "OutOfMemoryError", None) or getattr(torch.cuda, "OutOfMemoryError", ())
    return (oom_type and isinstance(e, oom_type)) or (isinstance(e, RuntimeError) and "out of memory" in str(e))


def _oom_error(cfg: TrainConfig, device: torch.device, step: int) -> MsitError:
    return MsitError(
        f"out of memory on {device} at step {step} (batch_size={cfg.batch_size}, patch_size={cfg.patch_size}, "
        f"sample_q={cfg.sample_q}); lower train.batch_size or train.sample_q/patch_size in the config "
        "(or use more GPUs with torchrun)"
    )


def _resolve_config(config: Mapping[str, Any], seed: int | None, init: str | None, source: str
                    ) -> tuple[dict[str, Any], TrainConfig, DataConfig]:
    config = dict(validate_config(dict(config), source))
    tcfg = parse_train_config(config.get("train"), source)
    dcfg = parse_data_config(config.get("data"), source)
    if seed is not None:
        tcfg = dataclasses.replace(tcfg, seed=int(seed))
    if init is not None:
        tcfg = dataclasses.replace(tcfg, init_from=str(init))
    config["train"], config["data"] = to_dict(tcfg), to_dict(dcfg)
    return config, tcfg, dcfg


def train(
    config: Mapping[str, Any],
    out: str | Path,
    *,
    data_root: str | Path | None = None,
    device: str | None = None,
    max_steps: int | None = None,
    resume: bool = False,
    force: bool = False,
    init: str | Path | None = None,
    seed: int | None = None,
    progress: bool = True,
    source: str = "config",
) -> TrainResult:
    """Train the model of ``config`` into ``out`` (see the module docstring); returns the final model.

    ``resume`` continues the run in ``out`` (its ``train_state.pt`` must be readable); without it
    ``out`` must not hold a run unless ``force`` replaces it (:func:`~msit_lite.training.state.prepare_run_dir`).
    """
    config, cfg, dcfg = _resolve_config(config, seed, None if init is None else str(init), source)
    out = Path(out)
    if int(os.environ.get("RANK", "0")) == 0:  # one process decides (and deletes, with force)
        for note in prepare_run_dir(out, resume, force):
            print(f"msit-lite train: {note}", file=sys.stderr)
    state = load_state(out) if resume else None  # unreadable or incomplete: an error before any work
    ddp, dev = setup_distributed(device)
    try:
        root = Path(data_root) if data_root is not None else default_data_root()
        return _run(_start(config, cfg, dcfg, out, root, dev, ddp, max_steps, state, source), progress)
    finally:
        ddp.close()


# Keys that fix the data order or the function being trained: a resumed run must not change them.
_FIXED_KEYS = [("model",), ("train", "seed"), ("train", "batch_size"), ("train", "patch_size"), ("train", "sample_q"),
               ("train", "scale_min"), ("train", "scale_max"), ("train", "on_small"), ("data", "train"), ("data", "repeat")]


def _check_resumable(saved: Any, config: Mapping[str, Any], out: Path) -> None:
    """MsitError if the config differs from the interrupted run's in a key that fixes the run."""
    if not isinstance(saved, Mapping):
        return
    current = plain_config(config)
    for path in _FIXED_KEYS:
        a, b = saved, current
        for key in path:
            a = a.get(key) if isinstance(a, Mapping) else None
            b = b.get(key) if isinstance(b, Mapping) else None
        if a != b:
            raise MsitError(
                f"--resume: '{'.'.join(path)}' is {b!r} in this config but {a!r} in the run in {out}; "
                "resume with the run's own config (omit --config) or start a new --out"
            )


@dataclass
class _Session:
    """Everything one training run holds, built once by :func:`_start`; ``step``/``elapsed`` move on."""

    config: dict[str, Any]
    cfg: TrainConfig
    dcfg: DataConfig
    out: Path
    dev: torch.device
    ddp: Distributed
    model: nn.Module
    net: nn.Module  # what runs the forward pass: the model prepared for training, DDP-wrapped on several ranks
    optimizer: torch.optim.Optimizer
    schedule: Schedule
    loader: DataLoader
    steps_per_epoch: int
    end: int
    step: int
    elapsed: float
    val_hrs: list[Tensor]
    updating: bool = False  # between optimizer.step() and the step count: an interrupt must not save

    def train_step(self, batch: dict[str, Tensor], lr: float) -> float:
        """One optimisation step at learning rate ``lr``; returns the loss."""
        cfg, dev = self.cfg, self.dev
        for group in self.optimizer.param_groups:
            group["lr"] = lr
        try:
            inp = normalise(batch["inp"].to(dev, non_blocking=True), self.dcfg)
            gt = normalise(batch["gt"].to(dev, non_blocking=True), self.dcfg)
            coord = batch["coord"].to(dev, non_blocking=True)
            cell = batch["cell"].to(dev, non_blocking=True)
            use_bf16 = cfg.amp == "bf16" or (cfg.amp == "auto" and dev.type == "cuda")
            with torch.autocast(dev.type, dtype=torch.bfloat16, enabled=use_bf16):
                pred = self.net(inp, coord, cell)
            pred = pred.float()
            loss = F.l1_loss(pred, gt) if cfg.loss == "l1" else F.mse_loss(pred, gt)
            self.optimizer.zero_grad(set_to_none=True)
            loss.backward()
            if cfg.grad_clip is not None:
                params = [p for group in self.optimizer.param_groups for p in group["params"]]
                torch.nn.utils.clip_grad_norm_(params, cfg.grad_clip)
            self.updating = True  # an interrupt from here to `step += 1` leaves a half-applied update
            self.optimizer.step()
        except RuntimeError as e:
            if _is_oom(e):
                raise _oom_error(cfg, dev, self.step) from e
            raise
        self.step += 1
        self.updating = False
        return float(loss.detach())

    def validate(self) -> dict[float, float] | None:
        """Validation PSNRs when this step is a validation step (``val_every``, and the last step)."""
        cfg = self.cfg
        if not self.val_hrs or not ((cfg.val_every and self.step % cfg.val_every == 0) or self.step == self.end):
            return None
        try:
            val = validate(self.model, self.val_hrs, cfg.val.scales, self.dcfg, self.dev, cfg.val.chunk)
        except RuntimeError as e:
            if _is_oom(e):
                raise MsitError(f"out of memory during validation at step {self.step} on {self.dev}; lower "
                                f"train.val.chunk ({cfg.val.chunk}) or train.val.crop ({cfg.val.crop})") from e
            raise
        self.model.train()
        return val

    def save(self) -> None:
        """``train_state.pt``, then the checkpoint (rank 0): a kill between the two writes leaves a
        resumable run (the state holds the weights too), never weights without a state -- which
        ``--resume`` refuses."""
        if not self.ddp.main:
            return
        step, per_epoch = self.step, self.steps_per_epoch
        save_state(self.out, {
            "step": step, "epoch": step / per_epoch, "elapsed": self.elapsed,
            "model": {k: v.detach().cpu().clone() for k, v in self.model.state_dict().items()},
            "optimizer": self.optimizer.state_dict(), "schedule": self.schedule.state_dict(), "rng": rng_state(),
            "config": plain_config(self.config),
            "sampler": {"seed": self.cfg.seed, "step": step, "epoch": step // per_epoch,
                        "batch_in_epoch": step % per_epoch, "world_size": self.ddp.world},
        })
        save_checkpoint(self.out, self.model, self.config)


def _start(config: dict[str, Any], cfg: TrainConfig, dcfg: DataConfig, out: Path, root: Path, dev: torch.device,
           ddp: Distributed, max_steps: int | None, state: dict[str, Any] | None, source: str) -> _Session:
    """Build the model (a bad argument fails before the data is read), the data, the optimizer; apply
    ``--init`` or the resumed state. The order of these steps fixes the random numbers each one draws."""
    torch.manual_seed(cfg.seed)
    model = build_model(config, source).to(dev)
    images, inner, patches = make_data(cfg, dcfg, root, ddp)
    steps_per_epoch = len(inner)
    schedule = make_schedule(cfg, steps_per_epoch)
    end = schedule.total if max_steps is None else min(int(max_steps), schedule.total)
    if cfg.stage == 2 and state is None and cfg.init_from is None:
        raise MsitError("stage-2 (RIM) training needs the stage-1 checkpoint: pass --init DIR or set train.init_from")
    if cfg.init_from is not None and state is None:
        init_weights(model, cfg.init_from, cfg.rim_init, cfg.init_drop)
    params = [p for p in model.parameters() if p.requires_grad]
    opt_cls = torch.optim.AdamW if cfg.optimizer.name == "adamw" else torch.optim.Adam
    optimizer = opt_cls(params, lr=schedule(0), betas=cfg.optimizer.betas, weight_decay=cfg.optimizer.weight_decay)
    step, elapsed = _restore(model, optimizer, state, config, out) if state is not None else (0, 0.0)
    net: nn.Module = prepare_for_training(model, cfg, dev)
    if ddp.world > 1:
        net = nn.parallel.DistributedDataParallel(net, device_ids=[dev.index] if dev.type == "cuda" else None)
    val_hrs = validation_images(images, cfg) if ddp.main and cfg.val.images > 0 else []
    check_validation(val_hrs, cfg, source)
    return _Session(config, cfg, dcfg, out, dev, ddp, model, net, optimizer, schedule,
                    _loader(patches, inner, step, cfg, dev), steps_per_epoch, end, step, elapsed, val_hrs)


def _restore(model: nn.Module, optimizer: torch.optim.Optimizer, state: dict[str, Any], config: Mapping[str, Any],
             out: Path) -> tuple[int, float]:
    """Weights, optimizer and RNG states of an interrupted run; returns its (step, elapsed seconds)."""
    load_state_dict_checked(model, state["model"], f"{out}/train_state.pt")
    optimizer.load_state_dict(state["optimizer"])
    set_rng_state(state["rng"])
    _check_resumable(state.get("config"), config, out)
    return int(state["step"]), float(state["elapsed"])


def _loader(patches: ASSRPatches, inner: ScaleBatchSampler, step: int, cfg: TrainConfig, dev: torch.device
            ) -> DataLoader:
    """Batches from ``step`` on; on CUDA with worker processes and pinned memory."""
    cuda = dev.type == "cuda"
    workers = (min(8, os.cpu_count() or 1) if cuda else 0) if cfg.num_workers == "auto" else int(cfg.num_workers)
    return DataLoader(
        patches, batch_sampler=StepBatchSampler(inner, step), num_workers=workers, pin_memory=cuda,
        persistent_workers=workers > 0, prefetch_factor=4 if workers > 0 else None,
    )


def _run(s: _Session, progress: bool) -> TrainResult:
    """The loop: step, validate, log and save until ``s.end``; a Ctrl-C saves a resumable state."""
    result = TrainResult(s.model, s.step, s.out, start_step=s.step)
    if s.step >= s.end:  # nothing to train (--max-steps 0, or a finished run resumed): write nothing
        return result
    logs = Logs(s.out, s.step, s.ddp.main, s.cfg.tensorboard)
    if s.ddp.main:
        s.out.mkdir(parents=True, exist_ok=True)
    bar = tqdm(total=s.end, initial=s.step, disable=not (progress and s.ddp.main), unit="step", dynamic_ncols=True)
    window: list[float] = []
    t0 = time.perf_counter() - s.elapsed
    s.model.train()
    try:
        for batch in s.loader:
            lr = s.schedule(s.step)
            value = s.train_step(batch, lr)
            window.append(value)
            result.losses.append(value)
            s.elapsed = time.perf_counter() - t0
            bar.update(1)
            val = s.validate()
            if val:
                result.val = val
            if (s.cfg.log_every and s.step % s.cfg.log_every == 0) or s.step == s.end or val:
                _log(s, logs, bar, window, lr, val, progress)
                window = []
            if (s.cfg.save_every and s.step % s.cfg.save_every == 0) or s.step == s.end:
                s.save()
            if s.step >= s.end:
                break
    except KeyboardInterrupt:
        if not s.updating:
            s.save()
            bar.write(f"interrupted: saved step {s.step} to {s.out}; continue with --resume")
        raise
    finally:
        bar.close()
        logs.close()
    if s.ddp.world > 1:
        # DDP copies rank 0's buffers into every replica at each forward, but the *last* forward
        # leaves each rank with its own BatchNorm running statistics: make them rank 0's.
        with torch.no_grad():
            for buf in s.model.buffers():
                dist.broadcast(buf, 0)
    result.step = s.step
    return result


def _log(s: _Session, logs: Logs, bar: tqdm, window: list[float], lr: float, val: dict[float, float] | None,
         progress: bool) -> None:
    """One log row (CSV, TensorBoard), the bar's postfix, and a printed line when there is no bar."""
    mean = sum(window) / len(window) if window else float("nan")
    logs.row(s.step, s.step / s.steps_per_epoch, mean, lr, s.elapsed, val)
    post = {"loss": f"{mean:.4f}", "lr": f"{lr:.2e}"}
    if val:
        post["psnr"] = f"{sum(val.values()) / len(val):.2f}"
    bar.set_postfix(post)
    if s.ddp.main and not progress:  # e.g. a nohup log: one line per log row instead of a bar
        print(f"step {s.step}/{s.end} " + " ".join(f"{k} {v}" for k, v in post.items()) + f" time {s.elapsed:.0f}s",
              flush=True)
