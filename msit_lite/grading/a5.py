r"""A5 -- a Local Attribution Map for a module of the student's own (paper §IV-C, Fig. 8).

The student writes ``a5_lam.py``: LAM's progressive-blur path, the path-integrated gradient, the
Diffusion Index, and a small parameter-free module (``fem: a5-cross-shift``) that the LAM is then
run on (``a5_lam.yaml``). The reference is :mod:`msit_lite.viz.lam`.

What the checks pin down, and why:

* **the path**: ``λ(α) = blur_{σ(1−α)}(x)``, right-end points, increments that telescope to
  ``x − x'`` -- compared with :func:`msit_lite.viz.lam.blur_path`;
* **completeness on analytic objectives**, where the exact answer is known: for a linear ``F``
  the attribution is ``w ⊙ (x − x')`` exactly; for ``F = Σx²`` with right-end points the gap
  ``ΣA − (F(x) − F(x'))`` is exactly ``Σ_i Σ Δ_i²`` (each step overshoots by ``Δ²``);
* **agreement with** :func:`msit_lite.viz.lam.lam` on a tiny MSIT (few steps, small image);
* **the Diffusion Index**: equal to the package's, 100 for a flat map, ``100/n`` for one spike;
* **the module**: registered, parameter-free, shape-preserving, and its declared
  ``receptive_radius`` equals what a gradient probe measures (tiled inference relies on it);
* **LAM on the module**: a finite, non-zero attribution whose completeness gap is small.

The package holds the answer (``msit_lite.viz.lam``), so the student's file must not use it: the
shared :func:`msit_lite.grading.a1.reference_uses` reads it for imports and calls of ``blur_path``,
``path_integrated_gradients``, ``lam``, ``diffusion_index``, ``heat_map``, ``gini`` (the helpers
``blur``, ``Window``, ``WindowObjective`` stay allowed), and the path is also checked with a
``blur_fn`` of the grader's -- a path the package's ``blur_path`` cannot produce.

Everything runs on images of at most 20×20 pixels with ≤ 8 path steps: well under a second each.
"""
from __future__ import annotations

from types import ModuleType

import torch
from torch import Tensor, nn

from msit_lite.errors import MsitError
from msit_lite.grading.a1 import forbid_reference
from msit_lite.grading.core import Assignment, Check, CheckFailed, extra_file, max_error, need, need_tensor

STUDENT_FILE = "a5_lam.py"
CONFIG_FILE = "a5_lam.yaml"

#: The tiny MSIT used to compare with the package's LAM (random weights, seed 0 in every check).
TINY_MSIT = {
    "name": "msit",
    "args": {
        "encoder": {"name": "edsr-baseline", "args": {"n_resblocks": 1, "n_feats": 16}},
        "dim": 16, "heads": 2, "radius": 1, "conv": "plain",
        "msno": {"name": "msno", "args": {"branches": 2, "fem": "official", "merge": "sim"}},
        "attention": {"name": "mssa", "args": {"projections": 2, "enc_dims": 16}},
        "decoder": {"name": "mlp", "args": {"hidden_list": [32]}},
    },
}


_LAM_ANSWERS = {"blur_path", "path_integrated_gradients", "lam", "integrated_gradients", "diffusion_index", "gini",
                "heat_map", "LamResult"}
#: The package's answers to A5 (module -> names); ``blur``, ``Window`` and ``WindowObjective`` are allowed.
A5_REFERENCE: dict[str, set[str]] = {
    "msit_lite.viz.lam": _LAM_ANSWERS,
    "msit_lite.viz": _LAM_ANSWERS,
    "msit_lite.grading": {"*"},
}


def _no_reference(module: ModuleType) -> None:
    forbid_reference(module, A5_REFERENCE, "LAM (msit_lite.viz.lam)", "notebook sections 2-5")


def fade(img: Tensor, sigma: float, size: int = 9) -> Tensor:  # noqa: ARG001 (the signature of blur)
    """A path the package's ``blur_path`` cannot make: fade towards the image's mean colour
    (``sigma`` = 0: the image itself; ``sigma`` = 1.2: 60 % of the way to a flat image)."""
    return img + (sigma / 2.0) * (img.mean(dim=(-2, -1), keepdim=True) - img)


def _path_with(blur_fn, img: Tensor, sigma: float, steps: int, size: int) -> tuple[Tensor, Tensor]:
    """Right-end points and increments of the path λ(α) = blur_fn(img, σ(1 − α), size)."""
    ends = torch.stack([blur_fn(img, sigma * (1 - i / steps), size) for i in range(steps + 1)])
    return ends[1:], ends[1:] - ends[:-1]


def _smooth_image(h: int = 16, w: int = 16) -> Tensor:
    """A textured but smooth test image ``[3, h, w]`` in [0, 1] (edges for the objective to explain)."""
    y = torch.linspace(0, 1, h).view(h, 1)
    x = torch.linspace(0, 1, w).view(1, w)
    base = torch.stack([torch.sin(7 * x + 3 * y), torch.cos(5 * y - 4 * x), torch.sin(9 * x * y + 1)])
    return (0.5 + 0.35 * base + 0.05 * torch.rand(3, h, w)).clamp(0, 1)


def _path(module: ModuleType, img: Tensor, sigma: float, steps: int, size: int, **kw) -> tuple[Tensor, Tensor]:
    try:
        out = need(module, "blur_path")(img, sigma, steps, size, **kw)
    except TypeError as e:
        if kw and "blur_fn" in str(e):
            raise CheckFailed(f"blur_path(..., blur_fn=...) failed ({e}): blur_path takes the blur as its blur_fn "
                              f"argument (the stub's signature)") from None
        raise
    if not isinstance(out, tuple) or len(out) != 2:
        raise CheckFailed(f"blur_path should return a tuple (points, deltas), got {type(out).__name__}")
    shape = (steps, *img.shape)
    points = need_tensor(out[0], "blur_path(...)[0] (points)", shape)
    deltas = need_tensor(out[1], "blur_path(...)[1] (deltas)", shape)
    return points, deltas


def _pig(module: ModuleType, objective, points: Tensor, deltas: Tensor) -> Tensor:
    attr = need(module, "path_integrated_gradients")(objective, points, deltas)
    return need_tensor(attr, "path_integrated_gradients(...)", tuple(points.shape[1:]))


# ---------------------------------------------------------------------------------------------
# The checks
# ---------------------------------------------------------------------------------------------
def check_path(module: ModuleType) -> None:
    from msit_lite.viz.lam import blur, blur_path

    _no_reference(module)
    img = torch.rand(3, 12, 14)
    sigma, steps, size = 1.2, 5, 5
    points, deltas = _path(module, img, sigma, steps, size)
    err_end = max_error(points[-1], img)
    if err_end > 1e-5:
        raise CheckFailed(f"points[-1] should be the input itself (α = 1, σ = 0: LAM's right-end rule), "
                          f"max difference {err_end:.2e} (notebook section 2)")
    telescoped = max_error(deltas.sum(0), img - blur(img, sigma, size))
    if telescoped > 1e-5:
        raise CheckFailed(f"the increments should add up to x − blur(x, σ) (they telescope); max error "
                          f"{telescoped:.2e} (notebook section 2)")
    ref_points, ref_deltas = blur_path(img, sigma, steps, size, rule="right")
    err = max(max_error(points, ref_points), max_error(deltas, ref_deltas))
    if err > 1e-5:
        raise CheckFailed(f"your path differs from LAM's (msit_lite.viz.lam.blur_path) by max {err:.2e}: compare "
                          f"your σ(α) and α_i with notebook section 2")
    points, deltas = _path(module, img, sigma, steps, size, blur_fn=fade)
    want_points, want_deltas = _path_with(fade, img, sigma, steps, size)
    err = max(max_error(points, want_points), max_error(deltas, want_deltas))
    if err > 1e-5:
        raise CheckFailed(f"with blur_fn= another degradation (a fade to the mean colour) your path differs from "
                          f"λ(α) = blur_fn(x, σ(1 − α)) by max {err:.2e}: the path must be built with the blur_fn it "
                          f"is given (notebook section 2)")


def check_completeness(module: ModuleType) -> None:
    from msit_lite.viz.lam import blur, blur_path

    _no_reference(module)
    img = torch.rand(3, 10, 10)
    points, deltas = blur_path(img, 1.2, 6, 5, rule="right")
    baseline = blur(img, 1.2, 5)
    w = torch.randn(3, 10, 10)
    linear = lambda b: (b * w).sum(dim=(1, 2, 3))  # noqa: E731
    attr = _pig(module, linear, points, deltas)
    err = max_error(attr, w * (img - baseline))
    if err > 1e-5:
        total = float(attr.double().sum())
        change = float(linear(img[None]) - linear(baseline[None]))
        raise CheckFailed(f"for the linear objective F(x) = Σ w·x the attribution must be w ⊙ (x − x') exactly; "
                          f"max error {err:.2e} (ΣA = {total:.4f}, F(x) − F(x') = {change:.4f}) (notebook section 3)")
    square = lambda b: b.square().sum(dim=(1, 2, 3))  # noqa: E731
    attr = _pig(module, square, points, deltas)
    gap = float(attr.double().sum()) - float((img.double() ** 2).sum() - (baseline.double() ** 2).sum())
    expected = float((deltas.double() ** 2).sum())  # right-end rule: every step overshoots by Δ²
    if abs(gap - expected) > 1e-4 * max(1.0, abs(expected)):
        raise CheckFailed(f"for F(x) = Σ x² the completeness gap ΣA − (F(x) − F(x')) should be exactly Σ Δ² = "
                          f"{expected:.4f} with gradients at the given points; got {gap:.4f}: which gradient is paired "
                          f"with which increment? (notebook section 3)")


def check_agrees_with_lam(module: ModuleType) -> None:
    from msit_lite.models import make
    from msit_lite.viz.lam import Window, WindowObjective, lam, path_integrated_gradients

    _no_reference(module)
    model = make(TINY_MSIT, "model").eval()
    img = _smooth_image(16, 16)
    window = Window(top=10, left=12, size=8)
    ref = lam(model, img, window, scale=2, sigma=1.2, steps=4, kernel_size=5).attribution
    got = need(module, "attribute")(model, img, window, 2, sigma=1.2, steps=4, size=5)
    got = need_tensor(got, "attribute(...)", tuple(ref.shape))
    err, peak = max_error(got, ref), float(ref.abs().max())
    if err > 1e-4 * peak + 1e-6:
        raise CheckFailed(f"attribute() differs from msit_lite.viz.lam.lam on a tiny MSIT by max {err:.2e} "
                          f"(largest attribution {peak:.2e}) (notebook section 4)")
    # the same with a path the package's lam() cannot take
    try:
        got = need(module, "attribute")(model, img, window, 2, sigma=1.2, steps=4, size=5, blur_fn=fade)
    except TypeError as e:
        if "blur_fn" in str(e):
            raise CheckFailed(f"attribute(..., blur_fn=...) failed ({e}): attribute passes its blur_fn on to the path "
                              f"(the stub's signature)") from None
        raise
    points, deltas = _path_with(fade, img, 1.2, 4, 5)
    want = path_integrated_gradients(WindowObjective(model, (32, 32), window), points, deltas)
    err, peak = max_error(need_tensor(got, "attribute(..., blur_fn=fade)", tuple(want.shape)), want), float(want.abs().max())
    if err > 1e-4 * peak + 1e-6:
        raise CheckFailed(f"attribute(..., blur_fn=another degradation) differs from the integrated gradient along that "
                          f"path by max {err:.2e} (largest attribution {peak:.2e}): is blur_fn passed on to your path? "
                          f"(notebook section 4)")


def check_diffusion_index(module: ModuleType) -> None:
    from msit_lite.viz.lam import diffusion_index, heat_map

    _no_reference(module)
    di_fn = need(module, "diffusion_index")

    def di(a: Tensor) -> float:
        value = di_fn(a)
        try:
            return float(value)
        except (TypeError, ValueError):
            raise CheckFailed(f"diffusion_index should return a number, got {type(value).__name__}") from None

    flat = torch.ones(3, 6, 6)
    if abs(di(flat) - 100.0) > 1e-6:
        raise CheckFailed(f"a flat attribution spreads over every pixel: DI should be 100, got {di(flat):.4f}")
    spike = torch.zeros(3, 5, 8)
    spike[:, 2, 3] = torch.tensor([0.5, -0.2, 1.0])
    if abs(di(spike) - 100.0 / 40) > 1e-6:
        raise CheckFailed(f"one non-zero pixel of 40: Gini = (n−1)/n so DI = 100/40 = 2.5, got {di(spike):.4f}")
    cancel = torch.zeros(3, 4, 4)
    cancel[0], cancel[1] = torch.rand(4, 4), 0.0
    cancel[0, 0, 0], cancel[1, 0, 0] = 1.0, -1.0  # channels cancel at (0, 0): heat = |Σ_c A_c| = 0 there
    for a in (torch.randn(3, 9, 7), torch.rand(3, 12, 12) ** 6, cancel):
        got, want = di(a), diffusion_index(heat_map(a))
        if not 0.0 <= got <= 100.0:
            raise CheckFailed(f"DI must lie in [0, 100], got {got:.4f}")
        if abs(got - want) > 1e-6:
            raise CheckFailed(f"your DI {got:.4f} differs from msit_lite.viz.lam's {want:.4f}: look at how the heat map "
                              f"combines the colour channels and the absolute value (notebook section 5)")


def _build_module(module: ModuleType, channels: int = 16, **kw) -> nn.Module:
    from msit_lite.models import lookup, names

    name = need(module, "FEM_NAME", "constant")
    if name not in names("fem"):
        raise CheckFailed(f"no fem named {name!r} is registered: the @register line of the stub above CrossShift is "
                          f"missing or changed (notebook section 6)")
    built = lookup("fem", name)(channels=channels, **kw)
    if not isinstance(built, nn.Module):
        raise CheckFailed(f"the fem builder returned {type(built).__name__}; expected an nn.Module")
    return built


def check_module(module: ModuleType) -> None:
    shift = _build_module(module, 16, stride=2)
    n_params = sum(p.numel() for p in shift.parameters())
    if n_params:
        raise CheckFailed(f"your module has {n_params} parameters; it must be parameter-free so that it can replace "
                          f"FEM in a trained model without retraining (notebook section 6)")
    x = torch.zeros(1, 16, 17, 17, requires_grad=True)
    y = need_tensor(shift(x), "your module(x)", (1, 16, 17, 17))
    (grad,) = torch.autograd.grad(y[0, :, 8, 8].sum(), x, allow_unused=True)
    if grad is None or not bool((grad != 0).any()):
        raise CheckFailed("the output at a pixel does not depend on the input at all -- is forward a shift of x?")
    ys, xs = torch.nonzero(grad[0].abs().sum(0), as_tuple=True)
    reach = int(torch.maximum((ys - 8).abs(), (xs - 8).abs()).max())
    declared = getattr(shift, "receptive_radius", None)
    if declared != reach:
        raise CheckFailed(f"an output pixel of your module looks {reach} pixels away but receptive_radius says "
                          f"{declared!r} -- tiled inference pads by receptive_radius, so it must be the true reach")
    if reach == 0:
        raise CheckFailed("your module does not move anything: an output pixel depends only on the same input pixel "
                          "(notebook section 6)")


def check_lam_on_module(module: ModuleType) -> None:
    from msit_lite.config import build_model, load_config
    from msit_lite.viz.lam import Window, WindowObjective, blur

    _no_reference(module)
    path = extra_file(module, CONFIG_FILE)
    try:
        model = build_model(load_config(path)).eval()
    except MsitError as e:
        raise CheckFailed(f"{CONFIG_FILE}: {e}") from None
    cls = need(module, "CrossShift", "class")
    if not any(isinstance(m, cls) for m in model.modules()):
        raise CheckFailed(f"the model of {CONFIG_FILE} does not contain your CrossShift: look at which fem its msno "
                          f"selects (notebook section 6)")
    img = _smooth_image(20, 20)
    window = Window(top=14, left=14, size=10)
    steps = 8
    attr = need(module, "attribute")(model, img, window, 2, sigma=1.2, steps=steps, size=5)
    attr = need_tensor(attr, "attribute(...)", (3, 20, 20))
    if not bool(torch.isfinite(attr).all()) or float(attr.abs().max()) == 0.0:
        raise CheckFailed("the attribution on your module's MSIT is not finite or all zero")
    di = float(need(module, "diffusion_index")(attr))
    if not 0.0 <= di <= 100.0:
        raise CheckFailed(f"the Diffusion Index on your module's MSIT is {di:.2f}, outside [0, 100]")
    objective = WindowObjective(model, (40, 40), window)
    with torch.no_grad():
        change = float(objective(img[None]) - objective(blur(img, 1.2, 5)[None]))
    gap = abs(float(attr.double().sum()) - change) / max(abs(change), 1e-12)
    if gap > 0.25:
        raise CheckFailed(f"completeness: ΣA differs from F(x) − F(x') = {change:.4f} by {gap:.0%} with {steps} "
                          f"steps (expected a few %): are the path and the gradient consistent?")


ASSIGNMENT = Assignment(
    id="A5",
    title="a Local Attribution Map for a module of your own (LAM, Fig. 8)",
    student_file=STUDENT_FILE,
    notebook="A5_lam.ipynb",
    checks=(
        Check("blur path: right-end points, increments telescope, = LAM's path, any blur_fn", check_path),
        Check("completeness on analytic objectives (linear: exact; Σx²: gap = ΣΔ²)", check_completeness),
        Check("attribute() agrees with msit_lite.viz.lam on a tiny MSIT", check_agrees_with_lam),
        Check("Diffusion Index: in [0, 100], flat = 100, spike = 100/n, = the package's", check_diffusion_index),
        Check("your module: registered, parameter-free, honest receptive_radius", check_module),
        Check("LAM on an MSIT with your module (a5_lam.yaml): finite, complete", check_lam_on_module),
    ),
    extra_files=(CONFIG_FILE,),
)
