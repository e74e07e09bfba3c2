"""``msit-lite eval``: PSNR / SSIM tables on benchmark sets for bicubic or a trained model.

The command is a thin shell around :func:`msit_lite.evaluate.evaluate`; every protocol choice is
an explicit option so that a printed number always says how it was made (docs/PROTOCOLS.md).
"""
from __future__ import annotations

import argparse
import importlib
from pathlib import Path

from msit_lite.errors import MsitError
from msit_lite.paths import data_root
from msit_lite.utils import pick_device

EPILOG = """\
examples:
  # the published bicubic rows (MATLAB LR files, Y channel, shave = scale)
  msit-lite eval --model bicubic --datasets Set5 Set14 B100 --scales 2 3 4

  # LR made on the fly with PIL bicubic, as the official test configs do for Set5/Urban100
  msit-lite eval --model bicubic --datasets Set5 --scales 2 3 4 --lr-source pil

  # a trained model, non-integer scales, tables written to files
  msit-lite eval --checkpoint runs/msit_edsr --datasets Set14 --scales 2.5 3.5 \\
      --json results.json --csv per_image.csv

protocols:
  --protocol benchmark  Y of the RGB difference, (65.738, 129.057, 25.064)/256, shave = ceil(scale)
  --protocol div2k      RGB, shave = ceil(scale) + 6
  --lr-source files     stored MATLAB-bicubic LR files (scales without files use 'matlab')
  --lr-source matlab    LR = MATLAB-exact imresize of the HR, made on the fly
  --lr-source pil       LR = PIL bicubic of the HR (the official on-the-fly wrapper)
  --gray channel        a grayscale HR is scored on its gray channel (published numbers)
  --gray rgb            ... on the Y of its RGB copy (official calc_psnr; +0.09 dB on Set14)
"""

MODELS = ("bicubic",)


def add_parser(subparsers: argparse._SubParsersAction, help_text: str) -> argparse.ArgumentParser:
    p = subparsers.add_parser(
        "eval",
        help=help_text,
        description="Evaluate bicubic or a trained model on benchmark sets (PSNR in dB and SSIM).",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    who = p.add_mutually_exclusive_group()
    who.add_argument("--model", choices=MODELS, default=None,
                     help="built-in upscaler (default: bicubic, MATLAB-exact imresize)")
    who.add_argument("--checkpoint", type=Path, metavar="DIR",
                     help="a msit_lite checkpoint folder to evaluate instead of a built-in model")
    p.add_argument("--device", default="auto", help="device for --checkpoint models (auto, cpu, cuda, ...)")
    p.add_argument("--data-root", type=Path, default=None, metavar="DIR",
                   help="folder holding the sets (default: $MSIT_DATA/benchmark or ../shared/data/benchmark)")
    p.add_argument("--datasets", nargs="+", default=["Set5", "Set14", "B100"], metavar="SET",
                   help="Set5, Set14, B100, Urban100, DIV2K (default: Set5 Set14 B100)")
    p.add_argument("--scales", nargs="+", default=["2", "3", "4"], metavar="S",
                   help="upsampling factors, integer or not (default: 2 3 4)")
    p.add_argument("--lr-source", choices=("files", "matlab", "pil"), default="files",
                   help="where the LR input comes from (default: files)")
    p.add_argument("--protocol", choices=("benchmark", "div2k"), default="benchmark",
                   help="PSNR protocol (default: benchmark)")
    p.add_argument("--gray", choices=("channel", "rgb"), default="channel",
                   help="how to score a single-channel HR (default: channel)")
    p.add_argument("--json", type=Path, metavar="OUT", help="write {results: {SET: {SCALE: {psnr, ssim}}}}")
    p.add_argument("--csv", type=Path, metavar="OUT", help="write one row per image")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.set_defaults(func=run)
    return p


def _default_root() -> Path:
    root = data_root() / "benchmark"
    if not root.is_dir():
        raise MsitError(
            f"no --data-root given and the default {root} does not exist; pass --data-root DIR "
            "or set MSIT_DATA (download with `msit-lite data download benchmark --root DIR`)"
        )
    return root


def _load_checkpoint(path: Path, device: str):
    if not path.exists():
        raise MsitError(f"checkpoint folder {path} does not exist")
    try:
        inference = importlib.import_module("msit_lite.inference")
    except ModuleNotFoundError as e:
        if e.name != "msit_lite.inference":
            raise
        raise MsitError(
            f"cannot evaluate checkpoint {path}: model inference is not available in this version yet"
        ) from None
    return inference.load_upscaler(path, pick_device(device))


def run(args: argparse.Namespace) -> int:
    from msit_lite.evaluate import PUBLISHED_BICUBIC, BicubicUpscaler, evaluate

    root = args.data_root if args.data_root is not None else _default_root()
    if args.checkpoint is not None:
        upscaler = _load_checkpoint(args.checkpoint, args.device)
        name = getattr(upscaler, "name", None) or args.checkpoint.name
    else:
        upscaler, name = BicubicUpscaler(), "bicubic"
    results = evaluate(
        upscaler,
        args.datasets,
        args.scales,
        root,
        protocol=args.protocol,
        lr_source=args.lr_source,
        gray=args.gray,
        progress=not args.no_progress,
        name=name,
    )
    compare = name == "bicubic" and args.protocol == "benchmark"
    print(results.table(PUBLISHED_BICUBIC if compare else None))
    if args.json:
        print(f"wrote {results.write_json(args.json)}")
    if args.csv:
        print(f"wrote {results.write_csv(args.csv)}")
    return 0
