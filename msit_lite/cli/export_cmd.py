"""``msit-lite export``: fold every RIM into a plain convolution holding ``W'`` (paper §III-C).

The result is an ordinary checkpoint whose config says ``conv: plain``: same outputs (up to
float rounding), no RIM buffers, fewer numbers to store, faster inference.
"""
from __future__ import annotations

import argparse
from pathlib import Path


def add_parser(subparsers: argparse._SubParsersAction, help_text: str) -> None:
    p = subparsers.add_parser("export", help=help_text, description=__doc__.split("\n\n")[0].split(": ", 1)[1])
    p.add_argument("--checkpoint", type=Path, required=True, help="checkpoint directory (model.safetensors + config.yaml)")
    p.add_argument("-o", "--out", type=Path, required=True, help="directory for the folded checkpoint")
    p.add_argument("--force", action="store_true", help="replace the checkpoint the -o directory already holds")
    p.set_defaults(func=run)


def export(checkpoint: str | Path, out: str | Path, force: bool = False) -> Path:
    """Fold ``checkpoint`` into ``out``; returns ``out``. An ``out`` holding a checkpoint needs ``force``."""
    from msit_lite.checkpoint import check_output_dir, load_checkpoint, save_checkpoint
    from msit_lite.errors import MsitError
    from msit_lite.models.rim import fold, fold_spec

    if Path(out).resolve() == Path(checkpoint).resolve():
        raise MsitError(f"export: output {out} is the input checkpoint; choose another -o directory")
    check_output_dir(out, force)
    model, config = load_checkpoint(checkpoint, "cpu")
    folded = fold(model)
    new_config = {k: v for k, v in fold_spec(config).items() if k != "train"}
    new_config["description"] = f"{config.get('description', Path(checkpoint).name)} (RIM folded by msit-lite export)"
    return save_checkpoint(out, folded, new_config)


def run(args: argparse.Namespace) -> int:
    from msit_lite.models.rim import rim_modules
    from msit_lite.checkpoint import load_checkpoint

    out = export(args.checkpoint, args.out, args.force)
    model, _ = load_checkpoint(out)
    n = sum(p.numel() for p in model.parameters())
    print(f"msit-lite export: wrote {out} ({n:,} parameters, {len(rim_modules(model))} RIM left)")
    return 0
