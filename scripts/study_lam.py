"""Fig. 9 in miniature: LAM of SA-lite vs MSSA-lite on the same windows, Diffusion Index mean ± spread.

The paper (Fig. 9) shows one window where MSIT with MSSA draws on a wider area of the input than
with conventional self-attention (a larger Diffusion Index, DI). One window is an anecdote; here
every model attributes the same ``--windows`` HR windows, chosen without looking at any model:
for each of the first images of Set14 and B100 (×4, MATLAB LR files) the 16×16 window of the HR
image with the largest edge strength (the texture an SR network has to invent; borders excluded).

LAM settings are the reference ones (blur path σ_max = 1.2, 9×9 kernel, 50 steps, right rule).
For each model the DI of every window is stored; the summary gives mean, std and range per model
and the paired difference MSSA − SA per window (same seed pairs: msit-s0 vs sa-s0, msit-s1 vs sa-s1).

    python scripts/study_lam.py [--pairs msit-s0:sa-s0 msit-s1:sa-s1] [--windows 12] [--results results/study]
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parent.parent
SCALE = 4
SIZE = 16


def pick_windows(data_root: Path, n: int) -> list[dict]:
    """``n`` (image, window) pairs: the most textured 16×16 HR window of each image, round robin over sets."""
    from msit_lite.data.folders import benchmark_pairs
    from msit_lite.data.io import read_image

    per_set = {ds: benchmark_pairs(data_root, ds, SCALE) for ds in ("Set14", "B100")}
    chosen = []
    for i in range(n):
        ds = ("Set14", "B100")[i % 2]
        pair = per_set[ds][i // 2]
        hr = read_image(pair.hr).astype(np.float64)
        gray = hr.mean(axis=2) if hr.ndim == 3 else hr
        gy, gx = np.abs(np.diff(gray, axis=0))[:, :-1], np.abs(np.diff(gray, axis=1))[:-1, :]
        energy = np.sqrt(gy**2 + gx**2)
        margin = 4 * SCALE  # keep the window away from the border (and the +1 row/column of LAM)
        integral = np.pad(energy, ((1, 0), (1, 0))).cumsum(0).cumsum(1)
        box = integral[SIZE:, SIZE:] - integral[:-SIZE, SIZE:] - integral[SIZE:, :-SIZE] + integral[:-SIZE, :-SIZE]
        box[:margin], box[-margin:], box[:, :margin], box[:, -margin:] = -1, -1, -1, -1
        top, left = np.unravel_index(int(np.argmax(box)), box.shape)
        chosen.append({"set": ds, "image": pair.name, "top": int(top), "left": int(left), "size": SIZE,
                       "lr": pair.lr.relative_to(data_root).as_posix(), "hr_size": [int(hr.shape[0]), int(hr.shape[1])]})
    return chosen


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--pairs", nargs="+", default=["msit-s0:sa-s0", "msit-s1:sa-s1"], help="MSSA run:SA run")
    ap.add_argument("--windows", type=int, default=12)
    ap.add_argument("--steps", type=int, default=50)
    ap.add_argument("--results", type=Path, default=ROOT / "results" / "study")
    ap.add_argument("--data-root", type=Path, help="benchmark folder (default: msit_lite.paths.data_root()/benchmark)")
    args = ap.parse_args()
    if args.data_root is None:
        from msit_lite.paths import data_root

        args.data_root = data_root() / "benchmark"
    from msit_lite.checkpoint import load_checkpoint
    from msit_lite.data.io import read_image
    from msit_lite.viz.lam import Window, diffusion_index, lam

    torch.set_num_threads(1)
    path = args.results / "lam.json"
    data = json.loads(path.read_text()) if path.is_file() else {}
    windows = pick_windows(args.data_root, args.windows)
    if data.get("windows") != windows or data.get("steps") != args.steps:
        data = {"scale": SCALE, "steps": args.steps, "sigma": 1.2, "kernel": 9, "windows": windows, "di": {}}
    for pair in args.pairs:
        for run in pair.split(":"):
            if run in data["di"] and len(data["di"][run]) == len(windows):
                continue
            if not (args.results / run / "model.safetensors").is_file():
                print(f"{run}: no weights yet, skipped")
                continue
            model = load_checkpoint(args.results / run)[0]
            values = []
            for w in windows:
                lr = read_image(args.data_root / w["lr"])
                res = lam(model, lr, Window(w["top"], w["left"], w["size"]), hr_size=tuple(w["hr_size"]), steps=args.steps)
                values.append(diffusion_index(res.heat))
            data["di"][run] = values
            print(f"{run}: DI mean {statistics.fmean(values):.2f} (min {min(values):.2f}, max {max(values):.2f})", flush=True)
            tmp = path.with_suffix(".json.part")
            tmp.write_text(json.dumps(data, indent=1) + "\n")
            os.replace(tmp, path)
    summary = {}
    for run, values in data["di"].items():
        summary[run] = {"mean": statistics.fmean(values), "std": statistics.stdev(values), "min": min(values),
                        "max": max(values)}
    for pair in args.pairs:
        a, b = pair.split(":")
        if a in data["di"] and b in data["di"]:
            diff = [x - y for x, y in zip(data["di"][a], data["di"][b])]
            summary[f"{a} − {b}"] = {"mean": statistics.fmean(diff), "std": statistics.stdev(diff),
                                     "windows_larger": sum(d > 0 for d in diff), "windows": len(diff)}
    data["summary"] = summary
    path.write_text(json.dumps(data, indent=1) + "\n")
    for k, v in summary.items():
        print(k, {kk: round(vv, 2) if isinstance(vv, float) else vv for kk, vv in v.items()})


if __name__ == "__main__":
    main()
