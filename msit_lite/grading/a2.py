"""A2 -- a new MSC branch type: a depthwise-separable conv registered as ``conv: student-dwsep``.

MSNO's multi-scale conv (Eq. 5, :class:`msit_lite.models.msno.MultiScaleConv`) builds branch i
through the ``conv`` factory as ``make(conv, "conv", in_channels=c, out_channels=c,
kernel_size=2i+3, padding=i+1)``. A depthwise-separable branch keeps the k×k receptive field of
branch i with ``c·k² + c·c + c`` parameters instead of ``c²·k² + c`` -- the kind of saving the
paper's "lighter MSIT" future work needs. The checks: the registration, output shapes, the
parameter count against that formula, a gradient probe of the receptive field and channel
mixing, and a tiny MSIT built from the student's YAML running forward and backward.
"""
from __future__ import annotations

from types import ModuleType

import torch
from torch import nn

from msit_lite.grading.checks import Assignment, Check, CheckFailed, extra_file, need_tensor

CONV_NAME = "student-dwsep"


def expected_params(in_channels: int, out_channels: int, kernel_size: int, bias: bool = True) -> int:
    """Depthwise k×k (no bias) + pointwise 1×1 (bias): the formula of the notebook, section 2."""
    return in_channels * kernel_size**2 + in_channels * out_channels + (out_channels if bias else 0)


def _build(in_channels: int, out_channels: int, kernel_size: int, padding: int | None = None, bias: bool = True) -> nn.Module:
    from msit_lite.models import make, names

    if CONV_NAME not in names("conv"):
        raise CheckFailed(
            f"no conv registered as {CONV_NAME!r} (registered: {', '.join(names('conv'))}); "
            f"keep the line @register(\"conv\", \"{CONV_NAME}\") above your class"
        )
    kw: dict[str, object] = {"in_channels": in_channels, "out_channels": out_channels, "kernel_size": kernel_size}
    if padding is not None:
        kw["padding"] = padding
    if not bias:
        kw["bias"] = False
    conv = make(CONV_NAME, "conv", **kw)
    if not isinstance(conv, nn.Module):
        raise CheckFailed(f"building conv {CONV_NAME!r} gave a {type(conv).__name__}; expected an nn.Module")
    return conv


def _trainable(module: nn.Module) -> int:
    return sum(p.numel() for p in module.parameters() if p.requires_grad)


def check_registered(module: ModuleType) -> None:
    conv = _build(4, 4, 3, padding=1)
    if not _trainable(conv):
        raise CheckFailed("your conv has no trainable parameters: create the depthwise and pointwise nn.Conv2d in __init__")


def check_output_shape(module: ModuleType) -> None:
    for cin, cout, k, pad in ((4, 6, 5, None), (8, 8, 3, 1), (4, 4, 9, 4)):
        conv = _build(cin, cout, k, pad)
        x = torch.randn(2, cin, 9, 11)
        call = f"conv(in={cin}, out={cout}, k={k}, padding={pad}) on [2, {cin}, 9, 11]"
        out = need_tensor(conv(x), call)
        if tuple(out.shape) != (2, cout, 9, 11):
            hint = f"{call} gave shape {list(out.shape)}; expected [2, {cout}, 9, 11]"
            if out.shape[1] != cout:
                hint += " -- the pointwise 1x1 conv maps in_channels to out_channels"
            else:
                hint += f" -- pad the k x k depthwise conv by {k // 2} (padding=None means kernel_size // 2)"
            raise CheckFailed(hint)


def check_param_count(module: ModuleType) -> None:
    for cin, cout, k, bias in ((4, 4, 3, True), (8, 8, 7, True), (4, 6, 5, True), (8, 8, 5, False)):
        got = _trainable(_build(cin, cout, k, bias=bias))
        want = expected_params(cin, cout, k, bias)
        if got == want:
            continue
        hint = (
            f"conv(in={cin}, out={cout}, k={k}, bias={bias}) has {got} trainable parameters; expected "
            f"{cin}*{k}*{k} + {cin}*{cout}{f' + {cout}' if bias else ''} = {want} (depthwise k x k without bias + "
            f"pointwise 1 x 1{' with bias' if bias else ''})."
        )
        if got == cin * cout * k * k + (cout if bias else 0):
            hint += " That is a full k x k conv: make the k x k conv depthwise (groups=in_channels)."
        elif got == want + cin:
            hint += " The depthwise conv has a bias: create it with bias=False."
        elif bias and got == want - cout:
            hint += " The pointwise conv has no bias: it needs one."
        elif not bias and got == want + cout:
            hint += " bias=False must switch off the pointwise bias."
        raise CheckFailed(hint)


def check_receptive_field(module: ModuleType) -> None:
    size, centre = 15, 7
    for k in (3, 5, 7):
        conv = _build(4, 4, k, padding=k // 2)
        with torch.no_grad():  # positive weights: no accidental cancellation in the probe
            for p in conv.parameters():
                p.uniform_(0.1, 1.0)
        x = torch.zeros(1, 4, size, size, requires_grad=True)
        out = need_tensor(conv(x), f"conv(k={k})", (1, 4, size, size))
        out[0, 0, centre, centre].backward()
        grad = x.grad[0].abs()
        seen = (grad.sum(0) > 0).nonzero()
        if seen.numel() == 0:
            raise CheckFailed(f"output pixel ({centre}, {centre}) of conv(k={k}) does not depend on the input at all")
        rows = (int(seen[:, 0].min()), int(seen[:, 0].max()))
        cols = (int(seen[:, 1].min()), int(seen[:, 1].max()))
        want = (centre - k // 2, centre + k // 2)
        if rows != want or cols != want:
            h, w = rows[1] - rows[0] + 1, cols[1] - cols[0] + 1
            raise CheckFailed(
                f"probe: an output pixel of conv(k={k}) depends on a {h}x{w} input window (rows {rows[0]}-{rows[1]}, "
                f"cols {cols[0]}-{cols[1]}); branch kernels must see exactly {k}x{k} pixels centred on it"
            )
        if len(seen) != k * k:
            raise CheckFailed(
                f"probe: an output pixel of conv(k={k}) depends on only {len(seen)} of the {k * k} pixels of its "
                f"{k}x{k} window (a dilated kernel?); branch kernels must see every pixel of the {k}x{k} window"
            )
        used = [c for c in range(4) if float(grad[c].sum()) > 0]
        if used != [0, 1, 2, 3]:
            raise CheckFailed(
                f"probe: output channel 0 of conv(k={k}) depends only on input channel(s) {used}; "
                "the pointwise 1x1 conv must mix every input channel"
            )


def check_tiny_msit(module: ModuleType) -> None:
    from msit_lite.config import build_model, load_config

    _build(4, 4, 3)  # a clear hint if the registration is missing
    model = build_model(load_config(extra_file(module, "a2_branch_conv.yaml")))
    convs = list(model.msno.msc.convs)
    foreign = [type(c).__name__ for c in convs if type(c).__module__ != module.__name__]
    if foreign:
        raise CheckFailed(
            f"the MSC branches of a2_branch_conv.yaml are {foreign[0]}, not your conv: set model.args.msno.args.conv "
            f"to {CONV_NAME}"
        )
    for i, conv in enumerate(convs):
        chunk = model.msno.msc.chunk
        want = expected_params(chunk, chunk, 3 + 2 * i)
        if _trainable(conv) != want:
            raise CheckFailed(f"MSC branch {i} ({3 + 2 * i}x{3 + 2 * i}) has {_trainable(conv)} parameters; expected {want}")
    out = need_tensor(model(torch.rand(1, 3, 6, 7), torch.rand(1, 5, 2) * 2 - 1, torch.full((1, 2), 0.1)),
                      "the tiny MSIT", (1, 5, 3))
    if not bool(torch.isfinite(out).all()):
        raise CheckFailed("the tiny MSIT with your branch conv produced NaN/inf values")
    out.abs().mean().backward()
    for i, conv in enumerate(convs):
        grads = [p.grad for p in conv.parameters() if p.requires_grad]
        if any(g is None for g in grads) or sum(float(g.abs().sum()) for g in grads) == 0.0:
            raise CheckFailed(f"MSC branch {i} got no gradient in backward: is every parameter used in forward?")


ASSIGNMENT = Assignment(
    id="A2",
    title="A depthwise-separable MSC branch conv, registered as conv 'student-dwsep'",
    student_file="a2_branch_conv.py",
    notebook="A2_branch_conv.ipynb",
    checks=(
        Check("registered as conv 'student-dwsep'", check_registered),
        Check("output shape (same size, out_channels)", check_output_shape),
        Check("parameter count = C_in*k*k + C_in*C_out + C_out", check_param_count),
        Check("receptive field k x k and channel mixing (gradient probe)", check_receptive_field),
        Check("a tiny MSIT built from a2_branch_conv.yaml runs forward/backward", check_tiny_msit),
    ),
    extra_files=("a2_branch_conv.yaml",),
)
