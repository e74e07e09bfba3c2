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
``DistributedDataParallel``; each takes every ``world_size``-th batch of the same sequence, so an
epoch has ``1/world_size`` as many steps. Rank 0 alone logs, validates and writes checkpoints.

**On CUDA** the forward pass runs under bf16 autocast (the loss in float32), the loader uses
worker processes and pinned memory, and decoded images are cached in memory.
"""
from __future__ import annotations

import csv
import dataclasses
import math
import os
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator, Mapping

import torch
import torch.distributed as dist
import torch.nn.functional as F
from torch import Tensor, nn
from torch.utils.data import DataLoader, Sampler

from msit_lite.checkpoint import load_state_dict_checked, plain_config, save_checkpoint
from msit_lite.config import build_model, validate_config
from msit_lite.data.folders import ImageFolder, find_training_folders
from msit_lite.data.sampler import ASSRPatches, SampleKey, ScaleBatchSampler, full_image_item
from msit_lite.errors import MsitError
from msit_lite.metrics import psnr
from msit_lite.paths import data_root as default_data_root
from msit_lite.training.config import DataConfig, TrainConfig, parse_data_config, parse_train_config, to_dict
from msit_lite.training.cumulative import init_weights
from msit_lite.training.schedule import Schedule, make_schedule
from msit_lite.training.step import prepare_for_training
from msit_lite.training.state import load_state, prepare_run_dir, rng_state, save_state, set_rng_state
from msit_lite.utils import atomic_path, pick_device

LOG_CSV = "log.csv"
VAL_CSV = "val.csv"
CSV_FIELDS = ["step", "epoch", "loss", "lr", "time", "val_psnr"]


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


@dataclass
class TrainResult:
    """The trained model and what happened: steps ``start_step`` .. ``step`` ran (none when equal)."""

    model: nn.Module
    step: int
    out: Path
    val: dict[float, float] = field(default_factory=dict)
    losses: list[float] = field(default_factory=list)
    start_step: int = 0


@dataclass
class _Dist:
    rank: int = 0
    world: int = 1
    local_rank: int = 0
    owned: bool = False  # we initialised the process group (and must destroy it)

    @property
    def main(self) -> bool:
        return self.rank == 0


def _setup_distributed(device: str | None) -> tuple[_Dist, torch.device]:
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world <= 1:
        return _Dist(), pick_device(device)
    rank, local = int(os.environ.get("RANK", "0")), int(os.environ.get("LOCAL_RANK", "0"))
    dev = pick_device(device)
    if dev.type == "cuda":
        dev = torch.device("cuda", local)
        torch.cuda.set_device(dev)
    owned = False
    if not dist.is_initialized():
        dist.init_process_group("nccl" if dev.type == "cuda" else "gloo", rank=rank, world_size=world)
        owned = True
    return _Dist(rank, world, local, owned), dev


def _normalise(x: Tensor, d: DataConfig) -> Tensor:
    return (x - d.norm.sub) / d.norm.div


def _is_oom(e: BaseException) -> bool:
    oom_type = getattr(torch, "OutOfMemoryError", None) or getattr(torch.cuda, "OutOfMemoryError", ())
    return (oom_type and isinstance(e, oom_type)) or (isinstance(e, RuntimeError) and "out of memory" in str(e))


def _oom_error(cfg: TrainConfig, device: torch.device, step: int) -> MsitError:
    return MsitError(
        f"out of memory on {device} at step {step} (batch_size={cfg.batch_size}, patch_size={cfg.patch_size}, "
        f"sample_q={cfg.sample_q}); lower train.batch_size or train.sample_q/patch_size in the config "
        "(or use more GPUs with torchrun)"
    )


def _validation_images(images: ImageFolder, cfg: TrainConfig) -> list[Tensor]:
    """``val.images`` training images spread over the set, centre-cropped to ``val.crop`` (held-in)."""
    from msit_lite.data.io import to_tensor

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


def _check_validation(hrs: list[Tensor], cfg: TrainConfig, source: str) -> None:
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
    from msit_lite.inference import predict

    result: dict[float, float] = {}
    for s in scales:
        values = []
        for hr in hrs:
            item = full_image_item(hr, s)
            inp = _normalise(item["inp"].unsqueeze(0).to(device), data)
            hh, ww = item["hr"].shape[-2:]
            pred = predict(model, inp, (hh, ww), chunk=chunk)
            sr = (pred * data.norm.div + data.norm.sub).clamp(0, 1).cpu()
            values.append(psnr(sr, item["hr"].unsqueeze(0), crop_border=math.ceil(s), test_y_channel=False))
        result[float(s)] = sum(values) / len(values)
    return result


class _Logs:
    """CSV (always), TensorBoard (if importable) and the tqdm bar, on rank 0 only."""

    def __init__(self, out: Path, start_step: int, enabled: bool, tensorboard: bool = True) -> None:
        self.enabled = enabled
        self.log_path, self.val_path = out / LOG_CSV, out / VAL_CSV
        self.tb = None
        if not enabled:
            return
        for path, fields in ((self.log_path, CSV_FIELDS), (self.val_path, ["step", "scale", "psnr"])):
            _truncate_csv(path, fields, start_step)
        if not tensorboard:
            return
        try:
            from torch.utils.tensorboard import SummaryWriter

            self.tb = SummaryWriter(str(out / "tb"), purge_step=start_step + 1)
        except Exception:  # tensorboard not installed: CSV only
            self.tb = None

    def row(self, step: int, epoch: float, loss: float, lr: float, elapsed: float, val: dict[float, float] | None) -> None:
        if not self.enabled:
            return
        mean = sum(val.values()) / len(val) if val else None
        with open(self.log_path, "a", newline="") as f:
            csv.writer(f).writerow([step, f"{epoch:.4f}", f"{loss:.6f}", f"{lr:.6e}", f"{elapsed:.1f}",
                                    "" if mean is None else f"{mean:.4f}"])
        if val:
            with open(self.val_path, "a", newline="") as f:
                for s, v in val.items():
                    csv.writer(f).writerow([step, s, f"{v:.4f}"])
        if self.tb is not None:
            if not math.isnan(loss):
                self.tb.add_scalar("train/loss", loss, step)
            self.tb.add_scalar("train/lr", lr, step)
            for s, v in (val or {}).items():
                self.tb.add_scalar(f"val/psnr_x{s:g}", v, step)
            self.tb.flush()

    def close(self) -> None:
        if self.tb is not None:
            self.tb.close()


def _truncate_csv(path: Path, fields: list[str], start_step: int) -> None:
    """Start a CSV, or keep only the rows up to ``start_step`` of an earlier (resumed) run."""
    rows: list[list[str]] = []
    if start_step > 0 and path.is_file():
        with open(path, newline="") as f:
            rows = [r for r in list(csv.reader(f))[1:] if r and int(r[0]) <= start_step]
    with atomic_path(path) as tmp:
        with open(tmp, "w", newline="") as f:
            w = csv.writer(f)
            w.writerow(fields)
            w.writerows(rows)


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
    ddp, dev = _setup_distributed(device)
    try:
        return _train(config, cfg, dcfg, out, data_root, dev, ddp, max_steps, state, progress, source)
    finally:
        if ddp.owned and dist.is_initialized():
            dist.destroy_process_group()


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


def _make_data(cfg: TrainConfig, dcfg: DataConfig, root: Path, ddp: _Dist, dev: torch.device
               ) -> tuple[ImageFolder, ScaleBatchSampler, ASSRPatches]:
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


def _train(config: dict[str, Any], cfg: TrainConfig, dcfg: DataConfig, out: Path, data_root: str | Path | None,
           dev: torch.device, ddp: _Dist, max_steps: int | None, state: dict[str, Any] | None, progress: bool,
           source: str) -> TrainResult:
    from tqdm.auto import tqdm

    resume = state is not None
    torch.manual_seed(cfg.seed)
    model = build_model(config, source).to(dev)  # a bad model argument fails before the data is read
    root = Path(data_root) if data_root is not None else default_data_root()
    images, inner, patches = _make_data(cfg, dcfg, root, ddp, dev)
    steps_per_epoch = len(inner)
    schedule: Schedule = make_schedule(cfg, steps_per_epoch)
    end = schedule.total if max_steps is None else min(int(max_steps), schedule.total)

    if cfg.stage == 2 and not resume and cfg.init_from is None:
        raise MsitError("stage-2 (RIM) training needs the stage-1 checkpoint: pass --init DIR or set train.init_from")
    if cfg.init_from is not None and not resume:
        init_weights(model, cfg.init_from, cfg.rim_init, cfg.init_drop)
    params = [p for p in model.parameters() if p.requires_grad]
    opt_cls = torch.optim.AdamW if cfg.optimizer.name == "adamw" else torch.optim.Adam
    optimizer = opt_cls(params, lr=schedule(0), betas=cfg.optimizer.betas, weight_decay=cfg.optimizer.weight_decay)

    step, elapsed = 0, 0.0
    if state is not None:
        load_state_dict_checked(model, state["model"], f"{out}/train_state.pt")
        optimizer.load_state_dict(state["optimizer"])
        set_rng_state(state["rng"])
        step, elapsed = int(state["step"]), float(state["elapsed"])
        _check_resumable(state.get("config"), config, out)
    net: nn.Module = prepare_for_training(model, cfg, dev)
    if ddp.world > 1:
        net = nn.parallel.DistributedDataParallel(net, device_ids=[dev.index] if dev.type == "cuda" else None)

    cuda = dev.type == "cuda"
    workers = (min(8, os.cpu_count() or 1) if cuda else 0) if cfg.num_workers == "auto" else int(cfg.num_workers)
    loader = DataLoader(
        patches, batch_sampler=StepBatchSampler(inner, step), num_workers=workers, pin_memory=cuda,
        persistent_workers=workers > 0, prefetch_factor=4 if workers > 0 else None,
    )
    use_bf16 = cfg.amp == "bf16" or (cfg.amp == "auto" and cuda)
    val_hrs = _validation_images(images, cfg) if ddp.main and cfg.val.images > 0 else []
    _check_validation(val_hrs, cfg, source)
    result = TrainResult(model, step, out, start_step=step)
    if step >= end:  # nothing to train (--max-steps 0, or a finished run resumed): write nothing
        return result
    logs = _Logs(out, step, ddp.main, cfg.tensorboard)
    if ddp.main:
        out.mkdir(parents=True, exist_ok=True)

    def checkpoint() -> None:
        # The state first: a kill between the two writes then leaves a resumable run (the state
        # holds the weights too), never weights without a state -- which --resume refuses.
        if not ddp.main:
            return
        save_state(out, {
            "step": step, "epoch": step / steps_per_epoch, "elapsed": elapsed,
            "model": {k: v.detach().cpu().clone() for k, v in model.state_dict().items()},
            "optimizer": optimizer.state_dict(), "schedule": schedule.state_dict(), "rng": rng_state(),
            "config": plain_config(config),
            "sampler": {"seed": cfg.seed, "step": step, "epoch": step // steps_per_epoch,
                        "batch_in_epoch": step % steps_per_epoch, "world_size": ddp.world},
        })
        save_checkpoint(out, model, config)

    bar = tqdm(total=end, initial=step, disable=not (progress and ddp.main), unit="step", dynamic_ncols=True)
    window: list[float] = []
    t0 = time.perf_counter() - elapsed
    updating = False
    model.train()
    try:
        for batch in loader:
            lr = schedule(step)
            for group in optimizer.param_groups:
                group["lr"] = lr
            try:
                inp = _normalise(batch["inp"].to(dev, non_blocking=True), dcfg)
                gt = _normalise(batch["gt"].to(dev, non_blocking=True), dcfg)
                coord = batch["coord"].to(dev, non_blocking=True)
                cell = batch["cell"].to(dev, non_blocking=True)
                with torch.autocast(dev.type, dtype=torch.bfloat16, enabled=use_bf16):
                    pred = net(inp, coord, cell)
                pred = pred.float()
                loss = F.l1_loss(pred, gt) if cfg.loss == "l1" else F.mse_loss(pred, gt)
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                if cfg.grad_clip is not None:
                    torch.nn.utils.clip_grad_norm_(params, cfg.grad_clip)
                updating = True  # an interrupt from here to `step += 1` leaves a half-applied update
                optimizer.step()
            except RuntimeError as e:
                if _is_oom(e):
                    raise _oom_error(cfg, dev, step) from e
                raise
            step += 1
            updating = False
            value = float(loss.detach())
            window.append(value)
            result.losses.append(value)
            elapsed = time.perf_counter() - t0
            bar.update(1)
            do_val = bool(val_hrs) and ((cfg.val_every and step % cfg.val_every == 0) or step == end)
            try:
                val = validate(model, val_hrs, cfg.val.scales, dcfg, dev, cfg.val.chunk) if do_val else None
            except RuntimeError as e:
                if _is_oom(e):
                    raise MsitError(f"out of memory during validation at step {step} on {dev}; lower "
                                    f"train.val.chunk ({cfg.val.chunk}) or train.val.crop ({cfg.val.crop})") from e
                raise
            if val:
                result.val = val
                model.train()
            if (cfg.log_every and step % cfg.log_every == 0) or step == end or val:
                mean = sum(window) / len(window) if window else float("nan")
                logs.row(step, step / steps_per_epoch, mean, lr, elapsed, val)
                post = {"loss": f"{mean:.4f}", "lr": f"{lr:.2e}"}
                if val:
                    post["psnr"] = f"{sum(val.values()) / len(val):.2f}"
                bar.set_postfix(post)
                if ddp.main and not progress:  # e.g. a nohup log: one line per log row instead of a bar
                    print(f"step {step}/{end} " + " ".join(f"{k} {v}" for k, v in post.items()) + f" time {elapsed:.0f}s",
                          flush=True)
                window = []
            if (cfg.save_every and step % cfg.save_every == 0) or step == end:
                checkpoint()
            if step >= end:
                break
    except KeyboardInterrupt:
        if not updating:
            checkpoint()
            bar.write(f"interrupted: saved step {step} to {out}; continue with --resume")
        raise
    finally:
        bar.close()
        logs.close()
    if ddp.world > 1:
        # DDP copies rank 0's buffers into every replica at each forward, but the *last* forward
        # leaves each rank with its own BatchNorm running statistics: make them rank 0's.
        with torch.no_grad():
            for buf in model.buffers():
                dist.broadcast(buf, 0)
    result.step = step
    return result
