# %% [markdown]
# # A4 · A RefConv-style re-parameterised convolution, compared with RIM (Eq. 11, Table III)
#
# **Context.** MSIT is trained *cumulatively* (paper §III-C, Fig. 4): stage 1 trains plain convolutions
# with weights W; stage 2 freezes W and learns a **remap** W′ of it. The paper's RIM (Eq. 11) is
#
# $$W' = W + \mathrm{DWConv}_{3\times3}(W) \odot \mathrm{Linear}(W),$$
#
# and Table III compares it with **RefConv** (Cai et al.), the same idea without the `Linear` factor:
#
# $$W' = W + \mathrm{DWConv}_{3\times3}(W).$$
#
# W′ does not depend on the input, so after training the remap can be **folded**: a plain conv holding
# W′ computes the same function (the paper's inference form; the official code never folds,
# `docs/REPRODUCTION.md` row 7). The package has both (`msit_lite.models.rim.RIMConv2d`, `RefConv2d`).
#
# **Your task** — in `student/a4_refconv.py` (not in this notebook), write your own RefConv:
#
# 1. `RefocusConv2d`: the frozen W as a **buffer** `weight`, the depthwise map `refocus` as an
#    `nn.Parameter` initialised to **zero** (so that W′ = W at the start of stage 2), `effective_weight()`,
#    `forward(x)` and `fold()` → a plain `nn.Conv2d` (§2, §3);
# 2. `parameter_counts(...)`: trainable, frozen and deployed numbers from the formula of §4;
# 3. select it in `student/a4_refconv.yaml` (`conv: a4-refconv`): it plugs into MSIT through the
#    registry, no edit of `msit_lite` (§5).
#
# Then §4 compares parameter counts with Table III and §5 runs a tiny cumulative training.
# **Check** with the last cell, or in a terminal `msit-lite grade A4`.

# %%
import matplotlib.pyplot as plt
import numpy as np
import skimage.data
import torch
import torch.nn.functional as F
from torch import nn

import msit_lite
from msit_lite.config import build_model, load_config
from msit_lite.grading import grade_notebook, load_student
from msit_lite.models import load_stage1
from msit_lite.models.rim import RefConv2d, RIMConv2d, rim_modules
from msit_lite.utils import quick_mode

msit_lite.seed_everything(0)
torch.set_num_threads(1)  # bit-stable printed numbers
QUICK = quick_mode()

a4 = load_student("A4")  # (re)imports student/a4_refconv.py: run this cell again after every edit
print("your conv is registered as:", a4.CONV_NAME)


def attempt(fn):
    """Run a playground cell against your code; one line instead of a traceback while it is a stub."""
    try:
        return fn()
    except NotImplementedError as e:
        print(f"not implemented yet: {e}")


# %% [markdown]
# ## 1 · Two remaps of one frozen kernel
#
# Take a 4→4 conv with 5×5 kernels, W random (standing in for stage-1 weights), and put the *same* W into
# the package's RIM and RefConv. Both start with a random map (the official N(0, 2/fan_out)
# initialisation), so on the first step of stage 2 they already compute something else than stage 1 did:

# %%
W = torch.randn(4, 4, 5, 5)
rim, ref = RIMConv2d(4, 4, 5), RefConv2d(4, 4, 5)
for m in (rim, ref):
    m.weight.copy_(W)
with torch.no_grad():
    for name, m in (("RIM", rim), ("RefConv", ref)):
        change = (m.effective_weight() - W).norm() / W.norm()
        print(f"{name:8s} at initialisation: |W' - W| / |W| = {change:.2f}")

fig, axes = plt.subplots(1, 3, figsize=(7, 2.4))
with torch.no_grad():
    panels = [("W (one 5x5 kernel)", W[0, 0]), ("RIM: W' - W", rim.remap()[0, 0]), ("RefConv: W' - W", ref.remap()[0, 0])]
for ax, (title, img) in zip(axes, panels):
    ax.imshow(img, cmap="RdBu_r", vmin=-2, vmax=2)
    ax.set_title(title, fontsize=9)
    ax.set_axis_off()
plt.tight_layout()
plt.show()

# %% [markdown]
# The package's cumulative training therefore defaults to `rim_init: identity`
# (`msit_lite/training/cumulative.py`): it zeroes RIM's `linear` (RefConv's map) after loading stage 1,
# so that W′ = W exactly. Your conv builds that in: its map *is* zero when constructed.
#
# Why zero is safe for RefConv but not for both factors of RIM: ∂W′/∂map = W ≠ 0, so a zero map still
# receives a gradient. In RIM's product DWConv(W) ⊙ Linear(W), zeroing *both* factors gives each a
# zero gradient — a remap that never learns (the "dead RIM" of `docs/REPRODUCTION.md` row 9).

# %% [markdown]
# ## 2 · Your conv: W as a batch of K one-channel images
#
# W has shape [O, I/g, k, k]: K = O·I/g two-dimensional kernels. View it as **one image with K channels**,
# `W.view(1, K, k, k)`, and filter every channel with its own map_k×map_k filter — a depthwise conv,
# `F.conv2d(w, refocus, padding=map_k // 2, groups=K)` with `refocus` of shape [K, 1, map_k, map_k].
# Reshape back and add W.
#
# **Why an `nn.Parameter` and not an `nn.Conv2d`?** MSNO and MSSA apply the official initialisation to every
# `nn.Conv2d` they contain *after* building their convs — a map held in an `nn.Conv2d` would be made random
# again inside MSIT:

# %%
from msit_lite.models.msno import official_init

holder = nn.Sequential(nn.Conv2d(4, 4, 3, groups=4, bias=False))
nn.init.zeros_(holder[0].weight)
official_init(holder)
print("a zero-initialised nn.Conv2d after official_init: all zero?", bool((holder[0].weight == 0).all()))

# %% [markdown]
# Playground: your conv with the same W as above. A fresh one must give W′ = W; with a random map it must
# agree with the package's `RefConv2d` holding the same map.

# %%
def playground_remap():
    mine = a4.build_refocus_conv(4, 4, 5)
    mine.weight.copy_(W)
    with torch.no_grad():
        print("fresh: W' == W:", torch.equal(mine.effective_weight(), W))
        mine.refocus.copy_(0.1 * torch.randn_like(mine.refocus))
        ref.convmap.weight.copy_(mine.refocus)
        err = (mine.effective_weight() - ref.effective_weight()).abs().max()
    print("with a random map, equal to RefConv2d (max abs diff < 1e-6):", bool(err < 1e-6))


attempt(playground_remap)

# %% [markdown]
# ## 3 · Folding: the deployed conv
#
# Because W′ depends only on parameters, `fold()` copies W′ and the bias into a plain `nn.Conv2d`. The two
# must agree to float rounding. The package does it for a whole model with `msit_lite.models.fold`:

# %%
x = torch.randn(1, 4, 12, 12)
with torch.no_grad():
    err = (ref(x) - ref.to_conv()(x)).abs().max()
print("package RefConv2d vs its folded nn.Conv2d, max abs diff < 1e-5:", bool(err < 1e-5))


def playground_fold():
    mine = a4.build_refocus_conv(4, 4, 5)
    mine.weight.copy_(W)
    with torch.no_grad():
        mine.refocus.copy_(0.1 * torch.randn_like(mine.refocus))
        folded = mine.fold()
        err = (mine(x) - folded(x)).abs().max()
    print(f"your conv vs its fold(): {type(folded).__name__}, max abs diff < 1e-5:", bool(err < 1e-5))


attempt(playground_fold)

# %% [markdown]
# ## 4 · Counting parameters (Table III's column)
#
# Per conv with O outputs, I inputs, groups g, kernel k, K = O·I/g kernels and a bias of O numbers:
#
# | | trainable | frozen (buffer) | deployed (folded) |
# |---|---|---|---|
# | plain conv (stage 1) | K·k² + O | 0 | K·k² + O |
# | RIM | K·(map_k² + 1) + O | K·k² | K·k² + O |
# | RefConv (yours) | K·map_k² + O | K·k² | K·k² + O |
#
# So *during stage 2* a remap trains map_k² = 9 numbers per kernel instead of k²: fewer for every k ≥ 5,
# but not for 3×3 kernels (RIM 9 + 1 = 10 > 9, RefConv 9 = 9 — `docs/REPRODUCTION.md` row 8). After
# folding, every variant deploys exactly the stage-1 network. Per kernel, for MSC's sizes:

# %%
print(" k   plain k^2   RIM 9+1   RefConv 9")
for k in (3, 5, 7, 9, 17, 33):
    print(f"{k:2d}   {k * k:9d}   {10:7d}   {9:9d}")

# %% [markdown]
# Now the whole EDSR-baseline MSIT of Table III (16 MSC branches 3×3…33×33, dim 256), built from the
# released config with only `conv` switched. The paper prints one rounded number per row:

# %%
from msit_lite.paper import TABLE_III
from msit_lite.params import count_parameters

# The model section of configs/edsr-baseline-msit-rim.yaml, with `conv` left open.
FULL = {"encoder": {"name": "edsr-baseline", "args": {"n_resblocks": 16, "n_feats": 64}}, "dim": 256, "heads": 8,
        "radius": 3, "msno": {"name": "msno", "args": {"branches": 16, "fem": "official", "merge": "sim"}},
        "attention": {"name": "mssa", "args": {"projections": 4, "enc_dims": 64, "posenc_scale": 10}},
        "decoder": {"name": "mlp", "args": {"hidden_list": [256, 256, 256, 256], "act": "gelu"}}}


def full_model(conv):
    return build_model({"model": {"name": "msit", "args": {**FULL, "conv": conv}}})


rows = [("plain (stage 1)", "plain", "MSNO, MSSA"), ("RIM", "rim", "MSNO, MSSA, RIM"),
        ("RefConv", "refconv", "MSNO, MSSA, RefConv")]
print(f"{'conv':16s}{'trainable':>12s}{'frozen W':>12s}{'deployed':>12s}   paper (Table III)")
for label, conv, paper_row in rows:
    r = count_parameters(full_model(conv))
    print(f"{label:16s}{r.trainable:>12,}{r.rim_buffers:>12,}{r.deployed:>12,}   {TABLE_III.row(paper_row).params}")


def yours_full():
    model = full_model(a4.CONV_NAME)
    mine = [m for m in model.modules() if isinstance(m, a4.RefocusConv2d)]
    trainable = count_parameters(model).trainable
    frozen = sum(m.weight.numel() for m in mine)
    deployed = trainable - sum(m.refocus.numel() for m in mine) + frozen
    print(f"{'yours':16s}{trainable:>12,}{frozen:>12,}{deployed:>12,}   (should equal the RefConv row)")


attempt(yours_full)

# %% [markdown]
# The paper's 8.1M → 6.0M is stage 2's *trainable* count. The 33×33 kernels dominate: 1089 numbers each in
# stage 1, 9 (RefConv) or 10 (RIM) in stage 2 — the 3×3 V and Q convs go the other way, but there are few
# of them. RIM's extra `Linear` costs one number per kernel: 86,016 here.

# %% [markdown]
# ## 5 · A tiny cumulative training (quick path)
#
# Stage 1 trains the tiny MSIT of `student/a4_refconv.yaml` with `conv: plain` on 24×24 LR patches cut from
# scikit-image's photos (one scale η ~ U(1, 4) per batch, as §IV-A). Stage 2 then starts from those weights
# with the **same** batches for every variant:
#
# * `plain, continued` — the control: as many more steps without any remap;
# * `RIM (official init)` — the released code's start, random map;
# * `RIM (identity)`, `RefConv (identity)` — the package's default `rim_init: identity`;
# * `yours` — your conv (identity by construction).
#
# It reports the PSNR on a held-out photo (×2, ×3, ×4 averaged) right after the switch and at the end.
# `MSIT_QUICK=0` runs ten times as many steps.

# %%
from msit_lite.data.sampler import ASSRPatches, SampleKey, full_image_item
from msit_lite.inference import predict
from msit_lite.metrics import psnr

msit_lite.seed_everything(0)  # the same stage 1 whatever the cells above drew
STEPS1, STEPS2 = (120, 60) if QUICK else (1200, 600)
photos = [skimage.data.astronaut(), skimage.data.chelsea(), skimage.data.coffee()]
patches = ASSRPatches(photos, patch=24, sample_q=256, scale_min=1.0, scale_max=4.0, seed=0)
scales = np.random.default_rng(0).uniform(1.0, 4.0, STEPS1 + STEPS2)


def batch(step):
    items = [patches[SampleKey(i, float(scales[step]), step)] for i in range(len(photos))]
    return {key: torch.stack([it[key] for it in items]) for key in ("inp", "coord", "cell", "gt")}


def norm(t):
    return (t - 0.5) / 0.5


def train(model, steps):
    params = [p for p in model.parameters() if p.requires_grad]
    opt = torch.optim.Adam(params, lr=1e-3)
    model.train()
    for step in steps:
        b = batch(step)
        loss = F.l1_loss(model(norm(b["inp"]), b["coord"], b["cell"]), norm(b["gt"]))
        opt.zero_grad()
        loss.backward()
        opt.step()
    return model


val_hr = torch.from_numpy(skimage.data.rocket()[150:246, 250:346].copy()).permute(2, 0, 1).float() / 255


def val_psnr(model):
    scores = []
    for s in (2, 3, 4):
        item = full_image_item(val_hr, s)
        out = predict(model, norm(item["inp"])[None], tuple(item["hr"].shape[-2:]), fast=False)
        scores.append(psnr((out * 0.5 + 0.5).clamp(0, 1), item["hr"][None], crop_border=s, test_y_channel=False))
    return float(np.mean(scores))


tiny = load_config("student/a4_refconv.yaml")["model"]


def tiny_model(conv):
    return build_model({"model": {"name": tiny["name"], "args": {**tiny["args"], "conv": conv}}})


stage1 = train(tiny_model("plain"), range(STEPS1))
state1 = {k: v.clone() for k, v in stage1.state_dict().items()}
print(f"stage 1: {STEPS1} steps, validation PSNR {val_psnr(stage1):.2f} dB")

# %% [markdown]
# Stage 2, every variant from the same stage-1 weights:

# %%
def start_plain():
    model = tiny_model("plain")
    model.load_state_dict(state1)
    return model


def start_rim(conv, identity):
    model = tiny_model(conv)
    load_stage1(model, state1)
    if identity:
        with torch.no_grad():
            for m in rim_modules(model).values():
                (m.linear if m.linear is not None else m.convmap).weight.zero_()
    return model


def start_yours():
    model = tiny_model(a4.CONV_NAME)
    missing = model.load_state_dict(state1, strict=False).missing_keys
    assert all(k.endswith("refocus") for k in missing), missing
    return model


variants = [("plain, continued", start_plain), ("RIM (official init)", lambda: start_rim("rim", False)),
            ("RIM (identity)", lambda: start_rim("rim", True)), ("RefConv (identity)", lambda: start_rim("refconv", True)),
            ("yours", start_yours)]
print(f"{'stage 2':22s}{'trainable':>10s}{'PSNR at switch':>16s}{'after ' + str(STEPS2) + ' steps':>18s}")
stage1_psnr, switch = val_psnr(stage1), {}
for name, start in variants:
    try:
        msit_lite.seed_everything(1)
        model = start()
    except NotImplementedError as e:
        print(f"{name:22s}  not implemented yet: {e}")
        continue
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    switch[name] = at_switch = val_psnr(model)
    after = val_psnr(train(model, range(STEPS1, STEPS1 + STEPS2)))
    print(f"{name:22s}{trainable:>10,}{at_switch:>13.2f} dB{after:>15.2f} dB")
for name, value in switch.items():
    same = abs(value - stage1_psnr) < 1e-9
    print(f"{name}: at the switch {'identical to stage 1' if same else f'moved by {value - stage1_psnr:+.3f} dB'}")

# %% [markdown]
# **What this run can and cannot show.** The column *at switch* is exact, not noise: every identity-initialised
# variant (and yours, if it is right) starts at exactly stage 1's PSNR, while RIM with the official random map
# starts as a *different* network — better or worse by chance — whose first stage-2 steps go into undoing
# (or keeping) a random perturbation rather than refining stage 1. The last column is a few dozen steps of a 10⁴-parameter
# model on three photos: differences of a few hundredths of a dB between RIM, RefConv and the control are
# within the noise of such a run — the paper's own Table III difference between RIM and RefConv is
# 0–0.02 dB after 1000 epochs on DIV2K. Your conv and `RefConv (identity)` compute the same function from the
# same start, so their rows should agree to float rounding. A fair comparison would repeat the experiment
# over seeds and train for much longer (`msit-lite train` with `configs/ablations/t3-row5-refconv.yaml`).

# %% [markdown]
# ## 6 · Check
#
# Each check prints ✓ or ✗ with a hint. With the untouched stub every check fails; make them pass.

# %%
grade_notebook("A4")
