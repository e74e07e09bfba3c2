r"""A4 -- a RefConv-style re-parameterised convolution, compared with RIM (paper §III-C, Eq. 11, Table III).

The student writes ``a4_refconv.py``: a conv whose weight is ``W' = W + DWConv(W)`` with ``W``
frozen and the depthwise map zero-initialised (so a fresh conv computes exactly the stage-1
function), registered as a ``conv`` builder and selected by ``a4_refconv.yaml``.

Why these checks? Each one pins a property that cumulative training relies on:

* **identity at initialisation** -- ``W' = W`` and ``fold()`` gives back ``W``: stage 2 starts
  where stage 1 ended (the package's RIM does *not*: its map starts random);
* **the remap** is RefConv's, compared with :class:`msit_lite.models.rim.RefConv2d` holding the
  same ``W`` and map;
* **forward = plain conv with the folded weight** (≤ 1e-5): the paper's inference form
  (REPRODUCTION.md #7);
* **parameter counts**: trainable ``K·map_k² + O``, frozen ``K·k²``, deployed ``K·k² + O``
  (K = O·I/g 2-D kernels) -- the arithmetic behind Table III's 8.1M → 6.0M;
* **the map is alive**: a non-zero gradient at initialisation (the "dead RIM" trap, REPRODUCTION.md #9);
* **it plugs into MSIT** through the registry and a config, loads stage-1 weights and folds.
"""
from __future__ import annotations

import copy
from types import ModuleType
from typing import Any, Callable

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from msit_lite.errors import MsitError
from msit_lite.grading.checks import Assignment, Check, CheckFailed, extra_file, max_error, need, need_tensor

STUDENT_FILE = "a4_refconv.py"
CONFIG_FILE = "a4_refconv.yaml"
TOL = 1e-5


# ---------------------------------------------------------------------------------------------
# Helpers: build the student's conv through the registry, inspect it
# ---------------------------------------------------------------------------------------------
def _conv_name(module: ModuleType) -> str:
    from msit_lite.models import names

    name = need(module, "CONV_NAME", "constant")
    if not isinstance(name, str):
        raise CheckFailed(f"CONV_NAME should be a string such as 'a4-refconv', got {name!r}")
    if name not in names("conv"):
        raise CheckFailed(f"no conv named {name!r} is registered -- keep @register('conv', CONV_NAME) "
                          f"above build_refocus_conv")
    return name


def _build(module: ModuleType, cin: int, cout: int, k: int) -> nn.Module:
    """The student's conv, built exactly as MSNO/MSSA build theirs (through the registry)."""
    from msit_lite.models import lookup

    conv = lookup("conv", _conv_name(module))(in_channels=cin, out_channels=cout, kernel_size=k, padding=k // 2)
    if not isinstance(conv, nn.Module):
        raise CheckFailed(f"the builder returned {type(conv).__name__}; expected an nn.Module (RefocusConv2d)")
    buffers = dict(conv.named_buffers(recurse=False))
    params = dict(conv.named_parameters(recurse=False))
    if "weight" in params:
        raise CheckFailed("`weight` is an nn.Parameter, but W is frozen in stage 2 -- store it with "
                          "self.register_buffer('weight', torch.zeros(...)) (notebook section 2)")
    if "weight" not in buffers:
        raise CheckFailed("your conv has no buffer named `weight` -- register the frozen W as a buffer so that a "
                          "plain conv's state dict loads into it (notebook section 2)")
    shape = (cout, cin, k, k)
    if tuple(buffers["weight"].shape) != shape:
        raise CheckFailed(f"for a {cin}->{cout} {k}x{k} conv, `weight` has shape {list(buffers['weight'].shape)}; "
                          f"expected [O, I/g, k, k] = {list(shape)}")
    refocus = getattr(conv, "refocus", None)
    if isinstance(refocus, nn.Conv2d):
        raise CheckFailed("`refocus` is an nn.Conv2d: MSNO re-initialises every nn.Conv2d inside it (official_init), "
                          "so the map would not start at zero in MSIT -- hold it as an nn.Parameter [K, 1, 3, 3] "
                          "and apply it with F.conv2d (notebook section 2)")
    if not isinstance(refocus, nn.Parameter):
        raise CheckFailed(f"`refocus` should be an nn.Parameter [K, 1, 3, 3] (the depthwise map over the "
                          f"K = O*I kernels), got {type(refocus).__name__}")
    num = cout * cin
    if refocus.dim() != 4 or refocus.shape[0] != num or refocus.shape[1] != 1 or refocus.shape[2] != refocus.shape[3]:
        raise CheckFailed(f"refocus has shape {list(refocus.shape)}; a depthwise map over K = {num} kernels is "
                          f"[K, 1, map_k, map_k] = [{num}, 1, 3, 3]")
    return conv


def _set_w(conv: nn.Module, w: Tensor) -> None:
    with torch.no_grad():
        conv.weight.copy_(w)


def _perturb(conv: nn.Module, scale: float = 0.2) -> None:
    """Move every trainable number away from its initial value (as training would)."""
    with torch.no_grad():
        for p in conv.parameters():
            p.add_(scale * torch.randn_like(p))


def _reference_weight(conv: nn.Module) -> Tensor:
    """``W'`` of the package's RefConv2d holding the student's ``W`` and map."""
    from msit_lite.models.rim import RefConv2d

    cout, cin, k, _ = conv.weight.shape
    map_w = conv.refocus
    num = cout * cin
    ref = RefConv2d(cin, cout, k, padding=k // 2, bias=False)
    ref.convmap = nn.Conv2d(num, num, map_w.shape[-1], padding=map_w.shape[-1] // 2, groups=num, bias=False)
    with torch.no_grad():
        ref.weight.copy_(conv.weight)
        ref.convmap.weight.copy_(map_w)
        return ref.effective_weight()


def _fold(conv: nn.Module) -> nn.Conv2d:
    folded = conv.fold()
    if not isinstance(folded, nn.Conv2d):
        raise CheckFailed(f"fold() returned {type(folded).__name__}; expected a plain nn.Conv2d")
    return folded


# ---------------------------------------------------------------------------------------------
# The checks
# ---------------------------------------------------------------------------------------------
def check_identity(module: ModuleType) -> None:
    conv = _build(module, 4, 6, 5)
    w = torch.randn(6, 4, 5, 5)
    _set_w(conv, w)
    w_eff = need_tensor(conv.effective_weight(), "effective_weight()", (6, 4, 5, 5))
    err = max_error(w_eff, w)
    if err > 1e-6:
        raise CheckFailed(f"a fresh conv must compute W' = W (identity remap), but max |W' - W| = {err:.2e} -- "
                          f"initialise refocus to zeros (notebook section 2)")
    folded = _fold(conv)
    err = max_error(folded.weight, w)
    if err > 1e-6:
        raise CheckFailed(f"fold() of a fresh conv should hold W itself; max |fold().weight - W| = {err:.2e}")
    if conv.bias is not None and (folded.bias is None or max_error(folded.bias, conv.bias) > 0):
        raise CheckFailed("fold() must copy the bias into the nn.Conv2d (bias=True and the same values)")


def check_remap(module: ModuleType) -> None:
    conv = _build(module, 3, 4, 5)
    _set_w(conv, torch.randn(4, 3, 5, 5))
    with torch.no_grad():
        conv.refocus.add_(0.3 * torch.randn_like(conv.refocus))
    expected = _reference_weight(conv)
    got = need_tensor(conv.effective_weight(), "effective_weight()", tuple(expected.shape))
    err = max_error(got, expected)
    if err > TOL:
        base = max_error(got, conv.weight)
        extra = " -- it equals W: the map is not applied" if base < 1e-7 else ""
        raise CheckFailed(f"W' differs from W + DWConv3x3(W) (the package's RefConv2d with the same W and map) by "
                          f"max {err:.2e}{extra}; view W as [1, K, k, k], filter it with refocus and add W "
                          f"(Eq. 11 without the Linear factor, notebook section 2)")


def check_forward(module: ModuleType) -> None:
    conv = _build(module, 4, 6, 3)
    _set_w(conv, torch.randn(6, 4, 3, 3))
    _perturb(conv)
    x = torch.randn(2, 4, 9, 11)
    y = need_tensor(conv(x), "your conv(x)", (2, 6, 9, 11))
    folded = _fold(conv)
    err_fold = max_error(y, folded(x))
    if err_fold > TOL:
        raise CheckFailed(f"forward differs from the folded nn.Conv2d by max {err_fold:.2e} (allowed {TOL:.0e}) -- "
                          f"forward and fold() must use the same W' and bias (notebook section 3)")
    expected = F.conv2d(x, _reference_weight(conv), conv.bias, padding=1)
    err = max_error(y, expected)
    if err > TOL:
        raise CheckFailed(f"forward differs from a conv with W' = W + DWConv3x3(W) by max {err:.2e} -- does "
                          f"forward use effective_weight(), the bias and padding = k // 2?")


def check_counts(module: ModuleType) -> None:
    counts_fn: Callable[..., Any] = need(module, "parameter_counts")
    for cin, cout, k in ((8, 8, 3), (8, 8, 9), (16, 8, 5)):
        kernels = cin * cout
        want = {"trainable": kernels * 9 + cout, "frozen": kernels * k * k, "deployed": kernels * k * k + cout}
        conv = _build(module, cin, cout, k)
        got = {
            "trainable": sum(p.numel() for p in conv.parameters() if p.requires_grad),
            "frozen": sum(b.numel() for b in conv.buffers()),
            "deployed": sum(p.numel() for p in _fold(conv).parameters()),
        }
        for key in want:
            if got[key] != want[key]:
                raise CheckFailed(f"your {cin}->{cout} {k}x{k} conv has {got[key]:,} {key} numbers; the formula says "
                                  f"{want[key]:,} (K = {kernels} kernels: trainable K*3*3 + O, frozen K*k*k, deployed "
                                  f"K*k*k + O; notebook section 4)")
    cases = [((8, 8, 3), {}), ((8, 8, 9), {}), ((16, 8, 5), {}), ((8, 4, 7), {"bias": False}), ((4, 4, 9), {"map_k": 5})]
    for (cin, cout, k), kw in cases:
        kernels, b, mk = cin * cout, (0 if kw.get("bias") is False else cout), kw.get("map_k", 3)
        want = {"trainable": kernels * mk * mk + b, "frozen": kernels * k * k, "deployed": kernels * k * k + b}
        got_f = counts_fn(cin, cout, k, **kw)
        if not isinstance(got_f, dict) or set(got_f) != set(want):
            raise CheckFailed(f"parameter_counts should return a dict with keys trainable, frozen, deployed; "
                              f"got {got_f!r}")
        for key in want:
            if got_f[key] != want[key]:
                args = ", ".join([f"{cin}, {cout}, {k}"] + [f"{a}={v}" for a, v in kw.items()])
                raise CheckFailed(f"parameter_counts({args})[{key!r}] = {got_f[key]!r}; expected {want[key]:,} "
                                  f"(notebook section 4)")


def check_alive(module: ModuleType) -> None:
    conv = _build(module, 4, 4, 3)
    _set_w(conv, torch.randn(4, 4, 3, 3))  # stage-1 weights, fresh map
    x = torch.randn(1, 4, 8, 8)
    loss = conv(x).square().sum()
    if not loss.requires_grad:
        raise CheckFailed("the output does not depend on any trainable parameter -- is refocus used in forward?")
    (grad,) = torch.autograd.grad(loss, conv.refocus, allow_unused=True)
    norm = 0.0 if grad is None else float(grad.norm())
    if norm == 0.0:
        raise CheckFailed("at initialisation refocus receives zero gradient, so it would never learn (the 'dead RIM' "
                          "of REPRODUCTION.md #9) -- with W' = W + refocus(W) a zero map still gets a gradient")


def _is_conv(key: str, value: Any, name: str) -> bool:
    return key == "conv" and (value == name or (isinstance(value, dict) and value.get("name") == name))


def _replace_conv_name(spec: Any, name: str) -> Any:
    """The config with every ``conv: <name>`` (or ``{name: <name>}``) switched to ``plain`` (stage 1)."""
    if isinstance(spec, dict):
        return {k: ("plain" if _is_conv(k, v, name) else _replace_conv_name(v, name)) for k, v in spec.items()}
    if isinstance(spec, list):
        return [_replace_conv_name(v, name) for v in spec]
    return spec


def _fold_model(model: nn.Module, cls: type) -> nn.Module:
    folded = copy.deepcopy(model)
    for parent in list(folded.modules()):
        for child_name, sub in list(parent.named_children()):
            if isinstance(sub, cls):
                setattr(parent, child_name, sub.fold())
    return folded


def check_msit(module: ModuleType) -> None:
    from msit_lite.config import build_model, load_config
    from msit_lite.coords import make_cell, make_coord
    from msit_lite.models.rim import RIMConv2d

    name = _conv_name(module)
    cls = need(module, "RefocusConv2d", "class")
    path = extra_file(module, CONFIG_FILE)
    try:
        config = load_config(path)
        model = build_model(config).eval()
    except MsitError as e:
        raise CheckFailed(f"{CONFIG_FILE}: {e}") from None
    mine = [m for m in model.modules() if isinstance(m, cls)]
    if not mine:
        raise CheckFailed(f"the model of {CONFIG_FILE} contains no RefocusConv2d -- set `conv: {name}` in model.args")
    if any(isinstance(m, RIMConv2d) for m in model.modules()):
        raise CheckFailed(f"the model of {CONFIG_FILE} still contains the package's RIM/RefConv; use `conv: {name}`")
    # Stage 1 -> stage 2: a plain model's state dict loads into yours; the output must not change.
    torch.manual_seed(1)
    plain = build_model({"model": _replace_conv_name(config["model"], name)}).eval()
    result = model.load_state_dict(plain.state_dict(), strict=False)
    bad_missing = [k for k in result.missing_keys if not k.endswith("refocus")]
    if bad_missing or result.unexpected_keys:
        raise CheckFailed(f"a stage-1 (conv: plain) state dict does not fit your model: missing {bad_missing[:3]}, "
                          f"unexpected {result.unexpected_keys[:3]} -- keep the names weight/bias of a plain conv")
    lr = torch.rand(1, 3, 10, 12) * 2 - 1
    coord = make_coord((25, 30)).unsqueeze(0)[:, ::7]
    cell = make_cell((25, 30))
    with torch.no_grad():
        out_plain, out = plain(lr, coord, cell), model(lr, coord, cell)
    need_tensor(out, "the model's output", tuple(out_plain.shape))
    err = max_error(out, out_plain)
    if err > TOL:
        maps = [getattr(m, "refocus", None) for m in mine]
        nonzero = sum(int(isinstance(t, Tensor) and bool((t != 0).any())) for t in maps)
        why = (f" ({nonzero} of {len(mine)} maps are not zero inside the model: something re-initialised them)"
               if nonzero else "")
        raise CheckFailed(f"after loading stage-1 weights your MSIT differs from the plain one by max {err:.2e}{why}: "
                          f"a fresh remap must be the identity (stage 2 starts where stage 1 ended)")
    for m in mine:
        _perturb(m, 0.1)
    folded = _fold_model(model, cls)
    if any(isinstance(m, cls) for m in folded.modules()):
        raise CheckFailed("after fold() some RefocusConv2d are left in the model")
    with torch.no_grad():
        out2, out_fold = model(lr, coord, cell), folded(lr, coord, cell)
    if max_error(out2, out_plain) < 1e-7:
        raise CheckFailed("changing the maps did not change the MSIT's output -- is W' used in forward?")
    err = max_error(out2, out_fold)
    if err > TOL:
        raise CheckFailed(f"the MSIT with every conv folded differs from yours by max {err:.2e} (allowed {TOL:.0e})")


ASSIGNMENT = Assignment(
    id="A4",
    title="RefConv-style remap vs RIM (Table III)",
    student_file=STUDENT_FILE,
    notebook="A4_refconv.ipynb",
    checks=(
        Check("identity at initialisation: W' = W, fold() gives W back", check_identity),
        Check("remap W' = W + DWConv3x3(W) (RefConv, Eq. 11 without Linear)", check_remap),
        Check("forward = plain conv with the folded weight (<= 1e-5)", check_forward),
        Check("parameter counts: trainable / frozen / deployed (section 4 formula)", check_counts),
        Check("the map receives a gradient at initialisation (no dead remap)", check_alive),
        Check("plugs into a tiny MSIT via a4_refconv.yaml, loads stage 1, folds", check_msit, points=2),
    ),
    extra_files=(CONFIG_FILE,),
)
