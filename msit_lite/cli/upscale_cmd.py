"""``msit-lite upscale``: enlarge one image by any factor with a trained model (the main job).

A thin shell around :func:`msit_lite.inference.upscale` (the model's fast grid query by default,
``--reference-path`` for the straightforward decoder). Everything that can be checked cheaply is
checked *before* the model runs (the output size, from the image's header before its pixels are
decoded; the scale is sane and the output larger than the input; the output suffix is an image
format and not the input file itself; the checkpoint loads, with finite weights), and the result is
written to a temporary file that is renamed onto ``-o`` only on success -- a failed run never
leaves a half-written or stale-looking output behind, and never replaces its input. Every user
error is one line on stderr and exit code 2.
"""
from __future__ import annotations

import argparse
import math
import os
import time
from pathlib import Path

import torch

from msit_lite.assets import DEFAULT_CHECKPOINT, checkpoint_dir, checkpoint_names
from msit_lite.data.io import IMAGE_FORMATS, image_size, read_image, save_image
from msit_lite.errors import MsitError
from msit_lite.inference import (
    DEFAULT_MAX_OUTPUT_PIXELS,
    DEFAULT_MEMORY_BUDGET_MB,
    MAX_SCALE,
    load_model,
    parse_scale,
    parse_size,
    resolve_output_size,
    upscale,
)
from msit_lite.utils import pick_device

EPILOG = f"""\
examples:
  msit-lite upscale photo.png --scale 4 -o photo_x4.png
  msit-lite upscale photo.png --scale 3.5 -o photo_x3.5.png           # any factor > 1
  msit-lite upscale photo.png --scale 2x3 -o wide.png                 # 2x taller, 3x wider
  msit-lite upscale photo.png --size 1920x1080 -o hd.png              # WIDTH x HEIGHT
  msit-lite upscale big.png --scale 2 -o out.png --memory-budget 512 --device cpu
  msit-lite upscale photo.png --scale 4 -o ref.png --reference-path  # the straightforward decoder

notes:
  --scale S|HxW   one factor, or a pair in HEIGHT x WIDTH order (rows first, like the model's
                  (y, x) coordinates); each factor in [1, {MAX_SCALE:g}]. The output is
                  round(h*S_h) x round(w*S_w); it must be larger than the input: no axis
                  smaller and at least one larger (--scale 1.0001 on a 16x16 image is refused).
  --size WxH      the output size in WIDTH x HEIGHT order, as image tools print it (1920x1080).
  -o OUT          must not be the input file (refused: the input is never replaced).
  --memory-budget bounds the working memory: the HR pixels are queried in chunks and large
                  inputs are encoded in overlapping tiles that give the same result as one pass.
  MSIT and LIIF models run their fast grid query (the first MLP layer re-associated to run once
  per LR pixel instead of once per HR pixel); it gives the same image up to float rounding.
  --reference-path runs the straightforward per-query decoder instead (slower; for checking).
  --checkpoint    a folder holding model.safetensors + config.yaml, or the name of a checkpoint
                  shipped with the package: {", ".join(checkpoint_names())} (default {DEFAULT_CHECKPOINT}).
"""


def default_checkpoint() -> Path:
    """The shipped MSIT-lite: ``lite-msit`` among the package's checkpoints."""
    return checkpoint_dir(DEFAULT_CHECKPOINT)


def _same_file(a: Path, b: Path) -> bool:
    """Whether ``a`` names the file ``b`` (also through links or another spelling of the path)."""
    try:
        return a.exists() and b.exists() and os.path.samefile(a, b)
    except OSError:
        return a.resolve() == b.resolve()


def _device(name: str) -> torch.device:
    try:
        device = pick_device(name)
    except RuntimeError as e:
        raise MsitError(f"--device {name!r} is not a device name (use auto, cpu, cuda, cuda:1, mps)") from e
    if device.type == "cuda" and not torch.cuda.is_available():
        raise MsitError(f"--device {name}: CUDA is not available on this machine; use --device cpu")
    if device.type == "mps" and not torch.backends.mps.is_available():
        raise MsitError(f"--device {name}: MPS is not available on this machine; use --device cpu")
    return device


def add_parser(subparsers: argparse._SubParsersAction, help_text: str) -> argparse.ArgumentParser:
    p = subparsers.add_parser(
        "upscale",
        help=help_text,
        description="Upscale an image by any factor (integer or not, different per axis) with an MSIT/LIIF model.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("input", type=Path, metavar="IN", help="input image (PNG, JPEG, BMP, TIFF, WebP)")
    p.add_argument("--scale", metavar="S|HxW", help="factor, e.g. 4, 3.5 or 2x3 (height x width)")
    p.add_argument("--size", metavar="WxH", help="output size WIDTHxHEIGHT, e.g. 1920x1080")
    p.add_argument("-o", "--output", type=Path, required=True, metavar="OUT",
                   help="output image; the suffix picks the format (.png is lossless)")
    p.add_argument("--checkpoint", type=Path, metavar="DIR|NAME", default=None,
                   help=f"checkpoint folder, or a shipped checkpoint's name (default: {DEFAULT_CHECKPOINT})")
    p.add_argument("--device", default="auto", help="auto (cuda, else mps, else cpu), cpu, cuda, cuda:N, mps")
    p.add_argument("--memory-budget", type=float, default=DEFAULT_MEMORY_BUDGET_MB, metavar="MB",
                   help=f"working-memory budget in MiB for query chunks and encoder tiles (default {DEFAULT_MEMORY_BUDGET_MB})")
    p.add_argument("--tile", type=int, default=None, metavar="N",
                   help="encode in N x N LR tiles (0 = never tile; default: from the memory budget)")
    p.add_argument("--max-megapixels", type=float, default=DEFAULT_MAX_OUTPUT_PIXELS / 1e6, metavar="MP",
                   help=f"refuse outputs larger than this (default {DEFAULT_MAX_OUTPUT_PIXELS / 1e6:g})")
    p.add_argument("--reference-path", action="store_true",
                   help="use the straightforward per-query decoder instead of the fast path (same output, slower)")
    p.add_argument("--no-progress", action="store_true", help="do not show the progress bar")
    p.set_defaults(func=run)
    return p


def run(args: argparse.Namespace) -> int:
    if (args.scale is None) == (args.size is None):
        raise MsitError("give exactly one of --scale S (e.g. 4, 3.5, 2x3) and --size WxH (e.g. 1920x1080)")
    if not (math.isfinite(args.memory_budget) and args.memory_budget > 0):
        raise MsitError(f"--memory-budget {args.memory_budget:g} must be a positive, finite number of MiB")
    if args.tile is not None and args.tile < 0:
        raise MsitError(f"--tile {args.tile} must be 0 (no tiling) or a positive tile size")
    if not (math.isfinite(args.max_megapixels) and args.max_megapixels > 0):
        raise MsitError(f"--max-megapixels {args.max_megapixels:g} must be a positive, finite number")
    out_path: Path = args.output
    if out_path.suffix.lower() not in IMAGE_FORMATS:
        raise MsitError(f"-o {out_path}: unknown image suffix {out_path.suffix or '(none)'!r}; "
                        f"use one of {', '.join(IMAGE_FORMATS)}")
    if out_path.is_dir():
        raise MsitError(f"-o {out_path} is a directory; give a file name such as {out_path / 'out.png'}")
    if _same_file(out_path, args.input):
        raise MsitError(f"-o {out_path} is the input image; give another file name (the input is never replaced)")
    scale = parse_scale(args.scale) if args.scale is not None else None
    size = parse_size(args.size) if args.size is not None else None
    max_pixels = int(args.max_megapixels * 1e6)

    # The size from the header first: a huge image is refused before its pixels are decoded.
    hr_size = resolve_output_size(image_size(args.input), scale, size, max_pixels)
    image = read_image(args.input)  # MsitError for missing / corrupt / non-image files
    device = _device(args.device)
    fast = not args.reference_path
    model = load_model(args.checkpoint or default_checkpoint(), device)

    start = time.perf_counter()
    result = upscale(model, image, scale, size, memory_budget_mb=args.memory_budget, tile=args.tile,
                     device=device, progress=not args.no_progress, max_output_pixels=max_pixels, fast=fast)
    save_image(out_path, result)  # atomic: temp file + rename
    print(f"wrote {out_path} ({hr_size[1]}x{hr_size[0]} from {image.shape[1]}x{image.shape[0]}, "
          f"{time.perf_counter() - start:.1f} s on {device})")
    return 0
