"""One training step, before and after the speed-up, side by side: steps/s, peak RSS, gradient match.

The *baseline* is the package as it was before the training-step work (a git revision, default
:data:`BASELINE`), exported with ``git archive`` into a temporary folder; the *current* code is
this checkout. Every measurement runs in a fresh subprocess whose ``sys.path`` starts with the
version under test, so both see the same Python, torch, thread count, data and weights, and the
peak resident set size (``VmHWM``) belongs to that one job. Step times are CPU seconds by default
(``--clock``): with one thread that is the step's cost, and unlike wall clock it hardly moves when
other jobs share the machine; the JSON keeps both.

What one step is: the batch of the real training sampler (step 0 of the config's seed, images
from ``$MSIT_DATA``), forward, L1 loss, backward, Adam -- exactly what ``msit-lite train`` does
per step on the CPU, data loading included (it is ~1 % of a lite step). The current code runs
the step through :func:`msit_lite.training.step.prepare_for_training`, so whatever the training
loop enables (channels-last, compiled query) is measured too.

Gradient check: both versions start from the same weights (``torch.manual_seed(seed)`` before
building the model) and the same batch; the gradient of every parameter after one backward is
compared, ``‖g_cur − g_base‖ / ‖g_base‖`` per tensor and for the whole model. Beside it, the
float32 *noise floor*: the baseline against itself with the batch's queries in another order --
the same gradient in exact arithmetic, summed in another order.

    python benchmarks/train_step.py [--cases lite-msit lite-liif full-msit] [--steps 10] [--rounds 2] [--threads 1]
                                    [--baseline REV] [--json benchmarks/results/train-step-cpu.json]

Cases: ``lite-msit`` / ``lite-liif`` (configs/lite-*.yaml as trained: batch 8, 48², 512 queries)
and ``full-msit`` (configs/edsr-baseline-msit.yaml at batch 4, 48², 2304 queries).
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
#: The last commit before the training-step speed-up (issue "Evidence the notebooks can stand on").
BASELINE = "30550cf"
DEFAULT_JSON = REPO / "benchmarks" / "results" / "train-step-cpu.json"
CASES: dict[str, dict[str, Any]] = {
    "lite-msit": {"config": "configs/lite-msit.yaml", "override": {}},
    "lite-liif": {"config": "configs/lite-liif.yaml", "override": {}},
    "full-msit": {"config": "configs/edsr-baseline-msit.yaml",
                  "override": {"batch_size": 4, "patch_size": 48, "sample_q": 2304, "on_small": "other"},
                  "data": "train291"},
}


# ----------------------------------------------------------------------------------------------
# Child: one version, one case
# ----------------------------------------------------------------------------------------------
def _peak_rss_mib() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def child(root: str, case: str, steps: int, warmup: int, threads: int, grads_out: str, data_root: str,
          shuffle: bool = False) -> dict[str, Any]:
    sys.path.insert(0, root)
    import torch
    import torch.nn.functional as F
    import yaml
    from torch.utils.data import default_collate

    import msit_lite
    from msit_lite.config import build_model
    from msit_lite.training.config import parse_data_config, parse_train_config
    try:
        from msit_lite.training.batches import Distributed, make_data
    except ImportError:  # a baseline tree from before issue 14
        from msit_lite.training.loop import _Dist as Distributed, _make_data

        def make_data(tcfg, dcfg, root, ddp):  # type: ignore[no-redef]
            return _make_data(tcfg, dcfg, root, ddp, torch.device("cpu"))

    assert Path(msit_lite.__file__).resolve().is_relative_to(Path(root).resolve()), msit_lite.__file__
    torch.set_num_threads(threads)
    spec = CASES[case]
    config = yaml.safe_load((Path(root) / spec["config"]).read_text())
    config["train"] = {**(config.get("train") or {}), **spec["override"]}
    if "data" in spec:
        config["data"] = {**(config.get("data") or {}), "train": spec["data"], "cache": True}
    tcfg = parse_train_config(config["train"], case)
    dcfg = parse_data_config(config["data"], case)
    _, inner, patches = make_data(tcfg, dcfg, Path(data_root), Distributed())
    inner.set_epoch(0)
    batches = iter(inner)

    def next_batch() -> dict[str, Any]:
        nonlocal batches
        try:
            keys = next(batches)
        except StopIteration:
            batches = iter(inner)
            keys = next(batches)
        return default_collate([patches[k] for k in keys])

    torch.manual_seed(tcfg.seed)
    model = build_model(config)
    net = model
    try:  # the current code: whatever the training loop prepares (absent in the baseline)
        from msit_lite.training.step import prepare_for_training
    except ImportError:
        prepare_for_training = None
    if prepare_for_training is not None:
        net = prepare_for_training(model, tcfg, torch.device("cpu"))
    norm = lambda x: (x - dcfg.norm.sub) / dcfg.norm.div  # noqa: E731
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-4)

    def step(batch: dict[str, Any], keep_grads: bool = False) -> dict[str, Any] | None:
        pred = net(norm(batch["inp"]), batch["coord"], batch["cell"])
        loss = F.l1_loss(pred, norm(batch["gt"]))
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        grads = {n: p.grad.detach().clone().contiguous() for n, p in model.named_parameters()} if keep_grads else None
        optimizer.step()
        return grads

    first = next_batch()
    if shuffle:  # the same queries in another order: the same gradient in exact arithmetic
        perm = torch.randperm(first["coord"].shape[1], generator=torch.Generator().manual_seed(1))
        first = {**first, "coord": first["coord"][:, perm], "gt": first["gt"][:, perm]}
        if first["cell"].dim() == 3:
            first["cell"] = first["cell"][:, perm]
    torch.save(step(first, keep_grads=True), grads_out)
    if shuffle:
        return {"s_per_step": [], "peak_rss_mib": _peak_rss_mib(), "torch": torch.__version__}
    times, cpu = [], []
    for i in range(warmup + steps):
        t0, c0 = time.perf_counter(), time.process_time()
        step(next_batch())
        if i >= warmup:
            times.append(time.perf_counter() - t0)
            cpu.append(time.process_time() - c0)
    return {"s_per_step": times, "cpu_s_per_step": cpu, "peak_rss_mib": _peak_rss_mib(), "torch": torch.__version__}


# ----------------------------------------------------------------------------------------------
# Parent
# ----------------------------------------------------------------------------------------------
def export_baseline(rev: str, dest: Path) -> Path:
    """``git archive REV`` of the package and configs into ``dest``."""
    out = dest / f"baseline-{rev}"
    out.mkdir(parents=True)
    tar = dest / "baseline.tar"
    subprocess.run(["git", "-C", str(REPO), "archive", "--format=tar", "-o", str(tar), rev, "msit_lite", "configs"], check=True)
    with tarfile.open(tar) as t:
        t.extractall(out, filter="data")
    return out


def run_child(root: Path, case: str, args: argparse.Namespace, grads: Path, shuffle: bool = False) -> dict[str, Any]:
    env = dict(os.environ, OMP_NUM_THREADS=str(args.threads), MKL_NUM_THREADS=str(args.threads), PYTHONPATH="")
    cmd = [sys.executable, __file__, "--child", str(root), case, str(args.steps), str(args.warmup), str(args.threads),
           str(grads), args.data_root, str(int(shuffle))]
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=tempfile.gettempdir())
    if proc.returncode:
        raise SystemExit(f"child {case} in {root} failed:\n{proc.stderr[-3000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def compare_grads(cur: Path, base: Path) -> dict[str, Any]:
    """Relative gradient differences. Tensors whose gradient is ~0 in exact arithmetic (a conv bias
    right before BatchNorm: ‖g‖ < 1e-6 of the model's) carry only rounding noise, and a relative
    error of noise is meaningless: they are listed, and compared against the model's norm instead."""
    import torch

    a, b = torch.load(cur, weights_only=True), torch.load(base, weights_only=True)
    if a.keys() != b.keys():
        raise SystemExit(f"parameter names differ: {sorted(a.keys() ^ b.keys())[:5]}")
    diff = {k: float((a[k].double() - b[k].double()).norm()) for k in a}
    norm = {k: float(b[k].double().norm()) for k in a}
    total = sum(v * v for v in norm.values()) ** 0.5
    null = sorted(k for k in a if norm[k] < 1e-6 * total)
    rel = {k: diff[k] / norm[k] for k in a if k not in null}
    worst = max(rel, key=rel.get) if rel else ""
    return {"max_rel_per_tensor": rel.get(worst, 0.0), "worst_tensor": worst,
            "rel_whole_model": (sum(v * v for v in diff.values()) ** 0.5) / total if total else 0.0,
            "null_gradient_tensors": null,
            "null_gradient_max_abs_vs_model_norm": max((diff[k] / total for k in null), default=0.0)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--cases", nargs="+", default=list(CASES), choices=list(CASES))
    ap.add_argument("--steps", type=int, default=10, help="timed steps per case (after --warmup)")
    ap.add_argument("--warmup", type=int, default=3)
    ap.add_argument("--rounds", type=int, default=2, help="alternating baseline/current processes per case")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--clock", choices=["cpu_s_per_step", "s_per_step"], default="cpu_s_per_step",
                    help="CPU seconds (default: steadier on a shared machine; = wall clock on one quiet thread) or wall clock")
    ap.add_argument("--baseline", default=BASELINE, help="git revision of the 'before' code (default %(default)s)")
    ap.add_argument("--data-root", default=os.environ.get("MSIT_DATA", str(REPO.parent / "shared" / "data")))
    ap.add_argument("--json", type=Path, default=None, help=f"write the figures here (e.g. {DEFAULT_JSON.relative_to(REPO)})")
    ap.add_argument("--child", nargs=8, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        root, case, steps, warmup, threads, grads, data_root, shuffle = args.child
        print(json.dumps(child(root, case, int(steps), int(warmup), int(threads), grads, data_root, shuffle == "1")))
        return

    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        base_root = export_baseline(args.baseline, Path(tmp))
        for case in args.cases:
            # Rounds alternate baseline, current, baseline, ... so that a slow patch of a shared
            # machine hits both versions alike; every round is a fresh process (same first batch).
            res: dict[str, dict[str, Any]] = {n: {"s_per_step": [], "cpu_s_per_step": [], "peak_rss_mib": 0.0}
                                              for n in ("baseline", "current")}
            for _ in range(args.rounds):
                for name, root in (("baseline", base_root), ("current", REPO)):
                    got = run_child(root, case, args, Path(tmp) / f"{case}-{name}.pt")
                    res[name]["s_per_step"] += got["s_per_step"]
                    res[name]["cpu_s_per_step"] += got["cpu_s_per_step"]
                    res[name]["peak_rss_mib"] = max(res[name]["peak_rss_mib"], got["peak_rss_mib"])
            grads = compare_grads(Path(tmp) / f"{case}-current.pt", Path(tmp) / f"{case}-baseline.pt")
            # The rounding noise floor of float32: the baseline on the same batch with its queries in
            # another order (the same gradient in exact arithmetic, other summation orders).
            run_child(base_root, case, args, Path(tmp) / f"{case}-shuffled.pt", shuffle=True)
            floor = compare_grads(Path(tmp) / f"{case}-shuffled.pt", Path(tmp) / f"{case}-baseline.pt")
            grads["noise_floor"] = {k: floor[k] for k in ("max_rel_per_tensor", "worst_tensor", "rel_whole_model")}
            med = {k: statistics.median(v[args.clock]) for k, v in res.items()}
            row = {"case": case, "clock": args.clock, "baseline_s_per_step": med["baseline"],
                   "current_s_per_step": med["current"],
                   "baseline_steps_per_s": 1 / med["baseline"], "current_steps_per_s": 1 / med["current"],
                   "speedup": med["baseline"] / med["current"],
                   "wall_speedup": statistics.median(res["baseline"]["s_per_step"]) / statistics.median(res["current"]["s_per_step"]),
                   "cpu_speedup": statistics.median(res["baseline"]["cpu_s_per_step"]) / statistics.median(res["current"]["cpu_s_per_step"]),
                   "baseline_peak_rss_mib": res["baseline"]["peak_rss_mib"],
                   "current_peak_rss_mib": res["current"]["peak_rss_mib"], **grads,
                   "raw": res}
            rows.append(row)
            print(f"{case:10s} baseline {med['baseline']:.3f} s/step ({1 / med['baseline']:.2f}/s, "
                  f"{row['baseline_peak_rss_mib']:.0f} MiB)  current {med['current']:.3f} s/step "
                  f"({1 / med['current']:.2f}/s, {row['current_peak_rss_mib']:.0f} MiB)  speed-up {row['speedup']:.2f}x  "
                  f"grad rel. diff {grads['max_rel_per_tensor']:.1e} (worst tensor: {grads['worst_tensor']}), "
                  f"{grads['rel_whole_model']:.1e} (model); float32 noise floor (baseline, queries reordered) "
                  f"{floor['max_rel_per_tensor']:.1e} ({floor['worst_tensor']}) / {floor['rel_whole_model']:.1e}",
                  flush=True)
    if args.json:
        meta = {"threads": args.threads, "steps": args.steps, "rounds": args.rounds, "warmup": args.warmup, "baseline": args.baseline,
                "python": platform.python_version(), "machine": platform.machine(), "processor": platform.processor(),
                "cpu_count": os.cpu_count(), "date": time.strftime("%Y-%m-%d")}
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps({"meta": meta, "cases": rows}, indent=1) + "\n")
        print(f"wrote {args.json}")


if __name__ == "__main__":
    main()
