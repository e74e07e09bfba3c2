"""Where one training step's time goes, per module, forward vs backward (one CPU thread).

Times are CPU seconds of this (one-thread) process -- on a shared machine far steadier than wall
clock, and the same thing when the machine is quiet. Forward time of a part is measured around its call. Backward time uses the fact that autograd
runs one node at a time on the CPU: an identity autograd function placed on a part's output fires
when the gradient *reaches* the part, one placed on its inputs fires when the gradient *leaves*
it, and the difference is the part's backward time. Parts are modules (``encoder``, ``msno``,
``attention.q_proj`` ...) and two methods that are not modules (``attention.attend`` -- the
per-query window attention -- and LIIF's query side, its ``query`` minus the decoder).

    python benchmarks/train_profile.py [--cases lite-msit lite-liif] [--steps 5] [--code DIR | --baseline REV]

``--baseline REV`` profiles the package at git revision REV instead of this checkout (exported
with ``git archive``, as ``benchmarks/train_step.py`` does). The printed Markdown table is what
``docs/TRAINING_SPEED.md`` shows.
"""
from __future__ import annotations

import argparse
import collections
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Callable

REPO = Path(__file__).resolve().parent.parent
PARTS = {
    "msit": ["encoder", "channel_proj", "msno.fem", "msno.msc", "msno.merge", "msno", "attention.q_proj",
             "attention.v_proj", "attention.attend", "decoder"],
    "liif": ["encoder", "query side", "decoder"],
}


def profile(case: str, steps: int, data_root: str) -> tuple[dict[str, list[float]], dict[str, float]]:
    import torch
    import torch.nn.functional as F
    import yaml
    from torch.utils.data import default_collate

    from msit_lite.config import build_model
    from msit_lite.training.config import parse_data_config, parse_train_config
    try:
        from msit_lite.training.batches import Distributed, make_data
    except ImportError:  # a baseline tree from before issue 14
        from msit_lite.training.loop import _Dist as Distributed, _make_data

        def make_data(tcfg, dcfg, root, ddp):  # type: ignore[no-redef]
            return _make_data(tcfg, dcfg, root, ddp, torch.device("cpu"))

    torch.set_num_threads(1)
    config = yaml.safe_load((REPO / "configs" / f"{case}.yaml").read_text())
    tcfg, dcfg = parse_train_config(config["train"], case), parse_data_config(config["data"], case)
    _, inner, patches = make_data(tcfg, dcfg, Path(data_root), Distributed())
    inner.set_epoch(0)
    batches = [default_collate([patches[k] for k in keys]) for keys, _ in zip(inner, range(steps + 2))]
    torch.manual_seed(0)
    model = build_model(config)
    net = model
    try:
        from msit_lite.training.step import prepare_for_training

        net = prepare_for_training(model, tcfg, torch.device("cpu"))
    except ImportError:  # the baseline has no such step
        pass
    opt = torch.optim.Adam(model.parameters(), lr=1e-4)

    fwd: dict[str, float] = collections.defaultdict(float)
    marks: list[tuple[str, float]] = []

    class Mark(torch.autograd.Function):
        @staticmethod
        def forward(ctx: Any, x: Any, name: str) -> Any:  # type: ignore[override]
            ctx.name = name
            return x.view_as(x)

        @staticmethod
        def backward(ctx: Any, g: Any) -> Any:  # type: ignore[override]
            marks.append((ctx.name, time.process_time()))
            return g, None

    def mark(x: Any, name: str) -> Any:
        if torch.is_tensor(x) and x.requires_grad:
            return Mark.apply(x, name)
        if isinstance(x, dict):
            return {k: mark(v, name) for k, v in x.items()}
        return x

    def timed(fn: Callable[..., Any], name: str) -> Callable[..., Any]:
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            args = tuple(mark(a, name + "<") for a in args)
            t0 = time.process_time()
            out = fn(*args, **kwargs)
            fwd[name] += time.process_time() - t0
            return mark(out, name + ">")
        return wrapper

    kind = "msit" if hasattr(model, "attention") else "liif"
    for part in PARTS[kind]:
        if part == "attention.attend":
            model.attention.attend = timed(model.attention.attend, part)
        elif part == "query side":
            decoder = model.decoder
            model.decoder = None  # type: ignore[assignment]

            class Untimed(torch.nn.Module):  # the decoder's time is measured on its own
                def __init__(self) -> None:
                    super().__init__()
                    self.inner = decoder

                def forward(self, *a: Any, **k: Any) -> Any:
                    return timed(self.inner, "decoder")(*a, **k)

            model.decoder = Untimed()
            model.query = timed(model.query, "query side")
        elif part != "decoder" or kind == "msit":
            mod = model.get_submodule(part)
            mod.forward = timed(mod.forward, part)

    bwd: dict[str, float] = collections.defaultdict(float)
    totals: dict[str, list[float]] = {"forward": [], "backward": [], "optimizer": [], "step": []}
    norm = lambda x: (x - dcfg.norm.sub) / dcfg.norm.div  # noqa: E731
    for i, batch in enumerate(batches):
        if i == 2:
            fwd.clear()
        marks.clear()
        t0 = time.process_time()
        pred = net(norm(batch["inp"]), batch["coord"], batch["cell"])
        loss = F.l1_loss(pred, norm(batch["gt"]))
        opt.zero_grad(set_to_none=True)
        t1 = time.process_time()
        loss.backward()
        t2 = time.process_time()
        opt.step()
        t3 = time.process_time()
        if i < 2:
            continue
        for k, v in zip(totals, (t1 - t0, t2 - t1, t3 - t2, t3 - t0)):
            totals[k].append(v)
        first: dict[str, float] = {}
        last: dict[str, float] = {}
        for name, t in marks:
            first.setdefault(name, t)
            last[name] = t
        for part in {n[:-1] for n, _ in marks}:
            # gradient in (first output mark) .. out (last input mark); a part whose inputs need no
            # gradient (the encoder reads the image) is left when the whole backward pass ends.
            if part + ">" in first:
                bwd[part] += last.get(part + "<", t2) - first[part + ">"]
    n = len(totals["step"])
    parts = {**{f"fwd {k}": v / n for k, v in fwd.items()}, **{f"bwd {k}": v / n for k, v in bwd.items()}}
    # FLOPs of one forward (matrix products and convolutions), per module, for the arithmetic floor.
    from torch.utils.flop_counter import FlopCounterMode

    batch = batches[-1]
    with FlopCounterMode(display=False, depth=4) as counter:
        net(norm(batch["inp"]), batch["coord"], batch["cell"])
    per = {k: sum(v.values()) for k, v in counter.get_flop_counts().items()}
    parts["flops forward"] = float(counter.get_total_flops())
    for part in ("encoder", "decoder"):  # the shallowest module path ending in .encoder / .decoder
        keys = sorted((k for k in per if k.endswith(f".{part}")), key=lambda k: k.count("."))
        parts[f"flops {part}"] = float(per[keys[0]]) if keys else 0.0
    return totals, parts


def gemm_peak() -> float:
    """FLOP/s of a 2048² float32 matrix product on one thread (best of 3): the machine's ceiling."""
    import torch

    torch.set_num_threads(1)
    a, b = torch.randn(2048, 2048), torch.randn(2048, 2048)
    a @ b
    best = min(_timed(lambda: a @ b) for _ in range(3))
    return 2 * 2048**3 / best


def _timed(fn: Callable[[], Any]) -> float:
    t0 = time.process_time()
    fn()
    return time.process_time() - t0


def table(case: str, totals: dict[str, list[float]], parts: dict[str, float], kind: str, peak: float) -> str:
    import statistics

    step = statistics.median(totals["step"])
    lines = [f"**{case}**: {step * 1e3:.0f} ms per step (forward {statistics.median(totals['forward']) * 1e3:.0f}, "
             f"backward {statistics.median(totals['backward']) * 1e3:.0f}, Adam {statistics.median(totals['optimizer']) * 1e3:.0f})",
             "", "| part | forward ms | backward ms | share of the step |", "| --- | ---: | ---: | ---: |"]
    for part in PARTS[kind]:
        f, b = parts.get(f"fwd {part}", 0.0), parts.get(f"bwd {part}", 0.0)
        inner = part.startswith("msno.")
        label = f"  {part}" if inner else part
        lines.append(f"| {'└ ' if inner else ''}{label.strip()} | {f * 1e3:.1f} | {b * 1e3:.1f} | {(f + b) / step:.0%} |")
    top = [p for p in PARTS[kind] if not p.startswith("msno.") and p != ("decoder" if kind == "liif" else "")]
    if kind == "liif":
        top = ["encoder", "query side"]  # "query side" includes its decoder calls
    rest = step - sum(parts.get(f"fwd {p}", 0) + parts.get(f"bwd {p}", 0) for p in top)
    lines.append(f"| rest (loss, long skip, data layout, Adam) | | | {rest / step:.0%} |")
    # The arithmetic floor: forward FLOPs ×3 (backward: gradients of inputs and weights) at the GEMM peak.
    flops3 = 3 * parts["flops forward"]
    lines += ["", f"Matrix products and convolutions: {parts['flops forward'] / 1e9:.2f} GFLOP forward, ≈ {flops3 / 1e9:.2f} "
              f"GFLOP per step with the backward pass; at this machine's one-thread GEMM peak ({peak / 1e9:.0f} GFLOP/s) "
              f"that alone takes {flops3 / peak * 1e3:.0f} ms -- the floor of this step, {step / (flops3 / peak):.2f}× below "
              "the measured time."]
    for part in ("encoder", "decoder"):
        f3 = 3 * parts.get(f"flops {part}", 0.0)
        t = parts.get(f"fwd {part}", 0.0) + parts.get(f"bwd {part}", 0.0)
        if f3 and t:
            lines.append(f"- {part}: {f3 / 1e9:.2f} GFLOP in {t * 1e3:.0f} ms = {f3 / t / 1e9:.0f} GFLOP/s "
                         f"({f3 / t / peak:.0%} of the peak)")
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--cases", nargs="+", default=["lite-msit", "lite-liif"])
    ap.add_argument("--steps", type=int, default=5)
    group = ap.add_mutually_exclusive_group()
    group.add_argument("--code", type=Path, help="profile the msit_lite in this tree")
    group.add_argument("--baseline", help="profile the package at this git revision")
    ap.add_argument("--data-root", default=os.environ.get("MSIT_DATA", str(REPO.parent / "shared" / "data")))
    args = ap.parse_args()
    tmp = None
    code = args.code
    if args.baseline:
        sys.path.insert(0, str(REPO / "benchmarks"))
        from train_step import export_baseline

        tmp = tempfile.TemporaryDirectory()
        code = export_baseline(args.baseline, Path(tmp.name))
    if code is not None:
        sys.path.insert(0, str(Path(code).resolve()))
    import msit_lite

    print(f"msit_lite from {Path(msit_lite.__file__).parent}")
    peak = gemm_peak()
    for case in args.cases:
        totals, parts = profile(case, args.steps, args.data_root)
        print(table(case, totals, parts, "liif" if "liif" in case else "msit", peak), "\n", flush=True)


if __name__ == "__main__":
    main()
