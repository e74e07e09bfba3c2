"""A1 -- implement the FEM shift kernel (paper §III-B(a), Eqs. 2-3).

The student writes ``shift_mask`` (the [C, 1, 3, 3] depthwise kernel, the paper's reading: 8
contiguous channel groups, one direction each), ``fem_shift`` (Eq. 2: circular padding by the
stride + a dilated depthwise conv) and ``StudentFEM`` registered as ``fem: student-shift``.
Every check compares with :mod:`msit_lite.models.fem` (``mode="paper"``) on random inputs; the
two shift checks feed the *package's* masks to the student's ``fem_shift`` so that a wrong mask
does not also fail the shift checks.
"""
from __future__ import annotations

from types import ModuleType

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from msit_lite.grading.core import Assignment, Check, CheckFailed, extra_file, max_error, need, need_tensor
from msit_lite.models.fem import FEM, PAPER_DIRECTIONS, official_mask, paper_mask

FEM_NAME = "student-shift"
TOL = 1e-5

# tap (row, col) -> the direction the content moves
_TAP_TO_DIRECTION = {tap: name for name, tap in PAPER_DIRECTIONS}
_TAP_TO_DIRECTION[(1, 1)] = "nowhere (centre tap)"


def _taps(kernel: Tensor) -> list[tuple[int, int]]:
    return [(int(a), int(b)) for a, b in torch.nonzero(kernel.reshape(3, 3) != 0).tolist()]


def _describe(kernel: Tensor) -> str:
    taps = _taps(kernel)
    if len(taps) != 1:
        return f"{len(taps)} non-zero taps"
    return f"tap {taps[0]} (moves content {_TAP_TO_DIRECTION[taps[0]]})"


def check_mask_shape(module: ModuleType) -> None:
    shift_mask = need(module, "shift_mask")
    for channels in (8, 16):
        mask = need_tensor(shift_mask(channels), f"shift_mask({channels})", (channels, 1, 3, 3))
        if not mask.is_floating_point():
            raise CheckFailed(f"shift_mask({channels}) has dtype {mask.dtype}; use a float tensor (torch.zeros(...) is float)")
        values = set(torch.unique(mask).tolist())
        if not values <= {0.0, 1.0}:
            raise CheckFailed(f"shift_mask({channels}) holds values {sorted(values)[:5]}; a shift kernel holds only 0 and 1 (Eq. 3)")
        ones = mask.reshape(channels, 9).sum(1)
        bad = int(torch.nonzero(ones != 1)[0]) if bool((ones != 1).any()) else None
        if bad is not None:
            raise CheckFailed(
                f"shift_mask({channels}): channel {bad} has {int(ones[bad])} ones; every 3x3 kernel holds exactly one 1 (Eq. 3)"
            )


def check_mask_directions(module: ModuleType) -> None:
    shift_mask = need(module, "shift_mask")
    for channels in (8, 16, 32):
        got = need_tensor(shift_mask(channels), f"shift_mask({channels})", (channels, 1, 3, 3)).detach().float().cpu()
        want = paper_mask(channels)
        if torch.equal(got, want):
            continue
        part = channels // 8
        for c in range(channels):
            if not torch.equal(got[c], want[c]):
                g = c // part
                name, tap = PAPER_DIRECTIONS[g]
                hint = (
                    f"shift_mask({channels}): channel {c} is in group {g} (channels {g * part}-{(g + 1) * part - 1}), "
                    f"which should move its content {name} with a 1 at (row, col) {tap}; yours has {_describe(got[c])}."
                )
                if _taps(got[c]) and _taps(got[c])[0] == (2 - tap[0], 2 - tap[1]):
                    hint += " That is the opposite direction: a tap at (a, b) reads Z[y + (a-1)m, x + (b-1)m] (notebook section 2)."
                elif part > 1 and torch.equal(got[c], want[(c % 8) * part]):
                    hint += " The groups are contiguous blocks of C/8 channels, not channel index mod 8."
                raise CheckFailed(hint)


def _package_shift(z: Tensor, mask: Tensor, stride: int) -> Tensor:
    """Eq. 2 with the package's recipe, for any mask (so the official double-tap mask works too)."""
    x = F.pad(z, (stride,) * 4, mode="circular")
    return F.conv2d(x, mask, dilation=stride, groups=z.shape[1])


def _check_shift(module: ModuleType, stride: int, shapes: list[tuple[int, int, int, int]]) -> None:
    fem_shift = need(module, "fem_shift")
    for shape in shapes:
        channels = shape[1]
        z = torch.randn(shape)
        for label, mask in (("paper", paper_mask(channels)), ("official", official_mask(channels))):
            call = f"fem_shift(z of shape {list(shape)}, {label} mask, stride={stride})"
            want = _package_shift(z, mask, stride)
            got = fem_shift(z.clone(), mask.clone(), stride)
            got = need_tensor(got, call)
            if tuple(got.shape) != tuple(shape):
                raise CheckFailed(
                    f"{call} has shape {list(got.shape)}; expected {list(shape)} (the shape of z): "
                    f"pad by the stride ({stride}) on every side before the 3x3 conv"
                )
            err = max_error(got, want)
            if err < TOL:
                continue
            zero_pad = F.conv2d(z, mask, padding=stride, dilation=stride, groups=channels)
            flipped = _package_shift(z, mask.flip(-1, -2), stride)
            hint = f"{call} differs from Eq. 2 by up to {err:.3g}."
            if max_error(got, zero_pad) < TOL:
                hint += " It matches ZERO padding: the content must wrap around (circular padding, Eq. 2)."
            elif max_error(got, flipped) < TOL:
                hint += " It matches the mask flipped: the shifts go the opposite way (use F.conv2d, a cross-correlation)."
            elif stride > 1 and max_error(got, _package_shift(z, mask, 1)) < TOL:
                hint += " It matches stride 1: with stride m the taps are m pixels apart (dilation=m, padding m)."
            raise CheckFailed(hint)


def check_shift_stride1(module: ModuleType) -> None:
    _check_shift(module, 1, [(2, 16, 5, 7), (1, 8, 3, 4)])


def check_shift_stride2(module: ModuleType) -> None:
    _check_shift(module, 2, [(1, 8, 6, 9), (2, 16, 4, 5)])


def _student_fem(module: ModuleType, **args: object) -> nn.Module:
    from msit_lite.models import make, names

    if FEM_NAME not in names("fem"):
        raise CheckFailed(
            f"no FEM registered as {FEM_NAME!r} (registered: {', '.join(names('fem'))}); "
            f"keep the line @register(\"fem\", \"{FEM_NAME}\") above your class"
        )
    fem = make({"name": FEM_NAME, "args": args}, "fem", channels=16)
    if not isinstance(fem, nn.Module):
        raise CheckFailed(f"building fem {FEM_NAME!r} gave a {type(fem).__name__}; expected an nn.Module")
    return fem


def check_registered_module(module: ModuleType) -> None:
    for stride in (1, 2):
        fem = _student_fem(module, mix_margin=float(stride))
        trainable = sum(p.numel() for p in fem.parameters() if p.requires_grad)
        if trainable:
            raise CheckFailed(
                f"your FEM has {trainable} trainable parameters; FEM is parameter-free -- keep the mask in a buffer "
                "(self.register_buffer), not an nn.Parameter"
            )
        z = torch.randn(2, 16, 6, 5)
        got = need_tensor(fem(z), f"StudentFEM(16, mix_margin={stride})(z)", (2, 16, 6, 5))
        err = max_error(got, FEM(16, mix_margin=stride, mode="paper")(z))
        if err >= TOL:
            raise CheckFailed(
                f"StudentFEM(16, mix_margin={stride}) differs from the package's FEM (mode='paper') by up to {err:.3g}; "
                "forward should be fem_shift(x, your mask, int(mix_margin))"
            )


def check_tiny_msit(module: ModuleType) -> None:
    from msit_lite.config import build_model, load_config

    _student_fem(module)  # a clear hint if the registration is missing
    model = build_model(load_config(extra_file(module, "a1_fem_shift.yaml")))
    fem = model.msno.fem
    if type(fem).__module__ != module.__name__:
        raise CheckFailed(
            f"the model of a1_fem_shift.yaml uses {type(fem).__name__} from {type(fem).__module__}, not your FEM: "
            f"set model.args.msno.args.fem to {FEM_NAME}"
        )
    lr = torch.rand(1, 3, 6, 7)
    coord = torch.rand(1, 5, 2) * 2 - 1
    cell = torch.full((1, 2), 0.1)
    out = need_tensor(model(lr, coord, cell), "the tiny MSIT", (1, 5, 3))
    if not bool(torch.isfinite(out).all()):
        raise CheckFailed("the tiny MSIT with your FEM produced NaN/inf values")
    out.abs().mean().backward()
    grad = model.msno.s.weight.grad
    if grad is None or float(grad.abs().sum()) == 0.0:
        raise CheckFailed("no gradient reaches msno.s (the conv before FEM): your FEM must be built from differentiable ops")
    model.msno.fem = FEM(model.dim, mode="paper")
    with torch.no_grad():
        err = max_error(out, model(lr, coord, cell))
    if err >= TOL:
        raise CheckFailed(f"the tiny MSIT with your FEM differs from the same model with fem: paper by up to {err:.3g}")


ASSIGNMENT = Assignment(
    id="A1",
    title="Implement the FEM shift kernel (Eqs. 2-3)",
    student_file="a1_fem_shift.py",
    notebook="A1_fem_shift.ipynb",
    checks=(
        Check("mask shape and one-hot taps (Eq. 3)", check_mask_shape),
        Check("mask directions: 8 contiguous groups in the paper's order", check_mask_directions),
        Check("shift with wrap-around, stride 1 (Eq. 2)", check_shift_stride1),
        Check("shift with stride 2 (dilated taps)", check_shift_stride2),
        Check("registered as fem 'student-shift', parameter-free, equals the package", check_registered_module),
        Check("a tiny MSIT built from a1_fem_shift.yaml runs forward/backward", check_tiny_msit),
    ),
    extra_files=("a1_fem_shift.yaml",),
)
