# %% [markdown]
# # 03 · FEM — the Feature Enhancement Module
#
# MSIT's first step after the encoder (paper §III-B a), Fig. 3a) is the **Feature Enhancement Module**:
# before the multi-scale convolutions look at the latent codes Z, FEM *shifts* parts of Z by a pixel in
# different directions, so that each position also carries some of its neighbours' channels — "to
# enrich the information of latent code with no additional parameters" (the same zero-parameter
# trick as the spatial shift operations of efficient CNNs).
#
# The paper describes FEM in words and with two equations; the released code does something
# noticeably different (`docs/OFFICIAL_CODE.md` §FEM; `docs/REPRODUCTION.md` rows 1–2). We build
# **both** by hand and check them against `msit_lite.models.fem.FEM` (`mode="paper"` and
# `mode="official"`, the default, which every official checkpoint was trained with).

# %%
import matplotlib.pyplot as plt
import numpy as np
import skimage.data
import torch
import torch.nn.functional as F
from torch import nn

import msit_lite
from msit_lite.data.resize import imresize
from msit_lite.models.fem import FEM, official_mask, paper_mask

msit_lite.seed_everything(0)
torch.set_num_threads(1)

# %% [markdown]
# ## 1 · One shift: Eq. 2 and Eq. 3
#
# For a shift to the right by n pixels the paper writes (Z laid out H×W×C)
#
# $$Z[:, [0 : W-n] : [W-n : W], :] \rightarrow Z[:, [W-n : W] : [0 : W-n], :] \qquad (2)$$
#
# i.e. the last n columns are cut off and put back on the left ("the removed parts will be reversed
# to fill in the other side"): a shift **with wrap-around**, which is `torch.roll`. "To facilitate
# training" FEM is implemented as a convolution with the hand-designed 3×3 kernel
#
# $$\begin{bmatrix} 0 & 0 & 0 \\ 1 & 0 & 0 \\ 0 & 0 & 0 \end{bmatrix} \qquad (3)$$
#
# applied per channel (a *depthwise* conv). A convolution (PyTorch's is a cross-correlation) with a
# single 1 at row a, column b outputs `in[y + (a−1), x + (b−1)]`: the 1 at (1, 0) reads the **left**
# neighbour, so the content moves right. Circular padding gives the wrap-around, and a **dilation** of n
# turns the one-pixel shift into an n-pixel shift (the taps are then n pixels apart).

# %%
Z = torch.arange(15.0).view(1, 1, 3, 5)            # [b, C, H, W]: one channel, 3 x 5
n = 1
eq2 = torch.cat([Z[..., 5 - n:], Z[..., : 5 - n]], dim=-1)       # Eq. 2 literally: swap the two column blocks
eq3 = torch.tensor([[0.0, 0, 0], [1, 0, 0], [0, 0, 0]]).view(1, 1, 3, 3)
print("Z\n", Z[0, 0].int())
print("Eq. 2 (shift right by 1)\n", eq2[0, 0].int())
assert torch.equal(eq2, torch.roll(Z, 1, dims=-1))
for n in (1, 2):
    rolled = torch.roll(Z, shifts=n, dims=-1)
    conv = F.conv2d(F.pad(Z, (n, n, n, n), mode="circular"), eq3, dilation=n)
    assert torch.equal(rolled, conv)
print("Eq. 2 == roll by 1; roll by n == circular pad + Eq. 3 kernel with dilation n, for n = 1, 2 (asserted)")

# %% [markdown]
# ## 2 · The paper's FEM: eight contiguous groups, eight directions
#
# "The input Z is first divided into eight parts along the channel dimension, where each part will be
# shifted along specific directions, including upward, diagonally to the upper left, diagonally to the
# upper right, downward, diagonally to the lower left, diagonally to the lower right, to the left, and
# to the right." So with C channels: channels `0 … C/8−1` move up, the next C/8 up-left, and so on.
# We write each direction as the displacement (dy, dx) of the *content* (y grows downwards), build
# FEM with `torch.roll`, then again as one depthwise conv whose per-channel kernel has a single 1
# (at row 1 − dy, column 1 − dx: the pixel the output reads from).

# %%
DIRECTIONS = {  # content displacement (dy, dx), in the paper's order
    "up": (-1, 0), "up-left": (-1, -1), "up-right": (-1, 1), "down": (1, 0),
    "down-left": (1, -1), "down-right": (1, 1), "left": (0, -1), "right": (0, 1),
}

def fem_paper_roll(z: torch.Tensor, m: int = 1) -> torch.Tensor:
    groups = z.chunk(8, dim=1)                                    # 8 contiguous channel groups
    return torch.cat([torch.roll(g, shifts=(dy * m, dx * m), dims=(-2, -1))
                      for g, (dy, dx) in zip(groups, DIRECTIONS.values())], dim=1)

def paper_kernels(channels: int) -> torch.Tensor:
    k = torch.zeros(channels, 1, 3, 3)
    part = channels // 8
    for g, (dy, dx) in enumerate(DIRECTIONS.values()):
        k[g * part:(g + 1) * part, 0, 1 - dy, 1 - dx] = 1.0
    return k

def depthwise_shift(z: torch.Tensor, kernels: torch.Tensor, m: int = 1) -> torch.Tensor:
    z = F.pad(z, (m, m, m, m), mode="circular")                   # wrap-around
    return F.conv2d(z, kernels, dilation=m, groups=z.shape[1])    # one 3x3 kernel per channel

z = torch.randn(2, 64, 9, 11)
for m in (1, 2):
    a, b = fem_paper_roll(z, m), depthwise_shift(z, paper_kernels(64), m)
    pkg = FEM(64, mix_margin=m, mode="paper")(z)
    assert torch.equal(a, b) and torch.equal(a, pkg)
    print(f"m={m}: roll == depthwise conv == msit_lite FEM(mode='paper'), bit for bit (asserted)")
assert torch.equal(paper_kernels(64), paper_mask(64))
print("kernels == msit_lite paper_mask (asserted)")

# %% [markdown]
# ## 3 · The official FEM (class `LEM` in the official `test_mod.py`)
#
# The released code builds the kernel bank differently. Its constructor (`LEM.__init__`, with
# `mix_margin = 1`) starts from a zero mask and **sets** taps by channel index *modulo 4*, then by channel
# index *modulo 8* — without clearing the first ones:
#
# ```python
# self.mask[3::4, 0, 0, mix_margin] = 1.
# self.mask[2::4, 0, -1, mix_margin] = 1.
# self.mask[1::4, 0, mix_margin, 0] = 1.
# self.mask[0::4, 0, mix_margin, -1] = 1.
#
# self.mask[4::8, 0, 0, 2] = 1.
# self.mask[5::8, 0, 2, 0] = 1.
# self.mask[6::8, 0, 2, 2] = 1.
# self.mask[7::8, 0, 0, 0] = 1.
# ```
#
# Result, for the margin 1 every model uses:
#
# | c mod 8 | taps (a, b) | out[c, y, x] |
# | --- | --- | --- |
# | 0 | (1,2) | in[y, x+m] |
# | 1 | (1,0) | in[y, x−m] |
# | 2 | (2,1) | in[y+m, x] |
# | 3 | (0,1) | in[y−m, x] |
# | 4 | (1,2), (0,2) | in[y, x+m] + in[y−m, x+m] |
# | 5 | (1,0), (2,0) | in[y, x−m] + in[y+m, x−m] |
# | 6 | (2,1), (2,2) | in[y+m, x] + in[y+m, x+m] |
# | 7 | (0,1), (0,0) | in[y−m, x] + in[y−m, x−m] |
#
# Two departures from the paper: the directions are **interleaved** (channel 0 left, 1 right, 2 up,
# …, 8 left again) instead of 8 contiguous groups, and channels ≡ 4…7 (mod 8) output the **sum of two
# shifted copies** (an axial and a diagonal one), not a shift. We build it from the table alone.

# %%
OFFICIAL_TAPS = {0: [(1, 2)], 1: [(1, 0)], 2: [(2, 1)], 3: [(0, 1)],
                 4: [(1, 2), (0, 2)], 5: [(1, 0), (2, 0)], 6: [(2, 1), (2, 2)], 7: [(0, 1), (0, 0)]}

def official_kernels(channels: int) -> torch.Tensor:
    k = torch.zeros(channels, 1, 3, 3)
    for c in range(channels):
        for a, b in OFFICIAL_TAPS[c % 8]:
            k[c, 0, a, b] = 1.0
    return k

def fem_official_roll(z: torch.Tensor, m: int = 1) -> torch.Tensor:
    out = []
    for c in range(z.shape[1]):                                   # tap (a, b) reads in[y+(a-1)m, x+(b-1)m]
        out.append(sum(torch.roll(z[:, c], shifts=(-(a - 1) * m, -(b - 1) * m), dims=(-2, -1))
                       for a, b in OFFICIAL_TAPS[c % 8]))
    return torch.stack(out, dim=1)

assert torch.equal(official_kernels(64), official_mask(64))
print("kernels == msit_lite official_mask (asserted)")
for m in (1, 2):
    a = fem_official_roll(z, m)
    b = depthwise_shift(z, official_kernels(64), m)
    pkg = FEM(64, mix_margin=m, mode="official")(z)
    assert torch.equal(a, b) and torch.equal(a, pkg)
    print(f"m={m}: roll == depthwise conv == msit_lite FEM(mode='official'), bit for bit (asserted)")

# %% [markdown]
# (One more quirk, for completeness: the official constructor also takes a margin argument and uses
# it as a kernel *index*, which is only right for 1; the model always passes 1. `FEM(...,
# mask_margin=2)` reproduces the other case, golden `lem_m2`.)
#
# ### The two kernel banks side by side
#
# Kernels of 8 channels for each reading (with C = 8 the paper's groups have one channel each; for
# the C = 64 of MSNO's input each paper direction covers 8 consecutive channels). Above each kernel:
# where the content moves.

# %%
def moves(kernel: torch.Tensor) -> str:
    names = {v: k for k, v in DIRECTIONS.items()}
    taps = torch.nonzero(kernel[0]).tolist()                      # (a, b): content moves by (1-a, 1-b)
    taps.sort(key=lambda t: (t[0] != 1) + (t[1] != 1))            # axial before diagonal
    return " +\n".join(names[(1 - a, 1 - b)] for a, b in taps)

fig, axes = plt.subplots(2, 8, figsize=(13.5, 4.2))
for row, (title, bank) in enumerate((("paper", paper_kernels(8)), ("official", official_kernels(8)))):
    for c in range(8):
        ax = axes[row, c]
        im = ax.imshow(bank[c, 0], cmap="Greys", vmin=0, vmax=1.3)
        ax.set_xticks(np.arange(-0.5, 3), minor=True); ax.set_yticks(np.arange(-0.5, 3), minor=True)
        ax.grid(which="minor", color="0.6", lw=0.5); ax.tick_params(which="both", length=0, labelbottom=False, labelleft=False)
        ax.set_title(f"c{c}: {moves(bank[c])}", fontsize=8)
    axes[row, 0].set_ylabel(title, fontsize=11)
plt.tight_layout()
fig.colorbar(im, ax=axes, fraction=0.012, pad=0.01, label="kernel tap")
plt.show()

# %% [markdown]
# What each of the 64 channels of MSNO's input gets (same colour = same kernel): contiguous blocks for
# the paper, a period-8 stripe for the official code, which uses only four of the eight pure shifts
# and adds four two-copy patterns.

# %%
from matplotlib.colors import ListedColormap
from matplotlib.patches import Patch

banks = {"paper": paper_kernels(64), "official": official_kernels(64)}
pattern = {name: [moves(k).replace(" +\n", " + ") for k in bank] for name, bank in banks.items()}
labels = list(DIRECTIONS)                                          # the 8 pure shifts first, then the sums
for p in pattern["official"]:
    if p not in labels:
        labels.append(p)
ids = torch.tensor([[labels.index(p) for p in pats] for pats in pattern.values()])
colours = plt.cm.tab20(np.r_[0:20:2, 1:20:2][: len(labels)])   # strong colours first
fig = plt.figure(figsize=(12, 2.4))
ax = fig.add_axes([0.07, 0.5, 0.9, 0.42])
ax.imshow(ids, cmap=ListedColormap(colours), vmin=-0.5, vmax=len(labels) - 0.5, aspect="auto")
ax.set_yticks([0, 1], list(banks)); ax.set_xticks(range(0, 64, 8)); ax.set_xlabel("channel", labelpad=1)
fig.legend([Patch(color=c) for c in colours], labels, ncol=6, fontsize=8, loc="lower center", frameon=False)
plt.show()
print("distinct kernels: paper", len(set(pattern["paper"])), "| official", len(set(pattern["official"])),
      "(pure shifts among them:", sum(" + " not in p for p in set(pattern["official"])), ")")

# %% [markdown]
# ### What FEM does to an image
#
# To *see* the shifts we put the same grey photo into all 8 channels and use a large stride, m = 16
# (the model uses m = 1). Paper: eight shifted copies, wrapping around at the borders. Official: the
# first four are shifts; channels 4–7 superimpose two copies (a ghost), with values up to 2.

# %%
cam = imresize(skimage.data.camera(), size=(128, 128)).astype(np.float32) / 255
z_img = torch.from_numpy(cam)[None, None].repeat(1, 8, 1, 1)      # [1, 8, 128, 128]
with torch.no_grad():
    outs = {"paper": FEM(8, mix_margin=16, mode="paper")(z_img), "official": FEM(8, mix_margin=16, mode="official")(z_img)}
fig, axes = plt.subplots(2, 8, figsize=(12, 3.6))
for row, (name, out) in enumerate(outs.items()):
    bank = paper_kernels(8) if name == "paper" else official_kernels(8)
    for c in range(8):
        axes[row, c].imshow(out[0, c], cmap="gray", vmin=0, vmax=float(out[0, c].max()))
        axes[row, c].set_title(f"{name} c{c}\n{moves(bank[c])}".replace(" +\n", " + "), fontsize=7)
        axes[row, c].axis("off")
plt.tight_layout(); plt.show()
print("max value per official channel:", [round(v, 2) for v in outs["official"][0].amax((-2, -1)).tolist()])

# %% [markdown]
# With the real stride m = 1 a shift is invisible by eye; the difference `out − in` shows what it adds:
# a directional derivative — edges perpendicular to the shift light up. (For channels 4–7 of the official
# FEM the output is ≈ 2·in, so `out − 2·in` is shown.)

# %%
with torch.no_grad():
    p1 = FEM(8, mix_margin=1, mode="paper")(z_img)[0]
    o1 = FEM(8, mix_margin=1, mode="official")(z_img)[0]
panels = [("paper c0 (up)", p1[0] - z_img[0, 0]), ("paper c7 (right)", p1[7] - z_img[0, 7]),
          ("official c0", o1[0] - z_img[0, 0]), ("official c4 (two taps)", o1[4] - 2 * z_img[0, 4])]
fig, axes = plt.subplots(1, 4, figsize=(11, 2.8))
for ax, (title, d) in zip(axes, panels):
    im = ax.imshow(d, cmap="RdBu_r", vmin=-0.3, vmax=0.3); ax.set_title(f"{title}: out − in", fontsize=9); ax.axis("off")
plt.tight_layout()
fig.colorbar(im, ax=axes, fraction=0.015, pad=0.01, label="out − in (grey levels in [0, 1])")
plt.show()

# %% [markdown]
# ## 4 · No parameters — and a "learnable" stride that cannot learn
#
# FEM's kernels are fixed, so it adds **zero trainable parameters**. msit_lite stores the kernel bank as
# a non-persistent buffer (rebuilt by the constructor) and the stride `mix_margin` as a buffer:

# %%
fem = FEM(64)
print("trainable parameters:", sum(p.numel() for p in fem.parameters()))
print("buffers:", [(name, tuple(b.shape)) for name, b in fem.named_buffers()])
print("state_dict keys:", list(fem.state_dict()), "| stride used:", fem.stride)

# %% [markdown]
# The paper: "FEM has a learnable shift stride size, which allows Z to enrich the feature with varying
# degrees". The official constructor indeed makes the stride a trainable parameter,
#
# ```python
# self.mix_margin = nn.Parameter(torch.tensor(mix_margin, dtype=torch.float), requires_grad=True)
# ```
#
# but `LEM.forward` uses it as
#
# ```python
# m = int(self.mix_margin.item())
# ```
#
# `int()` turns the tensor into a Python number: the autograd graph is cut, and `mix_margin` never
# receives a gradient. The gist of the official module, in eight lines:

# %%
class OfficialStyleFEM(nn.Module):
    def __init__(self, channels: int) -> None:
        super().__init__()
        self.mask = nn.Parameter(official_mask(channels), requires_grad=False)
        self.mix_margin = nn.Parameter(torch.tensor(1.0), requires_grad=True)   # "learnable"

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        m = int(self.mix_margin.item())                                          # a Python int
        return F.conv2d(F.pad(x, (m, m, m, m), mode="circular"), self.mask, dilation=m, groups=x.shape[1])

toy = OfficialStyleFEM(8)
x = torch.randn(1, 8, 6, 6, requires_grad=True)
loss = (toy(x) - torch.randn(1, 8, 6, 6)).square().mean()
loss.backward()
assert x.grad is not None and toy.mix_margin.grad is None
print("gradient reaches the input:      True")
print("gradient reaches mix_margin:     False (grad = None)")
opt = torch.optim.Adam(toy.parameters(), lr=0.5)
for _ in range(3):
    opt.step()
assert toy.mix_margin.item() == 1.0
print("mix_margin after 3 Adam steps:  ", toy.mix_margin.item())

# %% [markdown]
# Even without `.item()` nothing could be learnt: the stride enters as an integer index, so the output
# is piecewise constant in it — zero derivative almost everywhere. A stride that learns needs a
# *fractional* shift, e.g. linear interpolation between the two neighbouring integer shifts; then the
# gradient flows (shown for a right shift by s = 1.3 pixels):

# %%
def fractional_shift_right(x: torch.Tensor, s: torch.Tensor) -> torch.Tensor:
    k = int(torch.floor(s))                       # integer part: an index (no gradient needed)
    frac = s - k                                  # fractional part: stays in the graph
    return (1 - frac) * torch.roll(x, k, dims=-1) + frac * torch.roll(x, k + 1, dims=-1)

s = torch.tensor(1.3, requires_grad=True)
img = torch.from_numpy(cam[40:72, 40:72])
(fractional_shift_right(img, s) - torch.roll(img, 2, dims=-1)).square().mean().backward()
assert s.grad.item() < 0
print(f"d loss / d s = {s.grad.item():.4f}  (non-zero: the stride could learn;"
      f" negative: a descent step moves s towards the true shift 2)")

# %% [markdown]
# **Assignment A7** (`notebooks/assignments/A7_learnable_stride.ipynb`) builds the whole module: a FEM
# with the paper's eight directions whose stride is a real parameter that receives a gradient and learns.
#
# msit_lite keeps the official behaviour (the goldens and the checkpoints need it): `mix_margin` is a
# non-trainable buffer, read with `int()` at every forward. For parameter *counts*, the official
# `compute_num_params` counts `mix_margin` (1) and the mask (C·9) as parameters; `msit_lite.params`
# reports both conventions (notebook 06).
#
# ## 5 · Check against the authors' code
#
# Golden `modules/lem_m1`: the official `LEM` with 32 channels, margin 1, `mix_margin` 1.0, applied to
# a random input [1, 32, 9, 11]. We compare the stored mask with both kernel banks built above, and the
# stored output with our by-hand roll version and the package's FEM. This cell needs the developers'
# golden folder; without it, it prints one line and does nothing.

# %%
# NBVAL_IGNORE_OUTPUT
from safetensors.torch import load_file

from msit_lite.paths import golden_dir

gdir = golden_dir() / "modules"
if not (gdir / "lem_m1.io.safetensors").is_file():
    print("golden tensors not found: skipped (set MSIT_GOLDEN to the folder with modules/lem_m1.*.safetensors)")
else:
    sd = load_file(str(gdir / "lem_m1.weights.safetensors"))
    io = load_file(str(gdir / "lem_m1.io.safetensors"))
    fem = FEM(32, mix_margin=float(sd["mix_margin"]), mode="official")
    assert torch.equal(sd["mask"], official_kernels(32)) and not torch.equal(sd["mask"], paper_kernels(32))
    assert torch.equal(fem_official_roll(io["x"], 1), io["y"]) and torch.equal(fem(io["x"]), io["y"])
    print("official mix_margin:", sd["mix_margin"].item())
    print("official mask == hand-built official kernels, != paper kernels (asserted)")
    print("by-hand roll == msit_lite FEM == official output, bit for bit (asserted)")

# %% [markdown]
# ## Exercises
#
# Each exercise cell runs as it is; put your answer where it says so and run it again. A **predict, then
# run** exercise has a second cell whose output is collapsed: decide first, then run it.

# %%
from msit_lite.exercises import reveal  # prints how a prediction compares; never raises

# %% [markdown]
# **Exercise 1 (predict, then run).** Read the official constructor quoted in §3 (not the table below
# it): which way(s) does the content of **official channel 5** move? Answer with a set of direction
# names from `DIRECTIONS`, e.g. `{"up"}`.

# %%
print("directions:", list(DIRECTIONS))
my_answer_1 = None   # a set of direction names

# %% hide-output
taps5 = torch.nonzero(official_mask(8)[5, 0]).tolist()            # from the package's mask
names_by_move = {v: k for k, v in DIRECTIONS.items()}
answer_1 = {names_by_move[(1 - a, 1 - b)] for a, b in taps5}
print("official channel 5 taps (row, col):", taps5)
reveal(my_answer_1, answer_1,
       hint="channel 5 is 1 mod 4 (first block of lines) and 5 mod 8 (second block); a tap at (a, b) reads "
            "Z[y + (a-1)m, x + (b-1)m], so the content moves the opposite way")

# %% [markdown]
# **Exercise 2 (predict, then run).** The paper's FEM with C = 24 channels: how many channels move
# **up-left**, and which is the first of them?

# %%
my_answer_2 = None   # (count, first channel)

# %% hide-output
up_left_tap = (1 - DIRECTIONS["up-left"][0], 1 - DIRECTIONS["up-left"][1])
hits = [c for c in range(24) if paper_mask(24)[c, 0, up_left_tap[0], up_left_tap[1]] == 1]
reveal(my_answer_2, (len(hits), hits[0]), hint="8 contiguous groups of C/8 channels, in the paper's order")

# %% [markdown]
# **Exercise 3 (predict, then run).** With the fractional shift of §4, start at s = 1.3 and take 60
# plain gradient-descent steps (lr 2.0) on the same loss (target: the image rolled by 2). Where does s end?

# %%
my_answer_3 = None   # a number

# %% hide-output
s_fit = torch.tensor(1.3, requires_grad=True)
target = torch.roll(img, 2, dims=-1)
for _ in range(60):
    loss = (fractional_shift_right(img, s_fit) - target).square().mean()
    (g,) = torch.autograd.grad(loss, s_fit)
    with torch.no_grad():
        s_fit -= 2.0 * g
print(f"s after 60 steps: {s_fit.item():.3f}")
reveal(my_answer_3, round(s_fit.item(), 2), close=0.05,
       hint="the loss is smallest at the true shift; between two integers it is a parabola in the fraction")

# %% [markdown]
# **Exercise 4.** What stride does the package's FEM use for `FEM(8, mix_margin=1.9)`? Predict, then
# print `FEM(8, mix_margin=1.9).stride` — and explain with the official `int(...)`.
#
# ## Takeaways
#
# * A shift with wrap-around is `torch.roll`, or a depthwise 3×3 conv with a one-hot kernel on a
#   circularly padded input; dilation m shifts by m pixels. FEM adds **no parameters**.
# * The paper: 8 contiguous channel groups, 8 pure shifts. The official code: directions interleaved by
#   channel index, and half of the channels get the **sum** of two shifted copies. msit_lite implements
#   both (`fem: paper` / `fem: official`) and uses the official one by default.
# * The "learnable" stride cannot learn in the official code (`int(mix_margin.item())` cuts the graph,
#   and an integer index has no useful derivative anyway). A fractional shift — interpolating between
#   two integer shifts — does receive a gradient (assignment A7).
#
# **Next:** notebook 04 builds the rest of MSNO — the multi-scale convolutions (MSC) that read the
# shifted codes with kernels from 3×3 up to 33×33, and SIM, which merges the scales (Eq. 4–6).
