#!/usr/bin/env python
"""Publish a finished training run as a small, self-describing checkpoint folder.

    python scripts/make_model_card.py runs/lite-msit checkpoints/lite-msit \\
        --eval results/lite-msit.json --baseline results/bicubic.json --threads 1

copies ``model.safetensors``, ``config.yaml``, ``log.csv`` and ``val.csv`` from the run into the
destination, draws ``training_curve.png`` (training loss and held-in validation PSNR against the
step) and writes ``MODEL_CARD.md``.

Why a script and not a template: every number in the card is *read* from somewhere -- the step
count and wall-clock time from ``train_state.pt`` (or the last row of ``log.csv``), the parameter
count from :func:`msit_lite.params.count_parameters` on the rebuilt model, the number of training
images from the data folders, the benchmark table from the ``msit-lite eval --json`` files -- so a
card cannot disagree with the weights it describes. What the run does not record (how many CPU
threads the trainer used, which machine) is taken from this machine and options, and the card
says so.

The weights must stay small enough to live in git (``--max-mb``, default 5 MB = 5·10⁶ bytes).
Errors are one line (``make_model_card: error: ...``, exit status 2).
"""
from __future__ import annotations

import argparse
import csv
import hashlib
import json
import math
import os
import platform
import shutil
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

import torch

from msit_lite import paper
from msit_lite.checkpoint import CONFIG, WEIGHTS, load_checkpoint
from msit_lite.config import load_config
from msit_lite.errors import MsitError
from msit_lite.params import count_parameters
from msit_lite.paths import data_root as default_data_root
from msit_lite.paths import repo_dir
from msit_lite.training.config import parse_data_config, parse_train_config, to_dict
from msit_lite.training.state import STATE

CARD = "MODEL_CARD.md"
CURVE = "training_curve.png"
CSVS = ("log.csv", "val.csv")
SET_ORDER = ("Set5", "Set14", "B100", "Urban100", "DIV2K")
# The paper's recipe (§IV-A) in optimizer steps, for the "how far from the paper" line: computed once,
# in msit_lite.paper.TRAINING (1,050 epochs of DF2K, batch 32, the last partial batch kept), 48² queries a patch.
PAPER_STEPS = paper.TRAINING.total_steps
PAPER_QUERIES = paper.TRAINING.batch_size * 48 * 48


@dataclass
class RunInfo:
    """Everything the card says about the run, read from its files."""

    run: Path
    config: dict[str, Any]
    step: int
    elapsed: float | None
    epoch: float | None
    log: list[dict[str, str]]
    val: list[dict[str, str]]
    weights_bytes: int
    sha256: str
    params: Any
    state_keys: list[str] = field(default_factory=list)


# ----------------------------------------------------------------------------------------------
# Reading the run
# ----------------------------------------------------------------------------------------------
def read_csv(path: Path) -> list[dict[str, str]]:
    if not path.is_file():
        return []
    with open(path, newline="") as f:
        return [row for row in csv.DictReader(f) if row.get("step")]


def write_csv(src: Path, dst: Path, rows: list[dict[str, str]]) -> None:
    """``src``'s header and ``rows`` (the rows up to the checkpoint's step) into ``dst``."""
    with open(src, newline="") as f:
        header = next(csv.reader(f))
    with open(dst, "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=header, extrasaction="ignore")
        w.writeheader()
        w.writerows(rows)


def sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def read_run(run: Path, max_mb: float) -> RunInfo:
    """Check the run folder and read what the card needs (MsitError on anything missing)."""
    run = Path(run)
    if not run.is_dir():
        raise MsitError(f"run folder {run} not found; pass the --out folder of `msit-lite train`")
    for name in (WEIGHTS, CONFIG, "log.csv"):
        if not (run / name).is_file():
            raise MsitError(f"run folder {run} has no {name}; is the training finished (or started)?")
    size = (run / WEIGHTS).stat().st_size
    if size > max_mb * 1e6:
        raise MsitError(f"{run / WEIGHTS} is {size / 1e6:.2f} MB, more than --max-mb {max_mb:g} MB; "
                        "shrink the model or raise --max-mb")
    model, config = load_checkpoint(run, "cpu")  # also checks that the weights fit the config
    log = read_csv(run / "log.csv")
    if not log:
        raise MsitError(f"{run / 'log.csv'} has no rows; train for at least log_every steps first")
    step, elapsed, epoch, keys = int(log[-1]["step"]), None, None, []
    if (run / STATE).is_file():
        state = torch.load(run / STATE, map_location="cpu", weights_only=True)
        keys = sorted(state)
        step = int(state.get("step", step))
        elapsed = float(state["elapsed"]) if "elapsed" in state else None
        epoch = float(state["epoch"]) if "epoch" in state else None
    log = [r for r in log if int(r["step"]) <= step]  # a run copied mid-way: rows of the saved step only
    last = log
    if elapsed is None and last and last[-1].get("time"):
        elapsed = float(last[-1]["time"])
    if epoch is None and last and last[-1].get("epoch"):
        epoch = float(last[-1]["epoch"])
    val = [r for r in read_csv(run / "val.csv") if int(r["step"]) <= step]
    return RunInfo(run, config, step, elapsed, epoch, log, val, size,
                   sha256(run / WEIGHTS), count_parameters(model), keys)


def count_training_images(config: dict[str, Any], root: Path) -> tuple[str, list[tuple[str, int]]]:
    """(set name, [(folder, number of images)]) of the config's ``data.train`` under ``root``."""
    from msit_lite.data.folders import find_training_folders, image_files

    name = parse_data_config(config.get("data")).train
    try:
        folders = find_training_folders(root, name)
    except MsitError:
        return name, []
    return name, [(f.name, len(image_files(f))) for f in folders]


def matching_config(config: dict[str, Any]) -> Path | None:
    """The file under ``configs/`` that describes the same model, train and data sections.

    ``train.init_from`` is ignored: ``--init DIR`` writes it into the run's config, the file leaves it open.
    """
    def norm(c: dict[str, Any]) -> tuple:
        train = {k: v for k, v in to_dict(parse_train_config(c.get("train"))).items() if k != "init_from"}
        return (json.dumps(c.get("model"), sort_keys=True),
                json.dumps(train, sort_keys=True),
                json.dumps(to_dict(parse_data_config(c.get("data"))), sort_keys=True))

    target = norm(config)
    folder = repo_dir() / "configs"
    for path in sorted(folder.rglob("*.yaml")) if folder.is_dir() else []:
        try:
            if norm(load_config(path)) == target:
                return path
        except Exception:  # a config of another kind (ablation fragment, official yaml): not ours
            continue
    return None


def cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine() or "unknown CPU"


# ----------------------------------------------------------------------------------------------
# Evaluation tables
# ----------------------------------------------------------------------------------------------
def read_eval(path: Path) -> dict[str, dict[str, float]]:
    """``{set: {scale: psnr}}`` from an ``msit-lite eval --json`` file."""
    if not Path(path).is_file():
        raise MsitError(f"evaluation file {path} not found; write it with `msit-lite eval ... --json {path}`")
    try:
        data = json.loads(Path(path).read_text())
        return {d: {str(s): float(v["psnr"]) for s, v in by.items()} for d, by in data["results"].items()}
    except (ValueError, KeyError, TypeError, AttributeError) as e:
        raise MsitError(f"{path} is not an `msit-lite eval --json` file ({type(e).__name__}: {e}); "
                        "expected {\"results\": {SET: {SCALE: {\"psnr\": ..}}}}") from e


def _scale_key(s: str) -> float:
    try:
        return float(s)
    except ValueError:
        return math.inf


def psnr_table(columns: Sequence[tuple[str, dict[str, dict[str, float]]]]) -> list[str]:
    """Markdown rows: one per (set, scale) present in the last column (this model)."""
    names = [n for n, _ in columns]
    ours = columns[-1][1]
    head = "| set | scale | " + " | ".join(names) + (f" | Δ vs {names[0]} |" if len(columns) > 1 else " |")
    lines = [head, "|" + "---|" * (len(names) + 2 + (len(columns) > 1))]
    sets = [d for d in SET_ORDER if d in ours] + sorted(d for d in ours if d not in SET_ORDER)
    for d in sets:
        for s in sorted(ours[d], key=_scale_key):
            vals = [c.get(d, {}).get(s) for _, c in columns]
            cells = ["–" if v is None else f"{v:.2f}" for v in vals]
            row = f"| {d} | ×{s} | " + " | ".join(cells)
            if len(columns) > 1:
                row += " | " + ("–" if vals[0] is None else f"{vals[-1] - vals[0]:+.2f}")
            lines.append(row + " |")
    return lines


# ----------------------------------------------------------------------------------------------
# Outputs
# ----------------------------------------------------------------------------------------------
def plot_curve(info: RunInfo, path: Path) -> Path:
    """Training loss (left) and held-in validation PSNR per scale (right) against the step."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (a, b) = plt.subplots(1, 2, figsize=(10, 3.6))
    steps = [int(r["step"]) for r in info.log]
    loss = [float(r["loss"]) for r in info.log]
    a.plot(steps, loss, lw=1.2)
    a.set(xlabel="step", ylabel="L1 loss (normalised RGB, [-1, 1])", title="training loss (mean per log row)")
    a.grid(alpha=0.3)
    scales = sorted({r["scale"] for r in info.val}, key=_scale_key)
    for s in scales:
        rows = [r for r in info.val if r["scale"] == s]
        b.plot([int(r["step"]) for r in rows], [float(r["psnr"]) for r in rows], "o-", label=f"×{float(s):g}")
    if scales:
        b.legend()
    else:
        b.text(0.5, 0.5, "no validation rows", ha="center", va="center", transform=b.transAxes)
    b.set(xlabel="step", ylabel="PSNR (dB, RGB)", title="held-in validation crops")
    b.grid(alpha=0.3)
    fig.suptitle(str(info.config.get("description", info.run.name)))
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def _fmt_time(seconds: float | None) -> str:
    if seconds is None:
        return "not recorded"
    h, rem = divmod(int(round(seconds)), 3600)
    return f"{seconds:,.0f} s ({h} h {rem // 60:02d} min)"


def render_card(info: RunInfo, dest: Path, *, data_root: Path, evals: Sequence[tuple[str, dict]],
                threads: int | None, hardware: str | None, command: str | None, eval_command: str | None) -> str:
    cfg = info.config
    tcfg = parse_train_config(cfg.get("train"))
    dcfg = parse_data_config(cfg.get("data"))
    p = info.params
    name = dest.name
    set_name, counts = count_training_images(cfg, data_root)
    total = sum(n for _, n in counts)
    conf_file = matching_config(cfg)
    if command is None:
        conf = conf_file.relative_to(repo_dir()).as_posix() if conf_file else f"{name}/config.yaml"
        command = (f"msit-lite train --config {conf} --out runs/{info.run.name} --device cpu"
                   + (f" --threads {threads}" if threads else "")
                   + (f" --init {tcfg.init_from}" if tcfg.init_from else ""))
    spe = None
    if info.epoch:
        spe = info.step / info.epoch
    queries = tcfg.batch_size * (tcfg.sample_q or tcfg.patch_size**2)
    L: list[str] = []
    L += [f"# {name}", "", f"{cfg.get('description', '')}".strip(), ""]
    L += ["| | |", "|---|---|",
          f"| model | `{cfg['model']['name']}`, conv `{cfg['model'].get('args', {}).get('conv', 'plain')}` "
          f"(stage {tcfg.stage}) |",
          *([f"| starts from | `{tcfg.init_from}` (`--init`: the steps below come on top of that run's) |"]
            if tcfg.init_from else []),
          f"| parameters | {p.trainable:,} trainable (official convention, incl. FEM stride; {p.learnable:,} learnable), "
          f"{p.deployed:,} deployed, {p.rim_buffers:,} RIM buffers |",
          f"| weights | `{WEIGHTS}`, {info.weights_bytes / 1e6:.2f} MB, sha256 `{info.sha256[:16]}…` |",
          f"| steps | {info.step:,}" + (f" ({info.epoch:.1f} epochs of {spe:.0f} steps)" if spe else "") + " |",
          f"| wall-clock | {_fmt_time(info.elapsed)}"
          + (f", {info.elapsed / max(info.step, 1):.2f} s/step" if info.elapsed else "") + " |",
          ""]
    L += ["## Files", "",
          f"* `{WEIGHTS}` + `{CONFIG}`: load with `msit_lite.checkpoint.load_checkpoint('{name}')` or "
          f"`msit-lite upscale --checkpoint {name} ...`",
          "* `log.csv` (step, epoch, mean loss since the last row, lr, elapsed s, mean val PSNR), "
          "`val.csv` (step, scale, PSNR)",
          f"* `{CURVE}`: both, drawn by `scripts/make_model_card.py`", ""]
    L += ["## Data", ""]
    if counts:
        L.append(f"`data.train: {dcfg.train}` = " + " + ".join(f"{f} ({n})" for f, n in counts)
                 + f" = **{total} images**, counted under `{data_root}` when this card was written.")
    else:
        L.append(f"`data.train: {dcfg.train}` (not found under `{data_root}` when this card was written; "
                 "pass --data-root to count the images).")
    L += ["",
          f"Each step: {tcfg.batch_size} LR patches of {tcfg.patch_size}×{tcfg.patch_size} pixels at one "
          f"magnification η ~ U({tcfg.scale_min:g}, {tcfg.scale_max:g}) per batch, HR crops of "
          f"round({tcfg.patch_size}η)², LR by PyTorch bicubic (antialiased), flips/transposes, "
          f"{tcfg.sample_q} sampled (coordinate, RGB) queries per patch; normalisation "
          f"(x − {dcfg.norm.sub:g}) / {dcfg.norm.div:g}.", ""]
    L += ["## Training", "", "```bash", command, "```", ""]
    if conf_file is not None:
        L.append(f"`{conf_file.relative_to(repo_dir()).as_posix()}` equals this folder's `{CONFIG}` "
                 "(model, train and data sections).")
        if conf_file.stem.startswith("lite-") and (repo_dir() / "scripts" / "train_lite.sh").is_file():
            L.append("`scripts/train_lite.sh` starts both lite runs this way (one thread each, side by side, "
                     "with `--resume --no-progress`).")
    L += [f"Recipe: {tcfg.loss.upper()} loss, {tcfg.optimizer.name} (betas {tcfg.optimizer.betas[0]:g}, "
          f"{tcfg.optimizer.betas[1]:g}), lr {tcfg.warmup.start_lr:g} → {tcfg.optimizer.lr:g} linear warm-up over "
          f"{tcfg.warmup.steps if tcfg.warmup.steps is not None else tcfg.warmup.epochs} "
          f"{'steps' if tcfg.warmup.steps is not None else 'epochs'}, then {tcfg.scheduler.name} over "
          f"{tcfg.scheduler.steps if tcfg.scheduler.steps is not None else tcfg.scheduler.epochs} "
          f"{'steps' if tcfg.scheduler.steps is not None else 'epochs'}; seed {tcfg.seed}.", ""]
    L += ["Hardware (the run does not record it: these are the machine that wrote this card"
          + (" and the options given" if (threads or hardware) else "") + "):", "",
          f"* {hardware or cpu_name()}, {os.cpu_count()} logical cores",
          f"* torch {torch.__version__}, Python {platform.python_version()}, "
          + (f"{threads} CPU thread(s) for training" if threads else "training threads not recorded"), ""]
    L += ["## Results", ""]
    if evals:
        if eval_command:
            L += ["```bash", eval_command, "```", ""]
        L += ["PSNR (dB), from " + ", ".join(f"`{n}`" for n, _ in evals) + " (`msit-lite eval --json`):", ""]
        L += psnr_table(evals)
        L.append("")
    else:
        L += ["No benchmark evaluation was given (`--eval results/NAME.json`).", ""]
    last_val = {}
    for r in info.val:
        if int(r["step"]) == max(int(x["step"]) for x in info.val):
            last_val[r["scale"]] = float(r["psnr"])
    if last_val:
        L += [f"Held-in validation at step {max(int(x['step']) for x in info.val)} "
              f"({tcfg.val.images} training images, centre {tcfg.val.crop}² crops, RGB, shave ⌈s⌉ -- "
              "a training-progress signal, not a benchmark): "
              + ", ".join(f"×{float(s):g} {v:.2f} dB" for s, v in sorted(last_val.items(), key=lambda kv: float(kv[0])))
              + ".", ""]
    frac = info.step * queries / (PAPER_STEPS * PAPER_QUERIES)
    L += ["## Limitations", "",
          f"* **Tiny budget.** {info.step:,} steps × {queries:,} queries = {frac:.2%} of the (coordinate, RGB) "
          f"samples of the paper's recipe (1050 epochs of DF2K, batch 32 × 48², ≈{PAPER_STEPS:,} steps). "
          "The model is far from converged; its numbers say nothing about the paper's.",
          f"* **Small data.** {dcfg.train}" + (f" ({total} images)" if counts else "")
          + " instead of DF2K (3,450 2K images); the held-in validation crops are training images.",
          f"* **Trained for η ≤ {tcfg.scale_max:g}.** Larger scales are out-of-distribution "
          "(the paper's premise is that MSIT extrapolates; this small run is a weak test of it).",
          "* **One seed.** The lite study (`results/study/tables.md`) measured the seed spread of MSIT-lite "
          "and a control: LIIF-lite with MSIT's long skip scores above MSIT-lite.",
          ]
    if tcfg.stage == 1 and p.rim_buffers == 0:
        L.append("* **Stage 1 only** (plain convolutions): no RIM / cumulative training "
                 "(see notebook 08 and docs/REPRODUCTION.md).")
    L += ["* For teaching and tests: not a production super-resolution model.", ""]
    return "\n".join(L)


def make_card(run: Path, dest: Path, *, evals: Sequence[Path] = (), baselines: Sequence[Path] = (),
              data_root: Path | None = None, threads: int | None = None, hardware: str | None = None,
              command: str | None = None, eval_command: str | None = None, max_mb: float = 5.0) -> Path:
    """Copy the run's publishable files into ``dest`` and write the card; returns the card path."""
    run, dest = Path(run), Path(dest)
    if dest.resolve() == run.resolve():
        raise MsitError(f"destination {dest} is the run folder itself; choose another folder (e.g. checkpoints/NAME)")
    if len(evals) > 1:
        raise MsitError("give one --eval JSON (this model); other models go to --baseline")
    info = read_run(run, max_mb)
    columns = [(Path(b).stem, read_eval(Path(b))) for b in baselines]
    if evals:
        columns.append((dest.name, read_eval(Path(evals[0]))))
    dest.mkdir(parents=True, exist_ok=True)
    for name in (WEIGHTS, CONFIG):
        shutil.copy2(run / name, dest / name)
    for name, rows in zip(CSVS, (info.log, info.val)):
        if (run / name).is_file():
            write_csv(run / name, dest / name, rows)
    if evals:
        shutil.copy2(evals[0], dest / "eval.json")
    elif (dest / "eval.json").is_file():  # from an earlier card of another checkpoint: would be stale
        (dest / "eval.json").unlink()
    plot_curve(info, dest / CURVE)
    text = render_card(info, dest, data_root=Path(data_root) if data_root else default_data_root(),
                       evals=columns if evals else [], threads=threads, hardware=hardware, command=command,
                       eval_command=eval_command)
    tmp = dest / (CARD + ".tmp")
    tmp.write_text(text)
    os.replace(tmp, dest / CARD)
    return dest / CARD


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter,
                                epilog=__doc__.split("\n\n", 1)[1])
    p.add_argument("run", type=Path, help="finished run folder (model.safetensors, config.yaml, log.csv, ...)")
    p.add_argument("dest", type=Path, help="destination folder, e.g. checkpoints/lite-msit")
    p.add_argument("--eval", type=Path, action="append", default=[], metavar="JSON",
                   help="this model's `msit-lite eval --json` file (copied as eval.json)")
    p.add_argument("--baseline", type=Path, action="append", default=[], metavar="JSON",
                   help="other models' eval JSON files for the table, first one = the Δ reference (e.g. bicubic)")
    p.add_argument("--eval-command", default=None, help="the eval command line, printed above the table")
    p.add_argument("--data-root", type=Path, default=None, help="where to count the training images (default: $MSIT_DATA or ../shared/data)")
    p.add_argument("--threads", type=int, default=None, help="CPU threads the training used (not recorded by the run)")
    p.add_argument("--hardware", default=None, help="training hardware, if not this machine's CPU")
    p.add_argument("--command", default=None, help="the exact training command (default: rebuilt from the config)")
    p.add_argument("--max-mb", type=float, default=5.0, help="refuse weights larger than this (MB = 1e6 bytes; default 5)")
    args = p.parse_args(argv)
    try:
        card = make_card(args.run, args.dest, evals=args.eval, baselines=args.baseline, data_root=args.data_root,
                         threads=args.threads, hardware=args.hardware, command=args.command,
                         eval_command=args.eval_command, max_mb=args.max_mb)
    except MsitError as e:
        print(f"make_model_card: error: {e}", file=sys.stderr)
        return 2
    print(f"wrote {card} (+ {', '.join(sorted(f.name for f in card.parent.iterdir() if f.name != CARD))})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
