"""A1 -- implement the FEM shift kernel (paper §III-B(a), Eqs. 2-3).

The student writes ``shift_mask`` (the [C, 1, 3, 3] depthwise kernel, the paper's reading: 8
contiguous channel groups, one direction each, in a given order of directions), ``fem_shift``
(Eq. 2: circular padding by the stride + a dilated depthwise conv) and ``StudentFEM`` registered as
``fem: student-shift``. Every check compares with :mod:`msit_lite.models.fem` (``mode="paper"``) on
random inputs; the two shift checks feed the *package's* masks to the student's ``fem_shift`` so
that a wrong mask does not also fail the shift checks.

The package already contains the answer (``paper_mask``, ``FEM(mode="paper")``), so two things make
sure the student wrote it: :func:`reference_uses` reads the student's file for imports and calls of
those names (a delegating file fails every check it would otherwise pass, with a hint), and the
checks use inputs the package's API cannot produce -- ``shift_mask`` with the directions in another
order, and ``StudentFEM`` with its ``mask`` buffer replaced.

:func:`reference_uses` is shared with the other assignments whose answer the package holds (A5, A7).
"""
from __future__ import annotations

import ast
import inspect
import itertools
from pathlib import Path
from types import ModuleType
from typing import Iterable, Mapping

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
_DIRECTION_TO_TAP = {name: tap for name, tap in PAPER_DIRECTIONS}

#: The package's answers to A1: a student file must not use them (module -> names).
A1_REFERENCE: dict[str, set[str]] = {
    "msit_lite.models.fem": {"paper_mask", "official_mask", "FEM", "PAPER_DIRECTIONS", "fem_paper", "fem_official"},
    "msit_lite.grading": {"*"},
}


# ---------------------------------------------------------------------------------------------
# Does the student's file use the package's answer? (shared with A5 and A7)
# ---------------------------------------------------------------------------------------------
def _dotted(node: ast.AST) -> str:
    """``a.b.c`` for an attribute chain (``""`` when it does not start at a name)."""
    parts = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if not isinstance(node, ast.Name):
        return ""
    parts.append(node.id)
    return ".".join(reversed(parts))


def _forbidden(module: str, name: str, reference: Mapping[str, set[str]]) -> bool:
    for ref_module, names in reference.items():
        if module == ref_module or module.startswith(ref_module + "."):
            return "*" in names or name in names or name == "*"
    return False


def reference_uses(module: ModuleType, reference: Mapping[str, Iterable[str]],
                   registry_kinds: Iterable[str] = ()) -> list[str]:
    """Where the student's file uses the package's reference implementation: one description per use.

    ``reference`` maps a module to the names of its answers (``{"*"}``: anything from it). Found:
    ``from M import name`` / ``import M`` of such a module, attribute access ``x.name`` on anything
    but ``self``, a module-level object that *is* one of the reference objects (however it got
    there), and -- for ``registry_kinds`` -- calls of ``make``/``lookup`` naming that kind (building
    the package's module through the registry).
    """
    reference = {m: set(names) for m, names in reference.items()}
    names = set().union(*reference.values()) - {"*"}
    found: list[str] = []
    path = Path(getattr(module, "__file__", "") or "")
    try:
        tree = ast.parse(path.read_text(encoding="utf-8"))
    except (OSError, SyntaxError, ValueError):
        tree = None
    for node in ast.walk(tree) if tree is not None else ():
        line = getattr(node, "lineno", "?")
        if isinstance(node, ast.ImportFrom) and node.module:
            for alias in node.names:
                if _forbidden(node.module, alias.name, reference) or f"{node.module}.{alias.name}" in reference:
                    found.append(f"line {line}: from {node.module} import {alias.name}")
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if any(alias.name == m or alias.name.startswith(m + ".") for m in reference):
                    found.append(f"line {line}: import {alias.name}")
        elif isinstance(node, ast.Attribute) and node.attr in names:
            chain = _dotted(node)
            if chain and chain.split(".")[0] not in ("self", "cls"):
                found.append(f"line {line}: {chain}")
        elif isinstance(node, ast.Call) and registry_kinds:
            func = node.func.attr if isinstance(node.func, ast.Attribute) else getattr(node.func, "id", "")
            args = [*node.args, *(k.value for k in node.keywords)]
            kinds = {a.value for a in args if isinstance(a, ast.Constant) and isinstance(a.value, str)}
            if func in ("make", "lookup") and kinds & set(registry_kinds):
                found.append(f"line {line}: {func}(...) of a package {'/'.join(sorted(kinds & set(registry_kinds)))}")
    objects = {}
    for ref_module, ref_names in reference.items():
        try:
            mod = __import__(ref_module, fromlist=["_"])
        except ImportError:
            continue
        objects[id(mod)] = ref_module
        for name in ref_names - {"*"}:
            if hasattr(mod, name):
                objects[id(getattr(mod, name))] = f"{ref_module}.{name}"
    for name, value in vars(module).items():
        if id(value) in objects and not name.startswith("__"):
            where = objects[id(value)]
            if not any(where.split(".")[-1] in f for f in found):
                found.append(f"{name} is {where}")
    return found


def forbid_reference(module: ModuleType, reference: Mapping[str, Iterable[str]], what: str, where: str,
                     registry_kinds: Iterable[str] = ()) -> None:
    """:class:`CheckFailed` when the student's file uses the package's answer (see :func:`reference_uses`)."""
    uses = reference_uses(module, reference, registry_kinds)
    if uses:
        more = f" (and {len(uses) - 1} more)" if len(uses) > 1 else ""
        raise CheckFailed(f"your file uses the package's {what} -- {uses[0]}{more}; this assignment asks you to "
                          f"write it yourself, the package is only the answer the checks compare with ({where})")


def _no_reference(module: ModuleType) -> None:
    forbid_reference(module, A1_REFERENCE, "FEM (msit_lite.models.fem)", "notebook sections 2-4", registry_kinds=("fem",))


def _mask_for(channels: int, directions: list[str]) -> Tensor:
    """The expected mask for a given order of directions (built here, not with the package)."""
    mask = torch.zeros(channels, 1, 3, 3)
    part = channels // 8
    for g, name in enumerate(directions):
        a, b = _DIRECTION_TO_TAP[name]
        mask[g * part : (g + 1) * part, 0, a, b] = 1.0
    return mask


def _taps(kernel: Tensor) -> list[tuple[int, int]]:
    return [(int(a), int(b)) for a, b in torch.nonzero(kernel.reshape(3, 3) != 0).tolist()]


def _describe(kernel: Tensor) -> str:
    taps = _taps(kernel)
    if len(taps) != 1:
        return f"{len(taps)} non-zero taps"
    return f"tap {taps[0]} (moves content {_TAP_TO_DIRECTION[taps[0]]})"


def check_mask_shape(module: ModuleType) -> None:
    _no_reference(module)
    shift_mask = need(module, "shift_mask")
    for channels in (8, 16):
        mask = need_tensor(shift_mask(channels), f"shift_mask({channels})", (channels, 1, 3, 3))
        if not mask.is_floating_point():
            raise CheckFailed(f"shift_mask({channels}) has dtype {mask.dtype}; the kernel of a conv on float features "
                              f"must be a float tensor (notebook section 2)")
        values = set(torch.unique(mask).tolist())
        if not values <= {0.0, 1.0}:
            raise CheckFailed(f"shift_mask({channels}) holds values {sorted(values)[:5]}; a shift kernel holds only 0 and 1 (Eq. 3)")
        ones = mask.reshape(channels, 9).sum(1)
        bad = int(torch.nonzero(ones != 1)[0]) if bool((ones != 1).any()) else None
        if bad is not None:
            raise CheckFailed(
                f"shift_mask({channels}): channel {bad} has {int(ones[bad])} ones; every 3x3 kernel holds exactly one 1 (Eq. 3)"
            )


def _orders() -> list[list[str]]:
    """The paper's order of directions, then orders the package's ``paper_mask`` cannot produce."""
    paper = [name for name, _ in PAPER_DIRECTIONS]
    return [paper, paper[::-1], paper[4:] + paper[:4], [paper[i] for i in (6, 0, 7, 3, 1, 5, 2, 4)]]


def check_mask_directions(module: ModuleType) -> None:
    _no_reference(module)
    shift_mask = need(module, "shift_mask")
    for order, channels in itertools.product(_orders(), (8, 16, 32)):
        call = f"shift_mask({channels})" if order == _orders()[0] else f"shift_mask({channels}, directions={order})"
        try:
            got = shift_mask(channels) if order == _orders()[0] else shift_mask(channels, list(order))
        except TypeError as e:
            if "directions" in str(e) or "positional argument" in str(e):
                raise CheckFailed(f"{call} failed ({e}): shift_mask takes the order of the directions as its second "
                                  f"argument (the stub's signature)") from None
            raise
        got = need_tensor(got, call, (channels, 1, 3, 3)).detach().float().cpu()
        want = _mask_for(channels, order)
        if torch.equal(got, want):
            continue
        part = channels // 8
        for c in range(channels):
            if not torch.equal(got[c], want[c]):
                g = c // part
                name = order[g]
                tap = _DIRECTION_TO_TAP[name]
                hint = (
                    f"{call}: channel {c} is in group {g} (channels {g * part}-{(g + 1) * part - 1}), which should move "
                    f"its content {name}; yours has {_describe(got[c])}."
                )
                if _taps(got[c]) and _taps(got[c])[0] == (2 - tap[0], 2 - tap[1]):
                    hint += (" That is the opposite direction: look at which neighbour a tap at (a, b) reads "
                             "(notebook section 2).")
                elif part > 1 and torch.equal(got[c], want[(c % 8) * part]):
                    hint += " The groups are contiguous blocks of C/8 channels, not channel index mod 8."
                elif order != _orders()[0] and torch.equal(got, paper_mask(channels)):
                    hint += " Your mask ignores the order of the directions it is given."
                raise CheckFailed(hint)


def _package_shift(z: Tensor, mask: Tensor, stride: int) -> Tensor:
    """Eq. 2 with the package's recipe, for any mask (so the official double-tap mask works too)."""
    x = F.pad(z, (stride,) * 4, mode="circular")
    return F.conv2d(x, mask, dilation=stride, groups=z.shape[1])


def _check_shift(module: ModuleType, stride: int, shapes: list[tuple[int, int, int, int]]) -> None:
    _no_reference(module)
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
                    f"{call} has shape {list(got.shape)}; expected {list(shape)}, the shape of z: a 3x3 conv with "
                    f"dilation {stride} loses {2 * stride} pixels per axis unless they are supplied (notebook section 3)"
                )
            err = max_error(got, want)
            if err < TOL:
                continue
            zero_pad = F.conv2d(z, mask, padding=stride, dilation=stride, groups=channels)
            flipped = _package_shift(z, mask.flip(-1, -2), stride)
            hint = f"{call} differs from Eq. 2 by up to {err:.3g}."
            if max_error(got, zero_pad) < TOL:
                hint += (" It matches ZERO padding: content that leaves one side does not come back on the other "
                         "(Eq. 2; notebook section 3, circular padding).")
            elif max_error(got, flipped) < TOL:
                hint += (" It matches the mask flipped: your shifts go the opposite way (notebook section 2: "
                         "F.conv2d is a cross-correlation).")
            elif stride > 1 and max_error(got, _package_shift(z, mask, 1)) < TOL:
                hint += " It matches stride 1: the stride is ignored (notebook section 3)."
            raise CheckFailed(hint)


def check_shift_stride1(module: ModuleType) -> None:
    _check_shift(module, 1, [(2, 16, 5, 7), (1, 8, 3, 4)])


def check_shift_stride2(module: ModuleType) -> None:
    _check_shift(module, 2, [(1, 8, 6, 9), (2, 16, 4, 5)])


def _student_fem(module: ModuleType, **args: object) -> nn.Module:
    from msit_lite.models import make, names

    if FEM_NAME not in names("fem"):
        raise CheckFailed(
            f"no FEM registered as {FEM_NAME!r} (registered: {', '.join(names('fem'))}): the @register line of the "
            f"stub above StudentFEM is missing or changed (notebook section 4)"
        )
    fem = make({"name": FEM_NAME, "args": args}, "fem", channels=16)
    if not isinstance(fem, nn.Module):
        raise CheckFailed(f"building fem {FEM_NAME!r} gave a {type(fem).__name__}; expected an nn.Module")
    return fem


def check_registered_module(module: ModuleType) -> None:
    _no_reference(module)
    for stride in (1, 2):
        fem = _student_fem(module, mix_margin=float(stride))
        trainable = sum(p.numel() for p in fem.parameters() if p.requires_grad)
        if trainable:
            raise CheckFailed(
                f"your FEM has {trainable} trainable parameters; FEM enriches the code 'with no additional parameters' "
                "(paper §III-B) -- see how notebook section 4 stores the mask"
            )
        z = torch.randn(2, 16, 6, 5)
        got = need_tensor(fem(z), f"StudentFEM(16, mix_margin={stride})(z)", (2, 16, 6, 5))
        err = max_error(got, FEM(16, mix_margin=stride, mode="paper")(z))
        if err >= TOL:
            raise CheckFailed(
                f"StudentFEM(16, mix_margin={stride}) differs from the package's FEM (mode='paper') by up to {err:.3g} "
                "(notebook section 4)"
            )
        # A mask the package's FEM never holds: the module must shift with its own `mask` buffer.
        if not isinstance(getattr(fem, "mask", None), Tensor):
            raise CheckFailed("StudentFEM has no tensor attribute `mask` (the stub's name for the kernel buffer)")
        other = official_mask(16)
        with torch.no_grad():
            fem.mask.copy_(other)
        err = max_error(need_tensor(fem(z), "StudentFEM(z) with another mask"), _package_shift(z, other, stride))
        if err >= TOL:
            raise CheckFailed(
                f"after its `mask` buffer is replaced by another kernel, StudentFEM(16, mix_margin={stride}) does not "
                f"shift with it (max error {err:.3g}): forward must use self.mask and the stride (notebook section 4)"
            )


def check_tiny_msit(module: ModuleType) -> None:
    from msit_lite.config import build_model, load_config

    _no_reference(module)
    _student_fem(module)  # a clear hint if the registration is missing
    model = build_model(load_config(extra_file(module, "a1_fem_shift.yaml")))
    fem = model.msno.fem
    if type(fem).__module__ != module.__name__:
        raise CheckFailed(
            f"the model of a1_fem_shift.yaml uses {type(fem).__name__} from {type(fem).__module__}, not your FEM "
            f"(registered as {FEM_NAME!r}): look at model.args.msno.args.fem in the YAML (notebook section 4)"
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
        Check("mask directions: 8 contiguous groups, in the given order", check_mask_directions),
        Check("shift with wrap-around, stride 1 (Eq. 2)", check_shift_stride1),
        Check("shift with stride 2 (dilated taps)", check_shift_stride2),
        Check("registered as fem 'student-shift', parameter-free, shifts with its own mask", check_registered_module),
        Check("a tiny MSIT built from a1_fem_shift.yaml runs forward/backward", check_tiny_msit),
    ),
    extra_files=("a1_fem_shift.yaml",),
)
