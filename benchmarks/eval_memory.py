"""Peak memory and time of ``msit-lite eval`` on one 2K DIV2K-sized image at large scales (CPU).

The issue "Reproducing the benchmark tables" asks that evaluation up to ×30 on a 2K DIV2K image
runs on a CPU within 8 GB of RAM. The cost of an implicit model is set by the **HR** size (one
query per HR pixel), not by the scale: at ×30 a 2040×1356 HR image comes from a 68×45 LR input
and still needs 2040×1350 = 2.75 M queries. The evaluation holds one image at a time; the model
side is bounded by the inference code's query chunks (``--memory-budget``).

Each case runs in a fresh subprocess so that its peak resident set size
(``resource.getrusage(RUSAGE_SELF).ru_maxrss``) belongs to that case only: Python, torch, the model,
the synthetic image, the prediction and the scoring. The image is synthetic (DIV2K val is not
needed): scikit-image's astronaut photo resized with the MATLAB-exact ``imresize`` to
2040×1356, written as ``DIV2K_valid_HR/0801.png`` in a temporary folder, and evaluated exactly as
``msit-lite eval --datasets DIV2K --protocol official`` does (PIL LR, RGB, shave s + 6). Weights
are random -- time and memory do not depend on their values.

    python benchmarks/eval_memory.py                                   # small model, x12 and x30
    python benchmarks/eval_memory.py --model full --scales 30          # full EDSR-baseline MSIT
    python benchmarks/eval_memory.py --model bicubic small --scales 2 12 30 --json out.json
    options: --memory-budget MB (default: the inference default), --threads N, --reference-path
"""
from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
CONFIGS = {
    "small": REPO / "configs" / "golden" / "msit-small-plain.yaml",  # the golden tensors' small MSIT
    "lite": REPO / "configs" / "lite-msit.yaml",                    # MSIT-lite (~0.34 M parameters)
    "liif": REPO / "configs" / "edsr-baseline-liif.yaml",           # full EDSR-baseline LIIF (1.6 M)
    "full": REPO / "configs" / "edsr-baseline-msit.yaml",           # full EDSR-baseline MSIT (8.1 M)
}
HR_SIZE = (1356, 2040)  # (H, W) of a typical DIV2K validation image


def _rss_mib() -> float:
    """Peak RSS of this process in MiB (Linux reports KiB, macOS bytes)."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / 2**20 if sys.platform == "darwin" else peak / 1024


def make_div2k_like(root: Path) -> Path:
    """Write a 2040x1356 RGB image as ``root/DIV2K_valid_HR/0801.png``; returns ``root``."""
    import skimage.data

    from msit_lite.data.io import save_image
    from msit_lite.data.resize import imresize

    hr = imresize(skimage.data.astronaut(), size=HR_SIZE)
    save_image(root / "DIV2K_valid_HR" / "0801.png", hr)
    return root


def child(args: argparse.Namespace) -> dict[str, object]:
    """The measured job: build the upscaler, evaluate the one image at one scale."""
    import torch

    from msit_lite.evaluate import BicubicUpscaler, evaluate
    from msit_lite.inference import model_upscaler

    if args.threads:
        torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    if args.model == "bicubic":
        upscaler, params, path = BicubicUpscaler(), 0, "-"
    else:
        from msit_lite.config import build_model, load_config

        model = build_model(load_config(CONFIGS[args.model])).eval()
        params = sum(p.numel() for p in model.parameters())
        upscaler = model_upscaler(model, device="cpu", memory_budget_mb=args.memory_budget,
                                  fast=False if args.reference_path else True)
        path = "fast" if upscaler.route.fast else "reference"
    rss_before = _rss_mib()
    with tempfile.TemporaryDirectory() as tmp:
        root = make_div2k_like(Path(tmp))
        start, cpu0 = time.perf_counter(), time.process_time()
        res = evaluate(upscaler, ["DIV2K"], [args.scale], root, protocol="official", progress=False)
        seconds, cpu_seconds = time.perf_counter() - start, time.process_time() - cpu0
    r = res.records[0]
    return {
        "model": args.model,
        "parameters": params,
        "scale": args.scale,
        "hr": [r.height, r.width],
        "queries": r.height * r.width,
        "memory_budget_mb": args.memory_budget,
        "network": path,
        "threads": torch.get_num_threads(),
        "psnr": round(r.psnr, 3),
        "seconds": round(seconds, 1),
        "cpu_seconds": round(cpu_seconds, 1),  # meaningful even when the machine is shared
        "peak_rss_before_eval_mib": round(rss_before, 1),
        "peak_rss_mib": round(_rss_mib(), 1),
    }


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", nargs="+", default=["small"], choices=["bicubic", *CONFIGS])
    p.add_argument("--scales", nargs="+", default=["12", "30"])
    p.add_argument("--memory-budget", type=float, default=None, metavar="MB")
    p.add_argument("--threads", type=int, default=0, help="torch threads (0 = torch default)")
    p.add_argument("--reference-path", action="store_true", help="reference inference code, not the fast path")
    p.add_argument("--json", type=Path, default=None, help="also write the results as a JSON list")
    p.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--scale", default=None, help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.child:
        args.model = args.model[0]
        print(json.dumps(child(args)))
        return 0
    rows = []
    print(f"{'model':<8}{'network':>10}{'scale':>6}{'HR (HxW)':>12}{'queries':>10}{'PSNR':>8}{'time s':>9}"
          f"{'CPU s':>9}{'peak RSS MiB':>14}")
    for model in args.model:
        for scale in args.scales:
            cmd = [sys.executable, __file__, "--child", "--model", model, "--scale", scale,
                   "--threads", str(args.threads)]
            if args.memory_budget is not None:
                cmd += ["--memory-budget", str(args.memory_budget)]
            if args.reference_path:
                cmd.append("--reference-path")
            done = subprocess.run(cmd, capture_output=True, text=True, cwd=REPO)
            if done.returncode != 0:
                print(done.stderr[-2000:], file=sys.stderr)
                return done.returncode
            row = json.loads(done.stdout.strip().splitlines()[-1])
            rows.append(row)
            hr = f"{row['hr'][0]}x{row['hr'][1]}"
            print(f"{model:<8}{row['network']:>10}{'x' + scale:>6}{hr:>12}{row['queries']:>10,}{row['psnr']:>8.2f}"
                  f"{row['seconds']:>9.1f}{row['cpu_seconds']:>9.1f}{row['peak_rss_mib']:>14.0f}", flush=True)
    if args.json:
        args.json.write_text(json.dumps(rows, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
