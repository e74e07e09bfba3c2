"""A3 -- replace SIM by a plain conv merge (Table IV, "SIM W/O"), registered as ``merge: student-conv``.

SIM (Eq. 6, :class:`msit_lite.models.msno.SIM`) merges the t scales of MSC in two steps: a
grouped 1×1 conv *within* each scale, then a 1×1 conv *across* scales. The Table IV ablation
replaces it by "a regular convolution". The checks: the registration, output shape and
parameter count ``C²k² + C``, equality with ``F.conv2d`` on fixed weights, and a few steps of
real training (:func:`msit_lite.training.train`, on small synthetic images, seconds) with the
student's config: the loss goes down and the merge's weights change.
"""
from __future__ import annotations

import contextlib
import io
import tempfile
from pathlib import Path
from types import ModuleType

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from msit_lite.grading.checks import Assignment, Check, CheckFailed, extra_file, max_error, need_tensor

MERGE_NAME = "student-conv"
CHANNELS, BRANCHES = 16, 4


def expected_params(channels: int, kernel_size: int) -> int:
    """One k×k conv C -> C with bias."""
    return channels * channels * kernel_size**2 + channels


def _build(kernel_size: int | None = None) -> nn.Module:
    from msit_lite.models import make, names

    if MERGE_NAME not in names("merge"):
        raise CheckFailed(
            f"no merge registered as {MERGE_NAME!r} (registered: {', '.join(names('merge'))}); "
            f"keep the line @register(\"merge\", \"{MERGE_NAME}\") above your class"
        )
    args = {} if kernel_size is None else {"kernel_size": kernel_size}
    merge = make({"name": MERGE_NAME, "args": args}, "merge", channels=CHANNELS, branches=BRANCHES)
    if not isinstance(merge, nn.Module):
        raise CheckFailed(f"building merge {MERGE_NAME!r} gave a {type(merge).__name__}; expected an nn.Module")
    return merge


def check_registered(module: ModuleType) -> None:
    merge = _build()
    if not any(p.requires_grad for p in merge.parameters()):
        raise CheckFailed("your merge has no trainable parameters: create the nn.Conv2d in __init__")


def check_shape_and_params(module: ModuleType) -> None:
    for k in (None, 1, 3):
        merge = _build(k)
        size = 1 if k is None else k
        x = torch.randn(2, CHANNELS, 6, 7)
        call = f"merge(channels={CHANNELS}, branches={BRANCHES}, kernel_size={size})(x, None)"
        out = need_tensor(merge(x, None), call)
        if tuple(out.shape) != tuple(x.shape):
            raise CheckFailed(f"{call} gave shape {list(out.shape)}; expected {list(x.shape)} (pad by kernel_size // 2)")
        got = sum(p.numel() for p in merge.parameters() if p.requires_grad)
        want = expected_params(CHANNELS, size)
        if got != want:
            hint = f"merge with kernel_size={size} has {got} trainable parameters; expected C*C*k*k + C = {want}."
            if got == CHANNELS * (CHANNELS // BRANCHES) * size**2 + CHANNELS:  # groups=branches
                hint += " A grouped conv only mixes within a scale: the merge must mix ACROSS scales (groups=1)."
            elif got == want - CHANNELS:
                hint += " The conv needs a bias."
            elif k is None and got == expected_params(CHANNELS, 3):
                hint += " kernel_size defaults to 1 (Table IV's plain 1x1 merge)."
            raise CheckFailed(hint)


def _weight_and_bias(merge: nn.Module, k: int) -> tuple[torch.Tensor, torch.Tensor]:
    params = [p for p in merge.parameters() if p.requires_grad]
    weights = [p for p in params if tuple(p.shape) == (CHANNELS, CHANNELS, k, k)]
    biases = [p for p in params if tuple(p.shape) == (CHANNELS,)]
    if len(weights) != 1 or len(biases) != 1 or len(params) != 2:
        shapes = [list(p.shape) for p in params]
        raise CheckFailed(
            f"expected exactly one weight [{CHANNELS}, {CHANNELS}, {k}, {k}] and one bias [{CHANNELS}] in the merge "
            f"with kernel_size={k}; its parameters have shapes {shapes}"
        )
    return weights[0], biases[0]


def check_formula(module: ModuleType) -> None:
    for k in (1, 3):
        merge = _build(k)
        weight, bias = _weight_and_bias(merge, k)
        with torch.no_grad():
            weight.copy_(torch.randn_like(weight) * 0.1)
            bias.copy_(torch.randn_like(bias))
        x = torch.randn(2, CHANNELS, 5, 6)
        want = F.conv2d(x, weight.detach(), bias.detach(), padding=k // 2)
        with torch.no_grad():
            got = need_tensor(merge(x, None), f"merge(kernel_size={k})", tuple(want.shape))
        err = max_error(got, want)
        if err >= 1e-5:
            hint = f"merge(kernel_size={k}) differs from F.conv2d(x, weight, bias, padding={k // 2}) by up to {err:.3g}"
            if max_error(got, want - bias.detach().view(1, -1, 1, 1)) < 1e-5:
                hint += " -- the bias is not added"
            elif max_error(got, F.gelu(want)) < 1e-5 or max_error(got, F.relu(want)) < 1e-5:
                hint += " -- a plain merge has no activation"
            raise CheckFailed(hint + "; the merge is ONE conv, nothing else (notebook section 2)")


def synthetic_data_root(root: Path, n: int = 4, size: int = 32, seed: int = 0) -> Path:
    """``root/train/T91`` with ``n`` smooth random images: enough for a few training steps."""
    from PIL import Image

    folder = root / "train" / "T91"
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    for i in range(n):
        small = rng.integers(0, 256, (6, 6, 3), dtype=np.uint8)
        Image.fromarray(small).resize((size, size), Image.BICUBIC).save(folder / f"img{i:02d}.png")
    return root


TINY_TRAIN = {
    "seed": 0, "batch_size": 2, "patch_size": 8, "sample_q": 64, "scale_min": 1.0, "scale_max": 2.0,
    "warmup": {"steps": 0, "start_lr": 1.0e-3}, "scheduler": {"name": "cosine", "steps": 40},
    "optimizer": {"name": "adam", "lr": 2.0e-3}, "log_every": 1, "tensorboard": False,
    "val_every": 0, "save_every": 0, "val": {"images": 0},
}


def check_tiny_train(module: ModuleType) -> None:
    from msit_lite.config import build_model, load_config
    from msit_lite.training import train

    _build()  # a clear hint if the registration is missing
    config = load_config(extra_file(module, "a3_conv_merge.yaml"))
    config = {"model": config["model"], "train": dict(TINY_TRAIN), "data": {"train": "T91", "repeat": 4}}
    torch.manual_seed(TINY_TRAIN["seed"])  # what train() does before building: the same initial weights
    initial = build_model(config)
    if type(initial.msno.merge).__module__ != module.__name__:
        raise CheckFailed(
            f"the model of a3_conv_merge.yaml merges with {type(initial.msno.merge).__name__}, not your merge: "
            f"set model.args.msno.args.merge to {MERGE_NAME}"
        )
    with tempfile.TemporaryDirectory() as tmp, contextlib.redirect_stdout(io.StringIO()):
        root = synthetic_data_root(Path(tmp) / "data")
        result = train(config, Path(tmp) / "run", data_root=root, progress=False)
    losses = result.losses
    if len(losses) < 10 or not all(np.isfinite(losses)):
        raise CheckFailed(f"training gave {len(losses)} losses, some not finite: {losses[:5]}...")
    first, last = float(np.mean(losses[:5])), float(np.mean(losses[-5:]))
    if not last < first:
        raise CheckFailed(f"the L1 loss did not go down in {len(losses)} steps (first 5: {first:.4f}, last 5: {last:.4f})")
    before = {k: v for k, v in initial.msno.merge.state_dict().items()}
    after = result.model.msno.merge.state_dict()
    if all(torch.equal(before[k], after[k].cpu()) for k in before):
        raise CheckFailed("training did not change your merge's weights: do they take part in forward?")


ASSIGNMENT = Assignment(
    id="A3",
    title="Replace SIM by a plain conv merge (Table IV 'SIM W/O'), registered as merge 'student-conv'",
    student_file="a3_conv_merge.py",
    notebook="A3_conv_merge.ipynb",
    checks=(
        Check("registered as merge 'student-conv'", check_registered),
        Check("output shape and parameter count C*C*k*k + C", check_shape_and_params),
        Check("equals F.conv2d(x, W, b) on fixed weights", check_formula),
        Check("a few training steps with a3_conv_merge.yaml: loss goes down, merge learns", check_tiny_train),
    ),
    extra_files=("a3_conv_merge.yaml",),
)
