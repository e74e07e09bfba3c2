# %% [markdown]
# # 01 · Pixels, coordinates, cells — and the bicubic baseline, measured properly
#
# An implicit SR model answers *"which colour at continuous position (y, x)?"*. Before any network,
# we need to be exact about three things:
#
# 1. **where pixels are** in continuous coordinates (and the cell, the size of an HR pixel);
# 2. **how LR images are made** — the benchmark LR files were made by MATLAB's `imresize`, which is
#    *not* PyTorch's or PIL's bicubic;
# 3. **how PSNR is scored** — two protocols with different channels and borders.
#
# Getting any of these slightly wrong moves PSNR by 0.1 dB or more — as much as the gap between
# consecutive rows of the paper's tables.

# %%
import math

import matplotlib.pyplot as plt
import numpy as np
import skimage.data
import torch
import torch.nn.functional as F

import msit_lite
from msit_lite.coords import make_coord, make_cell, to_grid, to_pixel_samples, output_size

msit_lite.seed_everything(0)
torch.set_num_threads(1)

# %% [markdown]
# ## 1. Pixels are samples at cell centres
#
# Take one axis of `n` pixels and let the continuous signal live on [-1, 1]. Pixel `i` covers the
# interval `[-1 + 2i/n, -1 + 2(i+1)/n]` and is sampled at its **centre** `-1 + (2i+1)/n`. So the
# first centre is *not* at -1: the image edges are at ±1. `make_coord` returns these centres.

# %%
for n in (4, 8):
    print(n, make_coord([n]).flatten().tolist())

fig, ax = plt.subplots(figsize=(9, 1.6))
for n, y, colour in ((4, 1.0, "tab:blue"), (10, 0.0, "tab:orange")):
    edges = np.linspace(-1, 1, n + 1)
    ax.vlines(edges, y - 0.3, y + 0.3, color=colour, lw=1)
    ax.plot(make_coord([n]).flatten(), [y] * n, "o", color=colour, label=f"{n} pixels: centres")
ax.set_yticks([]); ax.set_xlim(-1.05, 1.05); ax.legend(loc="center right", fontsize=8)
ax.set_title("pixel cells (ticks) and their centres (dots) on [-1, 1]: LR (4) and HR (10) of the same signal")
plt.tight_layout(); plt.show()

# %% [markdown]
# In 2-D, coordinates come in **(y, x)** order — row first — and `make_coord((h, w))` gives an
# `[h, w, 2]` grid. PyTorch's `grid_sample` wants (x, y) and, with `align_corners=False`, uses
# exactly this convention (±1 are the outer pixel edges). Check: sampling an image at its own pixel
# centres must give the image back, bit for bit.

# %%
img = torch.from_numpy(skimage.data.astronaut()[::8, ::8].copy()).permute(2, 0, 1).float() / 255  # 64x64
coord = make_coord(img.shape[-2:], flatten=False)                     # [64, 64, 2], (y, x)
back = F.grid_sample(img[None], to_grid(coord)[None], mode="bilinear", align_corners=False)[0]
print("coord grid", tuple(coord.shape), "| first centre (y, x):", [round(v, 4) for v in coord[0, 0].tolist()])
print("resampled at its own centres == image:", torch.equal(back, img))

# %% [markdown]
# The float32 arithmetic is part of the convention. MSIT's positional encoding multiplies relative
# coordinates by frequencies up to 1023 rad, so one float32 ulp in a coordinate moves its output by
# ~1e-4. `make_coord` reproduces the authors' rounding (`fl32(fl32(2r·i) + fl32(v0 + r))`);
# the mathematically equal `-1 + (2i+1)/n` computed in float64 and rounded differs in the last bit
# for most entries:

# %%
n = 62
exact = make_coord([n]).flatten()
rounded = torch.tensor([-1 + (2 * i + 1) / n for i in range(n)], dtype=torch.float64).float()
print(f"{int((exact != rounded).sum())} of {n} centres differ by one ulp; largest difference "
      f"{(exact - rounded).abs().max().item():.1e}")

# %% [markdown]
# ## 2. Scales, output sizes and the cell
#
# For an LR image of `h × w` and a scale `s` the HR image has `round(h·s) × round(w·s)` pixels
# (the official test code's rule; the scale may differ per axis). The **cell** is the size of one HR
# pixel in coordinate units, `(2/H, 2/W)`. The decoder gets it in LR-pixel units,
# `cell · (h, w) ≈ 2/s`, which tells the model *how large an area* the queried pixel covers — the
# same coordinate is a different question at ×2 and at ×8.

# %%
for s in (2, 2.6, 4, (1.7, 3.3)):
    H, W = output_size((48, 40), s)
    cell = make_cell((H, W))[0]
    rel = (cell * torch.tensor([48.0, 40.0])).tolist()
    print(f"scale {s}: 48x40 -> {H}x{W}; cell = ({cell[0]:.4f}, {cell[1]:.4f}); cell in LR pixels = ({rel[0]:.3f}, {rel[1]:.3f})")

# %% [markdown]
# ## 3. Training data: coordinate–RGB pairs
#
# Training follows §IV-A: crop an HR patch of `48η × 48η` with η ~ U(1, 4) (one η per batch), make the
# 48 × 48 LR patch with PyTorch bicubic, augment with flips and transposition, and sample 48² random
# HR pixels as (coordinate, RGB) pairs. The loss is computed on those pairs only — the model never
# needs to produce a whole HR patch during training. `msit_lite.data.sampler.ASSRPatches` does this;
# here is one item from a photo, with its sampled HR pixels drawn over the patch.

# %%
from msit_lite.data.sampler import ASSRPatches, SampleKey

photos = [torch.from_numpy(skimage.data.coffee().copy()).permute(2, 0, 1).float() / 255]
patches = ASSRPatches(photos, scale_min=1, scale_max=4, seed=0)
item = patches[SampleKey(index=0, scale=3.1, epoch=0)]
print({k: (tuple(v.shape) if torch.is_tensor(v) else round(float(v), 4)) for k, v in item.items()})

H = round(48 * 3.1)
yx = (item["coord"] + 1) / 2 * H - 0.5          # back to pixel indices of the HR patch
fig, axes = plt.subplots(1, 2, figsize=(8, 4))
axes[0].imshow(item["inp"].permute(1, 2, 0)); axes[0].set_title("LR input 48×48")
axes[1].scatter(yx[:, 1], yx[:, 0], c=item["gt"].clamp(0, 1).numpy(), s=4)
axes[1].set_xlim(-0.5, H - 0.5); axes[1].set_ylim(H - 0.5, -0.5); axes[1].set_aspect("equal")
axes[1].set_title(f"48² sampled HR pixels of the {H}×{H} patch")
for ax in axes:
    ax.axis("off")
plt.tight_layout(); plt.show()

# %% [markdown]
# The sampled colours really are HR pixels at those coordinates: nearest `grid_sample` of the
# (augmented) HR patch at the coordinates returns `gt`. We rebuild the HR patch from the full-image
# mode (`full_image_item`), which returns every HR pixel with its coordinate.

# %%
from msit_lite.data.sampler import full_image_item

full = full_image_item(photos[0][:, :96, :120], 2)
H2, W2 = full["hr"].shape[-2:]
resampled = F.grid_sample(full["hr"][None], to_grid(full["coord"]).view(1, H2, W2, 2),
                          mode="nearest", align_corners=False)[0]
print("LR", tuple(full["inp"].shape), "| all", full["coord"].shape[0], "HR coordinates | gt == sampled HR:",
      torch.equal(resampled.reshape(3, -1).T, full["gt"]))

# %% [markdown]
# ## 4. Bicubic is not one thing
#
# "Bicubic" names a family. The cubic convolution kernel has a free parameter `a`: MATLAB (and the
# SR benchmarks made with it) use **a = −0.5**; PyTorch and OpenCV use **a = −0.75**, which is
# sharper and rings more. When *shrinking*, MATLAB also stretches the kernel by 1/scale
# (antialiasing), PIL does a similar thing, and PyTorch does it only with `antialias=True`.

# %%
from msit_lite.data.resize import cubic, imresize, resize_pil, resize_torch

def keys(x, a):
    x = np.abs(x)
    return np.where(x <= 1, (a + 2) * x**3 - (a + 3) * x**2 + 1,
                    np.where(x < 2, a * x**3 - 5 * a * x**2 + 8 * a * x - 4 * a, 0.0))

t = np.linspace(-2.5, 2.5, 501)
assert np.allclose(cubic(t), keys(t, -0.5))            # the package's kernel is Keys with a = -0.5
fig, ax = plt.subplots(figsize=(6, 2.6))
ax.plot(t, keys(t, -0.5), label="a = −0.5 (MATLAB)")
ax.plot(t, keys(t, -0.75), "--", label="a = −0.75 (PyTorch, OpenCV)")
ax.axhline(0, color="k", lw=0.5); ax.legend(); ax.set_title("cubic convolution kernels")
plt.tight_layout(); plt.show()

# %% [markdown]
# The same photo downscaled ×4 three ways differs by several 8-bit levels — enough to move PSNR.
# MATLAB's `imresize` details matter too: replicate border, the output size `ceil(s·size)`, resizing
# one axis at a time, and **rounding to 8 bits after each 1-D pass**. `msit_lite.data.resize.imresize`
# follows all of them.

# %%
photo = skimage.data.astronaut()                          # 512 x 512 uint8
lr_matlab = imresize(photo, scale=1 / 4)
lr_pil = resize_pil(photo, (128, 128))
t_photo = torch.from_numpy(photo).permute(2, 0, 1).float() / 255
lr_torch = (resize_torch(t_photo, (128, 128)).clamp(0, 1) * 255).round().byte().permute(1, 2, 0).numpy()
for name, other in (("PIL bicubic", lr_pil), ("PyTorch bicubic (antialias)", lr_torch)):
    d = np.abs(lr_matlab.astype(int) - other.astype(int))
    print(f"MATLAB imresize vs {name:28s}: identical {100 * (d == 0).mean():5.1f} %, max |diff| {d.max()}")

# %% [markdown]
# Against the real benchmark LR files (made with MATLAB), our `imresize` is bit-exact — 100 % of the
# 8-bit values on Set5, Set14 and B100 at ×2, ×3, ×4 (the test suite checks this;
# `benchmarks/imresize_exactness.py` prints the full table). This cell needs the benchmark images.

# %%
# NBVAL_IGNORE_OUTPUT
from msit_lite.data.folders import benchmark_pairs
from msit_lite.data.io import read_image
from msit_lite.errors import MsitError
from msit_lite.paths import data_root

try:
    for k in (2, 3, 4):
        same = total = 0
        for p in benchmark_pairs(data_root() / "benchmark", "Set5", k):
            ours = imresize(read_image(p.hr), scale=1 / k)
            stored = read_image(p.lr)
            same += int((ours == stored).sum()); total += stored.size
        print(f"Set5 x{k}: {100 * same / total:.4f} % of 8-bit values identical to the MATLAB LR files")
except MsitError:
    print("benchmark images not found: run `msit-lite data download benchmark --root DIR` and set MSIT_DATA=DIR")

# %% [markdown]
# ## 5. Two PSNR protocols
#
# PSNR = −10·log10(MSE) on values in [0, 1]. The official code (`calc_psnr`) has two protocols:
#
# * **benchmark** (Set5, Set14, B100, Urban100): the RGB *difference* is converted to luma,
#   `Δ_Y = (65.738 Δ_R + 129.057 Δ_G + 25.064 Δ_B) / 256` (the +16 offset of Y cancels in a
#   difference), and `scale` pixels are shaved off each border;
# * **div2k** (DIV2K validation): RGB, shave `scale + 6`.
#
# The same pair of images scores differently under the two — here bicubic ×4 on a photo:

# %%
from msit_lite.metrics import calc_psnr, psnr, ssim

hr = photo[: 4 * (photo.shape[0] // 4), : 4 * (photo.shape[1] // 4)]
sr = imresize(imresize(hr, scale=1 / 4), scale=4)
sr_t = torch.from_numpy(sr).permute(2, 0, 1).float() / 255
hr_t = torch.from_numpy(hr).permute(2, 0, 1).float() / 255
print(f"benchmark protocol (Y, shave 4):  {calc_psnr(sr_t, hr_t, 'benchmark', 4):.3f} dB")
print(f"div2k protocol (RGB, shave 10):   {calc_psnr(sr_t, hr_t, 'div2k', 4):.3f} dB")
print(f"no protocol (RGB, no shave):      {calc_psnr(sr_t, hr_t, None, 4):.3f} dB")
print(f"SSIM (Y, shave 4):                {ssim(sr, hr, crop_border=4, test_y_channel=True):.4f}")

# %% [markdown]
# Writing the Y conversion by hand and comparing with the package keeps us honest:

# %%
d = (sr_t - hr_t)
d_y = (65.738 * d[0] + 129.057 * d[1] + 25.064 * d[2]) / 256
by_hand = -10 * math.log10(d_y[4:-4, 4:-4].pow(2).mean().item())
print("by hand == calc_psnr:", abs(by_hand - calc_psnr(sr_t, hr_t, "benchmark", 4)) < 1e-4)

# %% [markdown]
# ## 6. The bicubic table
#
# With the stored MATLAB LR files, MATLAB-exact bicubic upsampling and the benchmark protocol we
# reproduce the bicubic rows that SR papers print, within ±0.02 dB
# (`msit-lite eval --model bicubic --datasets Set5 Set14 B100 --scales 2 3 4`). One detail: Set14's
# `img_003` (bridge) is a grayscale file; the published numbers score it on its gray channel. Scoring
# the Y of its RGB copy — what the official `calc_psnr` does — lifts the Set14 mean by about 0.09 dB.
# PyTorch's bicubic (a = −0.75) would give rows 0.1–0.3 dB *above* the published ones, so it must
# never be printed beside them. This cell needs the benchmark images; the numbers are pinned by
# `tests/test_evaluate.py`.

# %%
# NBVAL_IGNORE_OUTPUT
from msit_lite.evaluate import BicubicUpscaler, PUBLISHED_BICUBIC, evaluate
from msit_lite.utils import quick_mode

sets = ["Set5", "Set14"] if quick_mode() else ["Set5", "Set14", "B100"]
try:
    res = evaluate(BicubicUpscaler(), sets, ["2", "3", "4"], data_root() / "benchmark", progress=False)
    print(res.table(PUBLISHED_BICUBIC))
except MsitError:
    print("benchmark images not found: run `msit-lite data download benchmark --root DIR` and set MSIT_DATA=DIR")

# %% [markdown]
# **Next:** notebook 02 builds the encoder and the LIIF decoder on top of these coordinates.
