"""Fig. 1 / Fig. 7 as evidence: which MSC branch does a trained MSIT-lite need at which scale?

The paper's claim (§I and §IV-C a, Figs. 1 and 7): small magnifications depend on the overall
*shape* of objects, large ones on detailed *texture*; in MSC "the first few convolutions" (small
kernels) extract texture and larger kernels preserve shape -- hence parallel convolutions of growing
kernel size (MSC, Eq. 5) and multi-scale Q/K projections (MsC, Eq. 9). If a trained model uses its
branches that way, silencing the 9×9 branch (shape) should cost relatively more at ×2 than at ×12,
and silencing the 3×3 branch (texture) relatively more at ×12 than at ×2.

For each trained MSIT-lite of the study (``msit-s0/s1/s2``) and each branch i of MSNO's MSC
(kernels 3, 5, 7, 9) and of MSSA's Q projection, the branch's convolution is zeroed (its output
becomes 0, as if the branch were absent) and the model is evaluated on Set5 and Set14 at ×2, 3, 4,
6, 8, 12 (benchmark protocol). ΔPSNR = ablated − intact, per seed. Results are appended to
``results/study/branches.json`` after every evaluation, so the script resumes where it stopped.

    python scripts/study_branches.py [--runs msit-s0 msit-s1 msit-s2] [--results results/study]
"""
from __future__ import annotations

import argparse
import copy
import json
import os
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parent.parent
SETS = ["Set5", "Set14"]
SCALES = ["2", "3", "4", "6", "8", "12"]
PARTS = {"msno.msc": "MSNO's MSC (Eq. 5)", "attention.q_proj": "MSSA's Q/K projection (Eq. 9)"}


def ablated(model: torch.nn.Module, part: str, branch: int) -> torch.nn.Module:
    """A copy of ``model`` whose ``part.convs[branch]`` outputs zeros."""
    out = copy.deepcopy(model)
    conv = out.get_submodule(part).convs[branch]
    with torch.no_grad():
        for p in conv.parameters():
            p.zero_()
    return out


def score(model: torch.nn.Module, data_root: Path) -> dict[str, dict[str, float]]:
    from msit_lite.evaluate import evaluate
    from msit_lite.inference import model_upscaler

    res = evaluate(model_upscaler(model, device="cpu"), SETS, SCALES, data_root, protocol="benchmark",
                   lr_source="files", progress=False)
    table = res.to_json()["results"]
    return {ds: {sc: v["psnr"] for sc, v in by.items()} for ds, by in table.items()}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--runs", nargs="+", default=["msit-s0", "msit-s1", "msit-s2"])
    ap.add_argument("--results", type=Path, default=ROOT / "results" / "study")
    ap.add_argument("--data-root", type=Path, help="benchmark folder (default: msit_lite.paths.data_root()/benchmark)")
    args = ap.parse_args()
    if args.data_root is None:
        from msit_lite.paths import data_root

        args.data_root = data_root() / "benchmark"
    from msit_lite.checkpoint import load_checkpoint

    torch.set_num_threads(1)
    path = args.results / "branches.json"
    data = json.loads(path.read_text()) if path.is_file() else {"sets": SETS, "scales": SCALES, "parts": PARTS, "runs": {}}
    for run in args.runs:
        folder = args.results / run
        if not (folder / "model.safetensors").is_file():
            print(f"{run}: no weights in {folder} yet, skipped")
            continue
        model = load_checkpoint(folder)[0]
        entry = data["runs"].setdefault(run, {})
        jobs = [("intact", None, None)] + [(f"{part}.{i}", part, i) for part in PARTS
                                           for i in range(len(model.get_submodule(part).convs))]
        for key, part, i in jobs:
            if key in entry:
                continue
            net = model if part is None else ablated(model, part, i)
            entry[key] = score(net, args.data_root)
            tmp = path.with_suffix(".json.part")
            tmp.write_text(json.dumps(data, indent=1) + "\n")
            os.replace(tmp, path)
            print(f"{run} {key}: " + " ".join(f"{ds} x{sc} {entry[key][ds][sc]:.3f}" for ds in SETS for sc in ("2", "12")),
                  flush=True)


if __name__ == "__main__":
    main()
