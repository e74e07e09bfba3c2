"""The ``msit-lite`` command: one sub-command per job.

Each sub-command lives in its own module under :mod:`msit_lite.cli` and exposes
``add_parser(subparsers)`` (which sets ``func``) -- so jobs stay independent and the top level
stays short. User errors (:class:`~msit_lite.errors.MsitError`) become one line on stderr and
exit code 2; anything else is a bug and keeps its traceback.
"""
from __future__ import annotations

import argparse
import importlib
import sys
from typing import Sequence

from msit_lite import __version__
from msit_lite.errors import MsitError

# (module, short help) in the order `msit-lite --help` lists them.
COMMANDS = [
    ("upscale", "upscale an image by any factor (the main job)"),
    ("eval", "evaluate a model or bicubic on benchmark sets (PSNR/SSIM tables)"),
    ("train", "train a model from a YAML config"),
    ("export", "fold RIM into plain convolutions for deployment"),
    ("params", "count parameters of a config (trainable, RIM buffers, deployed)"),
    ("convert", "convert an official MSIT/LIIF checkpoint to a msit_lite checkpoint"),
    ("data", "download and check data sets"),
    ("grade", "autograde a course assignment"),
]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="msit-lite",
        description="MSIT (Multi-Scale Implicit Transformer) for arbitrary-scale super-resolution.",
        epilog="Run 'msit-lite COMMAND --help' for the options of one command.",
    )
    parser.add_argument("--version", action="version", version=f"msit-lite {__version__}")
    sub = parser.add_subparsers(title="commands", metavar="COMMAND")
    for name, help_text in COMMANDS:
        importlib.import_module(f"msit_lite.cli.{name}_cmd").add_parser(sub, help_text)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not hasattr(args, "func"):
        parser.print_help()
        return 0
    try:
        return int(args.func(args) or 0)
    except MsitError as e:
        print(f"msit-lite: error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("msit-lite: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
