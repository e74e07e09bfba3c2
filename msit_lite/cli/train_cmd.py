"""``msit-lite train``: train a model from a YAML config (see :mod:`msit_lite.training`).

A run folder (--out) that holds a run (train_state.pt or model.safetensors) is never replaced by
accident: continue it with --resume, or replace it with --force. --resume without a readable
train_state.pt is an error, never a fresh start.

Several GPUs: ``torchrun --nproc_per_node N -m msit_lite train --config ...`` (every process runs
this command; rank 0 logs and writes checkpoints).
"""
from __future__ import annotations

import argparse
import os
from pathlib import Path


def add_parser(subparsers: argparse._SubParsersAction, help_text: str) -> None:
    p = subparsers.add_parser("train", help=help_text, description=help_text + ". " + " ".join(__doc__.split("\n\n")[1:3]))
    p.add_argument("--config", type=Path, help="YAML config (model, train, data); with --resume defaults to OUT/config.yaml")
    p.add_argument("--data-root", type=Path, default=None, help="folder holding the training sets (default: $MSIT_DATA or ../shared/data)")
    p.add_argument("--out", type=Path, default=None, help="run directory (default: runs/<config name>)")
    p.add_argument("--device", default=None, help="cpu, cuda, cuda:1, mps (default: best available)")
    p.add_argument("--max-steps", type=int, default=None, help="stop after this many steps (the schedule is unchanged)")
    p.add_argument("--resume", action="store_true",
                   help="continue the run in --out from its train_state.pt (an error if there is none or it is unreadable)")
    p.add_argument("--force", action="store_true",
                   help="start a new run in an --out that holds one, deleting its train_state.pt, weights, config and logs")
    p.add_argument("--init", default=None, help="stage-1 checkpoint to load into the RIM convs (cumulative training)")
    p.add_argument("--seed", type=int, default=None, help="override train.seed")
    p.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's choice / OMP_NUM_THREADS)")
    p.add_argument("--no-progress", action="store_true", help="no tqdm bar")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    import torch

    from msit_lite.config import load_config
    from msit_lite.errors import MsitError
    from msit_lite.training import train
    from msit_lite.training.state import STATE, prepare_run_dir

    if args.threads is not None:
        if args.threads < 1:
            raise MsitError(f"--threads must be >= 1, got {args.threads}")
        torch.set_num_threads(args.threads)
    config_path = args.config
    if config_path is None:
        if not (args.resume and args.out is not None):
            raise MsitError("--config is required (or --resume with --out pointing at an earlier run)")
        config_path = args.out / "config.yaml"
    out = args.out or Path("runs") / Path(config_path).stem
    if args.max_steps is not None and args.max_steps < 0:
        raise MsitError(f"--max-steps must be >= 0, got {args.max_steps}")
    if args.resume and not (out / STATE).is_file():
        prepare_run_dir(out, resume=True, force=args.force)  # the one-line error, before the config is read
    config = load_config(config_path)
    result = train(
        config, out, data_root=args.data_root, device=args.device, max_steps=args.max_steps, resume=args.resume,
        force=args.force, init=args.init, seed=args.seed, progress=not args.no_progress, source=str(config_path),
    )
    if int(os.environ.get("RANK", "0")) == 0:
        if result.step == result.start_step:
            why = f"--max-steps {args.max_steps}" if args.max_steps is not None else "the schedule is complete"
            print(f"msit-lite train: nothing to train ({why}; the run is at step {result.step}); nothing written to {out}")
            return 0
        val = ", ".join(f"x{s:g} {v:.2f} dB" for s, v in result.val.items())
        print(f"msit-lite train: steps {result.start_step + 1}-{result.step} done; step {result.step} saved in {out}"
              + (f"; held-in PSNR {val}" if val else ""))
    return 0
