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

The other checks: the config builds through the registry; the built model **is an MSIT with MSNO
and MSSA** (checked on the model object, not the config text: a LIIF, ``msno: none``, a single MSC
branch or ``attention: sa`` fail); it upscales to arbitrary (non-integer) scales; and it must
**beat bilinear upsampling by** :data:`QUALITY_MARGIN_DB` after a fixed training budget
(:data:`QUALITY_STEPS` Adam steps at lr :data:`QUALITY_LR` on synthetic images with edges, discs and
stripes, η ~ U(2, 4); PSNR on held-out synthetic images at ×2.5 and ×3.5, averaged). A lighter model
that cannot learn anything within that budget is not an answer, however cheap it is.
"""
from __future__ import annotations

import copy
import math
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
#: The training budget and the quality bar (``check_beats_bilinear``).
QUALITY_STEPS = 400
QUALITY_LR = 3e-3
QUALITY_MARGIN_DB = 0.2
QUALITY_SCALES = (2.5, 3.5)

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


def synthetic_images(n: int, size: int, generator: torch.Generator) -> Tensor:
    """``n`` synthetic RGB images ``[n, 3, size, size]`` in [0, 1]: a colour gradient, rotated rectangles,
    discs and a patch of stripes -- hard edges and texture, what bilinear upsampling blurs."""
    y = torch.linspace(0, 1, size).view(1, size, 1)
    x = torch.linspace(0, 1, size).view(1, 1, size)
    out = []
    for _ in range(n):
        c = torch.rand(3, 3, generator=generator)
        img = (0.2 + 0.6 * c[:, 0:1, None] + 0.2 * (c[:, 1:2, None] - 0.5) * y + 0.2 * (c[:, 2:3, None] - 0.5) * x)
        img = img.expand(3, size, size).clone()
        for _ in range(5):  # rectangles, rotated
            cy, cx, hh, ww, th = torch.rand(5, generator=generator).tolist()
            th *= math.pi
            u = (x - cx) * math.cos(th) + (y - cy) * math.sin(th)
            v = -(x - cx) * math.sin(th) + (y - cy) * math.cos(th)
            mask = ((u.abs() < 0.05 + 0.25 * ww) & (v.abs() < 0.05 + 0.25 * hh)).float()
            img = img * (1 - mask) + torch.rand(3, 1, 1, generator=generator) * mask
        for _ in range(3):  # discs
            cy, cx, r = torch.rand(3, generator=generator).tolist()
            mask = (((y - cy) ** 2 + (x - cx) ** 2) < (0.03 + 0.15 * r) ** 2).float()
            img = img * (1 - mask) + torch.rand(3, 1, 1, generator=generator) * mask
        f, th, cy, cx = torch.rand(4, generator=generator).tolist()  # a patch of stripes
        th *= math.pi
        stripes = 0.5 + 0.5 * torch.sin(2 * math.pi * (4 + 10 * f) * ((x - cx) * math.cos(th) + (y - cy) * math.sin(th)))
        mask = (((y - cy) ** 2 + (x - cx) ** 2) < 0.04).float()
        img = img * (1 - 0.6 * mask) + 0.6 * mask * stripes * torch.rand(3, 1, 1, generator=generator)
        out.append(img.clamp(0, 1))
    return torch.stack(out)


def _downscale(hr: Tensor, size: int) -> Tensor:
    """The LR image: PyTorch bicubic with antialiasing (the paper's recipe), clamped to [0, 1]."""
    return F.interpolate(hr, size=(size, size), mode="bicubic", align_corners=False, antialias=True).clamp(0, 1)


def quality_batch(step: int, batch: int = 4, lr_size: int = 16, queries: int = 256) -> tuple[Tensor, ...]:
    """Training batch ``step`` of the budget: ``(lr, coord, cell, gt)``, normalised to [-1, 1];
    fresh synthetic images every step, one scale η ~ U(2, 4) per batch (deterministic in ``step``)."""
    from msit_lite.coords import make_cell, make_coord

    gen = torch.Generator().manual_seed(1_000_003 + step)
    hr_size = round(lr_size * (2 + 2 * torch.rand(1, generator=gen).item()))
    hr = synthetic_images(batch, hr_size, gen)
    lr = _downscale(hr, lr_size)
    idx = torch.stack([torch.randperm(hr_size * hr_size, generator=gen)[:queries] for _ in range(batch)])
    gt = hr.flatten(2).permute(0, 2, 1).gather(1, idx.unsqueeze(-1).expand(-1, -1, 3))
    norm = lambda t: (t - 0.5) / 0.5  # noqa: E731
    return norm(lr), make_coord((hr_size, hr_size))[idx], make_cell((hr_size, hr_size), batch), norm(gt)


def train_budget(model: nn.Module, steps: int = QUALITY_STEPS, lr: float = QUALITY_LR,
                 give_up_after: int = 100) -> tuple[float, float]:
    """Train ``model`` in place for ``steps`` Adam steps on :func:`quality_batch`.

    Returns the L1 loss on one fixed batch (eval mode) before and after training. Stops early, after
    ``give_up_after`` steps, when that loss has not fallen by 1 %: such a model cannot pass, and the
    grader's time is better spent elsewhere.
    """
    probe = quality_batch(-1)

    def probe_loss() -> float:
        model.eval()
        with torch.no_grad():
            value = float(F.l1_loss(model(*probe[:3]), probe[3]))
        model.train()
        return value

    before = probe_loss()
    opt = torch.optim.Adam([p for p in model.parameters() if p.requires_grad], lr=lr)
    for step in range(steps):
        inp, coord, cell, gt = quality_batch(step)
        loss = F.l1_loss(model(inp, coord, cell), gt)
        if not torch.isfinite(loss):
            raise CheckFailed(f"the training loss became {loss.item()} at step {step}: your model is numerically "
                              f"unstable at lr {lr} (notebook section 4)")
        opt.zero_grad()
        loss.backward()
        opt.step()
        if step + 1 == give_up_after and probe_loss() >= 0.99 * before:
            break
    after = probe_loss()
    model.eval()
    return before, after


def _psnr(a: Tensor, b: Tensor) -> float:
    return -10 * math.log10(float(F.mse_loss(a, b)))


def psnr_gain(model: nn.Module, scales: tuple[float, ...] = QUALITY_SCALES, images: int = 6,
              lr_size: int = 24) -> dict[float, float]:
    """PSNR of ``model`` minus PSNR of bilinear upsampling, per scale, on held-out synthetic images."""
    from msit_lite.coords import make_cell, make_coord

    gen = torch.Generator().manual_seed(12345)  # not a training seed: held-out images
    gains = {}
    model.eval()
    for s in scales:
        size = round(lr_size * s)
        hr = synthetic_images(images, size, gen)
        lr = _downscale(hr, lr_size)
        with torch.no_grad():
            pred = model((lr - 0.5) / 0.5, make_coord((size, size)).expand(images, -1, -1), make_cell((size, size), images))
        sr = (pred * 0.5 + 0.5).clamp(0, 1).permute(0, 2, 1).reshape(images, 3, size, size)
        bilinear = F.interpolate(lr, size=(size, size), mode="bilinear", align_corners=False).clamp(0, 1)
        gains[s] = _psnr(sr, hr) - _psnr(bilinear, hr)
    return gains


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


def require_msit(model: nn.Module) -> None:
    """:class:`CheckFailed` unless ``model`` is an MSIT whose MSNO and MSSA are present and multi-scale."""
    from msit_lite.models import MSIT
    from msit_lite.models.msno import MSNO
    from msit_lite.models.mssa import MSSA, MultiScaleProjection

    if not isinstance(model, MSIT):
        raise CheckFailed(f"{CONFIG_FILE} builds a {type(model).__name__}, not an MSIT: A6 asks for a lighter MSIT, "
                          f"whose MSNO and MSSA are what the paper contributes (notebook introduction)")
    if not isinstance(model.msno, MSNO):
        raise CheckFailed(f"the model's msno is a {type(model.msno).__name__}, not an MSNO (msno: none?): the "
                          f"multi-scale neural operator is part of the assignment (notebook introduction)")
    if len(model.msno.msc.convs) < 2:
        raise CheckFailed("MSNO has a single MSC branch: one kernel size is not multi-scale (paper Eq. 5; notebook 04)")
    if not isinstance(model.attention, MSSA):
        raise CheckFailed(f"the model's attention is a {type(model.attention).__name__}, not MSSA (attention: sa?): "
                          f"the multi-scale self-attention is part of the assignment (notebook introduction)")
    q_proj = model.attention.q_proj
    if not isinstance(q_proj, MultiScaleProjection) or len(q_proj.convs) < 2:
        raise CheckFailed("MSSA's Q projection has a single scale: not multi-scale (paper Eq. 9; notebook 05)")


def check_is_msit(module: ModuleType) -> None:
    require_msit(build_student_model(module))


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
                          f"{ratio:.0%} of MSIT-lite's {ref / 1e9:.2f}; the budget is {FLOP_RATIO:.0%} -- see where "
                          f"the operations of one HR pixel go (notebook section 1)")


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


def check_beats_bilinear(module: ModuleType) -> None:
    model = build_student_model(module)
    require_msit(model)
    if not any(p.requires_grad for p in model.parameters()):
        raise CheckFailed("your model has no trainable parameters")
    first, last = train_budget(model)
    if not last < 0.99 * first:
        raise CheckFailed(f"in {QUALITY_STEPS} Adam steps (lr {QUALITY_LR:g}) the L1 loss on a fixed batch did not fall "
                          f"({first:.4f} -> {last:.4f}): nothing between the parameters and the output seems to learn -- "
                          f"a detach, a frozen or dead piece? (notebook section 4)")
    gains = psnr_gain(model)
    mean = sum(gains.values()) / len(gains)
    if mean >= QUALITY_MARGIN_DB:
        return
    per_scale = ", ".join(f"{g:+.2f} dB at x{s}" for s, g in gains.items())
    raise CheckFailed(f"after {QUALITY_STEPS} Adam steps your model is {per_scale} over bilinear upsampling "
                      f"(mean {mean:+.2f} dB); the bar is {QUALITY_MARGIN_DB:+.2f} dB: it learns (loss {first:.4f} -> "
                      f"{last:.4f}) but too little within the budget -- look at where its capacity went "
                      f"(notebook sections 1 and 4)")


ASSIGNMENT = Assignment(
    id="A6",
    title="a lighter MSIT for mobile devices (parameter, FLOP and CPU-time budget)",
    student_file=STUDENT_FILE,
    notebook="A6_mobile.ipynb",
    checks=(
        Check("a6_mobile.yaml builds through the registry and runs", check_builds),
        Check("the model is an MSIT with a multi-scale MSNO and MSSA", check_is_msit),
        Check(f"parameters <= {PARAM_BUDGET:,}", check_params),
        Check(f"FLOPs <= {FLOP_RATIO:.0%} of MSIT-lite (x{SCALE} upscale)", check_flops),
        Check(f"CPU time <= {TIME_RATIO:.0%} of MSIT-lite (1 thread, same process)", check_time),
        Check("upscales to arbitrary scales (x1.5, x2.3, x3.7)", check_arbitrary_scale),
        Check(f"beats bilinear by >= {QUALITY_MARGIN_DB} dB after {QUALITY_STEPS} training steps", check_beats_bilinear),
    ),
    extra_files=(CONFIG_FILE,),
)
