# %% [markdown]
# # A1 · Implement the FEM shift kernel (Eqs. 2–3)
#
# **Context.** Before MSIT's multi-scale convolutions look at the latent code Z, the *Feature
# Enhancement Module* (paper §III-B a, Fig. 3a) shifts parts of Z by a few pixels in eight directions,
# so that every position also carries some of its neighbours' channels — with **no parameters**.
# The paper writes one shift as a cut-and-paste with wrap-around (Eq. 2) and implements it as a
# depthwise convolution with a hand-designed 3×3 kernel (Eq. 3).
#
# **Your task** — in `student/a1_fem_shift.py` (not in this notebook):
#
# 1. `shift_mask(channels, directions)` — the `[C, 1, 3, 3]` kernel: 8 **contiguous** channel groups, one
#    direction each, group g moving `directions[g]`; by default the paper's order *up, up-left, up-right,
#    down, down-left, down-right, left, right* (§2);
# 2. `fem_shift(z, mask, stride)` — Eq. 2: every channel shifted by `stride` pixels with wrap-around (§3);
# 3. `StudentFEM` — the module, registered as `fem: student-shift`, which `student/a1_fem_shift.yaml`
#    plugs into a tiny MSIT without touching the package (§4).
#
# **Check** with the last cell, or in a terminal `msit-lite grade A1`. The checks compare your code with
# `msit_lite.models.fem.FEM(mode="paper")` on random inputs — so the package holds the answer, and using it
# is not an answer: a file that imports or calls `paper_mask`, `FEM` or the registry's `fem` entries fails
# every check, and the checks also ask for things the package's FEM cannot do (directions in another
# order, a mask swapped into your module).
#
# *Paper vs official code.* The released code assigns directions by channel index modulo 4/8 and gives
# half of the channels *two* taps (`docs/REPRODUCTION.md`, rows 1–2; the package's default
# `fem: official`). This assignment implements the paper's reading, the package's `fem: paper`.

# %%
import torch

import msit_lite
from msit_lite.grading import grade_notebook, load_student

msit_lite.seed_everything(0)
torch.set_num_threads(1)

a1 = load_student("A1")  # (re)imports student/a1_fem_shift.py: run this cell again after every edit
print("directions, in order:", a1.DIRECTIONS)

# %% [markdown]
# ## 1 · A shift with wrap-around is a roll
#
# Eq. 2 cuts the last n columns off and pastes them back on the left: the content moves right by n and
# what leaves on one side comes back on the other. That is `torch.roll`. "Up" in this assignment means
# the **content** moves up: `out[y, x] = Z[y + m, x]`.

# %%
Z = torch.arange(12.0).view(1, 1, 3, 4)
print("Z\n", Z[0, 0].int())
print("content moved right by 1 (Eq. 2)\n", torch.roll(Z, shifts=1, dims=-1)[0, 0].int())
print("content moved up by 1\n", torch.roll(Z, shifts=-1, dims=-2)[0, 0].int())

# %% [markdown]
# The eight directions on a photo, as displacements (dy, dx) of the content, drawn with `torch.roll` and a
# large stride (m = 12 pixels) so they are visible. FEM does the same with m = 1 on the latent code.

# %%
import matplotlib.pyplot as plt
import skimage.data

MOVES = {"up": (-1, 0), "up-left": (-1, -1), "up-right": (-1, 1), "down": (1, 0),
         "down-left": (1, -1), "down-right": (1, 1), "left": (0, -1), "right": (0, 1)}
photo = torch.from_numpy(skimage.data.camera()[::8, ::8].astype("float32") / 255)  # 64 x 64
m = 12
fig, axes = plt.subplots(1, 9, figsize=(13, 1.9))
axes[0].imshow(photo, cmap="gray")
axes[0].set_title("Z", fontsize=9)
for ax, (name, (dy, dx)) in zip(axes[1:], MOVES.items()):
    ax.imshow(torch.roll(photo, shifts=(dy * m, dx * m), dims=(0, 1)), cmap="gray")
    ax.set_title(name, fontsize=9)
for ax in axes:
    ax.axis("off")
plt.tight_layout()
plt.show()

# %% [markdown]
# ## 2 · The mask (Eq. 3)
#
# PyTorch's `F.conv2d` is a cross-correlation: a 3×3 kernel with a single 1 at (row a, column b)
# outputs `Z[y + (a−1), x + (b−1)]`. Eq. 3's kernel has its 1 at (1, 0), reads the **left** neighbour,
# and so moves the content **right**. Work out the tap of the seven other directions from that rule
# (a tap below the centre reads the pixel below...). `shift_mask(C)` gives channels
# `g·C/8 … (g+1)·C/8 − 1` the kernel of direction `DIRECTIONS[g]`; every kernel has exactly one 1.
#
# Playground: your mask for C = 8 (one channel per direction), in the paper's order and in reverse.

# %%
try:
    for order in (a1.DIRECTIONS, a1.DIRECTIONS[::-1]):
        mask = a1.shift_mask(8, order)
        print("  ".join(f"{name}: {kernel.int().tolist()}" for name, kernel in zip(order[:2], mask[:2, 0])), "...")
except NotImplementedError as e:
    print(f"not implemented yet: {e}")

# %% [markdown]
# ## 3 · The shift (Eq. 2) as a convolution
#
# Apply the mask as a **depthwise** convolution (`groups = C`: channel c only sees its own kernel).
# Two details make it Eq. 2:
#
# * **wrap-around** — pad with `mode="circular"` (zero padding would shift zeros in);
# * **stride m** — with `dilation = m` the taps are m pixels apart, so a one-hot kernel shifts by m;
#   pad by m on every side so the output keeps the input's size.
#
# Playground: compare your `fem_shift` with `torch.roll` on the grid above, for m = 1 and 2
# (the kernel for "right" is Eq. 3).

# %%
eq3 = torch.tensor([[0.0, 0, 0], [1, 0, 0], [0, 0, 0]]).view(1, 1, 3, 3)
try:
    for m in (1, 2):
        mine = a1.fem_shift(Z, eq3, m)
        print(f"m={m}: fem_shift == roll right by {m}:", torch.equal(mine, torch.roll(Z, m, dims=-1)))
except NotImplementedError as e:
    print(f"not implemented yet: {e}")

# %% [markdown]
# Both pieces together: the photo in all 8 channels, shifted by your mask and your `fem_shift`, against
# the `torch.roll` pictures above (m = 12).

# %%
try:
    shifted = a1.fem_shift(photo.expand(1, 8, 64, 64), a1.shift_mask(8), 12)
    for g, (name, (dy, dx)) in enumerate(MOVES.items()):
        same = torch.allclose(shifted[0, g], torch.roll(photo, shifts=(dy * 12, dx * 12), dims=(0, 1)))
        print(f"channel {g} moves {name:>10}: {same}")
except NotImplementedError as e:
    print(f"not implemented yet: {e}")

# %% [markdown]
# ## 4 · A module in the registry, selected by a config
#
# MSNO builds its FEM through the registry: `make(fem_spec, "fem", channels=C)`. Your class carries
# `@register("fem", "student-shift")`, so importing your file makes the name known and
# `student/a1_fem_shift.yaml` can select it — no edit of `msit_lite`. FEM has no trainable
# parameters: keep the mask in a **buffer** named `mask` (`self.register_buffer`), not an `nn.Parameter`,
# and let `forward` shift with `self.mask` — the grader swaps another kernel into that buffer and expects
# your module to follow it.

# %%
from msit_lite.config import build_model, load_config

print(open("student/a1_fem_shift.yaml").read())
try:
    model = build_model(load_config("student/a1_fem_shift.yaml"))
    out = model(torch.rand(1, 3, 8, 8), torch.rand(1, 4, 2) * 2 - 1, torch.full((1, 2), 0.25))
    print("tiny MSIT with your FEM:", type(model.msno.fem).__name__, "-> output", list(out.shape))
except NotImplementedError as e:
    print(f"not implemented yet: {e}")

# %% [markdown]
# ## 5 · Check
#
# Each check prints ✓ or ✗ with a hint. With the untouched stub every check fails; make them pass.

# %%
grade_notebook("A1")
