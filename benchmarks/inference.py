"""Fast vs straightforward MSIT inference, side by side: time, peak memory, output difference.

Every measurement runs in a fresh subprocess, so its peak resident set size
(``VmHWM``) belongs to that one job: Python, torch, the model and ``repeats`` predictions.
Time is the median of ``repeats`` runs of :func:`msit_lite.inference.predict` (encode + every HR
query, wall clock; CPU time is recorded too -- on a shared machine it is the steadier number).
The two paths of one case see the same weights and the same input; their outputs are compared in
[0, 1] units (``|Δ| · 0.5`` of the normalised prediction).

The model is the full EDSR-baseline MSIT (``configs/edsr-baseline-msit.yaml``, plain convs) with
random weights made *honest*: BatchNorm running statistics and affine parameters randomised, the
decoder's first layer scaled ×200 and its last ×5, so that no part of the model is zero or negligible (a fresh
RIM model would have zero V and MSC branches, and a fast path could then look exact for free).
The JSON records the decoder-output spread and the attention sharpness of that model. LIIF
(``configs/edsr-baseline-liif.yaml``, its only path) is the reference point.

    python benchmarks/inference.py [--quick] [--repeats 3] [--ref-repeats N] [--threads N] [--json OUT]

``--quick`` (CI) runs small sizes once. The default writes benchmarks/results/inference-cpu.json.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
MSIT_CONFIG = REPO / "configs" / "edsr-baseline-msit.yaml"
LIIF_CONFIG = REPO / "configs" / "edsr-baseline-liif.yaml"
DEFAULT_JSON = REPO / "benchmarks" / "results" / "inference-cpu.json"

#: (name, (h, w) input, scale, paths, repeats override or None); w × h = 510 × 339 is a DIV2K LR ×4.
FULL_CASES = [
    ("128x128 x2", (128, 128), 2.0, None),
    ("128x128 x4", (128, 128), 4.0, None),
    ("48x48 x12", (48, 48), 12.0, None),
    ("510x339 x4", (339, 510), 4.0, 1),
]
QUICK_CASES = [
    ("24x24 x2", (24, 24), 2.0, None),
    ("24x24 x4", (24, 24), 4.0, None),
    ("8x8 x12", (8, 8), 12.0, None),
    ("40x27 x4", (27, 40), 4.0, None),
]


def _rss_mib() -> float:
    """Peak RSS of this process in MiB: ``VmHWM`` on Linux (``ru_maxrss`` is inherited from the
    parent across fork + exec, so a child would report at least the parent's peak), else ``ru_maxrss``."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / 2**20 if sys.platform == "darwin" else peak / 1024


def honest_random_model(config: Path, seed: int = 0):
    """The config's model with random weights, BN statistics randomised, decoder layers 1 / last scaled ×200 / ×5."""
    import torch

    from msit_lite.config import build_model, load_config

    torch.manual_seed(seed)
    model = build_model(load_config(config))
    gen = torch.Generator().manual_seed(seed + 1)
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, torch.nn.BatchNorm2d):
                n = m.num_features
                m.running_mean.copy_(torch.randn(n, generator=gen) * 0.3)
                m.running_var.copy_(torch.rand(n, generator=gen) * 1.5 + 0.5)
                m.weight.copy_(1 + 0.3 * torch.randn(n, generator=gen))
                m.bias.copy_(0.3 * torch.randn(n, generator=gen))
            if hasattr(m, "convmap"):  # RIM/RefConv: a fresh one has W = 0
                m.weight.copy_(torch.randn(m.weight.shape, generator=gen) * 0.05)
        model.decoder.layers[0].weight.mul_(200)  # the default init leaves y₁ ≈ b₁: no spread over queries
        model.decoder.layers[-1].weight.mul_(5)
    return model.eval()


def model_stats(config: Path) -> dict[str, float]:
    """How non-degenerate the benchmark model is: decoder output spread, attention sharpness."""
    import torch

    from msit_lite.coords import make_cell, make_coord
    from msit_lite.models.base import Trace

    model = honest_random_model(config)
    lr = torch.rand(1, 3, 24, 24, generator=torch.Generator().manual_seed(5)) * 2 - 1
    trace = Trace()
    with torch.no_grad():
        model(lr, make_coord((96, 96)).unsqueeze(0)[:, ::7], make_cell((96, 96)), trace)
    top = trace["attn_softmax"].max(dim=-2).values
    return {"decoder_out_std_over_queries": round(float(trace["imnet_out"].std(dim=1).mean()), 4),
            "long_skip_std": round(float(trace["gs_skip"].std()), 4),
            "attention_top_prob_mean": round(float(top.mean()), 4),
            "attention_uniform_prob": round(1 / trace["attn_softmax"].shape[-2], 4)}


def child(spec: dict) -> dict:
    """One measured job (runs in its own process)."""
    import torch

    from msit_lite.inference import predict

    if spec["threads"]:
        torch.set_num_threads(spec["threads"])
    model = honest_random_model(Path(spec["config"]))
    h, w = spec["input"]
    gen = torch.Generator().manual_seed(1)
    lr = torch.rand(1, 3, h, w, generator=gen) * 2 - 1
    hr = (round(h * spec["scale"]), round(w * spec["scale"]))
    walls, cpus = [], []
    out = None
    for _ in range(spec["repeats"]):
        t0, c0 = time.perf_counter(), time.process_time()
        out = predict(model, lr, hr, fast=spec["fast"], memory_budget_mb=spec["budget"])
        walls.append(time.perf_counter() - t0)
        cpus.append(time.process_time() - c0)
    if spec.get("save"):
        import numpy as np

        np.save(spec["save"], out[0].numpy())
    return {"wall_s": [round(t, 2) for t in walls], "cpu_s": [round(t, 2) for t in cpus],
            "median_s": round(statistics.median(walls), 2), "median_cpu_s": round(statistics.median(cpus), 2),
            "peak_rss_mib": round(_rss_mib(), 1), "output": list(hr), "threads": torch.get_num_threads()}


def run_child(spec: dict) -> dict:
    proc = subprocess.run([sys.executable, __file__, "--child", json.dumps(spec)], capture_output=True, text=True,
                          cwd=REPO)
    if proc.returncode:
        raise SystemExit(f"child failed: {spec}\n{proc.stderr[-3000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def max_diff(a: Path, b: Path) -> float:
    import numpy as np

    return float(np.abs(np.load(a).astype(np.float64) - np.load(b)).max() * 0.5)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="small sizes, one run each (CI)")
    ap.add_argument("--repeats", type=int, default=None, help="runs per measurement (median); default 3, quick 1")
    ap.add_argument("--ref-repeats", type=int, default=None,
                    help="runs of the (slow) reference path; default: --repeats")
    ap.add_argument("--threads", type=int, default=0, help="torch threads (0 = torch default)")
    ap.add_argument("--memory-budget", type=float, default=1024, help="MiB, as msit-lite upscale")
    ap.add_argument("--no-liif", action="store_true", help="skip the LIIF reference point")
    ap.add_argument("--json", type=Path, default=None, help=f"output JSON (default {DEFAULT_JSON.relative_to(REPO)}; "
                    "quick: none)")
    ap.add_argument("--child", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.child:
        print(json.dumps(child(json.loads(args.child))))
        return 0

    repeats = args.repeats or (1 if args.quick else 3)
    cases = QUICK_CASES if args.quick else FULL_CASES
    json_path = args.json if args.json is not None else (None if args.quick else DEFAULT_JSON)
    started = time.time()
    result: dict = {
        "benchmark": "benchmarks/inference.py" + (" --quick" if args.quick else ""),
        "date": time.strftime("%Y-%m-%d %H:%M:%S"),
        "machine": {"platform": platform.platform(), "cpus": os.cpu_count(), "python": platform.python_version(),
                    "load_average_start": [round(x, 2) for x in os.getloadavg()]},
        "msit_config": str(MSIT_CONFIG.relative_to(REPO)), "liif_config": str(LIIF_CONFIG.relative_to(REPO)),
        "memory_budget_mb": args.memory_budget, "repeats": repeats, "ref_repeats": args.ref_repeats or repeats,
        "threads_requested": args.threads,
        "model_stats": model_stats(MSIT_CONFIG), "cases": [],
    }
    import torch

    result["machine"]["torch"] = torch.__version__
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for name, size, scale, big_repeats in cases:
            reps = big_repeats or repeats if not args.quick else repeats
            entry: dict = {"case": name, "input_hw": list(size), "scale": scale}
            paths = [("fast", True)] + ([] if big_repeats else [("reference", False)])
            for label, fast in paths:
                spec = {"config": str(MSIT_CONFIG), "input": list(size), "scale": scale, "fast": fast,
                        "repeats": reps if fast else (args.ref_repeats or reps), "threads": args.threads, "budget": args.memory_budget,
                        "save": str(Path(tmp) / f"{label}.npy")}
                entry[f"msit_{label}"] = run_child(spec)
                print(f"  {name:12s} msit {label:9s} {entry[f'msit_{label}']['median_s']:8.2f} s", flush=True)
            if "msit_reference" in entry:
                entry["speedup"] = round(entry["msit_reference"]["median_s"] / entry["msit_fast"]["median_s"], 2)
                entry["speedup_cpu"] = round(entry["msit_reference"]["median_cpu_s"] / entry["msit_fast"]["median_cpu_s"], 2)
                entry["max_abs_diff_01"] = max_diff(Path(tmp) / "fast.npy", Path(tmp) / "reference.npy")
            if not args.no_liif:
                spec = {"config": str(LIIF_CONFIG), "input": list(size), "scale": scale, "fast": True,
                        "repeats": reps, "threads": args.threads, "budget": args.memory_budget, "save": None}
                entry["liif"] = run_child(spec)
                print(f"  {name:12s} liif           {entry['liif']['median_s']:8.2f} s", flush=True)
            result["cases"].append(entry)
            rows.append(entry)
    result["machine"]["load_average_end"] = [round(x, 2) for x in os.getloadavg()]
    result["total_s"] = round(time.time() - started, 1)
    print(format_table(result))
    if json_path is not None:
        json_path.parent.mkdir(parents=True, exist_ok=True)
        json_path.write_text(json.dumps(result, indent=1) + "\n")
        print(f"wrote {json_path}")
    return 0


def format_table(result: dict) -> str:
    """The speed table (Markdown) of a result dict -- also used by notebook 11."""
    head = ("| case | output | reference s | fast s | speed-up (wall / CPU) | ref RSS MiB | fast RSS MiB "
            "| max abs diff [0,1] | LIIF s | LIIF RSS MiB |")
    lines = [head, "|" + "---|" * 10]
    for e in result["cases"]:
        ref, fast, liif = e.get("msit_reference"), e["msit_fast"], e.get("liif")
        out = "x".join(str(v) for v in reversed(fast["output"]))  # W x H
        lines.append(
            f"| {e['case']} | {out} | {ref['median_s'] if ref else '-'} | {fast['median_s']} | "
            + (f"{e['speedup']}× / {e['speedup_cpu']}×" if ref else "-")
            + f" | {ref['peak_rss_mib'] if ref else '-'} | {fast['peak_rss_mib']} | "
            + (f"{e['max_abs_diff_01']:.1e}" if ref else "-")
            + f" | {liif['median_s'] if liif else '-'} | {liif['peak_rss_mib'] if liif else '-'} |")
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
