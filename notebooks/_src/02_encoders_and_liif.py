# %% [markdown]
# # 02 · The encoder and the LIIF baseline
#
# MSIT (paper §III-A, Eq. 1) has three parts: an **encoder** E_ψ that turns the LR image into a grid of
# latent codes Z ∈ ℝ^{H×W×C}, the **MSIT** body that refines them, and a **decoder** D_ψ that answers
# "what is the RGB value at the continuous coordinate χ for a pixel of size `cell`?". Before MSIT
# there was **LIIF** (Chen et al. 2021, the paper's reference [7] and the baseline of its Table I):
# the same encoder and decoder, and a simple rule for reading latent codes at a continuous point.
# MSIT keeps LIIF's coordinate conventions and its training recipe, so we build LIIF first.
#
# In this notebook:
#
# 1. the encoder — EDSR-baseline (and RDN) *without* the upsampling tail — its shapes on a photo and
#    its receptive field;
# 2. the LIIF query built by hand, step by step, and checked against `msit_lite.models.LIIF`;
# 3. LIIF's parameter count (Table I) and a check against the authors' code (golden tensors);
# 4. exercises and takeaways.

# %%
import matplotlib.pyplot as plt
import numpy as np
import skimage.data
import torch
import torch.nn.functional as F

import msit_lite
from msit_lite.coords import make_cell, make_coord, to_grid
from msit_lite.data.resize import imresize
from msit_lite.models import LIIF, Trace, make
from msit_lite.models.encoders import EDSRBaseline

msit_lite.seed_everything(0)
torch.set_num_threads(1)  # bit-stable float results for the printed checks

# %% [markdown]
# ## 1 · EDSR-baseline without upsampling (official class `EDSR`; `docs/OFFICIAL_CODE.md` §Encoder)
#
# EDSR (Lim et al. 2017) in its *baseline* size: 16 residual blocks, 64 feature channels. Its parts:
#
# * `head`: one 3×3 conv, RGB → 64 channels (the "shallow features");
# * `body`: 16 residual blocks `x + conv3×3(ReLU(conv3×3(x)))` (no BatchNorm — EDSR's point), then one
#   more 3×3 conv;
# * a **global skip**: output = body(head(x)) + head(x).
#
# Every conv has zero padding 1 and a bias, so the map keeps the LR size h×w. The original EDSR ends in
# an upsampling **tail** (pixel shuffle for ×2, ×3 or ×4 and a final conv to RGB). Implicit models drop
# it: the tail is tied to one integer factor, whereas the decoder can be asked for *any* coordinate —
# upsampling is the decoder's job, the encoder only describes the LR image, one latent code per LR
# pixel. (`no_upsampling: true` in the official configs; msit_lite's encoders have no tail at all.)
#
# The package builds it from a registry spec, exactly as the YAML configs do:

# %%
enc = make({"name": "edsr-baseline", "args": {"n_resblocks": 16, "n_feats": 64}}, "encoder")

def n_params(m: torch.nn.Module) -> int:
    return sum(p.numel() for p in m.parameters())

print(f"head          {n_params(enc.head):>9,}   3 -> 64, 3x3")
print(f"16 ResBlocks  {n_params(enc.body[:-1]):>9,}   {n_params(enc.body[0]):,} each")
print(f"body conv     {n_params(enc.body[-1]):>9,}")
print(f"total         {n_params(enc):>9,}")

# %% [markdown]
# The forward pass by hand, with plain `F.conv2d` calls on the package's weights — four lines are the
# whole network:

# %%
def conv(x, layer):
    return F.conv2d(x, layer.weight, layer.bias, padding=1)

def edsr_by_hand(enc: EDSRBaseline, x: torch.Tensor) -> torch.Tensor:
    h = conv(x, enc.head[0])                                     # shallow features
    r = h
    for block in enc.body[:-1]:                                  # residual blocks
        r = r + conv(F.relu(conv(r, block.body[0])), block.body[2])
    return conv(r, enc.body[-1]) + h                             # body conv + global skip

x = torch.randn(1, 3, 20, 24)
with torch.no_grad():
    err = (edsr_by_hand(enc, x) - enc(x)).abs().max().item()
assert err <= 1e-6
print(f"hand-built == package EDSRBaseline: max abs diff {err:.1e} (<= 1e-6, asserted)")

# %% [markdown]
# **Why there is no `MeanShift`.** EDSR's code subtracts the DIV2K mean colour at the start
# (`sub_mean`) and adds it back at the end (`add_mean`), as two fixed 1×1 convs. The LIIF/MSIT code
# still *creates* them — so they sit in every official state dict — but both calls are commented out
# in `EDSR.forward` (`models/edsr.py`):
#
# ```python
# # x = self.sub_mean(x)
# ...
# # x = self.add_mean(x)
# ```
#
# They are constants with no effect; the input normalisation `(img − 0.5)/0.5` of the official configs
# (`data_norm: {sub: [0.5], div: [0.5]}`, `docs/OFFICIAL_CODE.md` §Normalisation) takes their role. msit_lite does not build them, and the checkpoint
# converter drops their keys (the last cell of this notebook shows it on real official weights).
#
# ### Shapes on a real photo
#
# We take scikit-image's astronaut, make a ×4 LR image with MATLAB-style bicubic (notebook 01), cut a
# 48×48 patch — the training patch size of LIIF and MSIT — normalise it and encode it. The weights are
# random (untrained), so the channels are just random local filters of the image; the point is the
# shape: **one 64-dim latent code per LR pixel**.

# %%
hr = skimage.data.astronaut()                      # 512 x 512 x 3, uint8
lr_img = imresize(hr, scale=1 / 4)                 # 128 x 128 x 3
patch = lr_img[10:58, 40:88]                       # 48 x 48, the face
lr = torch.from_numpy(patch).permute(2, 0, 1)[None].float() / 255
lr = (lr - 0.5) / 0.5                              # the model's input space: data_norm sub 0.5, div 0.5
with torch.no_grad():
    z = enc(lr)
print("HR photo   ", hr.shape)
print("LR image   ", lr_img.shape)
print("LR patch   ", tuple(lr.shape), " (b, 3, h, w)")
print("latent Z   ", tuple(z.shape), "(b, C, h, w): same h x w, C = 64")

fig, axes = plt.subplots(1, 5, figsize=(14, 2.8))
axes[0].imshow(patch); axes[0].set_title("LR patch 48×48")
for ax, c in zip(axes[1:], (0, 1, 2, 3)):
    lim = z[0, c].abs().max().item()
    im = ax.imshow(z[0, c], cmap="RdBu_r", vmin=-lim, vmax=lim); ax.set_title(f"Z channel {c}")
    fig.colorbar(im, ax=ax, fraction=0.046)
for ax in axes:
    ax.axis("off")
plt.tight_layout(); plt.show()

# %% [markdown]
# ### RDN, briefly
#
# The second encoder of Table I is RDN (Zhang et al. 2018), configuration B: 16 *residual dense
# blocks*, each of 8 conv layers whose inputs are the concatenation of all earlier outputs (growth
# 64), a 1×1 "local feature fusion" and a residual; then a "global feature fusion" over all 16 block
# outputs and a global skip. Same contract — no upsampling, 64 channels out — with 18× the
# parameters. (Its forward pass is heavy on a CPU, so we run it on a tiny input.)

# %%
rdn = make({"name": "rdn", "args": {"G0": 64, "RDNkSize": 3, "RDNconfig": "B"}}, "encoder")
with torch.no_grad():
    z_rdn = rdn(lr[:, :, :8, :8])
print(f"RDN parameters {n_params(rdn):,}; input {tuple(lr[:, :, :8, :8].shape)} -> {tuple(z_rdn.shape)}")
del rdn

# %% [markdown]
# ### Receptive field
#
# Which input pixels can influence *one* latent code? Each 3×3 conv widens the view by one pixel on
# each side; EDSR-baseline has 1 + 16·2 + 1 = 34 of them in sequence, so the receptive field is
# 1 + 2·34 = **69×69** LR pixels (the skips do not widen it). We measure it: back-propagate from one
# output position (all 64 channels) to the input and look where the gradient is non-zero.

# %%
x = lr[:, :, 0:48, 0:48].repeat(1, 1, 2, 2)[:, :, :81, :81].clone().requires_grad_(True)  # 81x81 tile of the patch
enc(x)[0, :, 40, 40].sum().backward()
g = x.grad.abs().sum(1)[0]                          # |d out / d in|, summed over RGB
rows = torch.nonzero(g.sum(1)).flatten()
cols = torch.nonzero(g.sum(0)).flatten()
rf = (rows.max() - rows.min() + 1).item(), (cols.max() - cols.min() + 1).item()
print("theoretical receptive field: 69 x 69")
print(f"measured (non-zero gradient): {rf[0]} x {rf[1]}")
assert rf == (69, 69)

fig, axes = plt.subplots(1, 2, figsize=(10, 4))
im = axes[0].imshow(torch.log10(g + 1e-30).clamp(min=-12), cmap="magma")
axes[0].add_patch(plt.Rectangle((40 - 34.5, 40 - 34.5), 69, 69, fill=False, ec="cyan", lw=1))
axes[0].set_title("log10 |∂Z[:, 40, 40] / ∂x|  (cyan: 69×69)"); fig.colorbar(im, ax=axes[0])
axes[1].semilogy(g[40].numpy() + 1e-30); axes[1].set_ylim(1e-12, 10)
axes[1].axvspan(40 - 34, 40 + 34, color="cyan", alpha=0.15)
axes[1].set_title("profile along row 40"); axes[1].set_xlabel("input column")
plt.tight_layout(); plt.show()

# %% [markdown]
# The *theoretical* field is 69×69 but the gradient decays by many orders of magnitude away from the
# centre: the *effective* receptive field is much smaller (here for random weights; notebook 10 looks
# at trained models with LAM). That small effective view is one motivation for MSIT's large kernels
# (MSC, up to 33×33) and its attention window.
#
# ## 2 · LIIF, built by hand (official `LIIF.query_rgb`; `docs/OFFICIAL_CODE.md` §LIIF)
#
# LIIF predicts the colour at a continuous coordinate χ from the latent codes *near* χ. We use a
# small random LIIF — the one of the golden tensors (`configs/golden/liif-small.yaml`: EDSR-baseline
# with 2 blocks and 16 channels, MLP [64, 64] with ReLU) — on a 12×16 LR crop, queried on the HR grid
# of a ×2.5 enlargement.

# %%
small_spec = {
    "name": "liif",
    "args": {
        "encoder": {"name": "edsr-baseline", "args": {"n_resblocks": 2, "n_feats": 16}},
        "decoder": {"name": "mlp", "args": {"hidden_list": [64, 64], "act": "relu"}},
        "local_ensemble": True, "feat_unfold": True, "cell_decode": True,
    },
}
model = make(small_spec, "model").eval()
lr_s = lr[:, :, 16:28, 16:32]                      # [1, 3, 12, 16]
h, w = lr_s.shape[-2:]
H, W = round(h * 2.5), round(w * 2.5)              # 30 x 40 HR pixels
coord = make_coord((H, W))[None]                   # [1, q, 2], (y, x) pixel centres in [-1, 1]
cell = make_cell((H, W))                           # [1, 2] = (2/H, 2/W): the size of one HR pixel
print("LR", (h, w), "-> HR", (H, W), "| coord", tuple(coord.shape), "| cell", [round(v, 4) for v in cell[0].tolist()])

# %% [markdown]
# ### Step 1 — feature unfolding
#
# Each latent code is enriched with its 3×3 neighbourhood: the 9 codes are concatenated, C → 9C
# channels (zero outside the image). Channel `c·9 + 3·ky + kx` of the unfolded map holds channel `c`
# of the neighbour at offset (ky − 1, kx − 1) — the order of `F.unfold`, which the official code uses.

# %%
with torch.no_grad():
    feat = model.encoder(lr_s)                                          # [1, 16, h, w]
b, C = feat.shape[:2]
padded = F.pad(feat, (1, 1, 1, 1))
neigh = torch.stack([padded[:, :, ky:ky + h, kx:kx + w] for ky in range(3) for kx in range(3)], dim=2)
feat_u = neigh.reshape(b, C * 9, h, w)                                  # [1, 144, h, w]
assert torch.equal(feat_u, F.unfold(feat, 3, padding=1).view(b, C * 9, h, w))
assert torch.equal(feat_u, model.encode(lr_s)["feat"].detach())
print("Z", tuple(feat.shape), "-> unfolded", tuple(feat_u.shape), "== F.unfold == model.encode(lr)['feat'] (asserted)")

# %% [markdown]
# ### Step 2 — the four nearest latent codes
#
# A query χ lies inside a square whose corners are the centres of 4 LR pixels. LIIF finds them by
# moving χ half an LR pixel (1/h in [−1, 1] units, since a pixel is 2/h wide) up/down and left/right
# and taking the **nearest** pixel (`grid_sample(mode='nearest')`) at each of the 4 moved points. The
# moved point is also clamped into the image, so at the border the outside neighbour is replaced by
# the border pixel.
#
# Why the extra **+1e-6**? If χ sits exactly on a pixel centre, χ ± half a pixel lands exactly on a
# pixel boundary, and `nearest` rounds ties half-to-even: both shifts may return the *same* pixel, or
# skip χ's own pixel. A 1-D example with 4 pixels, querying each pixel centre:

# %%
def nearest_index(u: float, n: int) -> int:
    """Index of the pixel grid_sample(mode='nearest') picks at 1-D coordinate u (image of n pixels)."""
    line = torch.arange(n, dtype=torch.float32).view(1, 1, n, 1)
    u = torch.tensor(u).clamp(-1 + 1e-6, 1 - 1e-6)
    return int(F.grid_sample(line, torch.stack([torch.tensor(0.0), u]).view(1, 1, 1, 2), mode="nearest", align_corners=False))

n = 4
centres = make_coord((n,))[:, 0].tolist()
for eps in (0.0, 1e-6):
    picks = [(nearest_index(c - 1 / n + eps, n), nearest_index(c + 1 / n + eps, n)) for c in centres]
    print(f"eps={eps:g}: query at centre of pixel 0..3 -> (left, right) picks {picks}")

# %% [markdown]
# Without the epsilon, pixel 0 gets (0, 0) and pixel 1 gets (0, 2) — it never sees itself. With it,
# every centre gets itself and its right neighbour (clamped at the last pixel). Now for all queries, in
# the official loop order (outer: vertical shift vx, inner: horizontal shift vy). Alongside the codes
# we sample the LR pixel-centre grid with the same `nearest` call, to know *where* each code lives.

# %%
lr_grid = make_coord((h, w), flatten=False).permute(2, 0, 1)[None]     # [1, 2, h, w]: (y, x) of each LR centre
eps = 1e-6
corners = []                                                           # (code, centre) per shift
for vx in (-1, 1):
    for vy in (-1, 1):
        c = coord.clone()
        c[..., 0] += vx / h + eps
        c[..., 1] += vy / w + eps
        c = c.clamp(-1 + 1e-6, 1 - 1e-6)
        grid = to_grid(c).unsqueeze(1)                                  # [1, 1, q, 2] in (x, y) order
        q_feat = F.grid_sample(feat_u, grid, mode="nearest", align_corners=False)[:, :, 0].permute(0, 2, 1)
        q_centre = F.grid_sample(lr_grid, grid, mode="nearest", align_corners=False)[:, :, 0].permute(0, 2, 1)
        corners.append((q_feat, q_centre))
print("per corner: code", tuple(corners[0][0].shape), "centre", tuple(corners[0][1].shape))

# %% [markdown]
# ### Steps 3 and 4 — relative coordinate and cell
#
# The decoder must know *where* χ is relative to the code it reads: `rel = (χ − centre)·(h, w)`.
# The factor (h, w) rescales [−1, 1] units so that one LR pixel is **2** units long (half an LR pixel
# is 1), independent of the image size; for the 4 corners |rel| ≤ 2.
# **Cell decoding** appends the HR pixel size in the same units, `cell·(h, w)` = 2/scale per axis: it
# tells the decoder how large an area the output pixel covers (at ×2.5 it is 0.8). MLP input:
# `[code (9C) | rel (2) | cell (2)]` = 144 + 4 = 148 values.

# %%
preds, areas, mlp_inputs = [], [], []
rel_cell = cell[:, None, :] * torch.tensor([h, w])                      # [1, 1, 2]
for q_feat, q_centre in corners:
    rel = (coord - q_centre) * torch.tensor([h, w])
    inp = torch.cat([q_feat, rel, rel_cell.expand_as(rel)], dim=-1)   # [1, q, 148]
    with torch.no_grad():
        preds.append(model.decoder(inp))                               # [1, q, 3]
    areas.append((rel[..., 0] * rel[..., 1]).abs() + 1e-9)
    mlp_inputs.append(inp)
rel_all = torch.stack([(coord - q_centre) * torch.tensor([h, w]) for _, q_centre in corners])
print("MLP input", tuple(mlp_inputs[0].shape), "| cell·(h, w) =", [round(v, 4) for v in rel_cell[0, 0].tolist()])
print(f"|rel| max over all corners and queries: {rel_all.abs().max():.3f}")

# %% [markdown]
# ### Step 5 — local ensemble
#
# Reading only the nearest code makes the prediction jump whenever χ crosses into the next LR pixel.
# LIIF blends the 4 predictions, each weighted by the area of the rectangle between χ and the
# **diagonally opposite** corner, normalised by the total: the closer a corner, the larger the
# opposite rectangle, so it is bilinear interpolation of *predictions* rather than of codes. In the
# loop order, corner k's opposite is corner 3 − k.

# %%
total = torch.stack(areas).sum(0)
out = sum(pred * (areas[3 - k] / total).unsqueeze(-1) for k, pred in enumerate(preds))
with torch.no_grad():
    trace = Trace()
    ref = model.query(model.encode(lr_s), coord, cell, trace)
err = (out - ref).abs().max().item()
assert err <= 1e-6
assert all(torch.equal(mlp_inputs[k], trace[f"imnet_in.{k}"]) for k in range(4))
print("output", tuple(out.shape))
print(f"hand-built LIIF == msit_lite LIIF.query: max abs diff {err:.1e} (<= 1e-6, asserted)")
print("MLP inputs identical to the traced ones (asserted)")

# %% [markdown]
# The 4 rectangles for one query point (in LR pixel units; dots are LR pixel centres, grey lines LR
# pixel boundaries). Each filled
# rectangle has the colour of the corner whose prediction it **weights** — the corner diagonally
# across from it.

# %%
qi = 5 * W + 11                                                         # HR pixel (row 5, column 11)
to_px = lambda yx: ((yx[0] + 1) * h / 2 - 0.5, (yx[1] + 1) * w / 2 - 0.5)   # [-1,1] -> LR pixel index
qy, qx = to_px(coord[0, qi].tolist())
cy = [to_px(qc[0, qi].tolist()) for _, qc in corners]
colors = ["tab:blue", "tab:orange", "tab:green", "tab:red"]
w_k = [(areas[3 - k][0, qi] / total[0, qi]).item() for k in range(4)]

fig, ax = plt.subplots(figsize=(5, 5))
for v in np.arange(cy[0][0] - 1.5, cy[3][0] + 2):                     # LR pixel boundaries
    ax.axhline(v, color="0.85", lw=0.8)
for v in np.arange(cy[0][1] - 1.5, cy[3][1] + 2):
    ax.axvline(v, color="0.85", lw=0.8)
for k, (py, px) in enumerate(cy):
    opp = cy[3 - k]                                                     # the rectangle χ <-> opposite corner
    ax.add_patch(plt.Rectangle((min(qx, opp[1]), min(qy, opp[0])), abs(qx - opp[1]), abs(qy - opp[0]),
                               color=colors[k], alpha=0.35))
    ax.plot(px, py, "o", color=colors[k], ms=10)
    ax.annotate(f"corner {k}\nweight {w_k[k]:.2f}", (px, py), textcoords="offset points", xytext=(8, 8), fontsize=8)
ax.plot(qx, qy, "k*", ms=14); ax.annotate("χ", (qx, qy), textcoords="offset points", xytext=(6, -12))
ax.set_xlim(cy[0][1] - 0.7, cy[3][1] + 0.9); ax.set_ylim(cy[3][0] + 0.9, cy[0][0] - 0.7)
ax.set_xlabel("x (LR pixels)"); ax.set_ylabel("y (LR pixels)"); ax.set_aspect("equal")
ax.set_title("local ensemble: area opposite each corner")
plt.tight_layout(); plt.show()
assert abs(sum(w_k) - 1) < 1e-6
print("weights:", [round(v, 3) for v in w_k], "sum to 1 (asserted)")

# %% [markdown]
# **What the ensemble buys.** Query the same model along one horizontal line of 400 points, with and
# without local ensemble (same weights; `local_ensemble=False` reads the single nearest code with
# `rel` measured from it). Without it the prediction jumps at every LR pixel boundary (dashed lines);
# with it the prediction is continuous.

# %%
flat = LIIF(small_spec["args"]["encoder"], small_spec["args"]["decoder"], local_ensemble=False).eval()
flat.load_state_dict(model.state_dict())
xs = torch.linspace(-0.6, 0.2, 400)
line = torch.stack([torch.full_like(xs, make_coord((h,))[5, 0].item() + 0.03), xs], -1)[None]
with torch.no_grad():
    feats_s = model.encode(lr_s)
    y_ens = model.query(feats_s, line, cell)[0, :, 0]
    y_flat = flat.query(feats_s, line, cell)[0, :, 0]
fig, ax = plt.subplots(figsize=(9, 3))
ax.plot(xs, y_flat, label="nearest code only", color="tab:gray")
ax.plot(xs, y_ens, label="local ensemble", color="tab:red")
for edge in (-1 + 2 * torch.arange(w + 1) / w).tolist():
    if -0.6 <= edge <= 0.2:
        ax.axvline(edge, ls="--", color="0.8", lw=0.8)
ax.set_xlabel("x coordinate of the query"); ax.set_ylabel("R output (random model)"); ax.legend()
plt.tight_layout(); plt.show()
print(f"largest step between neighbouring queries: nearest {y_flat.diff().abs().max():.3f}, ensemble {y_ens.diff().abs().max():.3f}")

# %% [markdown]
# ## 3 · Parameter count (Table I: EDSR-baseline-LIIF)
#
# The full LIIF config: EDSR-baseline (16 × 64) and an MLP with 4 hidden layers of 256 (ReLU) whose
# input is 64·9 + 2 + 2 = 580. `msit_lite.params` counts it the way the official code does; the paper's
# printed number and the official exact count come from `msit_lite.paper`.

# %%
from msit_lite import paper
from msit_lite.config import build_model, load_config
from msit_lite.params import count_parameters
from msit_lite.paths import repo_dir

full = build_model(load_config(repo_dir() / "configs" / "edsr-baseline-liif.yaml"))
report = count_parameters(full)
printed = paper.TABLE_I.row("EDSR-baseline-LIIF").params
assert report.trainable == paper.OFFICIAL_PARAMS["edsr-baseline-liif"]["trainable"]
assert paper.format_params(report.trainable) == printed
print(f"MLP input size: {full.decoder.in_dim}")
for name, counts in report.modules.items():
    print(f"  {name:<8} {counts['trainable']:>10,}")
print(f"  {'total':<8} {report.trainable:>10,}   = the official count; the paper's Table I prints {printed}")

# %% [markdown]
# ## 4 · Check against the authors' code
#
# The developers' golden tensors (not shipped with the package; `MSIT_GOLDEN` points to them) were
# produced by the official LIIF code with random weights. We load those official weights through `msit_lite.official` (which renames `imnet.*` →
# `decoder.*` and drops the unused MeanShift constants) and compare the full prediction on the
# 52×62 HR grid. This cell needs the developers' golden folder; without it, it prints one line and
# does nothing.

# %%
# NBVAL_IGNORE_OUTPUT
from safetensors.torch import load_file

from msit_lite.official import convert_state_dict, load_official
from msit_lite.paths import golden_dir

gdir = golden_dir()
if not (gdir / "liif_small.weights.safetensors").is_file():
    print("golden tensors not found: skipped (set MSIT_GOLDEN to the folder with liif_small.*.safetensors)")
else:
    official_sd = load_file(str(gdir / "liif_small.weights.safetensors"))
    converted = convert_state_dict(official_sd)
    dropped = sorted(k for k in official_sd if k.startswith("encoder.") and k not in converted)
    print(f"official keys: {len(official_sd)} -> converted: {len(converted)} (imnet.* renamed to decoder.*)")
    print("dropped (MeanShift, never applied):", dropped)
    golden_model = load_official(gdir / "liif_small.weights.safetensors", make(small_spec, "model")).eval()
    io = load_file(str(gdir / "liif_small.io.safetensors"))
    with torch.no_grad():
        pred = golden_model.query(golden_model.encode(io["inp"]), io["coord_hr"], io["cell_hr"])
    gerr = (pred - io["pred_full"]).abs().max().item()
    print(f"pred_full {tuple(pred.shape)}: max abs diff {gerr:.1e} (< 1e-5: {gerr < 1e-5})")
    assert gerr < 1e-5

# %% [markdown]
# ## Exercises
#
# Each exercise cell runs as it is; put your answer where it says so and run it again. A **predict, then
# run** exercise has a second cell whose output is collapsed: decide first, then run it.

# %%
from msit_lite.exercises import reveal  # prints how a prediction compares; never raises


def receptive_field(encoder: torch.nn.Module, size: int = 81) -> int:
    """Side of the non-zero-gradient square of one output position (measured as in §1)."""
    x = torch.randn(1, 3, size, size, requires_grad=True)
    encoder(x)[0, :, size // 2, size // 2].sum().backward()
    rows = torch.nonzero(x.grad.abs().sum((0, 1, 3))).flatten()
    return int(rows.max() - rows.min() + 1)

# %% [markdown]
# **Exercise 1 (predict, then run).** MSIT-lite's encoder (`configs/lite-msit.yaml`) is an EDSR-baseline
# with **4** residual blocks of 32 channels. What is its receptive field (side, in LR pixels)?

# %%
my_answer_1 = None   # an integer

# %% hide-output
lite_enc = make({"name": "edsr-baseline", "args": {"n_resblocks": 4, "n_feats": 32}}, "encoder")
reveal(my_answer_1, receptive_field(lite_enc),
       hint="count the 3x3 convs in sequence: head, 2 per block, the body conv; each adds 1 pixel per side")

# %% [markdown]
# **Exercise 2 (predict, then run).** A query sits *exactly* on an LR pixel centre. Which corner gets
# (almost) all of the local-ensemble weight: its own pixel (`"own"`), the diagonal neighbour
# (`"diagonal"`), or do all four share it (`"equal"`)?

# %%
my_answer_2 = None   # "own", "diagonal" or "equal"

# %% hide-output
at_centre = make_coord((h, w))[None, 5 * w + 7: 5 * w + 8]            # the centre of LR pixel (5, 7)
areas_c = []                                                          # §2's loop, for this one query
for vx in (-1, 1):
    for vy in (-1, 1):
        c = at_centre.clone(); c[..., 0] += vx / h + 1e-6; c[..., 1] += vy / w + 1e-6
        c = c.clamp(-1 + 1e-6, 1 - 1e-6)
        qc = F.grid_sample(lr_grid, to_grid(c).unsqueeze(1), mode="nearest", align_corners=False)[0, :, 0, 0]
        r = (at_centre[0, 0] - qc) * torch.tensor([h, w])
        areas_c.append((r[0] * r[1]).abs().item() + 1e-9)
weights_c = [areas_c[3 - k] / sum(areas_c) for k in range(4)]
print("weights of corners 0-3 (corner 0 = own pixel):", [round(v, 4) for v in weights_c])
reveal(my_answer_2, "own" if weights_c[0] > 0.99 else ("equal" if max(weights_c) < 0.3 else "diagonal"),
       hint="a corner is weighted by the area of the rectangle between the query and the OPPOSITE corner")

# %% [markdown]
# **Exercise 3 (predict, then run).** Build the small LIIF with `feat_unfold=False` (and everything else
# as in §2). How wide is the MLP input now?

# %%
my_answer_3 = None   # an integer

# %% hide-output
no_unfold = LIIF(small_spec["args"]["encoder"], small_spec["args"]["decoder"], feat_unfold=False)
reveal(my_answer_3, no_unfold.decoder.in_dim, hint="one code of C = 16 channels instead of 9C, plus rel (2) and cell (2)")

# %% [markdown]
# **Exercise 4.** Re-run the ensemble picture of §2 for a query near the image border (e.g.
# `qi = 0 * W + 1`). What happens to the four corners, and why does the clamp `[−1 + 1e-6, 1 − 1e-6]`
# make two of them the same pixel?
#
# ## Takeaways
#
# * The encoder (EDSR-baseline, RDN) keeps the LR resolution: **one latent code per LR pixel**; the
#   upsampling tail is gone because the decoder can be asked anywhere. Its receptive field is set by the
#   number of 3×3 convs (69×69 for EDSR-baseline), the *effective* one is much smaller.
# * LIIF reads the 4 codes around a query (with a 1e-6 nudge so that ties at pixel boundaries resolve
#   consistently), feeds `[code (9C) | rel (2) | cell (2)]` to an MLP and blends the 4 predictions with
#   the areas of the opposite rectangles: bilinear interpolation of *predictions*, continuous in χ.
# * `rel` and `cell` are in half-LR-pixel units (notebook 01); the unfolded codes give each query a 3×3
#   neighbourhood of codes.
# * Every step above is asserted equal to `msit_lite.models.LIIF`, whose full model is checked against the
#   official code's tensors.
#
# **Next:** notebook 03 starts MSIT proper with its first, parameter-free piece: the Feature
# Enhancement Module (Eq. 2–3).
