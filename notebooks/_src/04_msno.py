# %% [markdown]
# # 04 · MSNO: multi-scale convolutions, scale integration and modulation (Eq. 4–6)
#
# The encoder gives one latent code per LR pixel, `Z` `[b, C, h, w]`, all computed with the same
# 3×3 receptive field growth. The **Multi-Scale Neural Operator** (MSNO, paper §III-B(a), Fig. 3a)
# gives that code *multi-scale* character **before** any HR query is made, at LR resolution
# (the paper's Fig. 3a; the block diagram with tensor shapes is drawn below, after the imports). The paper:
#
# > "Initially, the input enriches features through FEM. Subsequently, MSC was used to obtain
# > multi-scale latent codes. Lastly, SIM is utilized for scale mixing within the same scales and across
# > different scales, enhancing feature diversity." (Fig. 3 caption)
#
# * **MSC** (Eq. 4–5): split the `C` channels into `t` contiguous chunks of `C/t` and run chunk `i`
#   through its own convolution with kernel `3 + 2i` — 3×3, 5×5, …, (2t+1)×(2t+1). The full model
#   uses `C = 256`, `t = 16`: sixteen 16→16-channel convs with kernels 3 … 33.
# * **SIM** (Eq. 6) merges the scales in two steps: `W_ss` mixes channels *within* a scale (a grouped
#   1×1 conv, one group per scale, `C → 2C`), then after GELU `W_ds` mixes *across* scales (a dense
#   1×1 conv `2C → C`).
# * **modulation**: the result is multiplied element-wise by `W_Z · Z` — a 1×1 conv of the MSNO input.
#
# What the official code (and msit_lite) adds to Eq. 6 (`docs/OFFICIAL_CODE.md` §MSNO;
# `docs/REPRODUCTION.md` rows 5, 7–8): a **BatchNorm** between `W_ss` and the GELU, an output
# projection **`proj`** after the modulation, and `W_Z` is applied to the MSNO input *before* FEM (the
# paper does not say where it comes from). Eq. 6 also does not show the input projection `W_s`. The
# official `amsno.forward` (in `test_mod.py`), shortened:
#
# ```python
# v = self.v(x)
# s = torch.split(self.lem(self.s(x)), C // self.ca_num_heads, dim=1)
# # ... s_out = concatenation of Ms_conv_{i+1}(s[i]) over the branches ...
# s_out = self.sim1(self.act(self.bn(self.sim0(s_out))))
# x = s_out * v
# x = self.proj(x)
# ```
#
# We build all of it by hand on a small MSNO (`C = 64`, `t = 4`, kernels 3, 5, 7, 9 — the size of
# the golden tensors), check it against `msit_lite.models.msno.MSNO`, then look at receptive fields
# and at where the parameters of the full model go.

# %%
import math

import matplotlib.pyplot as plt
import numpy as np
import skimage.data
import torch
import torch.nn.functional as F
from PIL import Image

import msit_lite
from msit_lite.models import Trace
from msit_lite.models.msno import MSNO

msit_lite.seed_everything(0)
torch.set_num_threads(1)  # bit-stable printed numbers

# %% [markdown]
# ## Fig. 3a as a block diagram
#
# The shapes are read from the package's MSNO (small size: C = 64, t = 4 branches) through its `Trace`
# on a 20×24 input, so they are the real ones. Top: the main path; bottom: the modulation branch,
# computed from the MSNO input *before* FEM and multiplied in at ⊙.

# %%
from msit_lite.viz.diagram import block_diagram


probe = MSNO(64, branches=4, conv="plain").eval()
tr = Trace()
with torch.no_grad():
    probe(torch.zeros(1, 64, 20, 24), tr)
sh = lambda key: str(list(tr[key].shape)).replace(" ", "")
main = [("Z (input)", "[1,64,20,24]", "#eeeeee"),
        ("W_s 1×1", sh("s"), "#cfe2f3"),
        ("FEM shifts", sh("fem"), "#f9cb9c"),
        ("MSC: 4 convs", "4 × " + sh("msc.0") + "\n3×3 … 9×9", "#f9cb9c"),
        ("SIM: W_ss, BN", sh("merge.bn"), "#f9cb9c"),
        ("GELU, W_ds", sh("merge.reduce"), "#f9cb9c"),
        ("⊙ W_Z·Z", sh("modulated"), "#d9ead3"),
        ("proj 1×1 → Z''", "[1,64,20,24]", "#eeeeee")]
modulation = [(None, "", "")] * 1 + [("W_Z 1×1 (v)", sh("v"), "#d9ead3")] + [(None, "", "")] * 6
block_diagram([main, modulation], links=[((0, 0), (1, 1)), ((1, 1), (0, 6))],
              title="MSNO (paper Fig. 3a + the official BatchNorm and proj), small size C = 64, t = 4")
plt.show()

# %% [markdown]
# ## The package's module, with stage-1 (plain) convolutions
#
# `conv="plain"` is the first stage of the cumulative training; `conv="rim"` (the released
# models) re-parameterises the same k×k convs — notebook 08. A fresh BatchNorm has mean 0 and
# variance 1, which would hide it, so we give it random "trained" statistics. Everything is in
# **eval mode** (BatchNorm uses its running statistics).

# %%
C, t = 64, 4
msno = MSNO(C, branches=t, conv="plain", fem="official", merge="sim").eval()
with torch.no_grad():
    bn = msno.merge.bn
    bn.running_mean.uniform_(-0.3, 0.3); bn.running_var.uniform_(0.5, 2.0)
    bn.weight.uniform_(0.5, 1.5); bn.bias.uniform_(-0.3, 0.3)
    for conv in msno.msc.convs:            # official init leaves biases at 0; make them visible
        conv.bias.uniform_(-0.1, 0.1)

for name, p in msno.named_parameters():
    print(f"{name:24s} {tuple(p.shape)}")

# %% [markdown]
# ## MSNO by hand
#
# Only `F.conv2d` for the k×k convolutions and plain tensor algebra for everything else. The
# 1×1 convolutions are matrix products over the channel axis (`einsum`), and the grouped 1×1 conv
# of SIM is written as one small matrix product per group — which makes the "within a scale"
# meaning of `W_ss` explicit. FEM (the parameter-free shifts) was built in notebook 03; we reuse the
# module.

# %%
def conv1x1(x, weight, bias=None):
    """A 1×1 convolution is a matrix product over channels: out[o] = Σ_c W[o, c] x[c] (+ b[o])."""
    out = torch.einsum("oc,bchw->bohw", weight[:, :, 0, 0], x)
    return out if bias is None else out + bias.view(1, -1, 1, 1)


def kernel(conv):
    """The k×k kernel a conv really uses: W for a plain conv, W' for a RIM (notebook 08)."""
    return conv.effective_weight() if hasattr(conv, "effective_weight") else conv.weight


def msno_by_hand(x, m, t):
    c = x.shape[1]
    v = conv1x1(x, m.v.weight)                           # W_Z · Z   (the modulation, Eq. 6)
    s = m.fem(conv1x1(x, m.s.weight))                    # W_s, then FEM's shifts (Eq. 2-3)
    chunks = s.split(c // t, dim=1)                      # Eq. 4: t contiguous chunks of C/t
    msc = [F.conv2d(z, kernel(conv), conv.bias, padding=i + 1)     # Eq. 5: kernel 3 + 2i
           for i, (z, conv) in enumerate(zip(chunks, m.msc.convs))]
    # SIM step 1, W_ss: group g sees only scale g (C/t channels in, 2C/t out).
    w_ss, b_ss = m.merge.expand.weight[:, :, 0, 0], m.merge.expand.bias
    g_out = w_ss.shape[0] // t
    mixed = torch.cat([torch.einsum("oc,bchw->bohw", w_ss[g * g_out:(g + 1) * g_out], z)
                       for g, z in enumerate(msc)], dim=1) + b_ss.view(1, -1, 1, 1)
    bn = m.merge.bn                                      # official extra: BatchNorm (eval)
    normed = (mixed - bn.running_mean.view(1, -1, 1, 1)) / torch.sqrt(bn.running_var.view(1, -1, 1, 1) + bn.eps)
    normed = normed * bn.weight.view(1, -1, 1, 1) + bn.bias.view(1, -1, 1, 1)
    act = 0.5 * normed * (1 + torch.erf(normed / math.sqrt(2)))   # exact GELU
    sim = conv1x1(act, m.merge.reduce.weight, m.merge.reduce.bias)  # W_ds: across scales
    modulated = sim * v                                  # Hadamard product with W_Z · Z
    out = conv1x1(modulated, m.proj.weight, m.proj.bias)  # official extra: output projection
    return out, {"v": v, "msc": msc, "expand": mixed, "bn": normed, "reduce": sim, "modulated": modulated}


x = torch.randn(1, C, 20, 24)
with torch.no_grad():
    ours, parts = msno_by_hand(x, msno, t)
    trace = Trace()
    ref = msno(x, trace)

print("input", tuple(x.shape), "-> output", tuple(ours.shape))
for i, z in enumerate(parts["msc"]):
    print(f"  branch {i}: kernel {3 + 2 * i}x{3 + 2 * i}, chunk {tuple(z.shape)}")
checks = {"v": "v", "expand": "merge.expand", "bn": "merge.bn", "reduce": "merge.reduce", "modulated": "modulated"}
for mine, theirs in checks.items():
    assert (parts[mine] - trace[theirs]).abs().max() < 1e-5, mine
for i, z in enumerate(parts["msc"]):
    assert (z - trace[f"msc.{i}"]).abs().max() < 1e-5
err = (ours - ref).abs().max().item()
assert err < 1e-5
print("hand-built MSNO == msit_lite MSNO (max abs diff < 1e-5):", err < 1e-5)

# %% [markdown]
# The grouped 1×1 conv of SIM, seen as one `2C × C` matrix, is **block-diagonal**: each block maps
# one scale's 16 channels to 32 hidden channels, and nothing mixes two scales until the dense
# `W_ds` after the GELU. (`groups = t` here; MSSA's multi-scale projection in notebook 05 uses
# `groups = C/N` instead — a different choice for a similar layer.)

# %%
w = msno.merge.expand.weight.detach()[:, :, 0, 0]           # [2C, C/t]
dense = torch.zeros(2 * C, C)
for g in range(t):
    dense[g * 2 * C // t:(g + 1) * 2 * C // t, g * C // t:(g + 1) * C // t] = w[g * 2 * C // t:(g + 1) * 2 * C // t]
with torch.no_grad():
    assert (conv1x1(torch.cat(parts["msc"], 1), dense[:, :, None, None], msno.merge.expand.bias) - parts["expand"]).abs().max() < 1e-5
fig, axes = plt.subplots(1, 2, figsize=(9, 3.6))
im0 = axes[0].imshow(dense.abs(), cmap="viridis", aspect="auto", interpolation="nearest")
fig.colorbar(im0, ax=axes[0], label="|w|")
axes[0].set_title("W_ss as a dense 2C×C matrix (|w|)\nblock-diagonal: one block per scale")
axes[0].set_xlabel("input channel (scale 3×3 | 5×5 | 7×7 | 9×9)"); axes[0].set_ylabel("hidden channel")
im1 = axes[1].imshow(msno.merge.reduce.weight.detach()[:, :, 0, 0].abs(), cmap="viridis", aspect="auto", interpolation="nearest")
fig.colorbar(im1, ax=axes[1], label="|w|")
axes[1].set_title("W_ds (C×2C, |w|)\ndense: mixes all scales")
axes[1].set_xlabel("hidden channel"); axes[1].set_ylabel("output channel")
plt.tight_layout(); plt.show()

# %% [markdown]
# ## Receptive field of each MSC branch (full config: t = 16, kernels 3 … 33)
#
# The receptive field of one output pixel is the set of input pixels that influence it — the
# non-zero entries of the gradient of that pixel with respect to the input. For branch `i` it is
# exactly its `(3+2i) × (3+2i)` kernel footprint: the 33×33 branch sees 16× more pixels than the
# 9×9 one. This is the whole point of MSC: in one layer, different chunks of the latent code
# summarise neighbourhoods of very different sizes. (On a 48-pixel LR patch — a ×4 training
# crop — the 33×33 branch already sees most of the image.)
#
# The weights are random; only the *support* of the gradient matters here.

# %%
full = MSNO(256, branches=16, conv="plain").eval()
size, centre = 35, 17
fig, axes = plt.subplots(2, 8, figsize=(14, 4))
for i, (conv, ax) in enumerate(zip(full.msc.convs, axes.flat)):
    inp = torch.randn(1, 16, size, size, requires_grad=True)
    out = conv(inp)                                   # branch i alone: chunk i -> 16 channels
    out[0, :, centre, centre].sum().backward()        # one output pixel (all its channels)
    rf = inp.grad[0].abs().sum(0)
    k = 3 + 2 * i
    ys, xs = torch.nonzero(rf, as_tuple=True)
    assert (ys.max() - ys.min() + 1, xs.max() - xs.min() + 1) == (k, k)
    ax.imshow(rf > 0, cmap="Blues", vmin=0, vmax=1.3)
    ax.plot(centre, centre, "r+", ms=6)
    ax.set_title(f"branch {i}: {k}×{k}", fontsize=9); ax.set_xticks([]); ax.set_yticks([])
fig.suptitle("receptive field of one output pixel (red +) per MSC branch, on a 35×35 input", y=1.0)
plt.tight_layout(); plt.show()
print("receptive fields:", ", ".join(f"{3 + 2 * i}x{3 + 2 * i}" for i in range(16)))

# %% [markdown]
# ## What the branches do to a photo (random weights)
#
# To get a feel for the *scale* of each branch we feed a grayscale photo (copied into the 16 input
# channels of a branch) through the full config's branches with their **random initial weights**. A
# random k×k filter is a random pattern detector of size k: the 3×3 branch keeps fine detail, the
# 33×33 branch responds to structures tens of pixels wide and smears edges over a wide band (the
# frame along the border is the zero padding: k // 2 = 16 pixels for the 33×33 branch). These
# are *not* trained features — notebook 10 shows the feature maps of a trained model.

# %%
photo = Image.fromarray(skimage.data.camera()).resize((128, 128), Image.BICUBIC)
img = torch.from_numpy(np.asarray(photo, dtype=np.float32) / 255.0 - 0.5)
inp = img.expand(1, 16, 128, 128)
shown = [0, 3, 7, 11, 15]
fig, axes = plt.subplots(1, len(shown) + 1, figsize=(15, 2.6))
axes[0].imshow(img, cmap="gray"); axes[0].set_title("input (camera, 128×128)")
with torch.no_grad():
    for ax, i in zip(axes[1:], shown):
        y = full.msc.convs[i](inp)[0, 0]
        lim = y.abs().max().item()
        im = ax.imshow(y, cmap="RdBu_r", vmin=-lim, vmax=lim)
        fig.colorbar(im, ax=ax, fraction=0.046)
        ax.set_title(f"branch {i}: {3 + 2 * i}×{3 + 2 * i} (ch 0)")
for ax in axes:
    ax.axis("off")
plt.tight_layout(); plt.show()

# %% [markdown]
# ## Where the parameters go
#
# A branch is a `16 → 16`-channel conv with a `k × k` kernel: `16·16·k² + 16` parameters. The cost
# grows with `k²`, so the few largest kernels dominate: the 33×33 branch alone has 278,800
# parameters, more than the first eight branches together, and the sixteen branches hold 1,675,520
# of MSNO's 2,013,441 parameters (83 %). This is why RIM (notebook 08) matters: a RIM replaces the
# `k²` trainable numbers per 2-D kernel by `9 + 1` (a 3×3 remap and one scalar), whatever `k` is,
# and keeps the stage-1 weights as a frozen buffer.
#
# We count with `msit_lite.params.count_parameters` on the full stage-1 config and compare with the
# official module's count, `amsno` = 2,013,441 trainable (counted on the official model built from its
# config, `docs/OFFICIAL_CODE.md` §Parameter counts; it includes FEM's stride `mix_margin`, 1 number,
# because the official code makes it a trainable `nn.Parameter`).

# %%
from msit_lite.config import build_model
from msit_lite.params import count_parameters

spec = {"model": {"name": "msit", "args": {
    "encoder": {"name": "edsr-baseline", "args": {"n_resblocks": 16, "n_feats": 64}},
    "dim": 256, "heads": 8, "radius": 3, "conv": "plain",
    "msno": {"name": "msno", "args": {"branches": 16, "fem": "official", "merge": "sim"}},
    "attention": {"name": "mssa", "args": {"projections": 4}},
    "decoder": {"name": "mlp", "args": {"hidden_list": [256, 256, 256, 256], "act": "gelu"}}}}}
report = count_parameters(build_model(spec))
msno_count = report.modules["msno"]["trainable"]
print(f"msit_lite.params: msno = {msno_count:,} trainable (official amsno: 2,013,441)")
assert msno_count == 2_013_441

per_branch = [sum(p.numel() for p in conv.parameters()) for conv in full.msc.convs]
ks = [3 + 2 * i for i in range(16)]
assert per_branch == [16 * 16 * k * k + 16 for k in ks]
parts_count = {
    "MSC branches (16)": sum(per_branch),
    "W_Z (v) + W_s (s)": full.v.weight.numel() + full.s.weight.numel(),
    "SIM (W_ss, BN, W_ds)": sum(p.numel() for p in full.merge.parameters()),
    "proj": sum(p.numel() for p in full.proj.parameters()),
    "FEM stride (official count)": 1,
}
assert sum(parts_count.values()) == msno_count
for name, n in parts_count.items():
    print(f"  {name:28s} {n:>10,}  ({100 * n / msno_count:4.1f} %)")
print(f"  33x33 branch alone: {per_branch[-1]:,}; branches 0-7 together: {sum(per_branch[:8]):,}")

rim_per_branch = [16 * 16 * (9 + 1) + 16 for _ in ks]   # convmap 3x3 + linear 1 per 2-D kernel, + bias
fig, ax = plt.subplots(figsize=(9, 3.6))
xs = np.arange(16)
ax.bar(xs - 0.2, per_branch, width=0.4, label="plain conv: 16·16·k² + 16")
ax.bar(xs + 0.2, rim_per_branch, width=0.4, label="RIM, trainable: 16·16·(9+1) + 16 (nb 08)")
ax.set_xticks(xs, [f"{k}" for k in ks]); ax.set_xlabel("kernel size k of the MSC branch")
ax.set_ylabel("parameters"); ax.set_yscale("log"); ax.legend()
ax.set_title("parameters per MSC branch, full config (C = 256, t = 16)")
plt.tight_layout(); plt.show()

# %% [markdown]
# ## Paper vs official code, in one table
#
# | | paper (Eq. 4–6, Fig. 3a) | official code = msit_lite |
# | --- | --- | --- |
# | input of MSC | `Z` after FEM | `W_s·Z` (1×1, no bias), then FEM |
# | SIM | `W_ds(σ(W_ss[…]))` | `W_ss` (grouped 1×1, groups = t) → **BatchNorm** → GELU → `W_ds` |
# | modulation `W_Z` | "a learnable weight matrix", dynamically adjusted to the input | a 1×1 conv (no bias) of the MSNO input *before* FEM |
# | output | the product | the product, then **`proj`** (1×1 with bias) |
# | k×k convs | regular convs | plain in stage 1, RIM in stage 2 (notebook 08) |
#
# Ablations in the registry (Table IV): `branches` (t = 1, 2, 4, 8, 16), `merge: conv` ("SIM W/O",
# one plain 1×1 conv), `fem: none | paper`, and `msno: none` (Table III row 1).

# %% [markdown]
# ## Against the official code's golden tensors
#
# `modules/amsno` holds an official `amsno` (C = 64, t = 4, RIM convs with random weights and BN
# statistics) and its eval-mode outputs. We load the official weights through
# the key converter and check both the package module and our hand-built version (which uses each
# RIM's effective kernel `W'`). The golden files are not shipped with the package; without them this
# cell prints how to get them.

# %%
# NBVAL_IGNORE_OUTPUT
from msit_lite.paths import golden_dir

gdir = golden_dir() / "modules"
if not (gdir / "amsno.io.safetensors").is_file():
    print("golden tensors not found -- skipped (they live in ../shared/golden; set MSIT_GOLDEN=DIR to point elsewhere)")
else:
    from safetensors.torch import load_file
    from msit_lite.checkpoint import load_state_dict_checked
    from msit_lite.official import convert_state_dict

    sd = load_file(str(gdir / "amsno.weights.safetensors"))
    io = load_file(str(gdir / "amsno.io.safetensors"))
    converted = convert_state_dict({"amsno." + k: v for k, v in sd.items()})
    gold = MSNO(64, branches=4, conv="rim", fem="official", merge="sim").eval()
    load_state_dict_checked(gold, {k[len("msno."):]: v for k, v in converted.items()}, "amsno")
    with torch.no_grad():
        y_pkg = gold(io["x"])
        y_hand, _ = msno_by_hand(io["x"], gold, 4)
    for name, y in (("msit_lite MSNO", y_pkg), ("hand-built", y_hand)):
        e = (y - io["y_eval"]).abs().max().item()
        assert e <= 1e-5, name
        print(f"{name:15s} vs golden y_eval {tuple(io['y_eval'].shape)}: max abs diff {e:.1e}  (<= 1e-5, asserted)")

# %% [markdown]
# ## Exercises
#
# Each exercise cell runs as it is; put your answer where it says so and run it again. A **predict, then
# run** exercise has a second cell whose output is collapsed: decide first, then run it.

# %%
from msit_lite.exercises import reveal  # prints how a prediction compares; never raises


def trainable(module: torch.nn.Module) -> int:
    return sum(p.numel() for p in module.parameters() if p.requires_grad)

# %% [markdown]
# **Exercise 1 (predict, then run).** The full MSNO (C = 256) with **8** branches instead of 16 (Table
# IV's "MSC 8 convs"; kernels 3 … 17, chunks of 32 channels). How many parameters (plain convs, without
# FEM's stride)? Within 5 % counts as right.

# %%
my_answer_1 = None   # an integer

# %% hide-output
msno8 = MSNO(256, branches=8, conv="plain")
reveal(my_answer_1, trainable(msno8), close=0.05,
       hint="a branch is (C/t)·(C/t)·k² + C/t; the 1×1 convs are v, s (C² each, no bias), SIM (grouped C→2C, "
            "BN 2·2C, 2C→C) and proj (C² + C): only MSC and W_ss depend on t")

# %% [markdown]
# **Exercise 2 (predict, then run).** The receptive field of one output pixel of the *whole* small MSNO
# of this notebook (C = 64, t = 4, the official FEM with stride 1): its side in LR pixels?

# %%
my_answer_2 = None   # an integer

# %% hide-output
x_rf = torch.randn(1, 64, 31, 31, requires_grad=True)
msno(x_rf)[0, :, 15, 15].sum().backward()
rows_rf = torch.nonzero(x_rf.grad.abs().sum((0, 1, 3))).flatten()
reveal(my_answer_2, int(rows_rf.max() - rows_rf.min() + 1),
       hint="the 9×9 branch reaches 4 pixels, and FEM's shift (one pixel, diagonals included) adds 1 on each side; "
            "the 1×1 convs add nothing")

# %% [markdown]
# **Exercise 3 (predict, then run).** Table IV's "SIM W/O" replaces SIM by one plain 1×1 conv
# (`merge: conv`). For the full MSNO (C = 256, t = 16), how many parameters does that *save*?

# %%
my_answer_3 = None   # an integer

# %% hide-output
with_sim = MSNO(256, branches=16, conv="plain", merge="sim")
with_conv = MSNO(256, branches=16, conv="plain", merge="conv")
reveal(my_answer_3, trainable(with_sim) - trainable(with_conv), close=0.02,
       hint="SIM = grouped C→2C (C·2C/t + 2C) + BatchNorm (2·2C) + dense 2C→C (2C·C + C); the plain conv is C² + C")

# %% [markdown]
# **Exercise 4.** Replace `fem="official"` by `fem="none"` in the small `msno` and redo exercise 2 in your
# head first: which part of the receptive field does FEM contribute, and why is that a *weak* contribution
# for a 33×33 branch (notebook 10 measures what FEM does to a trained model with LAM)?
#
# ## Takeaways
#
# * MSNO = `W_s` → FEM → **MSC** (t parallel convs, kernels 3 … 2t+1, on contiguous channel chunks) →
#   **SIM** (grouped 1×1 *within* a scale, BatchNorm, GELU, dense 1×1 *across* scales) → ⊙ `W_Z·Z` →
#   `proj`. The BatchNorm, `proj` and `W_s` are the code's, not Eq. 6's.
# * One layer mixes receptive fields from 3×3 to 33×33: different channel chunks summarise
#   neighbourhoods of very different sizes.
# * Parameters grow with k²: the largest branches hold most of MSNO's 2.0M parameters — the target of
#   RIM's re-parameterisation (notebooks 06, 08).
# * The hand-built MSNO is asserted equal to `msit_lite.models.msno.MSNO`, and that to the official code.
#
# **Next:** notebook 05 builds MSSA, the multi-scale windowed attention that turns Z'' into one code per
# HR query point.
