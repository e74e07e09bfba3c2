# %% [markdown]
# # 11 · Fast inference: the same outputs, several times cheaper
#
# Notebook 06 assembled MSIT: encode once per image, then for every HR query gather a 7×7 window
# of K and V, weight each V by its head's attention probability and feed the **concatenation** of
# the 49 weighted vectors (49·256 + 2 = 12,546 numbers, notebook 05) to the MLP decoder.
# That decoder is where the time goes — and it grows with the square of the scale. This notebook
#
# 1. counts the FLOPs per module and scale (where the time goes),
# 2. derives the **re-association** of the decoder's first layer that `msit_lite.models.msit_grid` uses and
#    checks it numerically, and checks the whole fast path against the reference path,
# 3. shows the speed table measured by `benchmarks/inference.py`,
#
# and ends with exercises and takeaways.
#
# Nothing here changes the model: the fast path is the same function computed in another order,
# equal up to float rounding.

# %%
import json
import math
import time

import numpy as np
import torch

import msit_lite
from msit_lite.coords import make_cell, make_coord
from msit_lite.models.msit_grid import plan_axis
from msit_lite.inference import predict
from msit_lite.models import Trace, make
from msit_lite.paths import repo_dir

msit_lite.seed_everything(0)
torch.set_num_threads(1)

# %% [markdown]
# ## 1 · Where the time goes
#
# The full EDSR-baseline MSIT (C = 256 channels, 8 heads, a 7×7 window, MLP 12,546 → 256 → 256 →
# 256 → 256 → 3). The convolutions run once per LR pixel (all are stride-1 "same" convolutions, so
# their cost per pixel follows from their shapes; FEM's shifts are free). The query side is counted
# per HR query from the shapes of notebook 05: logits Q·K (2·P·C), positional bias (P·64·heads
# multiply-adds after 64 sin/cos per window position), weighting (P·C) and the MLP.

# %%
FULL = {"name": "msit", "args": {
    "encoder": {"name": "edsr-baseline", "args": {"n_resblocks": 16, "n_feats": 64}},
    "dim": 256, "heads": 8, "radius": 3, "conv": "plain",
    "msno": {"name": "msno", "args": {"branches": 16, "fem": "official", "merge": "sim"}},
    "attention": {"name": "mssa", "args": {"projections": 4, "enc_dims": 64, "posenc_scale": 10}},
    "decoder": {"name": "mlp", "args": {"hidden_list": [256, 256, 256, 256], "act": "gelu"}},
}}
full = make(FULL, "model").eval()


def conv_flops_per_pixel(model, groups):
    """2·(in/groups)·k²·out per output pixel for every Conv2d, summed by group (first prefix that matches)."""
    totals = dict.fromkeys(groups, 0)
    for name, mod in model.named_modules():
        if isinstance(mod, torch.nn.Conv2d):
            group = next(g for g, prefix in groups.items() if name.startswith(prefix))
            k = mod.kernel_size[0] * mod.kernel_size[1]
            totals[group] += 2 * mod.in_channels // mod.groups * k * mod.out_channels
    return totals


groups = {"encoder (EDSR)": "encoder", "1×1 to C": "channel_proj", "MSNO: 16 MSC branches": "msno.msc",
          "MSNO: 1×1 convs (v, s, SIM, proj)": "msno", "MSSA: Q map (MsC)": "attention.q_proj",
          "MSSA: V map (3×3)": "attention.v_proj"}
per_px = conv_flops_per_pixel(full, groups)

att, lin = full.attention, full.decoder.layers
P, C, U = att.window, att.dim, att.heads
mlp = sum(2 * m.in_features * m.out_features for m in lin if isinstance(m, torch.nn.Linear))
first = 2 * lin[0].in_features * lin[0].out_features
per_query = {"attention (Q·K, pos. bias, weighting)": 2 * P * C + 2 * P * 64 * U + P * C,
             "decoder layer 1 (12,546 → 256)": first, "decoder layers 2–5": mlp - first}
print(f"per LR pixel (convolutions): {sum(per_px.values()) / 1e6:.1f} MFLOP")
for k, v in per_px.items():
    print(f"  {k:38s} {v / 1e6:6.2f} MFLOP")
print(f"per HR query (reference path): {sum(per_query.values()) / 1e6:.2f} MFLOP")
for k, v in per_query.items():
    print(f"  {k:38s} {v / 1e6:6.3f} MFLOP")

# %% [markdown]
# For a 128×128 input the convolutions cost ≈ 16,384 × 9.4 MFLOP ≈ 154 GFLOP whatever the scale;
# the queries cost (128·s)² × 6.9 MFLOP. At ×4 the decoder's first layer alone is ~86 % of all
# the work, at ×12 ~92 %:

# %%
h = w = 128
print(f"{'scale':>5} {'convs':>8} {'attention':>10} {'dec. layer 1':>13} {'dec. rest':>10}   GFLOP, 128×128 input")
for s in (1, 2, 4, 8, 12):
    q = (h * s) * (w * s)
    conv = h * w * sum(per_px.values())
    vals = [conv, q * per_query["attention (Q·K, pos. bias, weighting)"], q * first, q * (mlp - first)]
    share = vals[2] / sum(vals)
    print(f"{s:>5} " + " ".join(f"{v / 1e9:>10.0f}" for v in vals) + f"   (layer 1: {share:.0%})")

# %% [markdown]
# ## 2 · The re-association
#
# Number the window positions n = 0…P−1 and the heads j = 0…u−1 (d = C/u channels each), and
# split the first layer's weight W₁ ∈ ℝ^{256×(P·C+2)} into blocks W₁_{n,j} ∈ ℝ^{256×d} (the
# columns that multiply head j's channels of window position n) and W₁_cell. The MLP input of a
# query is the concatenation of p_{n,j}·V_{n,j} (notebook 05), so, exactly,
#
# $$y_1 = W_1\,[\,p_{0,\cdot}\odot V_0 \mid \dots \mid p_{P-1,\cdot}\odot V_{P-1} \mid cell\,] + b_1
#       = \sum_{n}\sum_{j} p_{n,j}\,\underbrace{W_{1,(n,j)} V_{n,j}}_{G_{n,j}} + W_{1,cell}\,cell + b_1 .$$
#
# $G_{n,j}$ depends on the **window only** — not on the query's position inside its LR pixel. All
# queries whose nearest LR pixel (the window centre, notebook 05) is the same share it: about s² of them
# at scale s. So we compute G ([P·u, 256] = [392, 256]) once per LR pixel — 3.2 M multiply-adds,
# what one query used to cost — and each query then needs only $y_1 = p\,G$, a [392]·[392, 256]
# product (0.1 M). The s² queries of one centre are one small matrix product.
#
# A numerical check on random numbers, at the full model's sizes:

# %%
gen = torch.Generator().manual_seed(0)
hid, S = 256, 16                                             # 16 queries share one window (×4)
d = C // U
W1 = torch.randn(hid, P * C + 2, generator=gen) / math.sqrt(P * C)
b1 = torch.randn(hid, generator=gen)
V = torch.randn(P, C, generator=gen)                         # the window's 49 value vectors
p = torch.softmax(torch.randn(S, P, U, generator=gen), dim=1)  # per query, head: over the window
cell = torch.full((2,), 0.5)

# Reference: weight, concatenate, one big product per query.
x = (V.view(1, P, U, d) * p.view(S, P, U, 1)).reshape(S, P * C)
y_ref = torch.cat([x, cell.expand(S, 2)], dim=1) @ W1.T + b1

# Re-associated: G once per window, then p·G per query.
W1_blocks = W1[:, :P * C].reshape(hid, P, U, d)              # W1_(n,j)
G = torch.einsum("hnjt,njt->njh", W1_blocks, V.view(P, U, d)).reshape(P * U, hid)
y_fast = p.reshape(S, P * U) @ G + (W1[:, P * C:] @ cell + b1)

assert (y_fast - y_ref).abs().max() < 1e-4
print("G:", tuple(G.shape), "  y1:", tuple(y_fast.shape))
print("max |y_fast - y_ref| < 1e-4 (asserted)")
print(f"multiply-adds for {S} queries: reference {S * P * C * hid / 1e6:.1f} M, "
      f"re-associated {(P * C * hid + S * P * U * hid) / 1e6:.1f} M")

# %% [markdown]
# ### The geometry is separable too
#
# On a regular HR grid the nearest LR **row** depends only on the HR row and the nearest LR
# **column** only on the HR column, so the queries of one centre form a rows × columns block
# (2×2 at ×2, 4×4 at ×4; 2 or 3 rows at ×2.5). The relative coordinate δ splits the same
# way, and so does the positional bias (notebook 05): half of the 64 sin/cos features see only δ_y,
# the other half only δ_x, hence P(δ) = W_y·enc(δ_y) + W_x·enc(δ_x) + b. `msit_lite.models.msit_grid.plan_axis`
# computes them once per HR row and once per HR column, with the *same float32 operations* as the
# reference — δ must be bit-exact, the output is sensitive to one ulp of it (notebook 12 §2).
#
# The groups of one axis at a non-integer scale (5 LR rows → 13 HR rows, ×2.6):

# %%
tiny_spec = {"name": "msit", "args": {
    "encoder": {"name": "edsr-baseline", "args": {"n_resblocks": 1, "n_feats": 8}},
    "dim": 16, "heads": 4, "radius": 3, "conv": "plain",
    "msno": {"name": "msno", "args": {"branches": 2}},
    "attention": {"name": "mssa", "args": {"projections": 2}},
    "decoder": {"name": "mlp", "args": {"hidden_list": [32, 32]}}}}
tiny = make(tiny_spec, "model").eval()
plan = plan_axis(tiny, 0, 13, (5, 5), torch.device("cpu"))
print("LR row (window centre):", plan.centre.tolist())
print("HR rows per LR row:    ", plan.count.tolist())
print("positional bias of one axis:", tuple(plan.bias.shape), "= [HR rows · slots, 7 offsets, heads]")

# %% [markdown]
# ### The whole fast path against the reference
#
# `predict(model, lr, size, fast=True)` (the default) runs the model's own grid query (`msit_lite.models.msit_grid`); `fast=False` runs the
# straightforward `model.query` in chunks. On a small random model — with random BatchNorm
# statistics so that no part of it is trivially zero — at an integer, a non-integer and an
# anisotropic scale, with windows crossing the image border (outside positions are zeros that
# take part in the softmax, notebook 05):

# %%
with torch.no_grad():
    for m in tiny.modules():
        if isinstance(m, torch.nn.BatchNorm2d):
            m.running_mean.normal_(0, 0.5)
            m.running_var.uniform_(0.5, 2.0)
lr = torch.rand(1, 3, 6, 7, generator=gen) * 2 - 1
for size in [(24, 28), (15, 17), (12, 35)]:
    ref = predict(tiny, lr, size, fast=False)
    out = predict(tiny, lr, size, fast=True)
    assert (out - ref).abs().max() < 1e-5, size
    print(f"{size}: max |fast - reference| < 1e-5 (asserted)")

# %% [markdown]
# Everything else the fast path does is bookkeeping: it never materialises the [queries × 49 × 256]
# K and V tensors (the logits of a block are Q̂ [queries, heads, d] · K_window [49, heads, d]),
# processes a few dozen LR centres at a time so that G stays in the cache, and, on the encoder
# side, computes the MSNO kernels from 21×21 to 33×33 by FFT (`msit_lite.models.fft_conv.FFTConv2d`, exact up
# to float rounding). Memory stays bounded by `--memory-budget` as before: queries are processed in
# chunks, and large inputs are encoded in tiles (`msit_lite.inference`, module docstring: why tiling is
# exact, and how FEM's wrap-around is handled; `tests/test_inference.py` checks it), unchanged by the
# fast path.
#
# A live comparison on a mid-size model (timings vary from machine to machine):

# %%
# NBVAL_IGNORE_OUTPUT
mid = make({**FULL, "args": {**FULL["args"], "dim": 64, "msno": {"name": "msno", "args": {"branches": 4}}}},
           "model").eval()
lr = torch.rand(1, 3, 24, 24, generator=gen) * 2 - 1
for path in (False, True):
    predict(mid, lr, (96, 96), fast=path)  # warm-up
    t0 = time.perf_counter()
    predict(mid, lr, (96, 96), fast=path)
    print(f"{'fast' if path else 'reference':9s}: {time.perf_counter() - t0:.2f} s for 96×96 from 24×24 (×4)")

# %% [markdown]
# ## 3 · The speed table
#
# Measured by `python benchmarks/inference.py` (full EDSR-baseline MSIT with honest random
# weights; every job in its own process for its peak RSS; the reference and fast paths on the
# same input). The JSON it writes is committed in `benchmarks/results/inference-cpu.json`; this cell
# prints it when present (the numbers depend on the machine and its load).

# %%
# NBVAL_IGNORE_OUTPUT
path = repo_dir() / "benchmarks" / "results" / "inference-cpu.json"
if not path.is_file():
    print("no benchmark results yet: run `python benchmarks/inference.py` in the repository")
else:
    res = json.loads(path.read_text())
    print(f"{res['benchmark']} on {res['machine']['cpus']} CPUs, load average {res['machine']['load_average_start']}"
          f", threads {res['cases'][0]['msit_fast']['threads']}, {res['date']}")
    print(f"{'case':12s} {'output':>10s} {'ref s':>8s} {'fast s':>8s} {'speed-up':>9s} {'ref MiB':>8s} "
          f"{'fast MiB':>9s} {'max|Δ|':>8s} {'LIIF s':>7s}")
    for e in res["cases"]:
        ref, fast, liif = e.get("msit_reference"), e["msit_fast"], e.get("liif")
        out = "x".join(str(v) for v in reversed(fast["output"]))
        print(f"{e['case']:12s} {out:>10s} {ref['median_s'] if ref else '-':>8} {fast['median_s']:>8} "
              f"{str(e.get('speedup', '-')) + ('×' if ref else ''):>9s} {ref['peak_rss_mib'] if ref else '-':>8} "
              f"{fast['peak_rss_mib']:>9} {format(e['max_abs_diff_01'], '.0e') if ref else '-':>8} "
              f"{liif['median_s'] if liif else '-':>7}")

# %% [markdown]
# **Reading it.** The speed-up grows with the scale, as the FLOP count predicts: at ×2 each LR
# pixel has only 4 queries to share G with, at ×12 it has 144. The encoder (≈ 154 GFLOP at
# 128×128, now partly by FFT) is then a large part of what is left. The max abs difference is in
# [0, 1] units — float rounding of the re-associated sums, far below one 8-bit level (0.004).

# %% [markdown]
# ## Exercises
#
# Each exercise cell runs as it is; put your answer where it says so and run it again. A **predict, then
# run** exercise has a second cell whose output is collapsed: decide first, then run it.

# %%
from msit_lite.exercises import reveal  # prints how a prediction compares; never raises

# %% [markdown]
# **Exercise 1 (predict, then run).** For a 128×128 input at **×3**, what share of all the reference
# path's work is the decoder's first layer? (A percentage; within 2 points counts.)

# %%
my_answer_1 = None   # e.g. 80

# %% hide-output
q3 = (h * 3) * (w * 3)
work = [h * w * sum(per_px.values()), q3 * per_query["attention (Q·K, pos. bias, weighting)"], q3 * first, q3 * (mlp - first)]
share3 = 100 * work[2] / sum(work)
print(f"x3: decoder layer 1 = {share3:.1f} % of the reference work")
reveal(my_answer_1, round(share3), close=2 / max(share3, 1),
       hint="the convs cost the same at every scale, the query side grows with s²: interpolate between x2 and x4")

# %% [markdown]
# **Exercise 2 (predict, then run).** 5 LR rows become 13 HR rows at ×2.6. How many HR rows share each LR
# row as their window centre? (A list of 5 numbers that adds up to 13.)

# %%
my_answer_2 = None   # a list such as [2, 3, 3, 3, 2]

# %% hide-output
reveal(my_answer_2, plan.count.tolist(),
       hint="an HR row goes to the LR row whose pixel contains its centre: (i + 1/2)·5/13 − 1/2, rounded half to even")

# %% [markdown]
# **Exercise 3 (predict, then run).** The re-association pays G = 392×256 (3.2M multiply-adds) once per
# window and saves per query. From how many queries per window on (S, an integer) is it cheaper than the
# reference product? Use the multiply-add counts printed in §2.

# %%
my_answer_3 = None   # an integer

# %% hide-output
ref_cost = lambda n: n * P * C * hid
fast_cost = lambda n: P * C * hid + n * P * U * hid
reveal(my_answer_3, next(n for n in range(1, 100) if fast_cost(n) < ref_cost(n)),
       hint="solve S·P·C·h > P·C·h + S·P·u·h for S: S > C/(C − u)")

# %% [markdown]
# **Exercise 4.** Re-run the live comparison with a ×2 output (48×48) and a ×8 output (192×192) from the same
# 24×24 input. How does the speed-up change, and why does the FLOP table predict it? (Machine-dependent:
# there is no stored answer.)
#
# ## Takeaways
#
# * On a CPU the reference MSIT spends most of its time in the decoder's first layer, whose input is the
#   49·C + 2 concatenation; its cost grows with the number of HR pixels, i.e. with s².
# * Because the first layer is linear, `W₁·[p ⊙ V]` re-associates into `p·G` with `G` computed once per
#   window: the same function, summed in another order, equal up to float rounding (asserted above).
# * The geometry and the positional bias are separable per axis; the fast path computes them per HR row
#   and column with the reference's exact float32 operations.
# * Nothing about the model changes; memory stays bounded by query chunks and exact tiled encoding.
