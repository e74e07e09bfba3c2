# %% [markdown]
# # A2 · A new MSC branch type: depthwise-separable convolutions
#
# **Context.** MSNO's multi-scale convolution (paper Eq. 5) splits Z′ into t chunks and filters chunk i
# with a (2i+3)×(2i+3) convolution: 3×3, 5×5, …, 33×33 for t = 16. Large kernels give MSNO its
# multi-scale view, and they cost k² parameters per input–output channel pair — the paper's RIM
# (Eq. 11) is one answer to that cost. This assignment tries another, common in mobile networks:
# a **depthwise-separable** convolution, a k×k *depthwise* conv (each channel filtered on its own)
# followed by a 1×1 *pointwise* conv that mixes the channels.
#
# **Your task** — in `student/a2_branch_conv.py`: the class `DepthwiseSeparableConv2d`, registered as
# `conv: student-dwsep`. `student/a2_branch_conv.yaml` selects it for MSNO's branches of a tiny MSIT
# (`msno.args.conv` overrides the model-wide `conv`), with no edit of `msit_lite`.
#
# **Check** with the last cell, or `msit-lite grade A2`: the registration, output shapes, the parameter
# count (formula of §2), the receptive field (a gradient probe, §3), and a forward/backward pass of the
# tiny MSIT.

# %%
import torch
from torch import nn

import msit_lite
from msit_lite.grading import grade_notebook, load_student
from msit_lite.models import make

msit_lite.seed_everything(0)
torch.set_num_threads(1)

a2 = load_student("A2")  # (re)imports student/a2_branch_conv.py: run this cell again after every edit

# %% [markdown]
# ## 1 · How MSNO builds a branch
#
# Every k×k conv inside MSNO (and MSSA) comes from the `conv` registry through one call,
#
# ```python
# make(conv_spec, "conv", in_channels=c, out_channels=c, kernel_size=2 * i + 3, padding=i + 1)
# ```
#
# so a new branch type is any `nn.Module` built from those keyword arguments that maps
# `[B, in_channels, H, W]` to `[B, out_channels, H, W]`. The package registers `plain`, `rim` and
# `refconv`; after `load_student` the registry also lists yours:

# %%
from msit_lite.models import names

print("conv types:", names("conv"))
plain = make("plain", "conv", in_channels=16, out_channels=16, kernel_size=5, padding=2)
print("plain 5x5 branch:", plain)

# %% [markdown]
# ## 2 · Parameters: the formula the checks use
#
# A plain k×k conv with bias has `C_in·C_out·k² + C_out` parameters. The depthwise-separable one:
#
# * depthwise k×k, `groups = C_in`, **no bias**: `C_in·k²`;
# * pointwise 1×1, `C_in → C_out`, **with bias**: `C_in·C_out + C_out`;
#
# in total **`C_in·k² + C_in·C_out + C_out`**. For the full MSIT's MSNO (C = 256, t = 16 branches of
# c = 16 channels, kernels 3 … 33) and for MSIT-lite (C = 32, t = 4, c = 8, kernels 3 … 9):

# %%
def plain_params(c: int, k: int) -> int:
    return c * c * k * k + c


def dwsep_params(c: int, k: int) -> int:
    return c * k * k + c * c + c


for label, dim, t in (("full MSIT", 256, 16), ("MSIT-lite", 32, 4)):
    c = dim // t
    kernels = [2 * i + 3 for i in range(t)]
    p, d = sum(plain_params(c, k) for k in kernels), sum(dwsep_params(c, k) for k in kernels)
    print(f"{label:>9}: MSC branches plain {p:>9,}  depthwise-separable {d:>7,}  ({p / d:.1f}x fewer)")

# %% [markdown]
# The price: a depthwise-separable conv can only express kernels of the form
# `W[o, i] = P[o, i] · D[i]` (rank one across channels). Whether MSNO needs more is an experiment —
# train both with `configs/ablations` as a template once your checks pass.
#
# ## 3 · Receptive field: a gradient probe
#
# Which input pixels does one output pixel depend on? Back-propagate from that single output value:
# the input gradient is non-zero exactly where the output looks. For a plain 5×5 branch it is a 5×5
# window in every input channel; yours must keep the k×k window (branch i of MSNO must still see
# (2i+3)² pixels) **and** depend on every input channel (the pointwise conv mixes them).

# %%
def probe(conv: nn.Module, channels: int = 4, size: int = 11) -> torch.Tensor:
    """|d out[0, 0, centre, centre] / d input|, summed over input channels -> [size, size]."""
    with torch.no_grad():
        for p in conv.parameters():
            p.uniform_(0.1, 1.0)  # positive weights: nothing cancels
    x = torch.zeros(1, channels, size, size, requires_grad=True)
    conv(x)[0, 0, size // 2, size // 2].backward()
    return x.grad[0]


g = probe(make("plain", "conv", in_channels=4, out_channels=4, kernel_size=5, padding=2))
print("plain 5x5: input pixels seen\n", (g.sum(0) > 0).int())
print("input channels seen:", [c for c in range(4) if g[c].sum() > 0])
try:
    g = probe(make("student-dwsep", "conv", in_channels=4, out_channels=4, kernel_size=5, padding=2))
    print("yours, 5x5: input pixels seen\n", (g.sum(0) > 0).int())
    print("input channels seen:", [c for c in range(4) if g[c].sum() > 0])
except NotImplementedError as e:
    print(f"not implemented yet: {e}")

# %% [markdown]
# ## 4 · Plugged into a tiny MSIT by a config

# %%
from msit_lite.config import build_model, load_config

print(open("student/a2_branch_conv.yaml").read())
try:
    model = build_model(load_config("student/a2_branch_conv.yaml"))
    msc = sum(p.numel() for p in model.msno.msc.parameters())
    out = model(torch.rand(1, 3, 8, 8), torch.rand(1, 4, 2) * 2 - 1, torch.full((1, 2), 0.25))
    print(f"MSC parameters with your conv: {msc:,}; output {list(out.shape)}")
except NotImplementedError as e:
    print(f"not implemented yet: {e}")

# %% [markdown]
# ## 5 · Check

# %%
grade_notebook("A2")
