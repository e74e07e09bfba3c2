"""Reference vs fast LIIF inference (msit_lite.models.liif_grid) on one real image, in the same run.

Prints, for a LIIF checkpoint (default: the shipped lite-liif) and a benchmark LR image (default
B100 img_001 ×4 from ``msit_lite.paths.data_root()``), the time of ``encode`` and of the query
loop of each path, queries/s, the speed ratio and the max abs difference of the normalised
predictions. Times are process CPU seconds (wall in brackets). One thread by default (``--threads``), as the CPU evaluation runs.

    OMP_NUM_THREADS=1 python benchmarks/liif_fast.py [--scale 4] [--image PATH] [--repeat 1]
"""
from __future__ import annotations

import argparse
import time
from pathlib import Path

import torch

from msit_lite.coords import output_size
from msit_lite.data.io import read_image, to_rgb_tensor
from msit_lite.inference import DEFAULT_MEMORY_BUDGET_MB, load_model, route
from msit_lite.models.runtime import QueryBudget, query_chunk_size
from msit_lite.paths import data_root


def _timed(fn):
    """``fn()``, its process CPU time and its wall time. CPU time is the figure compared: the
    2-core machine is usually shared, and waiting for a core inflates wall time, not CPU time."""
    c0, t0 = time.process_time(), time.perf_counter()
    out = fn()
    return out, time.process_time() - c0, time.perf_counter() - t0


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--checkpoint", default="lite-liif", help="checkpoint folder or shipped name")
    ap.add_argument("--image", default=None, help="LR image (default: B100 X<scale> LR img_001)")
    ap.add_argument("--scale", type=float, default=4.0)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--repeat", type=int, default=1, help="best of N runs per path")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)

    k = int(args.scale) if float(args.scale).is_integer() and int(args.scale) in (2, 3, 4) else 4
    image = Path(args.image) if args.image else Path(data_root()) / "benchmark" / "B100" / f"X{k}" / "LR" / "img_001.png"
    lr_img = read_image(image)
    model = load_model(args.checkpoint, "cpu")
    ref_path, fast_path_ = route(model, fast=False), route(model, fast=True)
    lr = to_rgb_tensor(lr_img).unsqueeze(0).sub(0.5).div(0.5)
    hr_size = output_size(tuple(lr.shape[-2:]), (args.scale, args.scale))
    n_q = hr_size[0] * hr_size[1]
    chunk = query_chunk_size(model.bytes_per_query, 1, DEFAULT_MEMORY_BUDGET_MB)
    budget = QueryBudget(DEFAULT_MEMORY_BUDGET_MB)

    def reference() -> torch.Tensor:
        feats = ref_path.features(lr)
        return torch.cat([rgb for _, _, rgb in ref_path.grid(feats, hr_size, budget)], dim=1)

    def fast_path() -> torch.Tensor:
        feats = fast_path_.features(lr)
        return torch.cat([rgb for _, _, rgb in fast_path_.grid(feats, hr_size, budget)], dim=1)

    with torch.inference_mode():
        _, t_enc_ref, _ = _timed(lambda: ref_path.features(lr))
        _, t_enc_fast, _ = _timed(lambda: fast_path_.features(lr))
        t_ref = t_fast = w_ref = w_fast = float("inf")
        for _ in range(args.repeat):  # interleaved, best of N
            ref, t, wall = _timed(reference)
            t_ref, w_ref = min(t_ref, t), min(w_ref, wall)
            out, t, wall = _timed(fast_path)
            t_fast, w_fast = min(t_fast, t), min(w_fast, wall)
    diff = (ref - out).abs().max().item()
    print(f"checkpoint {args.checkpoint}; image {image} {tuple(lr.shape[-2:])} -> x{args.scale:g} {hr_size}, "
          f"{n_q} queries, {torch.get_num_threads()} thread(s)")
    print("CPU seconds (wall seconds in brackets); totals include encode")
    print(f"reference: encode {t_enc_ref:.3f} s, total {t_ref:.2f} s [{w_ref:.2f}], {n_q / t_ref:,.0f} queries/s "
          f"(chunk {chunk})")
    print(f"fast:      encode {t_enc_fast:.3f} s, total {t_fast:.2f} s [{w_fast:.2f}], {n_q / t_fast:,.0f} queries/s")
    print(f"speed-up {t_ref / t_fast:.2f}x; max abs diff {diff:.3e} (normalised RGB)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
