"""``msit-lite convert --official PATH --config CONFIG -o DIR``: official checkpoint -> msit_lite.

Builds the model of CONFIG, loads the official MSIT (``amsit``) or LIIF state dict through
:mod:`msit_lite.official` (strictly: any missing/unexpected/mis-shaped key is an error that
names them) and writes ``DIR/model.safetensors`` + ``DIR/config.yaml``. A ``DIR`` that already
holds a checkpoint is only replaced with ``--force``.
"""
from __future__ import annotations

import argparse

from msit_lite.checkpoint import check_output_dir, save_checkpoint
from msit_lite.config import build_model, load_config
from msit_lite.official import load_official
from msit_lite.params import count_parameters


def add_parser(subparsers: argparse._SubParsersAction, help_text: str) -> argparse.ArgumentParser:
    p = subparsers.add_parser("convert", help=help_text, description=help_text)
    p.add_argument("--official", required=True, metavar="PATH", help="official checkpoint (.pth or .safetensors)")
    p.add_argument("--config", required=True, help="msit_lite YAML config describing the same network")
    p.add_argument("-o", "--output", required=True, metavar="DIR", help="output checkpoint directory")
    p.add_argument("--force", action="store_true", help="replace the checkpoint DIR already holds")
    p.set_defaults(func=run)
    return p


def run(args: argparse.Namespace) -> int:
    check_output_dir(args.output, args.force)
    config = load_config(args.config)
    model = build_model(config, str(args.config))
    load_official(args.official, model)
    save_checkpoint(args.output, model, config)
    n = count_parameters(model)
    print(f"converted {args.official} -> {args.output} ({n.trainable:,} trainable, {n.rim_buffers:,} RIM buffers)")
    return 0
