"""Print the README's lite-model table (Markdown) from the ``msit-lite eval --json`` files.

    python scripts/lite_table.py                       # results/lite/{bicubic,lite-liif,lite-msit}.json
    python scripts/lite_table.py --dir results/lite --models bicubic lite-liif lite-msit --target 1.0

Each model row shows PSNR (dB) and, in brackets, the gain over the first model (bicubic); the best
model per column is bold. With ``--target`` the script also lists every (set, scale) inside
``--target-scales`` where a model's gain is below the target -- the table is generated, never typed.
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

LABELS = {"bicubic": "bicubic", "lite-liif": "LIIF-lite", "lite-msit": "MSIT-lite"}


def load(directory: Path, name: str) -> dict[str, dict[str, float]]:
    data = json.loads((directory / f"{name}.json").read_text())["results"]
    return {ds: {sc: v["psnr"] for sc, v in by.items()} for ds, by in data.items()}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--dir", type=Path, default=Path("results/lite"))
    ap.add_argument("--models", nargs="+", default=["bicubic", "lite-liif", "lite-msit"])
    ap.add_argument("--target", type=float, default=None, help="gain over the first model to check, dB")
    ap.add_argument("--target-scales", nargs="+", default=["2", "3", "4"])
    ap.add_argument("--target-sets", nargs="+", default=["Set5", "Set14"])
    args = ap.parse_args()
    res = {m: load(args.dir, m) for m in args.models}
    base = args.models[0]
    sets = list(res[base])
    scales = sorted({s for ds in sets for s in res[base][ds]}, key=float)
    print("| set | model | " + " | ".join(f"×{s}" for s in scales) + " |")
    print("| --- | --- |" + " --- |" * len(scales))
    misses = []
    for ds in sets:
        for m in args.models:
            cells = []
            for s in scales:
                v = res[m].get(ds, {}).get(s)
                if v is None:
                    cells.append("–")
                    continue
                best = max(res[o][ds][s] for o in args.models if s in res[o].get(ds, {}))
                txt = f"**{v:.3f}**" if v == best and m != base else f"{v:.3f}"
                if m != base:
                    gain = v - res[base][ds][s]
                    txt += f" ({gain:+.2f})"
                    if args.target is not None and ds in args.target_sets and s in args.target_scales and gain < args.target:
                        misses.append(f"{LABELS.get(m, m)} {ds} ×{s}: {gain:+.3f} dB")
                cells.append(txt)
            print(f"| {ds} | {LABELS.get(m, m)} | " + " | ".join(cells) + " |")
    if args.target is not None:
        print()
        print(f"gain >= {args.target} dB over {base} at ×{', ×'.join(args.target_scales)} on {', '.join(args.target_sets)}: "
              + ("met everywhere" if not misses else "missed at " + "; ".join(misses)))


if __name__ == "__main__":
    main()
