# %% [markdown]
# # 00 · Arbitrary-scale super-resolution and what this sequence builds
#
# **Super-resolution (SR)** recovers a high-resolution (HR) image from a low-resolution (LR) one.
# Classic SR networks (EDSR, RDN, SwinIR) are trained for one factor — ×2, ×3 or ×4 — and end in an
# upsampling layer fixed to that factor. **Arbitrary-scale SR (ASSR)** asks one network to serve *any*
# factor, including ×2.6 or ×7.3, and even different factors for height and width.
#
# The trick that makes this possible (LIIF, Chen et al. 2021) is to treat an image as a *continuous*
# function: an encoder turns the LR image into a grid of **latent codes**, and a small decoder answers
# questions of the form *"what is the colour at the continuous coordinate (y, x), for a pixel of size
# `cell`?"* To produce an HR image of any size we simply ask that question at every HR pixel centre.
#
# **MSIT** (the paper this repository reproduces) keeps that recipe and makes the latent codes
# *multi-scale*:
#
# ```
#  LR image ──► encoder (EDSR-baseline / RDN) ──► Z ──► MSNO ──► Z'' ──► MSSA ──► Z^A ──► MLP decoder ──► + bilinear(LR) ──► RGB at (y, x)
#                                                    │  FEM: pixel shifts            │  multi-scale Q/K projection
#                                                    │  MSC: parallel convs 3…33     │  windowed attention with a
#                                                    │  SIM: merge scales, × W_Z     │  sinusoidal positional bias
# ```
#
# plus **RIM**, a re-parameterisation used in a second ("cumulative") training stage.
#
# This notebook sets the scene: it shows the task on a photo that ships with scikit-image, lists the
# notebooks in reading order, and takes a first look at the benchmark data.

# %%
import numpy as np
import matplotlib.pyplot as plt
import skimage.data

import msit_lite
from msit_lite.data.resize import imresize

msit_lite.seed_everything(0)
print("msit_lite", msit_lite.__version__)

# %% [markdown]
# ## The task, in one picture
#
# We make an LR image from a photo with MATLAB-style bicubic downscaling (the standard way SR
# benchmarks are made; notebook 01 explains why the exact resize matters), then enlarge it back by
# bicubic interpolation at several factors — the baseline every SR model has to beat. Non-integer
# factors are no problem for an interpolator; for a network they are the whole point of ASSR.

# %%
hr = skimage.data.chelsea()            # 300 x 451 RGB, bundled with scikit-image
lr = imresize(hr, scale=1 / 4)         # MATLAB-compatible bicubic with antialiasing
print("HR", hr.shape, "-> LR", lr.shape)

fig, axes = plt.subplots(1, 4, figsize=(13, 3.4))
axes[0].imshow(lr); axes[0].set_title(f"LR {lr.shape[1]}×{lr.shape[0]}")
for ax, s in zip(axes[1:], (1.7, 2.6, 4.0)):
    up = imresize(lr, scale=s)
    ax.imshow(up); ax.set_title(f"bicubic ×{s}: {up.shape[1]}×{up.shape[0]}")
for ax in axes:
    ax.axis("off")
plt.tight_layout(); plt.show()

# %% [markdown]
# ## The sequence
#
# | notebook | builds | paper |
# | --- | --- | --- |
# | 00 overview | the task, the data | §I, §IV-A |
# | 01 pixels, coordinates, bicubic | coordinates and cells, coordinate–RGB pairs, MATLAB `imresize`, the PSNR protocols, the bicubic table | §III-A, §IV-A |
# | 02 encoders and LIIF | EDSR-baseline / RDN without upsampling, the LIIF decoder | §III-A, [7] |
# | 03 FEM | pixel shifts as a fixed depthwise convolution | Eq. 2–3 |
# | 04 MSNO | MSC (parallel convs) + SIM + modulation | Eq. 4–6 |
# | 05 MSSA | multi-scale Q/K, windowed attention, positional bias | Eq. 7–10 |
# | 06 MSIT | the assembly, the long skip, parameter counts vs Tables I and III | Eq. 1 |
# | 07 training | the training loop, a short CPU run, the lite models | §IV-A |
# | 08 RIM | re-parameterisation and cumulative training | Eq. 11, Fig. 4 |
# | 09 benchmarks | Tables I–V side by side with our numbers | §IV-B |
# | 10 seeing inside | MSC feature maps, LAM, RIM weights, attention, error maps | Figs. 1, 6–9 |
#
# Each notebook builds its piece by hand first, then checks it against the package
# (`msit_lite`), whose modules are in turn tested against tensors produced by the authors' code.
# Notebooks run the quick path by default (`MSIT_QUICK=1`); `MSIT_QUICK=0` runs the same code at full
# size (use a GPU for that).

# %% [markdown]
# ## A first look at the data
#
# Training uses **DF2K** (DIV2K's 800 + Flickr2K's 2650 2K-resolution images) on a GPU; our CPU-sized
# runs use the classic 291 images (T91 + BSD200). Evaluation uses the DIV2K validation set and the
# benchmark sets Set5, Set14, B100 (BSD100) and Urban100. The images are not in this repository:
# `msit-lite data download` fetches them (see `data/README.md`), and `MSIT_DATA` tells the package where
# they are. The cell below lists what it finds; its output depends on your machine.

# %%
# NBVAL_IGNORE_OUTPUT
from msit_lite.paths import data_root
from msit_lite.data.folders import benchmark_pairs
from msit_lite.errors import MsitError

root = data_root()
for name in ("Set5", "Set14", "B100"):
    try:
        pairs = benchmark_pairs(root / "benchmark", name, 4)
        print(f"{name:6s} x4: {len(pairs):3d} HR/LR pairs, e.g. {pairs[0].hr.name}")
    except MsitError:
        print(f"{name:6s}: not found under {root} -- run `msit-lite data download benchmark --root DIR` and set MSIT_DATA=DIR")

# %%
# NBVAL_IGNORE_OUTPUT
from msit_lite.data.io import read_image

try:
    pairs = benchmark_pairs(root / "benchmark", "Set5", 4)
    fig, axes = plt.subplots(1, len(pairs), figsize=(14, 3))
    for ax, p in zip(axes, pairs):
        img = read_image(p.hr)
        ax.imshow(img); ax.set_title(f"{p.name} {img.shape[1]}×{img.shape[0]}"); ax.axis("off")
    plt.tight_layout(); plt.show()
except MsitError:
    print("Set5 not available -- the figure is skipped (see data/README.md)")

# %% [markdown]
# **Next:** notebook 01 makes the coordinate convention precise — everything in an implicit SR model
# rests on it — and measures the bicubic baseline with the standard protocols.
