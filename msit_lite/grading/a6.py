r"""A6 -- open-ended: a lighter MSIT for mobile devices (the paper's stated future work, §V).

The student writes ``a6_mobile.yaml`` (their model, any registered pieces) and may register new
pieces in ``a6_mobile.py``. The budget, relative to the shipped MSIT-lite
(``configs/lite-msit.yaml``, 343,468 parameters) so that it means the same on every machine:

* **parameters** ≤ :data:`PARAM_BUDGET` (150,000), counted as deployed (``msit-lite params``:
  ``deployed``, i.e. after folding RIM);
* **compute** ≤ :data:`FLOP_RATIO` (40 %) of MSIT-lite's floating-point operations for the same
  ×4 upscale, counted by :class:`torch.utils.flop_counter.FlopCounterMode` -- deterministic,
  machine-independent (it counts convolutions and matrix products, the bulk of the work; not
  the gathers of the window attention, which is why time is checked too);
* **CPU time** ≤ :data:`TIME_RATIO` (50 %) of MSIT-lite's, one thread, measured *in the same
  process* as **CPU time of this process** (:func:`time.process_time`, not wall-clock time: other
  jobs on a shared machine do not count), interleaved (student, reference, student, ...) and the
  minimum of :data:`TIME_REPEATS` runs each after a warm-up. The minimum is the least noisy
  statistic (disturbances only ever add time), and interleaving makes a slow phase hit both
  models. The reference solution sits near 20 %, far from the limit, so the check is not flaky;
  a model just under the limit should expect noise of a few percent.

Why ratios rather than milliseconds? A budget of "X ms" means nothing on an unknown grading
machine; "half of MSIT-lite on the same core" does. The grader measures a 16×16 → ×4 upscale
(:data:`MEASURE_LR`, a fraction of a second): both models' costs grow with the number of LR and
HR pixels alike, so the ratio at 16×16 is close to the ratio at 64×64 (the notebook measures both).

The other checks: the config builds through the registry; the model upscales to arbitrary
(non-integer) scales; and 30 Adam steps on one fixed batch reduce its L1 loss (the model can learn).
"""
from __future__ import annotations

import copy
import time
from types import ModuleType
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from msit_lite.errors import MsitError
from msit_lite.grading.core import Assignment, Check, CheckFailed, extra_file, need_tensor

STUDENT_FILE = "a6_mobile.py"
CONFIG_FILE = "a6_mobile.yaml"

PARAM_BUDGET = 150_000
FLOP_RATIO = 0.40
TIME_RATIO = 0.50
TIME_REPEATS = 3
MEASURE_LR = 16  # LR side of the measured ×4 upscale (HR 64×64)
SCALE = 4
TRAIN_STEPS = 30
TRAIN_GAIN = 0.85  # the loss after TRAIN_STEPS must be at most this fraction of the loss before

#: MSIT-lite's model section (``configs/lite-msit.yaml``; ``tests/assignments/test_a6.py`` keeps them equal).
REFERENCE_MODEL: dict[str, Any] = {
    "name": "msit",
    "args": {
        "encoder": {"name": "edsr-baseline", "args": {"n_resblocks": 4, "n_feats": 32}},
        "dim": 32,
        "heads": 8,
        "radius": 3,
        "conv": "plain",
        "msno": {"name": "msno", "args": {"branches": 4, "fem": "official", "merge": "sim"}},
        "attention": {"name": "mssa", "args": {"projections": 4, "enc_dims": 64, "posenc_scale": 10}},
        "decoder": {"name": "mlp", "args": {"hidden_list": [128, 128], "act": "gelu"}},
    },
}


# ---------------------------------------------------------------------------------------------
# Measuring (also used by the notebook)
# ---------------------------------------------------------------------------------------------
def reference_model() -> nn.Module:
    """MSIT-lite with fresh weights (costs do not depend on the weights)."""
    from msit_lite.models import make

    return make(copy.deepcopy(REFERENCE_MODEL), "model").eval()


def upscale_inputs(lr_size: int = MEASURE_LR, scale: int = SCALE) -> tuple[Tensor, Tensor, Tensor]:
    """``(lr, coord, cell)`` of a ``lr_size²`` → ×``scale`` upscale, every HR pixel queried."""
    from msit_lite.coords import make_cell, make_coord

    gen = torch.Generator().manual_seed(0)
    hr = lr_size * scale
    lr = torch.rand(1, 3, lr_size, lr_size, generator=gen) * 2 - 1
    return lr, make_coord((hr, hr)).unsqueeze(0), make_cell((hr, hr))


def parameter_count(model: nn.Module) -> int:
    """Deployed parameters (``msit-lite params``: ``deployed``; RIM folded)."""
    from msit_lite.params import count_parameters

    return count_parameters(model).deployed


def count_flops(model: nn.Module, inputs: tuple[Tensor, Tensor, Tensor]) -> int:
    """Floating-point operations of one forward (FlopCounterMode: convs and matrix products)."""
    from torch.utils.flop_counter import FlopCounterMode

    with torch.no_grad(), FlopCounterMode(display=False) as counter:
        model(*inputs)
    return int(counter.get_total_flops())


def _run_once(model: nn.Module, inputs: tuple[Tensor, Tensor, Tensor]) -> float:
    with torch.no_grad():
        start = time.process_time()
        model(*inputs)
        return time.process_time() - start


def time_ratio(
    model: nn.Module, reference: nn.Module, inputs: tuple[Tensor, Tensor, Tensor], repeats: int = TIME_REPEATS
) -> tuple[float, float]:
    """``(t_model, t_reference)`` in CPU seconds: minimum of ``repeats`` interleaved runs after a warm-up."""
    _run_once(model, inputs), _run_once(reference, inputs)
    mine, ref = [], []
    for _ in range(repeats):
        mine.append(_run_once(model, inputs))
        ref.append(_run_once(reference, inputs))
    return min(mine), min(ref)


_REFERENCE_FLOPS: dict[int, int] = {}


def reference_flops(lr_size: int = MEASURE_LR) -> int:
    if lr_size not in _REFERENCE_FLOPS:  # deterministic: measure once per process
        _REFERENCE_FLOPS[lr_size] = count_flops(reference_model(), upscale_inputs(lr_size))
    return _REFERENCE_FLOPS[lr_size]


def training_batch(n: int = 2, hr_size: int = 48, scale: int = 3, queries: int = 512) -> tuple[Tensor, ...]:
    """A fixed, synthetic training batch ``(lr, coord, cell, gt)`` (normalised to [-1, 1])."""
    from msit_lite.coords import make_cell, make_coord

    gen = torch.Generator().manual_seed(0)
    y = torch.linspace(0, 1, hr_size).view(1, 1, hr_size, 1)
    x = torch.linspace(0, 1, hr_size).view(1, 1, 1, hr_size)
    freq = 4 + 10 * torch.rand(n, 3, 1, 1, generator=gen)
    hr = 0.5 + 0.4 * torch.sin(freq * (x + 0.6 * y) * 3.1416) * torch.cos(freq * (y - 0.3 * x) * 2.0)
    lr = F.interpolate(hr, size=(hr_size // scale,) * 2, mode="bicubic", align_corners=False, antialias=True)
    grid = make_coord((hr_size, hr_size))
    idx = torch.stack([torch.randperm(hr_size * hr_size, generator=gen)[:queries] for _ in range(n)])
    coord = grid[idx]
    gt = hr.flatten(2).permute(0, 2, 1).gather(1, idx.unsqueeze(-1).expand(-1, -1, 3))
    norm = lambda t: (t.clamp(0, 1) - 0.5) / 0.5  # noqa: E731
    return norm(lr), coord, make_cell((hr_size, hr_size), n), norm(gt)


def train_few_steps(model: nn.Module, steps: int = TRAIN_STEPS, lr: float = 1e-3) -> tuple[float, float]:
    """L1 loss on one fixed batch before and after ``steps`` Adam steps (train mode throughout)."""
    inp, coord, cell, gt = training_batch()
    model.train()
    params = [p for p in model.parameters() if p.requires_grad]
    opt = torch.optim.Adam(params, lr=lr)
    with torch.no_grad():
        before = float(F.l1_loss(model(inp, coord, cell), gt))
    for _ in range(steps):
        opt.zero_grad()
        loss = F.l1_loss(model(inp, coord, cell), gt)
        loss.backward()
        opt.step()
    with torch.no_grad():
        after = float(F.l1_loss(model(inp, coord, cell), gt))
    return before, after


# ---------------------------------------------------------------------------------------------
# The checks
# ---------------------------------------------------------------------------------------------
def build_student_model(module: ModuleType) -> nn.Module:
    """The model of ``a6_mobile.yaml`` next to the student's file (registry + config)."""
    from msit_lite.config import build_model, load_config
    from msit_lite.models import ImplicitSRModel

    path = extra_file(module, CONFIG_FILE)
    try:
        model = build_model(load_config(path))
    except MsitError as e:
        raise CheckFailed(f"{CONFIG_FILE}: {e}") from None
    if not isinstance(model, ImplicitSRModel):
        raise CheckFailed(f"{CONFIG_FILE} builds a {type(model).__name__}; expected an arbitrary-scale model "
                          f"(model: msit, or your own ImplicitSRModel with encode/query)")
    return model.eval()


def check_builds(module: ModuleType) -> None:
    from msit_lite.coords import make_cell, make_coord

    model = build_student_model(module)
    lr = torch.rand(1, 3, 12, 12) * 2 - 1
    coord = make_coord((30, 30)).unsqueeze(0)[:, ::9]
    with torch.no_grad():
        out = model(lr, coord, make_cell((30, 30)))
    need_tensor(out, "your model(lr, coord, cell)", (1, coord.shape[1], 3))
    if not bool(torch.isfinite(out).all()):
        raise CheckFailed("your model's output contains NaN or inf")


def check_params(module: ModuleType) -> None:
    from msit_lite.params import count_parameters

    model = build_student_model(module)
    n = parameter_count(model)
    if n > PARAM_BUDGET:
        report = count_parameters(model)
        parts = sorted(report.modules.items(), key=lambda kv: -kv[1]["trainable"])
        top = ", ".join(f"{name} {c['trainable']:,}" for name, c in parts if "." not in name)
        raise CheckFailed(f"your model has {n:,} parameters; the budget is {PARAM_BUDGET:,} (MSIT-lite: 343,468). "
                          f"By module: {top} (notebook section 1)")


def check_flops(module: ModuleType) -> None:
    model = build_student_model(module)
    mine, ref = count_flops(model, upscale_inputs()), reference_flops()
    ratio = mine / ref
    if ratio > FLOP_RATIO:
        raise CheckFailed(f"a {MEASURE_LR}x{MEASURE_LR} → x{SCALE} upscale costs {mine / 1e9:.2f} GFLOP, "
                          f"{ratio:.0%} of MSIT-lite's {ref / 1e9:.2f}; the budget is {FLOP_RATIO:.0%} -- per HR "
                          f"pixel the decoder's input is window·dim + 2 numbers: shrink radius, dim or the first "
                          f"hidden layer (notebook section 1)")


def check_time(module: ModuleType) -> None:
    model = build_student_model(module)
    reference = reference_model()
    inputs = upscale_inputs()
    first_mine, first_ref = _run_once(model, inputs), _run_once(reference, inputs)
    if first_mine > 5 * first_ref + 1.0:  # hopeless: do not spend the grader's time
        raise CheckFailed(f"one {MEASURE_LR}x{MEASURE_LR} → x{SCALE} upscale took {first_mine * 1e3:.0f} ms vs "
                          f"MSIT-lite's {first_ref * 1e3:.0f} ms; the budget is {TIME_RATIO:.0%} of it")
    t_mine, t_ref = time_ratio(model, reference, inputs)
    ratio = t_mine / t_ref
    if ratio > TIME_RATIO:
        raise CheckFailed(f"a {MEASURE_LR}x{MEASURE_LR} → x{SCALE} upscale took {t_mine * 1e3:.0f} ms CPU on 1 thread, "
                          f"{ratio:.0%} of MSIT-lite's {t_ref * 1e3:.0f} ms in the same process; the budget is "
                          f"{TIME_RATIO:.0%} (best of {TIME_REPEATS}; notebook sections 1 and 3)")


def check_arbitrary_scale(module: ModuleType) -> None:
    from msit_lite.inference import predict

    model = build_student_model(module)
    lr = torch.rand(1, 3, 10, 13) * 2 - 1
    for scale in (1.5, 2.3, 3.7):
        size = (round(10 * scale), round(13 * scale))
        out = need_tensor(predict(model, lr, size, fast=False), f"predict at x{scale}", (1, 3, *size))
        if not bool(torch.isfinite(out).all()):
            raise CheckFailed(f"the x{scale} output ({size[0]}x{size[1]}) contains NaN or inf")


def check_trains(module: ModuleType) -> None:
    model = build_student_model(module)
    if not any(p.requires_grad for p in model.parameters()):
        raise CheckFailed("your model has no trainable parameters")
    before, after = train_few_steps(model)
    if not after <= TRAIN_GAIN * before:
        raise CheckFailed(f"{TRAIN_STEPS} Adam steps (lr 1e-3) on one fixed batch took the L1 loss from {before:.4f} "
                          f"to {after:.4f}; expected at most {TRAIN_GAIN:.0%} of the start -- does every piece pass "
                          f"gradients (no detach, no dead re-parameterisation)?")


ASSIGNMENT = Assignment(
    id="A6",
    title="a lighter MSIT for mobile devices (parameter, FLOP and CPU-time budget)",
    student_file=STUDENT_FILE,
    notebook="A6_mobile.ipynb",
    checks=(
        Check("a6_mobile.yaml builds through the registry and runs", check_builds),
        Check(f"parameters <= {PARAM_BUDGET:,}", check_params),
        Check(f"FLOPs <= {FLOP_RATIO:.0%} of MSIT-lite (x{SCALE} upscale)", check_flops),
        Check(f"CPU time <= {TIME_RATIO:.0%} of MSIT-lite (1 thread, same process)", check_time),
        Check("upscales to arbitrary scales (x1.5, x2.3, x3.7)", check_arbitrary_scale),
        Check(f"{TRAIN_STEPS} training steps reduce the loss", check_trains),
    ),
    extra_files=(CONFIG_FILE,),
)
