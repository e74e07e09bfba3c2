"""Peak memory and time of ``msit_lite.inference.upscale`` for a full-size model on the CPU.

The measurement runs in a fresh subprocess, so its peak resident set size
(``resource.getrusage(RUSAGE_SELF).ru_maxrss``) belongs to this one job only: Python, torch, the
model (random weights -- memory and time do not depend on the values) and the upscale itself.
The target of the issue "The MSIT model" is a 512×512 output (128×128 input at ×4) of the full
EDSR-baseline MSIT in at most 4 GB. The straightforward decoder is slow on a CPU (the official
code needs ~80-100 s for such an image), so the default is one run.

    python benchmarks/memory_upscale.py [--config configs/edsr-baseline-msit-rim.yaml]
        [--input-size 128] [--scale 4] [--memory-budget 1024] [--tile N] [--threads N] [--json OUT]
"""
from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
DEFAULT_CONFIG = REPO / "configs" / "edsr-baseline-msit-rim.yaml"


def _rss_mib() -> float:
    """Peak RSS of this process in MiB (Linux reports KiB, macOS bytes)."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / 2**20 if sys.platform == "darwin" else peak / 1024


def child(args: argparse.Namespace) -> dict[str, object]:
    """The measured job: build the model, upscale one random image, report peak RSS and time."""
    import numpy as np
    import torch

    from msit_lite.config import build_model, load_config
    from msit_lite.inference import auto_tile, upscale
    from msit_lite.models.runtime import query_chunk_size

    if args.threads:
        torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    model = build_model(load_config(args.config)).eval()
    rss_model = _rss_mib()
    image = np.random.default_rng(0).integers(0, 256, (args.input_size, args.input_size, 3), dtype=np.uint8)
    start = time.perf_counter()
    out = upscale(model, image, args.scale, memory_budget_mb=args.memory_budget, tile=args.tile, device="cpu")
    seconds = time.perf_counter() - start
    return {
        "config": str(args.config),
        "input": list(image.shape[:2]),
        "output": list(out.shape[:2]),
        "memory_budget_mb": args.memory_budget,
        "query_chunk": query_chunk_size(model.bytes_per_query, 1, args.memory_budget),
        "bytes_per_query": model.bytes_per_query,
        "tile": args.tile if args.tile is not None else auto_tile(model, (1, 3, *image.shape[:2]), args.memory_budget),
        "threads": torch.get_num_threads(),
        "peak_rss_after_model_mib": round(rss_model, 1),
        "peak_rss_mib": round(_rss_mib(), 1),
        "seconds": round(seconds, 1),
    }


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--config", type=Path, default=DEFAULT_CONFIG)
    p.add_argument("--input-size", type=int, default=128)
    p.add_argument("--scale", type=float, default=4.0)
    p.add_argument("--memory-budget", type=float, default=1024.0, metavar="MB")
    p.add_argument("--tile", type=int, default=None)
    p.add_argument("--threads", type=int, default=0, help="torch threads (0 = torch's default)")
    p.add_argument("--json", type=Path, default=None, help="also write the result here")
    p.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.child:
        print(json.dumps(child(args)))
        return 0
    cmd = [sys.executable, __file__, "--child", *(argv if argv is not None else sys.argv[1:])]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0:
        sys.stderr.write(proc.stderr)
        return proc.returncode
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    print(f"{Path(result['config']).name}: {result['input'][0]}x{result['input'][1]} -> "
          f"{result['output'][0]}x{result['output'][1]}, budget {result['memory_budget_mb']:g} MiB "
          f"(chunk {result['query_chunk']} queries, tile {result['tile']}), {result['threads']} threads")
    print(f"peak RSS {result['peak_rss_mib']:.0f} MiB (after building the model: "
          f"{result['peak_rss_after_model_mib']:.0f} MiB), time {result['seconds']:.1f} s")
    if args.json:
        args.json.write_text(json.dumps(result, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
