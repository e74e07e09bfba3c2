r"""A7 -- a FEM whose shift stride really learns (paper §III-B(a); notebook 03 §4).

The paper: "FEM has a learnable shift stride size". The official code makes the stride an
``nn.Parameter`` and then reads it as ``int(mix_margin.item())``: the graph is cut, the stride never
gets a gradient (notebook 03 §4). The student writes

* ``fractional_roll(x, shift, dim)`` -- a shift by a *real* number of pixels with wrap-around, linear
  interpolation between the two neighbouring integer shifts, differentiable in ``shift``;
* ``shift2d(x, dy, dx)`` -- the same along both axes (bilinear);
* ``LearnableFEM`` (``fem: a7-learnable``) -- the paper's eight contiguous channel groups and
  directions, shifted by ``stride · (dy, dx)`` with ``stride`` the module's only trainable parameter.

What the checks pin down: integer shifts equal ``torch.roll``; fractional shifts equal the
interpolation (computed here by index arithmetic, not with rolls); the gradient with respect to the
shift exists and equals the analytic one; at integer strides the module equals the package's
``FEM(mode="paper")``; in a tiny MSIT (``a7_learnable_stride.yaml``) the stride receives a non-zero
gradient; and 100 Adam steps from a stride of 1.3 towards data shifted by 2 end near 2. A file that
delegates to the package's FEM fails (:func:`msit_lite.grading.a1.reference_uses`); so does the
official ``int(... .item())`` and any other way of cutting the graph, each with a hint.
"""
from __future__ import annotations

import math
from types import ModuleType

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from msit_lite.grading.a1 import A1_REFERENCE, forbid_reference
from msit_lite.grading.core import Assignment, Check, CheckFailed, extra_file, max_error, need, need_tensor

STUDENT_FILE = "a7_learnable_stride.py"
CONFIG_FILE = "a7_learnable_stride.yaml"
FEM_NAME = "a7-learnable"
TOL = 1e-5
#: The paper's directions as content displacements (dy, dx), in the paper's order.
PAPER_MOVES = ((-1, 0), (-1, -1), (-1, 1), (1, 0), (1, -1), (1, 1), (0, -1), (0, 1))
LEARN_START, LEARN_TARGET, LEARN_STEPS, LEARN_LR, LEARN_TOL = 1.3, 2, 100, 0.05, 0.1


def _no_reference(module: ModuleType) -> None:
    forbid_reference(module, A1_REFERENCE, "FEM (msit_lite.models.fem)", "notebook sections 2-4", registry_kinds=("fem",))


# ---------------------------------------------------------------------------------------------
# The grader's own reference: interpolation by index arithmetic
# ---------------------------------------------------------------------------------------------
def interpolated_roll(x: Tensor, shift: float, dim: int) -> Tensor:
    """out[i] = (1 − f)·x[(i − k) mod n] + f·x[(i − k − 1) mod n], k = ⌊shift⌋, f = shift − k."""
    n = x.shape[dim]
    k = math.floor(shift)
    f = shift - k
    i = torch.arange(n)
    near = x.index_select(dim, (i - k) % n)
    far = x.index_select(dim, (i - k - 1) % n)
    return (1 - f) * near + f * far


def interpolated_shift2d(x: Tensor, dy: float, dx: float) -> Tensor:
    return interpolated_roll(interpolated_roll(x, dy, -2), dx, -1)


def expected_fem(z: Tensor, stride: float) -> Tensor:
    groups = z.chunk(8, dim=1)
    return torch.cat([interpolated_shift2d(g, dy * stride, dx * stride) for g, (dy, dx) in zip(groups, PAPER_MOVES)], 1)


# ---------------------------------------------------------------------------------------------
# The checks
# ---------------------------------------------------------------------------------------------
def _roll(module: ModuleType, x: Tensor, shift: float, dim: int, grad: bool = False) -> tuple[Tensor, Tensor]:
    s = torch.tensor(float(shift), requires_grad=grad)
    out = need(module, "fractional_roll")(x, s, dim)
    return need_tensor(out, f"fractional_roll(x, {shift}, dim={dim})", tuple(x.shape)), s


def check_integer_shifts(module: ModuleType) -> None:
    _no_reference(module)
    x = torch.randn(2, 3, 5, 7)
    for dim in (-1, -2):
        for k in (0, 1, 2, -1, -3, 9):
            got, _ = _roll(module, x, k, dim)
            if max_error(got, torch.roll(x, k, dims=dim)) < TOL:
                continue
            hint = f"fractional_roll(x, {k}.0, dim={dim}) differs from torch.roll(x, {k}, dims={dim})"
            if max_error(got, torch.roll(x, -k, dims=dim)) < TOL:
                hint += ": your content moves the opposite way (torch.roll's convention; notebook section 1)"
            raise CheckFailed(hint + " -- an integer shift is a plain roll (notebook section 1)")


def check_fractional_shifts(module: ModuleType) -> None:
    _no_reference(module)
    x = torch.randn(2, 3, 6, 9)
    for dim in (-1, -2):
        for s in (0.25, 1.5, 2.6, -0.75, -2.3):
            got, _ = _roll(module, x, s, dim)
            want = interpolated_roll(x, s, dim)
            err = max_error(got, want)
            if err < TOL:
                continue
            call = f"fractional_roll(x, {s}, dim={dim})"
            k, f = math.floor(s), s - math.floor(s)
            if max_error(got, torch.roll(x, round(s), dims=dim)) < TOL or max_error(got, torch.roll(x, k, dims=dim)) < TOL \
                    or max_error(got, torch.roll(x, int(s), dims=dim)) < TOL:
                raise CheckFailed(f"{call} equals a shift by a whole number of pixels: the fraction is lost "
                                  f"(notebook section 2)")
            if max_error(got, f * torch.roll(x, k, dims=dim) + (1 - f) * torch.roll(x, k + 1, dims=dim)) < TOL:
                raise CheckFailed(f"{call}: the two interpolation weights are swapped -- which integer shift is the "
                                  f"shift of {s} closer to? (notebook section 2)")
            if s < 0 and all(max_error(_roll(module, x, t, dim)[0], interpolated_roll(x, t, dim)) < TOL for t in (0.25, 1.5)):
                raise CheckFailed(f"{call} is wrong (max error {err:.3g}) although positive fractional shifts are right: "
                                  f"look at how the integer part of a negative number is taken (notebook section 2)")
            raise CheckFailed(f"{call} differs from the linear interpolation between the two neighbouring integer "
                              f"shifts by up to {err:.3g} (notebook section 2)")


def check_gradient(module: ModuleType) -> None:
    _no_reference(module)
    x = torch.randn(2, 3, 6, 9)
    w = torch.randn(2, 3, 6, 9)
    for s in (1.3, -0.6, 2.0):
        out, shift = _roll(module, x, s, -1, grad=True)
        if not out.requires_grad:
            raise CheckFailed(f"fractional_roll(x, shift={s} with requires_grad) returns a tensor without a graph: the "
                              f"shift leaves autograd somewhere (.item(), int(), float(), round, a detach) -- the very "
                              f"bug of the official FEM (notebook 03 §4; notebook section 3)")
        (out * w).sum().backward()
        grad = shift.grad
        k = math.floor(s)
        want = float((w * (torch.roll(x, k + 1, dims=-1) - torch.roll(x, k, dims=-1))).sum())
        if grad is None:
            raise CheckFailed(f"no gradient reaches the shift (shift.grad is None for shift = {s}): it leaves autograd "
                              f"somewhere -- the official FEM's bug (notebook 03 §4; notebook section 3)")
        if float(grad) == 0.0 and want != 0.0:
            raise CheckFailed(f"the gradient with respect to the shift is exactly 0 (shift = {s}, expected {want:.4f}): "
                              f"the shift only enters through an integer, whose derivative is 0 (notebook section 3)")
        if abs(float(grad) - want) > 1e-4 * max(1.0, abs(want)):
            raise CheckFailed(f"d/d(shift) of Σ w·fractional_roll(x, shift) at shift = {s} is {float(grad):.5f}; the "
                              f"interpolation's derivative is {want:.5f} (notebook section 3)")


def check_shift2d(module: ModuleType) -> None:
    _no_reference(module)
    shift2d = need(module, "shift2d")
    x = torch.randn(1, 4, 7, 8)
    for dy, dx in ((1, -2), (-3, 0), (2, 5)):
        got = need_tensor(shift2d(x, torch.tensor(float(dy)), torch.tensor(float(dx))), f"shift2d(x, {dy}, {dx})", tuple(x.shape))
        if max_error(got, torch.roll(x, (dy, dx), dims=(-2, -1))) >= TOL:
            swapped = max_error(got, torch.roll(x, (dx, dy), dims=(-2, -1))) < TOL
            raise CheckFailed(f"shift2d(x, dy={dy}, dx={dx}) is not the roll by ({dy}, {dx}) along (H, W)"
                              + (": dy and dx are swapped" if swapped else "") + " (notebook section 4)")
    dy, dx = torch.tensor(0.4, requires_grad=True), torch.tensor(-1.7, requires_grad=True)
    got = need_tensor(shift2d(x, dy, dx), "shift2d(x, 0.4, -1.7)", tuple(x.shape))
    err = max_error(got, interpolated_shift2d(x, 0.4, -1.7))
    if err >= TOL:
        raise CheckFailed(f"shift2d(x, 0.4, -1.7) differs from the bilinear shift by up to {err:.3g} (notebook section 4)")
    if not got.requires_grad:
        raise CheckFailed("shift2d(x, dy, dx) with dy, dx requiring grad returns a tensor without a graph: the shifts "
                          "leave autograd somewhere (notebook section 4)")
    (got * torch.randn_like(got)).sum().backward()  # a plain sum is the same for every shift: weight it
    if dy.grad is None or dx.grad is None:
        raise CheckFailed("shift2d does not pass a gradient to both dy and dx (notebook section 4)")


def _student_fem(module: ModuleType, **args: object) -> nn.Module:
    from msit_lite.models import make, names

    if FEM_NAME not in names("fem"):
        raise CheckFailed(f"no FEM registered as {FEM_NAME!r} (registered: {', '.join(names('fem'))}): the @register line "
                          f"of the stub above LearnableFEM is missing or changed (notebook section 5)")
    fem = make({"name": FEM_NAME, "args": args}, "fem", channels=16)
    if not isinstance(fem, nn.Module):
        raise CheckFailed(f"building fem {FEM_NAME!r} gave a {type(fem).__name__}; expected an nn.Module")
    return fem


def check_module(module: ModuleType) -> None:
    from msit_lite.models.fem import FEM

    _no_reference(module)
    fem = _student_fem(module, stride=1.0)
    params = [(n, p) for n, p in fem.named_parameters() if p.requires_grad]
    if len(params) != 1 or params[0][0] != "stride" or params[0][1].numel() != 1:
        got = ", ".join(f"{n} {list(p.shape)}" for n, p in params) or "none"
        raise CheckFailed(f"LearnableFEM should have exactly one trainable parameter, the scalar `stride`; it has: {got} "
                          f"(notebook section 5)")
    z = torch.randn(2, 16, 6, 7)
    for stride in (1, 2):
        fem = _student_fem(module, stride=float(stride))
        err = max_error(need_tensor(fem(z), f"LearnableFEM(16, stride={stride})(z)", tuple(z.shape)),
                        FEM(16, mix_margin=stride, mode="paper")(z))
        if err >= TOL:
            raise CheckFailed(f"at the integer stride {stride}, LearnableFEM differs from the paper's FEM (8 contiguous "
                              f"groups in the paper's order) by up to {err:.3g} (notebook section 5)")
    fem = _student_fem(module, stride=1.5)
    with torch.no_grad():
        err = max_error(need_tensor(fem(z), "LearnableFEM(16, stride=1.5)(z)", tuple(z.shape)), expected_fem(z, 1.5))
    if err >= TOL:
        raise CheckFailed(f"at stride 1.5, LearnableFEM differs from the eight groups shifted by 1.5·(dy, dx) (bilinear) "
                          f"by up to {err:.3g} (notebook section 5)")
    probe = torch.zeros(1, 16, 15, 15, requires_grad=True)
    fem(probe)[0, :, 7, 7].sum().backward()
    ys, xs = torch.nonzero(probe.grad[0].abs().sum(0), as_tuple=True)
    reach = int(torch.maximum((ys - 7).abs(), (xs - 7).abs()).max())
    declared = getattr(fem, "receptive_radius", None)
    if not isinstance(declared, int) or declared < reach:
        raise CheckFailed(f"at stride 1.5 an output pixel reads pixels {reach} away, but receptive_radius says {declared!r}: "
                          f"tiled inference pads each tile by it, so it must be at least the true reach (notebook section 5)")


def check_gradient_in_msit(module: ModuleType) -> None:
    from msit_lite.config import build_model, load_config
    from msit_lite.errors import MsitError

    _no_reference(module)
    _student_fem(module)
    try:
        model = build_model(load_config(extra_file(module, CONFIG_FILE)))
    except MsitError as e:
        raise CheckFailed(f"{CONFIG_FILE}: {e}") from None
    fem = model.msno.fem
    if type(fem).__module__ != module.__name__:
        raise CheckFailed(f"the model of {CONFIG_FILE} uses {type(fem).__name__} from {type(fem).__module__}, not your "
                          f"LearnableFEM (registered as {FEM_NAME!r}): look at model.args.msno.args.fem in the YAML")
    lr, coord, cell = torch.rand(1, 3, 8, 9), torch.rand(1, 20, 2) * 2 - 1, torch.full((1, 2), 0.1)
    out = need_tensor(model(lr, coord, cell), "the tiny MSIT", (1, 20, 3))
    out.square().mean().backward()
    grad = getattr(fem, "stride", None)
    grad = grad.grad if isinstance(grad, Tensor) else None
    if grad is None or float(grad.abs()) == 0.0:
        raise CheckFailed(f"in the tiny MSIT of {CONFIG_FILE} the loss's gradient does not reach msno.fem.stride "
                          f"(grad = {grad}): the stride must stay inside the autograd graph all the way (notebook section 6)")


def check_learns(module: ModuleType) -> None:
    from msit_lite.models.fem import FEM

    _no_reference(module)
    fem = _student_fem(module, stride=LEARN_START)
    z = torch.randn(2, 16, 12, 12)
    target = FEM(16, mix_margin=LEARN_TARGET, mode="paper")(z)
    params = [p for p in fem.parameters() if p.requires_grad]
    if not params:
        raise CheckFailed("LearnableFEM has no trainable parameter: nothing can learn (notebook section 5)")
    opt = torch.optim.Adam(params, lr=LEARN_LR)
    for _ in range(LEARN_STEPS):
        loss = F.mse_loss(fem(z), target)
        opt.zero_grad()
        loss.backward()
        opt.step()
    stride = getattr(fem, "stride", None)
    if not isinstance(stride, Tensor):
        raise CheckFailed("LearnableFEM has no tensor attribute `stride` (the stub's name for the parameter)")
    end = float(stride.detach())
    if abs(end - LEARN_TARGET) > LEARN_TOL:
        raise CheckFailed(f"{LEARN_STEPS} Adam steps (lr {LEARN_LR}) from stride {LEARN_START} towards data shifted by "
                          f"{LEARN_TARGET} ended at stride {end:.3f}: the stride does not learn (notebook section 6)")


ASSIGNMENT = Assignment(
    id="A7",
    title="a FEM whose shift stride really learns (fractional shifts)",
    student_file=STUDENT_FILE,
    notebook="A7_learnable_stride.ipynb",
    checks=(
        Check("integer shifts equal torch.roll", check_integer_shifts),
        Check("fractional shifts interpolate between the two neighbouring rolls", check_fractional_shifts),
        Check("the shift receives the right gradient", check_gradient),
        Check("shift2d: bilinear shift along both axes, with gradients", check_shift2d),
        Check("LearnableFEM: one trainable stride, = the paper's FEM at integer strides", check_module),
        Check("in a tiny MSIT (a7_learnable_stride.yaml) the stride gets a gradient", check_gradient_in_msit),
        Check(f"the stride learns: {LEARN_START} -> {LEARN_TARGET} in {LEARN_STEPS} Adam steps", check_learns),
    ),
    extra_files=(CONFIG_FILE,),
)
