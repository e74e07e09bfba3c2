# %% [markdown]
# # 05 · MSSA: multi-scale self-attention over a local window (Eq. 7–10)
#
# After MSNO (notebook 04) every LR pixel carries a multi-scale latent code `Z''` `[b, C, h, w]`.
# **MSSA** (paper §III-B(b), Fig. 3b) turns it into one *attention latent code* `Z^A` per continuous
# HR query point `χ̂ʰ = (y, x)`:
#
# 1. **maps, once per image** (LR resolution): a multi-scale projection gives the **Q** map, which
#    also serves for **K**; a 3×3 conv gives the **V** map (Eq. 9);
# 2. **per query**: find the LR pixel that contains `χ̂ʰ`, take the `(2r+1)² = 49` LR pixels around it
#    (`r = 3`), sample `Q̂` at the query (bilinear) and `K̂`, `V̂` at the 49 window centres (nearest);
# 3. the logits `Q̂·K̂ / M` plus a **positional bias** `P(δ)` of the relative coordinates (Eq. 8), a
#    softmax over the window per head (Eq. 7, 10), and the values weighted by the probabilities.
#
# K has no projection of its own, in the paper as in the code. The paper (after Eq. 9):
#
# > "Subsequent bilinear interpolation of Q in χ̂^h was calculated to obtain Q̂, and V is neighborhood
# > interpolated based on χ̂^l to obtain V̂. In addition, we perform χ̂^l neighborhood interpolation
# > computation on Q to get K̂."
#
# So K̂ is the Q map read (nearest) at the window positions χ̂^l, while Q̂ is the same map read (bilinear)
# at the query χ̂^h. Where the official code (= msit_lite; `docs/OFFICIAL_CODE.md` §MSSA,
# `docs/REPRODUCTION.md` rows 3, 4, 6) departs from the paper:
#
# * **V is not multi-scale**: Eq. 9 builds `W̃_v` like `W̃_q`; the code uses one 3×3 conv for V.
# * the multi-scale Q projection (`MsC`) has a BatchNorm, and its "linear" fusion is a grouped 1×1
#   conv with `groups = C/N` (not `N`), then GELU and a dense 1×1;
# * **no weighted sum**: Eq. 7 reads `Softmax(·) × V̂` (a `C`-vector). The code scales each of the 49
#   value vectors by its head's probability and **concatenates** them: the decoder gets `49·C` numbers
#   (plus 2 for the cell). `M = √(C/heads)`.
#
# We build everything by hand on a small random MSIT (`C = 64`, 8 heads, `N = 4` projections) — first
# for **one** query point, then vectorised — and check each tensor against the package through its
# `Trace` mechanism.

# %%
import math

import matplotlib.pyplot as plt
import numpy as np
import skimage.data
import torch
import torch.nn.functional as F
from PIL import Image

import msit_lite
from msit_lite.config import build_model
from msit_lite.coords import make_cell, make_coord, output_size
from msit_lite.models import Trace

msit_lite.seed_everything(0)
torch.set_num_threads(1)  # bit-stable printed numbers

# %% [markdown]
# ## A small random MSIT and an LR photo
#
# Stage-1 (`conv: plain`) convolutions with the official random initialisation; both BatchNorms get
# random "trained" statistics so that they matter. **Random weights**: the attention patterns below
# show the *mechanics*, not what a trained model attends to (notebook 10).

# %%
spec = {"model": {"name": "msit", "args": {
    "encoder": {"name": "edsr-baseline", "args": {"n_resblocks": 2, "n_feats": 16}},
    "dim": 64, "heads": 8, "radius": 3, "conv": "plain",
    "msno": {"name": "msno", "args": {"branches": 4}},
    "attention": {"name": "mssa", "args": {"projections": 4, "enc_dims": 64, "posenc_scale": 10}},
    "decoder": {"name": "mlp", "args": {"hidden_list": [64, 64], "act": "gelu"}}}}}
model = build_model(spec).eval()
with torch.no_grad():
    for bn in (model.msno.merge.bn, model.attention.q_proj.bn):
        bn.running_mean.uniform_(-0.3, 0.3); bn.running_var.uniform_(0.5, 2.0)
        bn.weight.uniform_(0.5, 1.5); bn.bias.uniform_(-0.3, 0.3)
att = model.attention
C, heads, r = att.dim, att.heads, att.radius
d = C // heads
print(f"C = {C}, heads = {heads} (d = {d} channels each), radius r = {r} -> window P = {att.window}")

face = Image.fromarray(skimage.data.astronaut()[30:222, 140:332])       # 192 x 192 crop
lr_img = np.asarray(face.resize((24, 24), Image.BICUBIC), dtype=np.float32) / 255.0
lr = (torch.from_numpy(lr_img).permute(2, 0, 1)[None] - 0.5) / 0.5      # normalised [1, 3, 24, 24]
h, w = lr.shape[-2:]
scale = 2.6
H, W = output_size((h, w), scale)
print(f"LR {h}x{w}, scale {scale} -> HR {H}x{W}")

trace = Trace()
with torch.no_grad():
    feats = model.encode(lr, trace)
z = trace["msno"]                                 # Z'': the MSNO output, input of MSSA
print("Z''", tuple(z.shape), "| maps:", {k: tuple(v.shape) for k, v in feats.items()})

# %% [markdown]
# ## Fig. 3b as a block diagram
#
# The paper's Fig. 3b with the shapes of this small model for all HR queries at ×2.6, read from the
# package's `Trace` (so they are the real ones). Top row: the Q path and the attention; middle: K̂ and the
# positional bias; bottom: V. The first two boxes of each path run once per image, the rest per query.

# %%
from msit_lite.viz.diagram import block_diagram


t_all = Trace()
with torch.no_grad():
    model.query(feats, make_coord((H, W))[None], make_cell((H, W)), t_all)
q_all = H * W
L = lambda shape: str(list(shape)).replace(" ", "")
blank = (None, "", "")
q_row = [("Z'' (from MSNO)", L(z.shape), "#eeeeee"), ("MsC: 4 convs", "3×3 … 9×9, BN, GELU", "#f9cb9c"),
         ("Q map", L(feats["q"].shape), "#f9cb9c"), ("Q̂ = bilinear(Q, χ̂ʰ)", L([1, q_all, C]), "#f9cb9c"),
         ("Q̂K̂/√d + P(δ)", L(t_all["attn_softmax"].shape), "#d9ead3"), ("softmax (49)", L(t_all["attn_softmax"].shape), "#d9ead3"),
         ("p ⊙ V̂, concat", L([1, q_all, t_all["imnet_in"].shape[-1] - 2]), "#d9ead3")]
k_row = [blank, blank, blank, ("K̂ = nearest(Q, χ̂ˡ)", L([1, q_all, att.window, C]), "#f9cb9c"),
         ("P(δ), δ = χ̂ʰ − χ̂ˡ", L(t_all["pos_bias"].shape), "#cfe2f3"), blank, blank]
v_row = [blank, ("V: 3×3 conv", "(not multi-scale)", "#cfe2f3"), ("V map", L(feats["v"].shape), "#cfe2f3"),
         ("V̂ = nearest(V, χ̂ˡ)", L([1, q_all, att.window, C]), "#cfe2f3"), blank, blank, blank]
block_diagram([q_row, k_row, v_row],
              links=[((0, 0), (2, 1)), ((0, 2), (1, 3)), ((1, 3), (0, 4)), ((1, 4), (0, 4)), ((2, 3), (0, 6))],
              title=f"MSSA (paper Fig. 3b, as the code computes it), small model, all {q_all:,} queries at ×{scale}",
              no_arrow={(1, 4)})
plt.show()

# %% [markdown]
# ## The maps: multi-scale Q (= K) and a plain V
#
# `MsC` (official class name; `attention.q_proj` here): `proj_in` 1×1 → split into `N = 4` chunks of
# `C/N = 16` channels → kernels 3, 5, 7, 9 → `expand` 1×1 `C → 2C` with **groups = C/N = 16**: each group
# reads 4 consecutive channels — all inside one scale's chunk, since 4 divides 16 — and writes 8 →
# BatchNorm → GELU → `reduce` 1×1 `2C → C`, the only layer that mixes the scales.

# %%
def conv1x1(x, weight, bias=None):
    out = torch.einsum("oc,bchw->bohw", weight[:, :, 0, 0], x)
    return out if bias is None else out + bias.view(1, -1, 1, 1)


def batchnorm_eval(x, bn):
    shape = (1, -1, 1, 1)
    return (x - bn.running_mean.view(shape)) / torch.sqrt(bn.running_var.view(shape) + bn.eps) * bn.weight.view(shape) + bn.bias.view(shape)


def q_map_by_hand(z, m):
    n = len(m.convs)
    x = conv1x1(z, m.proj_in.weight, m.proj_in.bias)
    chunks = x.split(x.shape[1] // n, dim=1)
    x = torch.cat([F.conv2d(c, conv.weight, conv.bias, padding=i + 1) for i, (c, conv) in enumerate(zip(chunks, m.convs))], 1)
    groups = x.shape[1] // n                                   # C/N groups of N input channels
    wg = m.expand.weight[:, :, 0, 0]                           # [2C, N]
    per = wg.shape[0] // groups                                # 2N outputs per group
    x = torch.cat([torch.einsum("oc,bchw->bohw", wg[g * per:(g + 1) * per], x[:, g * n:(g + 1) * n])
                   for g in range(groups)], 1) + m.expand.bias.view(1, -1, 1, 1)
    x = F.gelu(batchnorm_eval(x, m.bn))
    return conv1x1(x, m.reduce.weight, m.reduce.bias)


with torch.no_grad():
    q_map = q_map_by_hand(z, att.q_proj)
    v_map = F.conv2d(z, att.v_proj.weight, att.v_proj.bias, padding=1)   # V: one 3x3 conv
assert (q_map - feats["q"]).abs().max() < 1e-5 and (v_map - feats["v"]).abs().max() < 1e-5
assert "k" not in feats                                                # K is read from the Q map
print("expand weight", tuple(att.q_proj.expand.weight.shape), "= [2C, N, 1, 1]: groups =", att.q_proj.expand.groups)
print("Q map and V map == package (max abs diff < 1e-5, asserted); no separate K map")
# From here on we use the package's maps (equal to ours up to float rounding), so that the checks
# below isolate the per-query steps.
q_map, v_map = feats["q"], feats["v"]

# %% [markdown]
# ## One query point, step by step
#
# Take one HR pixel centre at ×2.6. Coordinates are (y, x) in [−1, 1] (notebook 01); LR pixel `i` covers
# `[−1 + 2i/h, −1 + 2(i+1)/h]`.
#
# 1. **nearest LR centre** — the LR pixel that contains the query: `grid_sample(..., 'nearest')` of the
#    LR coordinate grid, i.e. the index `round(((c+1)·h − 1)/2)` (round half to even, as PyTorch's kernel);
# 2. **window**: offsets `a·2/h`, `b·2/w` for `a, b = −3…3`, position `n = (a+3)·7 + (b+3)` (row-major,
#    from (−3,−3) to (+3,+3)); `k_n = centre + offset_n` in float32;
# 3. **Q̂** = bilinear sample of the Q map at the query; **K̂_n**, **V̂_n** = the Q and V maps at the window
#    pixels — zeros where the window leaves the image (those positions are *not* masked);
# 4. **δ_n = (c − k_n)·(h, w)**: the relative position in units of *half an LR pixel* (one LR pixel is
#    `2/h` wide), in [−7, 7] for `r = 3`.

# %%
lr_grid = make_coord((h, w), flatten=False)                   # [h, w, 2] LR pixel centres
hr_coord = make_coord((H, W))                                 # [H*W, 2] HR pixel centres
cell = make_cell((H, W))                                      # [1, 2] = (2/H, 2/W)
row, col = 30, 33
c = hr_coord[row * W + col]                                   # one query (y, x)

idx = torch.round(((c + 1) * torch.tensor([h, w]) - 1) / 2).long()   # nearest LR pixel (iy, ix)
iy, ix = idx.tolist()
centre = lr_grid[iy, ix]
offs = [torch.linspace(-r, r, 2 * r + 1) * (2 / n) for n in (h, w)]     # float32 ints times Python float
offsets = torch.stack(torch.meshgrid(*offs, indexing="ij"), -1).view(-1, 2)   # [49, 2], row-major
k_centres = centre + offsets                                  # [49, 2]
print(f"query (y, x) = ({c[0]:.4f}, {c[1]:.4f}) -> LR pixel ({iy}, {ix}), centre ({centre[0]:.4f}, {centre[1]:.4f})")


def bilinear(fmap, c):
    """Bilinear sample of fmap [C, h, w] at (y, x) in [-1, 1] (align_corners=False, zero padding)."""
    n_h, n_w = fmap.shape[-2:]
    py, px = ((c[0] + 1) * n_h - 1) / 2, ((c[1] + 1) * n_w - 1) / 2     # continuous pixel index
    y0, x0 = int(math.floor(py)), int(math.floor(px))
    out = torch.zeros(fmap.shape[0])
    for yy, wy in ((y0, 1 - (py - y0)), (y0 + 1, py - y0)):
        for xx, wx in ((x0, 1 - (px - x0)), (x0 + 1, px - x0)):
            if 0 <= yy < n_h and 0 <= xx < n_w:
                out = out + wy * wx * fmap[:, yy, xx]
    return out


def window_values(fmap, iy, ix):
    """fmap [C, h, w] at the 49 window pixels around (iy, ix); zeros outside the image -> [49, C]."""
    out = torch.zeros((2 * r + 1) ** 2, fmap.shape[0])
    for n, (a, b) in enumerate((a, b) for a in range(-r, r + 1) for b in range(-r, r + 1)):
        if 0 <= iy + a < fmap.shape[1] and 0 <= ix + b < fmap.shape[2]:
            out[n] = fmap[:, iy + a, ix + b]
    return out


with torch.no_grad():
    q_hat = bilinear(q_map[0], c)                             # [C]
    k_hat = window_values(q_map[0], iy, ix)                   # [49, C]  (K = the Q map)
    v_hat = window_values(v_map[0], iy, ix)                   # [49, C]
rel = (c - k_centres) * torch.tensor([float(h), float(w)])    # subtract first, then scale, as the official code
print("Q̂", tuple(q_hat.shape), "K̂", tuple(k_hat.shape), "V̂", tuple(v_hat.shape), "δ", tuple(rel.shape))
print("δ at n = 0 (-3,-3), 24 (centre), 48 (+3,+3):", [tuple(round(v, 3) for v in rel[n].tolist()) for n in (0, 24, 48)])

# %% [markdown]
# ## The positional bias P(δ) (Eq. 8)
#
# Eq. 8: `P(δ) = Linear[sin(ω_1 δ), cos(ω_1 δ), …, sin(ω_g δ), cos(ω_g δ)]`. The official
# `PositionEncoder` (`models/positionencoder.py`, sinusoid type) uses, per axis, 16 frequencies
# `ω_i = 2^{t_i} − 1`, `t = linspace(0, 10, 16)`: from 0 to **1023 radians per unit of δ** — no 2π,
# although a comment in that file mentions one (`docs/OFFICIAL_CODE.md` §Positional bias). The feature
# vector is `[sin(ω δ_y) (16) | sin(ω δ_x) (16) | cos(ω δ_y) (16) | cos(ω δ_x) (16)]` and one linear
# layer maps its 64 numbers to one bias **per head**.
#
# The frequencies are computed in float32 as the official code does (`linspace` in float32, `2.0 ** t`,
# `− 1` in float32): with ω up to 1023 the encoding is very sensitive to the last bits of δ — measured
# in the appendix, **notebook 12 §2**.

# %%
freqs = 2.0 ** torch.linspace(0, 10, 16) - 1                 # float32 all the way
print("ω =", [round(f, 4) for f in freqs.tolist()])


def pos_encoding(rel):
    arg_y = rel[..., :1] * freqs                              # [..., 16]
    arg_x = rel[..., 1:] * freqs
    return torch.cat([torch.sin(arg_y), torch.sin(arg_x), torch.cos(arg_y), torch.cos(arg_x)], -1)


pb_lin = att.pos_bias.proj
with torch.no_grad():
    enc = pos_encoding(rel)                                   # [49, 64]
    pos_bias = enc @ pb_lin.weight.T + pb_lin.bias            # [49, heads]
print("encoding", tuple(enc.shape), "-> bias per head", tuple(pos_bias.shape))

# %% [markdown]
# ## Logits, softmax, and the concatenated values (Eq. 7, 10 as the code does them)
#
# Head `j` owns channels `j·d … j·d+d−1`. Per head and window position:
# `logit[n, j] = Q̂_j · K̂_{n,j} / √d + P(δ_n)_j`; a softmax over the 49 positions gives `p[n, j]`.
# The official `amsit.query_rgb` (`models/msit.py`), shortened:
#
# ```python
# attn = torch.matmul(sample_feat_q, sample_feat_qt).reshape(bs, q_sample, self.head, self.r_area) \
#            .permute(0, 1, 3, 2) / np.sqrt(self.dim // self.head)
# _, pb = self.pb_encoder(rel_coord)
# attn = F.softmax(torch.add(attn, pb), dim=-2)
# # ...
# sample_feat_v = torch.mul(sample_feat_v, attn).reshape(bs, q_sample, self.r_area, -1)
# feat_in = sample_feat_v.reshape(bs, q_sample, -1)       # 49·C values, no sum over the window
# ```
#
# Then — the official behaviour — every value vector `V̂_n` is scaled channel-wise by its head's
# probability and the **49 scaled vectors are concatenated** (window-major, channel-minor), and the
# cell in half-LR-pixel units `cell·(h, w)` (= 2/scale per axis) is appended: `49·64 + 2 = 3138` inputs
# for the MLP decoder. The paper's weighted sum would be the sum of those 49 blocks (`C` numbers).

# %%
with torch.no_grad():
    logits = (q_hat.view(1, heads, d) * k_hat.view(-1, heads, d)).sum(-1) / math.sqrt(d)   # [49, heads]
    p = torch.softmax(logits + pos_bias, dim=0)                                           # over the window
    scaled = v_hat.view(-1, heads, d) * p.unsqueeze(-1)                                   # [49, heads, d]
    mlp_in = torch.cat([scaled.reshape(-1), cell[0] * torch.tensor([float(h), float(w)])])
    paper_sum = scaled.sum(0).reshape(-1)                                                 # Eq. 7 as written
assert torch.allclose(p.sum(0), torch.ones(heads))
print("probabilities sum to 1 per head (asserted)")
print("MLP input (official, concatenation):", tuple(mlp_in.shape), "| the paper's weighted sum would be:", tuple(paper_sum.shape))

# The package, traced, for the same single query:
tq = Trace()
with torch.no_grad():
    model.query(feats, c.view(1, 1, 2), cell, tq)
checks = {
    "nearest centre": (centre, tq["gs_coord_k"].view(2)),
    "Q̂": (q_hat, tq["gs_q"].view(C)),
    "K̂": (k_hat, tq["gs_k"][0, :, 0].T),
    "V̂": (v_hat, tq["gs_v"][0, :, 0].T),
    "δ (rel_coord)": (rel, tq["rel_coord"][0, 0]),
    "pos_enc": (enc, tq["pos_enc"][0, 0]),
    "pos_bias": (pos_bias, tq["pos_bias"][0, 0]),
    "attn_softmax": (p, tq["attn_softmax"][0, 0]),
    "MLP input": (mlp_in, tq["imnet_in"][0, 0]),
}
for name, (mine, theirs) in checks.items():
    assert (mine - theirs).abs().max() < 1e-6, name
print("equal to the package's trace (max abs diff < 1e-6, asserted):", ", ".join(checks))

# %% [markdown]
# ## Picture: the window around one HR query
#
# In LR pixel units (LR pixel `i` spans `[i, i+1]`). Grey dots are the HR pixel centres at ×2.6; the
# red star is our query, the black circle the nearest LR centre, the squares the 49 window centres
# where K̂ and V̂ are read. Right: a query near the top-left corner — 33 of its 49 window positions fall
# outside the image; they enter the softmax with `K̂ = 0` (logit = positional bias alone) and
# contribute `V̂ = 0`.

# %%
def to_px(yx, n_h=h, n_w=w):
    """(y, x) in [-1, 1] -> (x, y) in LR pixel units, for plotting."""
    yx = torch.as_tensor(yx).reshape(-1, 2)
    return ((yx[:, 1] + 1) / 2 * n_w).numpy(), ((yx[:, 0] + 1) / 2 * n_h).numpy()


def draw_window(ax, c, title):
    idx = torch.round(((c + 1) * torch.tensor([h, w]) - 1) / 2).long()
    centre = lr_grid[idx[0], idx[1]]
    kc = centre + offsets
    cx, cy = to_px(c)
    x0, x1, y0, y1 = cx[0] - 5, cx[0] + 5, cy[0] - 5, cy[0] + 5
    for v in range(-4, w + 5):
        ax.axvline(v, color="0.85", lw=0.6, zorder=0)
    for v in range(-4, h + 5):
        ax.axhline(v, color="0.85", lw=0.6, zorder=0)
    ax.add_patch(plt.Rectangle((0, 0), w, h, fill=False, ec="k", lw=1.5, label="image border"))
    hx, hy = to_px(hr_coord)
    ax.plot(hx, hy, ".", color="0.6", ms=2, label="HR pixel centres (×2.6)")
    kx, ky = to_px(kc)
    inside = (kc.abs() < 1).all(-1).numpy()
    ax.plot(kx[inside], ky[inside], "s", color="tab:orange", ms=7, alpha=0.8, label="window centres k_n")
    ax.plot(kx[~inside], ky[~inside], "s", mfc="none", mec="tab:orange", ms=7, label="outside: K̂=V̂=0")
    for n in (0, 6, 24, 42, 48):
        ax.annotate(str(n), (kx[n], ky[n]), textcoords="offset points", xytext=(4, 4), fontsize=8)
    ex, ey = to_px(centre)
    ax.plot(ex, ey, "o", mfc="none", mec="k", ms=12, mew=1.5, label="nearest LR centre")
    ax.plot(cx, cy, "*", color="red", ms=14, label="HR query")
    ax.set_xlim(x0, x1); ax.set_ylim(y1, y0); ax.set_aspect("equal")
    ax.set_xlabel("x (LR pixels)"); ax.set_ylabel("y (LR pixels)"); ax.set_title(title)


fig, axes = plt.subplots(1, 2, figsize=(15, 6))
draw_window(axes[0], c, f"HR pixel ({row}, {col}) at ×{scale}: 7×7 window, n = row-major")
draw_window(axes[1], hr_coord[1 * W + 2], "HR pixel (1, 2): window partly outside the image")
axes[1].set_xlim(-4.5, 5.5); axes[1].set_ylim(5.5, -4.5)
axes[1].legend(loc="upper left", bbox_to_anchor=(1.02, 1.0), fontsize=8)
plt.tight_layout(); plt.show()

# %% [markdown]
# ## Pictures: attention probabilities and the positional bias alone (random weights)
#
# Top: `p[n, j]` of our query as a 7×7 map per head (row = vertical offset −3…3, column = horizontal
# offset — the official visualisation layout). Bottom: the positional bias `P(δ)_j` alone — what each
# head would prefer if Q̂·K̂ were zero. With random weights it is a random function of δ. Note its
# structure, which training cannot change: the encoding treats the two axes separately and `P` is
# linear in it, so `P(δ) = A(δ_y) + B(δ_x)` — every bias map is a row profile plus a column profile
# (hence the stripes). What a trained model's heads attend to is shown in notebook 10.

# %%
fig, axes = plt.subplots(2, heads, figsize=(16, 4.6))
p_max, b_max = p.max().item(), pos_bias.abs().max().item()
for j in range(heads):
    a = axes[0, j].imshow(p[:, j].view(7, 7), cmap="magma", vmin=0, vmax=p_max)
    axes[0, j].set_title(f"head {j}: max p {p[:, j].max():.2f}", fontsize=9)
    b = axes[1, j].imshow(pos_bias[:, j].view(7, 7), cmap="RdBu_r", vmin=-b_max, vmax=b_max)
    for ax in (axes[0, j], axes[1, j]):
        ax.set_xticks([0, 3, 6], ["-3", "0", "3"], fontsize=7); ax.set_yticks([0, 3, 6], ["-3", "0", "3"], fontsize=7)
axes[0, 0].set_ylabel("softmax p\n(row = Δy)"); axes[1, 0].set_ylabel("P(δ) alone\n(row = Δy)")
fig.suptitle(f"query HR ({row}, {col}) at ×{scale}, random weights", y=1.0)
plt.tight_layout()
fig.colorbar(a, ax=axes[0], fraction=0.01, pad=0.01, label="p")
fig.colorbar(b, ax=axes[1], fraction=0.01, pad=0.01, label="bias")
plt.show()

# %% [markdown]
# ## All queries at once (vectorised)
#
# The same steps with tensors `[b, q, …]`: the nearest pixel index for every query, the 49 window
# indices by broadcasting, K̂/V̂ gathered from maps zero-padded by `r` (so that every window index is
# valid and outside positions read 0), bilinear Q̂ with `grid_sample` (which we reproduced by hand
# above), the batched dot products per head. This is the decoder's whole input for all `H·W` queries.

# %%
def attend_by_hand(q_map, v_map, coord, cell, pos_proj):
    """MSSA for queries coord [b, q, 2]; returns (rel, attn [b, q, 49, heads], MLP input [b, q, 49·C+2])."""
    b, nq = coord.shape[:2]
    n_h, n_w = q_map.shape[-2:]
    idx = torch.round(((coord + 1) * torch.tensor([n_h, n_w]) - 1) / 2).long()   # [b, q, 2]
    centre = make_coord((n_h, n_w), flatten=False)[idx[..., 0], idx[..., 1]]   # [b, q, 2]
    offs = [torch.linspace(-r, r, 2 * r + 1) * (2 / n) for n in (n_h, n_w)]
    window = torch.stack(torch.meshgrid(*offs, indexing="ij"), -1).view(-1, 2)  # [49, 2]
    rel = (coord.unsqueeze(2) - (centre.unsqueeze(2) + window)) * torch.tensor([float(n_h), float(n_w)])
    a = torch.arange(-r, r + 1)
    wy = (idx[..., 0, None] + a).repeat_interleave(2 * r + 1, -1) + r           # [b, q, 49] rows (padded map)
    wx = (idx[..., 1, None] + a).repeat(1, 1, 2 * r + 1) + r                    # [b, q, 49] cols
    bi = torch.arange(b).view(b, 1, 1)
    k = F.pad(q_map, (r, r, r, r)).permute(0, 2, 3, 1)[bi, wy, wx]              # [b, q, 49, C]
    v = F.pad(v_map, (r, r, r, r)).permute(0, 2, 3, 1)[bi, wy, wx]
    q = F.grid_sample(q_map, coord.flip(-1).unsqueeze(2), mode="bilinear", align_corners=False)[..., 0].transpose(1, 2)
    logits = torch.einsum("bqhd,bqnhd->bqnh", q.view(b, nq, heads, d), k.view(b, nq, -1, heads, d)) / math.sqrt(d)
    attn = torch.softmax(logits + pos_proj(pos_encoding(rel)), dim=2)
    z_a = (v.view(b, nq, -1, heads, d) * attn.unsqueeze(-1)).reshape(b, nq, -1)
    rel_cell = (cell * torch.tensor([float(n_h), float(n_w)])).unsqueeze(1).expand(b, nq, 2)
    return rel, attn, torch.cat([z_a, rel_cell], -1)


coords = hr_coord.unsqueeze(0)                                                 # all H*W queries
tv = Trace()
with torch.no_grad():
    rel_all, attn_all, mlp_in_all = attend_by_hand(q_map, v_map, coords, cell, pb_lin)
    pred = model.query(feats, coords, cell, tv)
assert torch.equal(rel_all, tv["rel_coord"])
assert (attn_all - tv["attn_softmax"]).abs().max() < 1e-5 and (mlp_in_all - tv["imnet_in"]).abs().max() < 1e-5
with torch.no_grad():
    skip = F.grid_sample(lr, coords.flip(-1).unsqueeze(2), mode="bilinear", padding_mode="border", align_corners=False)
    pred_hand = model.decoder(mlp_in_all) + skip[..., 0].transpose(1, 2)
assert (pred_hand - pred).abs().max() < 1e-5
print("queries", tuple(coords.shape), "-> MLP input", tuple(mlp_in_all.shape))
print("rel_coord bit-identical; attn_softmax, MLP input and prediction (decoder + long skip) within 1e-5 (asserted)")

# %% [markdown]
# ## A note on float32
#
# The frequency ladder reaches 1023 rad per unit of δ, a period of 2π/1023 ≈ 0.006 half-LR-pixels: one
# float32 ulp in δ moves the positional bias by ~1e-4. That is why msit_lite builds coordinates,
# offsets, δ and ω operation by operation as the official code does, and why its tests compare them
# **bit for bit** with the official tensors. It changes nothing you can see in an image; the
# measurements (one ulp, frequencies via float64, an algebraically equal formula for δ) are in the
# appendix, **notebook 12 §2**.

# %% [markdown]
# ## Conventional SA vs MSSA: parameters (Table III)
#
# The ablation "MSSA ✗" replaces MSSA by a conventional self-attention, as in CLIT (from which
# MSIT's code is derived): separate 3×3 convs for Q, K and V, the same window and positional bias
# (`attention: sa` in the registry). Full config (`C = 256`, plain convs):

# %%
from msit_lite import paper
from msit_lite.models import make
from msit_lite.params import count_parameters

full_args = {"dim": 256, "heads": 8, "radius": 3}
variants = {
    "MSSA (plain convs)": {"name": "mssa", "args": {"projections": 4, "conv": "plain"}},
    "MSSA (RIM, trainable)": {"name": "mssa", "args": {"projections": 4, "conv": "rim"}},
    "conventional SA": {"name": "sa", "args": {"conv": "plain"}},
}
print(f"{'attention':24s}{'Q (=K) / Q+K':>14s}{'V':>10s}{'pos. bias':>11s}{'total':>11s}")
totals = {}
for name, s in variants.items():
    m = make(s, "attention", **full_args)
    n = lambda mod: sum(p.numel() for p in mod.parameters() if p.requires_grad)
    qk = n(m.q_proj) + (n(m.k_proj) if hasattr(m, "k_proj") else 0)
    totals[name] = n(m)
    print(f"{name:24s}{qk:>14,}{n(m.v_proj):>10,}{n(m.pos_bias):>11,}{totals[name]:>11,}")

base = {"encoder": {"name": "edsr-baseline", "args": {"n_resblocks": 16, "n_feats": 64}}, "dim": 256, "conv": "plain",
        "decoder": {"name": "mlp", "args": {"hidden_list": [256, 256, 256, 256], "act": "gelu"}}}
msit_mssa = count_parameters(build_model({"model": {"name": "msit", "args": base}})).trainable
msit_sa = count_parameters(build_model({"model": {"name": "msit", "args": {**base, "attention": {"name": "sa"}}}})).trainable
assert msit_sa - msit_mssa == totals["conventional SA"] - totals["MSSA (plain convs)"]
t3 = {name: paper.TABLE_III.row(name).params for name in ("MSNO, MSSA", "MSNO, SA")}
assert paper.format_params(msit_mssa) == t3["MSNO, MSSA"] and paper.format_params(msit_sa) == t3["MSNO, SA"]
print(f"\nwhole MSIT, EDSR-baseline: MSNO + MSSA {msit_mssa:,} (Table III: {t3['MSNO, MSSA']}) | "
      f"MSNO + SA {msit_sa:,} (Table III: {t3['MSNO, SA']})")

# %% [markdown]
# MSSA is *cheaper* than conventional SA: its multi-scale Q projection (kernels 3, 5, 7, 9 on
# 64-channel chunks plus 1×1 mixing) costs less than two dense 256→256 3×3 convs, and K comes for
# free from the Q map. Table III credits MSSA with a gain *and* 0.3M fewer parameters (its rows, from
# `msit_lite.paper`, are printed above).

# %% [markdown]
# ## Against the official code's golden tensors
#
# `msit_small_rim` is an official small MSIT with RIM convs and random weights, run by the authors'
# code; its `subset.*` tensors are the intermediates of 37 random HR queries at ×2.6. We check the
# package and our vectorised hand-built attention: `rel_coord` must be **bit-identical** (notebook 12
# §2 says why), the probabilities within 1e-5. The golden files are not shipped with the package;
# without them this cell prints how to get them.

# %%
# NBVAL_IGNORE_OUTPUT
from msit_lite.paths import golden_dir, repo_dir

gdir, cfg = golden_dir(), repo_dir() / "configs" / "golden" / "msit-small-rim.yaml"
if not (gdir / "msit_small_rim.io.safetensors").is_file() or not cfg.is_file():
    print("golden tensors not found -- skipped (they live in ../shared/golden; set MSIT_GOLDEN=DIR to point elsewhere)")
else:
    from safetensors.torch import load_file
    from msit_lite.config import load_config
    from msit_lite.official import load_official

    gmodel = load_official(gdir / "msit_small_rim.weights.safetensors", build_model(load_config(cfg))).eval()
    io = load_file(str(gdir / "msit_small_rim.io.safetensors"))
    tg = Trace()
    with torch.no_grad():
        gfeats = gmodel.encode(io["inp"])
        gmodel.query(gfeats, io["sample_coord"], io["cell"], tg)
        g_rel, g_attn, _ = attend_by_hand(gfeats["q"], gfeats["v"], io["sample_coord"], io["cell"], gmodel.attention.pos_bias.proj)
    ref_rel, ref_attn = io["subset.rel_coord"], io["subset.attn_softmax"]
    assert torch.equal(tg["rel_coord"], ref_rel) and torch.equal(g_rel, ref_rel)
    print("package and hand-built rel_coord bit-identical to golden (asserted)")
    for name, a in (("package", tg["attn_softmax"]), ("hand-built", g_attn)):
        e = (a - ref_attn).abs().max().item()
        assert e <= 1e-5, name
        print(f"{name:10s} attn_softmax vs golden {tuple(ref_attn.shape)}: max abs diff {e:.1e} (<= 1e-5, asserted)")
    assert torch.equal(io["subset.attn"], ref_attn[0].reshape(-1, 7, 7, 8))
    print("official 7x7 layout (subset.attn) == attn_softmax reshaped (asserted)")

# %% [markdown]
# ## Exercises
#
# Each exercise cell runs as it is; put your answer where it says so and run it again. A **predict, then
# run** exercise has a second cell whose output is collapsed: decide first, then run it.

# %%
import copy


from msit_lite.exercises import reveal  # prints how a prediction compares; never raises

# %% [markdown]
# **Exercise 1 (predict, then run).** Zero the positional bias P(δ) (its linear layer's weight and bias)
# **and** the Q map. What is every attention probability p[n, j] of our query then? (A number; 4
# decimals are enough.)

# %%
my_answer_1 = None   # a number

# %% hide-output
silent = copy.deepcopy(model)
with torch.no_grad():
    silent.attention.pos_bias.proj.weight.zero_(); silent.attention.pos_bias.proj.bias.zero_()
    zero_feats = {**feats, "q": torch.zeros_like(feats["q"])}
    t1 = Trace()
    silent.query(zero_feats, c.view(1, 1, 2), cell, t1)
p_zero = t1["attn_softmax"][0, 0]
print(f"p ranges over [{p_zero.min():.4f}, {p_zero.max():.4f}]")
reveal(my_answer_1, round(p_zero.mean().item(), 4), close=1e-3,
       hint="all 49 logits are equal, including the positions outside the image (they are not masked)")

# %% [markdown]
# **Exercise 2 (predict, then run).** Keep the Q map, zero only P(δ). Two HR queries that fall in the
# **same** LR pixel have the same window (same K̂, same V̂). Do they get the same attention
# probabilities? `"yes"` or `"no"`.

# %%
my_answer_2 = None   # "yes" or "no"

# %% hide-output
lr_col = lambda j: int(torch.round(((hr_coord[row * W + j, 1] + 1) * w - 1) / 2))   # nearest LR column
j0 = next(j for j in range(col, W - 1) if lr_col(j) == lr_col(j + 1))              # two HR pixels, one LR pixel
same_pixel = hr_coord[[row * W + j0, row * W + j0 + 1]].view(1, 2, 2)
t2 = Trace()
with torch.no_grad():
    silent.query(feats, same_pixel, cell, t2)
assert torch.equal(t2["gs_coord_k"][0, :, 0, 0], t2["gs_coord_k"][0, :, 1, 0]), "pick two queries of one LR pixel"
diff = (t2["attn_softmax"][0, 0] - t2["attn_softmax"][0, 1]).abs().max().item()
print(f"same LR pixel: yes; max |p(query 1) - p(query 2)| = {diff:.2e}")
reveal(my_answer_2, "yes" if diff == 0 else "no",
       hint="Q̂ is a *bilinear* sample at the query itself, so it moves inside the pixel; with P(δ) it moves more")

# %% [markdown]
# **Exercise 3 (predict, then run).** At ×2.6 on this 24×24 LR image, how many of the 49 window positions
# of the **top-left** HR pixel (0, 0) lie outside the image?

# %%
my_answer_3 = None   # an integer

# %% hide-output
t3_ = Trace()
with torch.no_grad():
    model.query(feats, hr_coord[:1].view(1, 1, 2), cell, t3_)
k_pos = t3_["gs_coord_k"][0, :, 0, 0] + offsets                                  # the 49 window centres
reveal(my_answer_3, int((k_pos.abs() >= 1).any(-1).sum()),
       hint="its nearest LR pixel is (0, 0); the window reaches 3 pixels up and left: count rows × columns outside")

# %% [markdown]
# **Exercise 4.** For the paper's C = 256 and a 7×7 window, how wide is the decoder input under the
# official concatenation, and how wide would it be under Eq. 7's weighted sum? Compute both, then check
# `paper_sum.shape` above for C = 64. What does the concatenation give the MLP that the sum would not?
# (Which window position each value came from.)
#
# ## Takeaways
#
# * MSSA computes a multi-scale **Q** map and a **V** map once per image; per query it reads Q̂
#   (bilinear, at the query), K̂ (the Q map, nearest, at the 49 window centres) and V̂ (nearest).
# * Logits = Q̂·K̂/√d + P(δ) with δ in half-LR-pixel units; P(δ) is a linear map of sin/cos features,
#   so it is a row profile plus a column profile per head. Window positions outside the image are not
#   masked.
# * The official code concatenates the 49 probability-weighted value vectors (49·C + 2 decoder inputs)
#   instead of summing them as Eq. 7 reads; V is a single 3×3 conv, not multi-scale as Eq. 9 says.
# * Every intermediate is asserted equal to the package's trace, and the package to the official code.
#
# **Next:** notebook 06 assembles encoder, MSNO, MSSA, the decoder and the long skip into MSIT.
