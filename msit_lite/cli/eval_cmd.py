"""``msit-lite eval``: PSNR / SSIM tables on benchmark sets for bicubic, a trained or an official model.

The command is a thin shell around :func:`msit_lite.evaluate.evaluate`; every protocol choice is
an explicit option so that a printed number always says how it was made (docs/PROTOCOLS.md), and
``--compare-paper`` prints the paper's rows (:mod:`msit_lite.paper`) beside ours.
"""
from __future__ import annotations

import argparse
import math
from pathlib import Path
from typing import Any

from msit_lite.assets import checkpoint_dir
from msit_lite.checkpoint import CONFIG
from msit_lite.config import build_model, load_config
from msit_lite.errors import MsitError
from msit_lite.evaluate import PUBLISHED_BICUBIC, BicubicUpscaler, compare_paper, evaluate, scale_key
from msit_lite.inference import load_upscaler, model_upscaler
from msit_lite.official import load_official
from msit_lite.params import count_parameters
from msit_lite.paths import data_root
from msit_lite.utils import pick_device

EPILOG = """\
examples:
  # the published bicubic rows (MATLAB LR files, Y channel, shave = scale)
  msit-lite eval --model bicubic --datasets Set5 Set14 B100 --scales 2 3 4

  # a trained model on the paper's protocol, beside the paper's Table II rows
  msit-lite eval --checkpoint lite-msit --datasets Set5 Set14 --scales 2 3 4 6 8 \\
      --protocol official --compare-paper --json results/lite-msit.json --csv per_image.csv

  # an official checkpoint, converted in memory, on DIV2K val up to x30 (Table I)
  msit-lite eval --official-checkpoint edsr-baseline-msit.pth --config configs/edsr-baseline-msit-rim.yaml \\
      --data-root /data --datasets DIV2K --scales 2 3 4 6 12 18 24 30 --protocol official --compare-paper

  # non-integer scales, every prediction saved as PNG
  msit-lite eval --checkpoint runs/msit_edsr --datasets Set14 --scales 2.5 3.5 --save-images sr/

protocols (--protocol):
  auto       DIV2K: RGB, shave = scale + 6;  other sets: Y, shave = scale  (default)
  benchmark  every set: Y of the RGB difference, (65.738, 129.057, 25.064)/256, shave = ceil(scale)
  div2k      every set: RGB, shave = ceil(scale) + 6
  official   the official test configs, as the paper: per-set scoring as 'auto'; LR from the MATLAB
             files for Set14/B100 x2-x4, PIL bicubic for everything else; --gray rgb

LR sources (--lr-source, ignored by --protocol official):
  files      stored MATLAB-bicubic LR files where they exist (other scales: matlab)
  matlab     LR = MATLAB-exact imresize of the HR, made on the fly
  pil        LR = PIL bicubic of the HR (the official on-the-fly wrapper)

data layouts under --data-root: <Set>/X<k>/{HR,LR}, EDSR <Set>/{HR,LR_bicubic/X<k>},
DIV2K DIV2K_valid_HR + DIV2K_valid_LR_bicubic/X<k>. Scales without stored LR use the HR
(X2's HR in the X<k> layout) and make the LR on the fly. Scales up to x32 run with bounded
memory (--memory-budget: query chunks and tiled encoding). A PSNR that is infinite (a prediction
identical to its target, e.g. bicubic at x1) is written as null in --json.
"""

MODELS = ("bicubic",)


def add_parser(subparsers: argparse._SubParsersAction, help_text: str) -> argparse.ArgumentParser:
    p = subparsers.add_parser(
        "eval",
        help=help_text,
        description="Evaluate bicubic, a trained model or an official checkpoint on benchmark sets "
                    "(PSNR in dB and SSIM), optionally beside the paper's tables.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    what = p.add_argument_group("what to evaluate (one of --model, --checkpoint, --official-checkpoint)")
    who = what.add_mutually_exclusive_group()
    who.add_argument("--model", choices=MODELS, default=None,
                     help="built-in upscaler (default: bicubic, MATLAB-exact imresize)")
    who.add_argument("--checkpoint", type=Path, metavar="DIR|NAME",
                     help="a msit_lite checkpoint folder (model.safetensors + config.yaml) or a shipped one's name")
    who.add_argument("--official-checkpoint", type=Path, metavar="PTH",
                     help="an official MSIT/LIIF .pth, converted in memory; needs --config")
    what.add_argument("--config", type=Path, metavar="CONFIG",
                   help="msit_lite YAML describing the official checkpoint's network")
    data = p.add_argument_group("data and protocol")
    data.add_argument("--data-root", type=Path, default=None, metavar="DIR",
                      help="folder holding the sets (default: $MSIT_DATA/benchmark or ../shared/data/benchmark)")
    data.add_argument("--datasets", nargs="+", default=["Set5", "Set14", "B100"], metavar="SET",
                      help="Set5, Set14, B100, Urban100, DIV2K (default: Set5 Set14 B100)")
    data.add_argument("--scales", nargs="+", default=["2", "3", "4"], metavar="S",
                      help="upsampling factors, integer or not, from 1 to 32 (the paper's tables go to 30; "
                           "default: 2 3 4)")
    data.add_argument("--protocol", choices=("auto", "benchmark", "div2k", "official"), default="auto",
                      help="scoring / LR preset (default: auto; see below)")
    data.add_argument("--lr-source", choices=("files", "matlab", "pil"), default="files",
                      help="where the LR input comes from (default: files)")
    data.add_argument("--gray", choices=("channel", "rgb"), default=None,
                      help="score a single-channel HR on its gray channel (default) or through Y "
                           "of its RGB copy (default with --protocol official)")
    data.add_argument("--max-images", type=int, default=None, metavar="N",
                      help="only the first N images of each set (a quick look; means differ from full sets)")
    run_ = p.add_argument_group("running")
    run_.add_argument("--device", default="auto", help="device for models (auto, cpu, cuda, ...)")
    run_.add_argument("--memory-budget", type=float, default=None, metavar="MB",
                      help="working-memory budget in MiB for a model's query chunks and encoder tiles")
    run_.add_argument("--reference-path", action="store_true",
                      help="use the reference (readable) inference code instead of the fast path")
    run_.add_argument("--no-progress", action="store_true", help="no progress bar")
    out = p.add_argument_group("output")
    out.add_argument("--compare-paper", action="store_true",
                     help="print the paper's Table I (DIV2K) / II rows beside ours, with deltas")
    out.add_argument("--json", type=Path, metavar="OUT", help="write {results: {SET: {SCALE: {psnr, ssim}}}}")
    out.add_argument("--csv", type=Path, metavar="OUT", help="write one row per image")
    out.add_argument("--save-images", type=Path, metavar="DIR", help="save predictions as DIR/<set>/x<s>/<img>.png")
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


def _describe(config: dict[str, Any]) -> tuple[str, str | None]:
    """(model kind, encoder name) of a config, for picking the paper's reference row."""
    model = config.get("model", {})
    args = model.get("args") or {}
    enc = args.get("encoder")
    return str(model.get("name", "")), (enc.get("name") if isinstance(enc, dict) else None)


def _params(config: dict[str, Any]) -> int | None:
    return count_parameters(build_model(config)).trainable


def _load(args: argparse.Namespace) -> tuple[Any, str, str, str | None, dict[str, Any] | None]:
    """(upscaler, name, kind, encoder, config) for the chosen model."""
    device = pick_device(args.device)
    fast = not args.reference_path
    budget = {} if args.memory_budget is None else {"memory_budget_mb": args.memory_budget}
    if args.config is not None and args.official_checkpoint is None:
        raise MsitError("--config is only used with --official-checkpoint PTH")
    if args.official_checkpoint is not None:
        if args.config is None:
            raise MsitError("--official-checkpoint needs --config CONFIG (the msit_lite YAML of the same network)")
        config = load_config(args.config)
        model = load_official(args.official_checkpoint, build_model(config, str(args.config)))
        upscaler = model_upscaler(model, device=device, fast=fast, **budget)
        kind, enc = _describe(config)
        return upscaler, args.official_checkpoint.stem, kind, enc, config
    if args.checkpoint is not None:
        folder = checkpoint_dir(args.checkpoint)
        upscaler = load_upscaler(folder, device, fast=fast, **budget)
        config = load_config(folder / CONFIG) if (folder / CONFIG).is_file() else None
        kind, enc = _describe(config) if config else ("", None)
        return upscaler, folder.name, kind, enc, config
    return BicubicUpscaler(), "bicubic", "bicubic", None, None


def run(args: argparse.Namespace) -> int:
    if args.memory_budget is not None and not (math.isfinite(args.memory_budget) and args.memory_budget > 0):
        raise MsitError(f"--memory-budget {args.memory_budget:g} must be a positive, finite number of MiB")
    for s in args.scales:
        scale_key(s)  # a bad scale is an error before any model is loaded
    root = args.data_root if args.data_root is not None else _default_root()
    upscaler, name, kind, encoder, config = _load(args)
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
        save_images=args.save_images,
        max_images=args.max_images,
    )
    published = name == "bicubic" and args.protocol in ("auto", "benchmark") and not args.compare_paper
    print(results.table(PUBLISHED_BICUBIC if published else None))
    if args.compare_paper:
        params = _params(config) if config is not None else None
        print()
        print(compare_paper(results, model=kind, encoder=encoder, params=params))
    if args.json:
        print(f"wrote {results.write_json(args.json)}")
    if args.csv:
        print(f"wrote {results.write_csv(args.csv)}")
    if args.save_images:
        print(f"saved {len(results.records)} images under {args.save_images}")
    return 0
