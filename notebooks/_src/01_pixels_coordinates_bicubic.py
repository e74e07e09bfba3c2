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
assert torch.equal(back, img), "grid_sample at the pixel centres must return the image"
print("coord grid", tuple(coord.shape), "| first centre (y, x):", [round(v, 4) for v in coord[0, 0].tolist()])
print("resampled at its own centres == image, bit for bit: True (asserted)")

# %% [markdown]
# The float32 arithmetic is part of the convention: `make_coord` rounds exactly as the authors'
# `utils.make_coord` does, and one float32 ulp in a coordinate can move MSIT's output by ~1e-4.
# That detail is for reproducing the official tensors bit for bit, not for understanding the model;
# it is measured in the appendix, **notebook 12 §1**.

# %% [markdown]
# ## 2. Scales, output sizes and the cell
#
# For an LR image of `h × w` and a scale `s` the HR image has `round(h·s) × round(w·s)` pixels
# (the official test code's rule; the scale may differ per axis). The **cell** is the size of one HR
# pixel in coordinate units, `(2/H, 2/W)`. Two other units appear in the course, and it pays to keep
# them apart:
#
# * **LR pixels**: one HR pixel is `h/H ≈ 1/s` LR pixels wide — 0.5 at ×2;
# * **half LR pixels**, the unit the decoder sees: in [−1, 1] coordinates one LR pixel is `2/h` wide, so
#   multiplying a coordinate difference by `(h, w)` measures it in *half* LR pixels. The decoder gets
#   `cell·(h, w) ≈ 2/s` — 1.0 at ×2, i.e. one HR pixel = 1 half-LR-pixel = 0.5 LR pixels. The relative
#   coordinates of notebooks 02 and 05 are in the same unit.
#
# The cell tells the model *how large an area* the queried pixel covers: the same coordinate is a
# different question at ×2 and at ×8.

# %%
h, w = 48, 40
for s in (2, 2.6, 4, (1.7, 3.3)):
    H, W = output_size((h, w), s)
    cell = make_cell((H, W))[0]
    half_lr = cell * torch.tensor([float(h), float(w)])          # what the decoder gets
    lr_px = torch.tensor([h / H, w / W])                          # one HR pixel in LR pixels
    assert torch.allclose(half_lr, 2 * lr_px)                     # half-LR-pixel units = 2 x LR-pixel units
    print(f"scale {s}: {h}x{w} -> {H}x{W}; cell = ({cell[0]:.4f}, {cell[1]:.4f}); "
          f"cell·(h, w) = ({half_lr[0]:.3f}, {half_lr[1]:.3f}) half LR pixels = ({lr_px[0]:.3f}, {lr_px[1]:.3f}) LR pixels")

# %% [markdown]
# ## 3. Training data: coordinate–RGB pairs
#
# The paper's §IV-A:
#
# > "We begin by cropping HR image patches, which are sized at 48η × 48η, where η is randomly sampled
# > from a uniform distribution U(1, 4) as the magnification factor. To generate the corresponding LR
# > image patches, we use bicubic interpolation in PyTorch [31] to downsample these HR image patches.
# > [...] We randomly sample 48² pixels (coordinate-RGB pairs) from each HR image patch to create our
# > ground truth data."
#
# So: one η per batch, a 48 × 48 LR patch, flips and transposition as augmentation, and 48² random
# HR pixels as (coordinate, RGB) pairs. (The released code makes the LR patch with PIL's bicubic on
# 8-bit images instead of PyTorch's, `docs/OFFICIAL_CODE.md` §Data.) The loss is computed on those pairs only — the model never
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
assert torch.equal(resampled.reshape(3, -1).T, full["gt"])
print("LR", tuple(full["inp"].shape), "| all", full["coord"].shape[0], "HR coordinates | gt == sampled HR: True (asserted)")

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
# `msit_lite.data.resize.imresize` follows MATLAB's `imresize` in every detail (border handling, output
# size, the order of the two 1-D passes, rounding between them); what each detail is worth is measured
# in the appendix, **notebook 12 §3**.

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
# PSNR = −10·log10(MSE) on values in [0, 1]. The official code (`utils.py`, `calc_psnr`;
# `docs/OFFICIAL_CODE.md` §Evaluation) has two protocols:
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
assert abs(by_hand - calc_psnr(sr_t, hr_t, "benchmark", 4)) < 1e-4
print(f"by hand {by_hand:.4f} dB == calc_psnr (within 1e-4, asserted)")

# %% [markdown]
# ## 6. The bicubic table
#
# With the stored MATLAB LR files, MATLAB-exact bicubic upsampling and the benchmark protocol we
# reproduce the bicubic rows that SR papers print, within ±0.02 dB
# (`msit-lite eval --model bicubic --datasets Set5 Set14 B100 --scales 2 3 4`). One detail: Set14's
# `img_003` (bridge) is a grayscale file; the published numbers score it on its gray channel. Scoring
# the Y of its RGB copy — what the official `calc_psnr` does — lifts the Set14 mean by about 0.09 dB.
#
# And the other bicubic? Upsampling the same LR files with **PyTorch's** bicubic (a = −0.75, sharper) —
# measured in the second table — gives rows clearly *above* the published ones: so a "bicubic" row made
# with PyTorch must never be printed beside the published numbers. This cell needs the benchmark images;
# the MATLAB numbers are pinned by `tests/test_evaluate.py`.

# %%
# NBVAL_IGNORE_OUTPUT
from msit_lite.evaluate import BicubicUpscaler, PUBLISHED_BICUBIC, evaluate
from msit_lite.utils import quick_mode


class TorchBicubic:
    """PyTorch's bicubic (a = -0.75, align_corners=False), rounded to 8 bits like the MATLAB baseline."""

    name = "torch-bicubic"

    def __call__(self, lr: np.ndarray, hr_size: tuple[int, int]) -> np.ndarray:
        x = torch.from_numpy(lr.copy()).permute(2, 0, 1)[None].float() / 255
        y = F.interpolate(x, size=tuple(hr_size), mode="bicubic", align_corners=False).clamp(0, 1)
        return (y[0].permute(1, 2, 0) * 255).round().byte().numpy()


sets = ["Set5", "Set14"] if quick_mode() else ["Set5", "Set14", "B100"]
try:
    tables = {}
    for upscaler in (BicubicUpscaler(), TorchBicubic()):
        tables[upscaler.name] = evaluate(upscaler, sets, ["2", "3", "4"], data_root() / "benchmark", progress=False)
        print(tables[upscaler.name].table(PUBLISHED_BICUBIC), "\n")
    mat, tor = tables["bicubic"].summary(), tables["torch-bicubic"].summary()
    gaps = [tor[d][k]["psnr"] - mat[d][k]["psnr"] for d in mat for k in mat[d]]
    print(f"PyTorch bicubic minus MATLAB bicubic, same LR files: {min(gaps):+.2f} ... {max(gaps):+.2f} dB")
except MsitError:
    print("benchmark images not found: run `msit-lite data download benchmark --root DIR` and set MSIT_DATA=DIR")

# %% [markdown]
# ## Exercises
#
# Each exercise cell runs as it is; put your answer where it says so and run it again. A **predict, then
# run** exercise has a second cell whose output is collapsed: decide first, then run it.

# %%
from msit_lite.exercises import reveal  # prints how a prediction compares; never raises

# %% [markdown]
# **Exercise 1 (predict, then run).** `grid_sample` with `align_corners=True` puts −1 and +1 on the
# *centres* of the first and last pixel instead of the outer edges. Sample the 64×64 astronaut of §1 at
# `make_coord`'s centres with `align_corners=True`: do you get the image back? `"yes"` or `"no"`.

# %%
my_answer_1 = None   # "yes" or "no"

# %% hide-output
back_true = F.grid_sample(img[None], to_grid(coord)[None], mode="bilinear", align_corners=True)[0]
err = (back_true - img).abs().max().item()
print(f"align_corners=True: max |resampled - image| = {err:.3f} (in [0, 1] units)")
reveal(my_answer_1, "yes" if err == 0 else "no",
       hint="with align_corners=True, -1 + (2i+1)/n is no longer pixel i's position: the samples fall between "
            "pixels, up to half a pixel off near the borders")

# %% [markdown]
# **Exercise 2 (predict, then run).** Bicubic ×4 on the astronaut scored two ways (§5): which protocol
# gives the higher PSNR, `"benchmark"` (Y channel, shave 4) or `"div2k"` (RGB, shave 10)?

# %%
my_answer_2 = None   # "benchmark" or "div2k"

# %% hide-output
scores = {p: calc_psnr(sr_t, hr_t, p, 4) for p in ("benchmark", "div2k")}
print({p: round(v, 3) for p, v in scores.items()})
reveal(my_answer_2, max(scores, key=scores.get),
       hint="luma averages the three colour errors with positive weights, so it is smaller than the RGB error; "
            "the shave matters less")

# %% [markdown]
# **Exercise 3.** For a 37×53 LR image at the anisotropic scale (1.5, 2.25): write down the HR size and
# `cell·(h, w)` in half-LR-pixel units, then run the cell (it compares with `output_size` / `make_cell`).

# %%
my_size = None       # (H, W)
my_rel_cell = None   # (cell_y·h, cell_x·w), 3 decimals are enough

H3, W3 = output_size((37, 53), (1.5, 2.25))
rel3 = tuple(round(v, 3) for v in (make_cell((H3, W3))[0] * torch.tensor([37.0, 53.0])).tolist())
reveal(my_size, (H3, W3), hint="round(h·s) per axis (§2)")
reveal(my_rel_cell, rel3, hint="2/H·h and 2/W·w -- close to 2/s, not equal, because of the rounding of H and W", close=1e-2)

# %% [markdown]
# **Exercise 4.** In §4, downscale the astronaut with `resize_torch` *without* antialiasing
# (`F.interpolate(..., antialias=False)`) and compare with MATLAB's `imresize` as the cell does: how
# many 8-bit values are identical now, and why is the maximum difference so much larger? (Hint: at ×¼
# a 4-tap kernel that is not stretched skips three of every four input pixels — aliasing.)
#
# ## Takeaways
#
# * A pixel is a sample at the **centre** of its cell; the image edges are at ±1. `grid_sample` with
#   `align_corners=False` uses exactly this convention, in (x, y) order, while the coordinates are (y, x).
# * Three units: coordinates in [−1, 1]; LR pixels (one HR pixel = 1/s of them); half LR pixels (what
#   the decoder sees: `cell·(h, w) ≈ 2/s`, and the relative coordinates of notebooks 02 and 05).
# * Training pairs are coordinates and colours of random HR pixels, not whole HR images.
# * "Bicubic" is a family: MATLAB's a = −0.5 with antialiasing makes the benchmark LR files; PyTorch's
#   a = −0.75 scores 0.1–0.3 dB higher on the same files (measured above) and must not be printed beside
#   the published rows.
# * PSNR depends on the protocol (Y vs RGB, the border shaved): compare numbers only under one protocol.
#
# **Next:** notebook 02 builds the encoder and the LIIF decoder on top of these coordinates.
