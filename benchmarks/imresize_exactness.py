"""How exactly does ``msit_lite.data.resize.imresize`` reproduce the benchmark LR files?

The stored ``<Set>/X<k>/LR`` images were made with MATLAB ``imresize(hr, 1/k, 'bicubic')``.
For each set and scale this script downsamples the stored HR with our ``imresize`` and reports
the share of identical 8-bit values and the largest absolute difference; for comparison it also
reports Pillow's bicubic (``resize_pil``), which the official on-the-fly protocol uses.

    python benchmarks/imresize_exactness.py [--data-root DIR] [--sets Set5 Set14 B100]
                                            [--scales 2 3 4] [--json OUT]
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

from msit_lite.data.folders import benchmark_pairs
from msit_lite.data.io import read_image
from msit_lite.data.resize import imresize, resize_pil
from msit_lite.paths import data_root


def measure(root: Path, dataset: str, scale: int) -> dict[str, float]:
    """Identical-value share (%) and max |diff| of imresize and PIL against the stored LR."""
    same = {"matlab": 0, "pil": 0}
    worst = {"matlab": 0, "pil": 0}
    total = 0
    pairs = benchmark_pairs(root, dataset, scale)
    for pair in pairs:
        if pair.lr is None:
            raise SystemExit(f"{dataset} x{scale}: no stored LR for {pair.name}")
        hr = read_image(pair.hr, keep_gray=True)
        lr = read_image(pair.lr, keep_gray=True).astype(np.int16)
        outs = {"matlab": imresize(hr, 1 / scale), "pil": resize_pil(hr, lr.shape[:2])}
        total += lr.size
        for key, out in outs.items():
            if out.shape != lr.shape:
                raise SystemExit(f"{dataset} x{scale} {pair.name}: size {out.shape} != {lr.shape}")
            d = np.abs(out.astype(np.int16) - lr)
            same[key] += int((d == 0).sum())
            worst[key] = max(worst[key], int(d.max()))
    return {
        "images": len(pairs),
        "identical_pct": 100.0 * same["matlab"] / total,
        "max_abs_diff": worst["matlab"],
        "pil_identical_pct": 100.0 * same["pil"] / total,
        "pil_max_abs_diff": worst["pil"],
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data-root", type=Path, default=data_root() / "benchmark")
    ap.add_argument("--sets", nargs="+", default=["Set5", "Set14", "B100"])
    ap.add_argument("--scales", nargs="+", type=int, default=[2, 3, 4])
    ap.add_argument("--json", type=Path, help="also write the table as JSON")
    args = ap.parse_args(argv)

    rows: dict[str, dict[str, dict[str, float]]] = {}
    print(f"{'set':<7}{'scale':>6}{'images':>8}{'identical %':>13}{'max diff':>10}"
          f"{'PIL ident. %':>14}{'PIL max':>9}")
    t0 = time.perf_counter()
    for name in args.sets:
        for s in args.scales:
            r = measure(args.data_root, name, s)
            rows.setdefault(name, {})[str(s)] = r
            print(f"{name:<7}{'x' + str(s):>6}{r['images']:>8}{r['identical_pct']:>13.4f}"
                  f"{r['max_abs_diff']:>10}{r['pil_identical_pct']:>14.2f}{r['pil_max_abs_diff']:>9}")
    print(f"({time.perf_counter() - t0:.1f} s)")
    if args.json:
        args.json.write_text(json.dumps({"imresize_exactness": rows}, indent=2) + "\n")
    exact = all(r["identical_pct"] == 100.0 for d in rows.values() for r in d.values())
    return 0 if exact else 1


if __name__ == "__main__":
    sys.exit(main())
