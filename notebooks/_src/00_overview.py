# %% [markdown]
# # 00 · Arbitrary-scale super-resolution: what MSIT does, then how this course builds it
#
# Before any theory, the result. Below, the small MSIT this repository trains on a CPU (**MSIT-lite**,
# `checkpoints/lite-msit`, 0.34M parameters) enlarges a photo that ships with scikit-image by **×2, ×3.5
# and ×8** — one network, three factors, one of them not even an integer — next to bicubic
# interpolation, the baseline every super-resolution (SR) model has to beat. We shrink the photo first
# (MATLAB-style bicubic, the way SR benchmarks are made), so the original is the ground truth and the
# PSNR (higher = closer to it) can be measured.

# %%
import matplotlib.pyplot as plt
import numpy as np
import skimage.data
import torch

import msit_lite
from msit_lite.data.resize import imresize
from msit_lite.inference import load_model, upscale
from msit_lite.metrics import calc_psnr
from msit_lite.paths import repo_dir

msit_lite.seed_everything(0)
torch.set_num_threads(1)  # bit-stable printed numbers
print("msit_lite", msit_lite.__version__)

model = load_model(repo_dir() / "checkpoints" / "lite-msit")      # the shipped MSIT-lite
hr = skimage.data.chelsea()[30:254, 110:334]                      # 224 x 224 RGB: 224 = 2·112 = 3.5·64 = 8·28
SCALES = (2, 3.5, 8)
results = {}
for s in SCALES:
    lr = imresize(hr, scale=1 / s)                                # the LR input: 112², 64², 28² pixels
    sr = upscale(model, lr, scale=s)                              # MSIT-lite, uint8 224 x 224 x 3
    bic = imresize(lr, scale=s)                                   # bicubic, the same size
    results[s] = {"lr": lr, "bicubic": bic, "MSIT-lite": sr,
                  "psnr": {k: calc_psnr(v, hr, "benchmark", s) for k, v in (("bicubic", bic), ("MSIT-lite", sr))}}
    p = results[s]["psnr"]
    print(f"x{s:<4}: LR {lr.shape[1]}x{lr.shape[0]} -> {sr.shape[1]}x{sr.shape[0]} | PSNR (Y, shave {int(np.ceil(s))}): "
          f"bicubic {p['bicubic']:.2f} dB, MSIT-lite {p['MSIT-lite']:.2f} dB ({p['MSIT-lite'] - p['bicubic']:+.2f})")

# %%
ZOOM = (slice(50, 130), slice(30, 110))                           # 80 x 80 HR pixels around the eye
fig, axes = plt.subplots(3, 5, figsize=(14, 8.6))
for row, s in zip(axes, SCALES):
    r = results[s]
    row[0].imshow(hr)
    row[0].add_patch(plt.Rectangle((ZOOM[1].start, ZOOM[0].start), 80, 80, fill=False, ec="yellow", lw=1.5))
    row[0].set_title(f"original 224×224 (×{s} row)", fontsize=9)
    lr_zoom = r["lr"][int(ZOOM[0].start / s):int(np.ceil(ZOOM[0].stop / s)), int(ZOOM[1].start / s):int(np.ceil(ZOOM[1].stop / s))]
    row[1].imshow(lr_zoom, interpolation="nearest")
    row[1].set_title(f"LR input, {r['lr'].shape[1]}×{r['lr'].shape[0]} (pixels as squares)", fontsize=9)
    for ax, name in zip(row[2:4], ("bicubic", "MSIT-lite")):
        ax.imshow(r[name][ZOOM], interpolation="nearest")
        ax.set_title(f"{name} ×{s}: {r['psnr'][name]:.2f} dB", fontsize=9)
    row[4].imshow(hr[ZOOM], interpolation="nearest")
    row[4].set_title("ground truth (zoom)", fontsize=9)
    for ax in row:
        ax.axis("off")
plt.tight_layout(); plt.show()

# %% [markdown]
# What you see: bicubic interpolation only *spreads* the LR pixels; MSIT-lite draws sharper fur and the
# eye's rim, and it gains ~1 dB at ×2. At ×8 it sees 28×28 pixels and has to invent 63 of every 64 output
# pixels; it is also **outside the range it was trained on** (factors 1–4) — exercise 1 below asks what
# that costs. The paper's full-size models (6–28M parameters, days on GPUs) are better again — on the
# benchmark sets, by the margins below (the paper's Table II from `msit_lite.paper` against the shipped
# model's own evaluation, `checkpoints/lite-msit/eval.json`; notebook 09 compares them properly). The
# *mechanism* is the same, and it is what this course builds.

# %%
import json

from msit_lite import paper

lite_eval = json.loads((repo_dir() / "checkpoints" / "lite-msit" / "eval.json").read_text())["results"]
for ds in ("Set5", "Set14"):
    row = paper.TABLE_II[ds].row("RDN-MSIT(our)")
    gaps = {k: row.value(k) - lite_eval[ds][k]["psnr"] for k in ("2", "3", "4") if k in lite_eval.get(ds, {})}
    print(f"{ds:6s} paper's RDN-MSIT minus MSIT-lite: " + ", ".join(f"x{k} {g:+.2f} dB" for k, g in gaps.items()))
#
# ## What happened inside: one network for every scale
#
# Classic SR networks (EDSR, RDN, SwinIR) are trained for one factor — ×2, ×3 or ×4 — and end in an
# upsampling layer fixed to that factor. **Arbitrary-scale SR (ASSR)** asks one network to serve *any*
# factor, even different factors for height and width. The trick (LIIF, Chen et al. 2021, notebook 02)
# is to treat the image as a *continuous* function: an encoder turns the LR image into a grid of
# **latent codes**, and a small decoder answers *"what is the colour at the continuous coordinate
# (y, x), for an output pixel of size `cell`?"* An HR image of any size is that question asked at every
# HR pixel centre — 224² = 50,176 questions above, whatever the scale.
#
# **MSIT** keeps that recipe and makes the latent codes *multi-scale*. The paper (§III-A):
#
# > "The overall framework, as shown in the Fig. 2, consists of three main parts: Encoder, MSIT and
# > Decoder. [...] In addition, we add long jump connections directly to the predictions, i.e.,
# > bilinear spatial interpolation of I_LR and element-wise addition."
#
# Its Fig. 2 as a block diagram, with the tensor shapes of MSIT-lite for the ×3.5 example (read from the
# model's own trace, so they are real): the top row runs **once per image** at LR resolution, the bottom
# row **once per query point** — here 50,176 of them.

# %%
from msit_lite.coords import make_cell, make_coord
from msit_lite.models import Trace
from msit_lite.viz.diagram import block_diagram


lr = torch.from_numpy(results[3.5]["lr"]).permute(2, 0, 1)[None].float().div(255).sub(0.5).div(0.5)
H, W = hr.shape[:2]
coord, cell = make_coord((H, W))[None], make_cell((H, W))
t = Trace()
with torch.no_grad():
    model(lr, coord[:, :10], cell, t)                        # 10 queries are enough to read the shapes
shape = lambda key, q=None: str(list(t[key].shape) if q is None else [1, q, *t[key].shape[2:]]).replace(" ", "")
q = H * W
once = [("LR image", str(list(lr.shape)).replace(" ", ""), "#eeeeee"),
        ("encoder E_ψ", shape("encoder"), "#cfe2f3"),
        ("1×1 conv", shape("channel_proj"), "#cfe2f3"),
        ("MSNO → Z''", shape("msno"), "#f9cb9c"),
        ("Q/K and V maps", "2 × " + shape("attention.q"), "#f9cb9c")]
per_query = [("χ (HR centres)", f"[1,{q},2]", "#eeeeee"),
             ("MSSA window", f"K̂,V̂ [1,{q},49,{model.dim}]", "#f9cb9c"),
             ("Z^A ⊕ cell", shape("imnet_in", q), "#f9cb9c"),
             ("MLP decoder D_ψ", shape("imnet_out", q), "#d9ead3"),
             ("+ bilinear I_LR↑(χ)", f"[1,{q},3]", "#d9ead3"),
             ("RGB at χ", f"[1,{q},3]", "#eeeeee")]
block_diagram([once, per_query], links=[((0, 4), (1, 1))],
              title="MSIT (paper Fig. 2), shapes of MSIT-lite at ×3.5 — top: once per image, bottom: per query")
plt.show()

# %% [markdown]
# The orange boxes are the paper's contribution: **MSNO** gives every latent code multi-scale context
# (notebooks 03–04), **MSSA** attends over a 7×7 window of codes around each query (notebook 05); the
# green ones are LIIF's decoder and the long skip (notebooks 02 and 06). A second training stage
# re-parameterises the convolutions (**RIM**, notebook 08). `49·C + 2` — the decoder's input width
# (1,570 for MSIT-lite, 12,546 for the paper's model) — is why most of the compute sits in the
# bottom row (notebook 11).
#
# ## The sequence
#
# | notebook | builds | paper |
# | --- | --- | --- |
# | 00 overview | the task, the result, the pipeline, the data | §I, Fig. 2, §IV-A |
# | 01 pixels, coordinates, bicubic | coordinates and cells, coordinate–RGB pairs, bicubic variants, the PSNR protocols, the bicubic table | §III-A, §IV-A |
# | 02 encoders and LIIF | EDSR-baseline / RDN without upsampling, the LIIF decoder | §III-A, [7] |
# | 03 FEM | pixel shifts as a fixed depthwise convolution; why the stride cannot learn | Eq. 2–3 |
# | 04 MSNO | MSC (parallel convs) + SIM + modulation | Eq. 4–6, Fig. 3a |
# | 05 MSSA | multi-scale Q/K, windowed attention, positional bias | Eq. 7–10, Fig. 3b |
# | 06 MSIT | the assembly, the long skip, RIM in one cell, parameter counts vs Tables I and III | Eq. 1, 11, Fig. 4 |
# | 07 training | the training loop, a short CPU run, the lite models | §IV-A |
# | 08 RIM | re-parameterisation and cumulative training | Eq. 11, Fig. 4 |
# | 09 benchmarks | Tables I–V side by side with our numbers | §IV-B |
# | 10 seeing inside | MSC feature maps, LAM, RIM weights, attention, error maps | Figs. 1, 6–9 |
# | 11 fast inference | where the time goes, a re-association of the decoder, the speed table | — |
# | 12 appendix | float32 and the coordinates, MATLAB `imresize` internals, the RDN parameter puzzle | — |
#
# Each notebook builds its piece by hand, **asserts** that it equals the package (`msit_lite`) — whose
# modules are in turn tested against tensors produced by the authors' code — and ends with exercises and
# takeaways. What the official code does, function by function, is summarised in `docs/OFFICIAL_CODE.md`.
# Notebooks run the quick path by default (`MSIT_QUICK=1`); `MSIT_QUICK=0` runs the same code at full
# size (use a GPU for that). The course assignments are in `notebooks/assignments/`.
#
# ## A first look at the data
#
# The paper trains on **DF2K** and evaluates on the DIV2K validation set and the benchmark sets Set5,
# Set14, B100 (BSD100) and Urban100. Its training budget, and that of the released code, computed from the
# stated recipe in `msit_lite.paper` (notebook 07 explains the schedule):

# %%
for recipe in (paper.TRAINING, paper.OFFICIAL_TRAINING):
    print(recipe.describe())

# %% [markdown]
# Our CPU-sized runs use the classic 291 images (T91 + BSD200). The images are not in this repository:
# `msit-lite data download` fetches them (see `data/README.md`), and `MSIT_DATA` tells the package where
# they are. The cell below lists what it finds; its output depends on your machine.

# %%
# NBVAL_IGNORE_OUTPUT
from msit_lite.data.folders import benchmark_pairs
from msit_lite.errors import MsitError
from msit_lite.paths import data_root

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
# ## Exercises
#
# Each exercise cell runs as it is; put your answer where it says so and run it again. A
# **predict, then run** exercise has a second cell whose output is collapsed: decide first, then run it.

# %%
from msit_lite.exercises import reveal  # prints how a prediction compares; never raises

# %% [markdown]
# **Exercise 1 (predict, then run).** MSIT-lite was trained with scale factors η ~ U(1, 4). Over bicubic,
# is its gain at **×8** (outside that range) *larger* or *smaller* than at ×2? Write `"larger"` or
# `"smaller"`, then run the next cell.

# %%
my_answer_1 = None   # "larger" or "smaller"

# %% hide-output
gain = {s: results[s]["psnr"]["MSIT-lite"] - results[s]["psnr"]["bicubic"] for s in SCALES}
print(", ".join(f"x{s}: {g:+.2f} dB" for s, g in gain.items()))
reveal(my_answer_1, "larger" if gain[8] > gain[2] else "smaller",
       hint="compare the two gains printed above; the PSNR of both methods falls with the scale, the gap need not")

# %% [markdown]
# **Exercise 2.** Pick another bundled photo (`skimage.data.astronaut()`, `coffee()`, `rocket()`) and an
# **anisotropic** scale, e.g. `(2, 3)`: `upscale(model, lr, scale=(2, 3))` stretches height ×2 and width
# ×3. Predict the output size first (`round(h·s)` per axis, notebook 01), then check.

# %%
photo = skimage.data.coffee()[::4, ::4]          # 100 x 150: change the photo or the scale
my_scale = (2, 3)
my_size = None                                   # your prediction: (H, W)
out = upscale(model, photo, scale=my_scale)
reveal(my_size, tuple(out.shape[:2]), hint="output size = (round(h·s_h), round(w·s_w))")
fig, axes = plt.subplots(1, 2, figsize=(10, 3.4), gridspec_kw={"width_ratios": [photo.shape[1], out.shape[1]]})
axes[0].imshow(photo); axes[0].set_title(f"input {photo.shape[1]}×{photo.shape[0]}")
axes[1].imshow(out); axes[1].set_title(f"MSIT-lite ×{my_scale}: {out.shape[1]}×{out.shape[0]}")
for ax in axes:
    ax.axis("off")
plt.tight_layout(); plt.show()

# %% [markdown]
# **Exercise 3 (predict, then run).** How many numbers does MSIT-lite's decoder receive for *one* query
# point? The diagram says `49·C + 2` with C = `model.dim`. Compute it, then run the cell.

# %%
my_answer_3 = None   # an integer

# %% hide-output
reveal(my_answer_3, model.decoder.in_dim,
       hint=f"49 window positions × C = {model.dim} channels, plus the 2 numbers of the cell (notebook 05)")

# %% [markdown]
# **Exercise 4 (reading).** In the diagram, which boxes would have to be recomputed if you asked the
# same image for a *different* scale? (Answer: only the bottom row — the encoder side is scale-free.
# Notebook 06 checks it: encode once, query any grid.)
#
# ## Takeaways
#
# * One MSIT serves every scale, integer or not, per axis: it is a function of continuous coordinates,
#   asked once per output pixel.
# * Work splits into **once per image** (encoder, MSNO, Q/K and V maps at LR resolution) and **per
#   query** (window attention, MLP decoder, bilinear long skip).
# * Even the 0.34M-parameter MSIT-lite beats bicubic by about a decibel, also beyond its training range.
# * The rest of the course builds each box by hand and checks it against the package; the paper's
#   training recipe and tables live in `msit_lite.paper`, the official code's behaviour in
#   `docs/OFFICIAL_CODE.md`.
#
# **Next:** notebook 01 makes the coordinate convention precise — everything in an implicit SR model
# rests on it — and measures the bicubic baseline with the standard protocols.
