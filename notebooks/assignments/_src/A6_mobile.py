# %% [markdown]
# # A6 · A lighter MSIT for mobile devices (open-ended)
#
# **Context.** The paper ends with its own limitation: *"the model still has a large number of parameters,
# making it challenging to integrate into embedded devices. In the future, we hope to develop lighter and
# more performant networks suitable for integration into mobile devices"* (§V). This assignment is that
# future work, at the scale of this course: design an MSIT that fits a fixed budget.
#
# **The budget** (checked by `msit-lite grade A6`), relative to the shipped **MSIT-lite**
# (`configs/lite-msit.yaml`, 343,468 parameters) so that it means the same on every machine:
#
# | | budget | how it is measured |
# |---|---|---|
# | parameters | **≤ 150,000** | deployed count (`msit-lite params`: `deployed`) |
# | compute | **≤ 40 %** of MSIT-lite's FLOPs | a 64×64 → ×4 upscale (every HR pixel), `torch.utils.flop_counter` |
# | CPU time | **≤ 50 %** of MSIT-lite's | same upscale, 1 thread, same process: CPU time of the process, best of 3 interleaved runs |
#
# Why ratios and not "X ms"? A millisecond budget means nothing on an unknown grading machine; "half of
# MSIT-lite on the same core, measured in the same process" does. FLOPs are exact and machine-independent but
# miss the memory-bound gathers of the window attention; CPU time sees everything but is noisy. The grader uses
# both, and measures a 16×16 → ×4 upscale to stay fast: costs grow with the number of pixels for both models
# alike, so the *ratios* do not depend on the size (§3 shows it). On MSIT-lite a 64×64 → ×4 upscale is
# about 33 GFLOP and takes a few seconds of one CPU core.
#
# And it must still be an **MSIT** and still be **good for something**:
#
# * the built model (checked on the object, not on the config text) is an MSIT whose **MSNO** (at least two MSC
#   branches) and **MSSA** (a multi-scale Q projection, at least two) are present — a tiny LIIF, `msno: none`
#   or conventional SA is not this assignment, however cheap;
# * it upscales to **arbitrary** scales;
# * trained from scratch by the grader for **400 Adam steps** (lr 3e-3, batches of 4 synthetic 16×16 LR patches
#   with edges, discs and stripes, η ~ U(2, 4), 256 queries each; `budget.quality_batch`), it beats **bilinear
#   upsampling by ≥ 0.2 dB** PSNR on held-out synthetic images, averaged over ×2.5 and ×3.5
#   (`budget.psnr_gain`). The reference solution gets about +0.5 dB; an untrained MSIT is ~3 dB *below* bilinear.
#
# **Your task** — open-ended, in `student/`:
#
# * `a6_mobile.yaml` is your model: any registered pieces, any sizes;
# * `a6_mobile.py` may register new pieces (`@register(kind, name)`); it starts with a depthwise-separable
#   conv to implement (§2) — a first step, not the whole answer.
#
# **Check** with the last cell, or in a terminal `msit-lite grade A6`.

# %%
import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

import msit_lite
from msit_lite.grading import a6 as budget
from msit_lite.grading import grade_notebook, load_student
from msit_lite.params import count_parameters
from msit_lite.utils import quick_mode

msit_lite.seed_everything(0)
torch.set_num_threads(1)  # the budget is for one thread
QUICK = quick_mode()

mine = load_student("A6")  # (re)imports student/a6_mobile.py: run this cell again after every edit
print("registered conv:", mine.CONV_NAME)
print(f"budget: <= {budget.PARAM_BUDGET:,} parameters, <= {budget.FLOP_RATIO:.0%} of MSIT-lite's FLOPs, "
      f"<= {budget.TIME_RATIO:.0%} of its CPU time")


def attempt(fn):
    """Run a playground cell against your code; one line instead of a traceback while it is a stub."""
    try:
        return fn()
    except NotImplementedError as e:
        print(f"not implemented yet: {e}")


# %% [markdown]
# ## 1 · Where MSIT-lite's parameters and operations go
#
# Parameters by module, then floating-point operations of a 16×16 → ×4 upscale (4,096 HR pixels) by module.

# %%
lite = budget.reference_model()
report = count_parameters(lite)
print(f"MSIT-lite: {report.deployed:,} parameters")
for name, counts in report.modules.items():
    if "." not in name:
        print(f"  {name:14s}{counts['trainable']:>9,}")


PARTS = {"encoder": ["encoder"], "MSNO": ["channel_proj", "msno"], "Q/V maps": ["attention.q_proj", "attention.v_proj"],
         "positional bias": ["attention.pos_bias"], "decoder": ["decoder"], "  its first layer": ["decoder.layers.0"]}


def flops_by_part(model, lr_size=16):
    """Share of the FLOPs of an lr_size² -> x4 upscale per part (the rest: attention scores, long skip)."""
    with torch.no_grad(), FlopCounterMode(display=False, depth=3) as counter:
        model(*budget.upscale_inputs(lr_size))
    per = {name: sum(ops.values()) for name, ops in counter.get_flop_counts().items()}
    total = counter.get_total_flops()
    shares = {part: sum(per.get(f"{type(model).__name__}.{m}", 0) for m in mods) / total for part, mods in PARTS.items()}
    shares["rest"] = 1 - sum(v for k, v in shares.items() if not k.startswith(" "))
    return total, shares


total, shares = flops_by_part(lite)
print(f"\n16x16 -> x4: {total / 1e9:.3f} GFLOP")
for part, share in shares.items():
    print(f"  {part:18s}{share:7.1%}")

# %% [markdown]
# The decoder's **first layer** alone is most of the work. Per HR pixel, MSSA hands the decoder the
# window's P = (2r + 1)² value vectors of C channels each, concatenated (the official code's reading of Eq. 10,
# `docs/REPRODUCTION.md` row 4): P·C + 2 = 49·32 + 2 = 1,570 inputs to a Linear of 128 units — 200k
# multiply-adds for every output pixel. The convolutions (encoder, MSNO, the Q/V maps) run once per *LR*
# pixel, 16 times fewer positions at ×4. So the levers, roughly in order: the window radius r, the width C,
# the decoder's first hidden size, the positional encoding's width (`enc_dims`), and only then the convs.

# %% [markdown]
# ## 2 · A depthwise-separable conv (your first piece)
#
# A k×k conv from C_in to C_out channels has C_in·C_out·k² weights. MobileNet factorises it: a **depthwise**
# k×k conv (one filter per input channel, `groups = C_in`: C_in·k² weights) then a **pointwise** 1×1 conv
# (C_in·C_out). For MSNO's 9×9 branch of 8→8 channels: 5,184 vs 648 + 64. Implement `DepthwiseSeparableConv`
# in `student/a6_mobile.py`; it is registered as `conv: a6-dwsep`, so MSNO and MSSA build it for every k×k conv
# when your config says `conv: a6-dwsep`.

# %%
def playground_dwsep():
    conv = mine.build_dwsep(8, 8, 9, padding=4)
    plain = nn.Conv2d(8, 8, 9, padding=4)
    y = conv(torch.randn(1, 8, 12, 12))
    count = lambda m: sum(p.numel() for p in m.parameters())  # noqa: E731
    print(f"9x9, 8->8: plain {count(plain):,} parameters, yours {count(conv):,}; output {tuple(y.shape)}")


attempt(playground_dwsep)

# %% [markdown]
# ## 3 · Your model against the budget
#
# `student/a6_mobile.yaml` starts as MSIT-lite with your conv — far over budget. Change it (and add pieces)
# until the numbers fit. FLOPs are deterministic; the ratio is the same at every input size:

# %%
def my_model():
    return budget.build_student_model(mine)


def flop_report():
    model = my_model()
    n = budget.parameter_count(model)
    print(f"parameters: {n:,} (budget {budget.PARAM_BUDGET:,}) -> {'OK' if n <= budget.PARAM_BUDGET else 'over'}")
    sizes = (16, 32) if QUICK else (16, 32, 64)
    for size in sizes:
        ratio = budget.count_flops(model, budget.upscale_inputs(size)) / budget.count_flops(lite, budget.upscale_inputs(size))
        print(f"FLOPs {size}x{size} -> x4: {ratio:.1%} of MSIT-lite (budget {budget.FLOP_RATIO:.0%})")
    total, shares = flops_by_part(model)
    print("your FLOPs by part:", ", ".join(f"{k.strip()} {v:.0%}" for k, v in shares.items()))


attempt(flop_report)

# %% [markdown]
# CPU time, measured as the grader does (process CPU time, best of 3 interleaved runs, one thread): the
# numbers depend on the machine, the **ratio** is what the budget limits.

# %%
# NBVAL_IGNORE_OUTPUT
def time_report():
    model = my_model()
    size = 32 if QUICK else 64
    t_mine, t_lite = budget.time_ratio(model, lite, budget.upscale_inputs(size))
    print(f"{size}x{size} -> x4 on 1 thread: yours {t_mine * 1e3:.0f} ms, MSIT-lite {t_lite * 1e3:.0f} ms CPU: "
          f"{t_mine / t_lite:.0%} (budget {budget.TIME_RATIO:.0%})")


attempt(time_report)

# %% [markdown]
# ## 4 · Arbitrary scale, and the quality bar
#
# A mobile MSIT is still an arbitrary-scale model: `msit_lite.inference.predict` queries any output size. And a
# lighter model is only an answer if it still *does* super-resolution: the grader trains it from scratch on
# synthetic images — edges, discs and stripes, which bilinear upsampling blurs — and compares it with bilinear
# upsampling on images it has not seen. Four training images and their LR inputs:

# %%
import matplotlib.pyplot as plt

lr_b, coord_b, cell_b, gt_b = budget.quality_batch(0)
hr_side = round(2 / cell_b[0, 0].item())
gen = torch.Generator().manual_seed(1_000_003)          # the generator of batch 0, replayed for the pictures
torch.rand(1, generator=gen)
pictures = budget.synthetic_images(4, hr_side, gen)
fig, axes = plt.subplots(2, 4, figsize=(10, 5))
for i in range(4):
    axes[0, i].imshow(pictures[i].permute(1, 2, 0)); axes[0, i].set_title(f"HR {hr_side}×{hr_side}", fontsize=9)
    axes[1, i].imshow((lr_b[i] * 0.5 + 0.5).permute(1, 2, 0), interpolation="nearest"); axes[1, i].set_title("LR 16×16", fontsize=9)
for ax in axes.flat:
    ax.axis("off")
plt.tight_layout(); plt.show()
print(f"batch 0: {lr_b.shape[0]} LR patches, {coord_b.shape[1]} queries each, scale {hr_side / 16:.2f}")

# %% [markdown]
# Your model at arbitrary scales, then the grader's training budget and PSNR gain (this takes a minute of CPU
# for a model within the budget; the grader does exactly this):

# %%
# NBVAL_IGNORE_OUTPUT
from msit_lite.inference import predict


def scale_and_train():
    model = my_model()
    lr = torch.rand(1, 3, 10, 13) * 2 - 1
    for s in (1.5, 2.3, 3.7):
        size = (round(10 * s), round(13 * s))
        print(f"x{s}: 10x13 -> {tuple(predict(model, lr, size, fast=False).shape[-2:])}")
    budget.require_msit(model)
    msit_lite.seed_everything(0)
    print("before training, PSNR over bilinear:", {s: round(g, 2) for s, g in budget.psnr_gain(model).items()})
    before, after = budget.train_budget(model)
    gains = budget.psnr_gain(model)
    print(f"{budget.QUALITY_STEPS} steps: L1 on a fixed batch {before:.4f} -> {after:.4f}; PSNR over bilinear "
          f"{ {s: round(g, 2) for s, g in gains.items()} } (bar: mean >= {budget.QUALITY_MARGIN_DB} dB)")


attempt(scale_and_train)

# %% [markdown]
# **What the grader's bar does not measure: quality on photos.** Beating bilinear on synthetic shapes after 400
# steps says the model works, not how good it is. To know, train it as the lite models were trained (`msit-lite train student/a6_mobile.yaml`, with a
# `train:` section copied from `configs/lite-msit.yaml`) and compare with `msit-lite eval` on Set5/Set14 —
# about an hour on one CPU core. Report the PSNR next to MSIT-lite's (`checkpoints/lite-msit/eval.json`) with
# its parameter count: on a mobile device, dB per parameter and per millisecond is the trade-off that matters.

# %% [markdown]
# ## 5 · Check
#
# Each check prints ✓ or ✗ with a hint, and the hints state the measured numbers against the budget. With the
# untouched stub every check fails; make them pass.

# %%
grade_notebook("A6")
