# %% [markdown]
# # A5 · A Local Attribution Map for a module of your own (LAM, Fig. 8)
#
# **Context.** The paper argues that FEM lets MSIT use a wider neighbourhood of the input, and shows it with
# Local Attribution Maps (LAM, Gu & Dong 2021; paper Fig. 8, §IV-C): *which LR pixels does the network use to
# draw this small HR window?* LAM answers with a **path-integrated gradient** along a progressive blur, and
# summarises the map with the **Diffusion Index** (DI, 0–100: how widely the attribution spreads).
# The package implements it in `msit_lite.viz.lam`; notebook 10 uses it on the trained lite models.
#
# **Your task** — in `student/a5_lam.py` (not in this notebook), write LAM yourself and use it on a module
# of your own:
#
# 1. `blur_path(img, sigma, steps, size, blur_fn=blur)` — the path and its increments, for the Gaussian
#    blur or any other degradation `blur_fn` (§2);
# 2. `path_integrated_gradients(objective, points, deltas)` — the attribution (§3);
# 3. `attribute(model, lr, window, scale, ..., blur_fn=blur)` — LAM of an arbitrary-scale model (§4);
# 4. `diffusion_index(attribution)` — heat map, Gini coefficient, DI (§5);
# 5. `CrossShift` — a parameter-free FEM variant registered as `fem: a5-cross-shift`, selected by
#    `student/a5_lam.yaml` (§6), then §6 asks what LAM says about it.
#
# You may use `msit_lite.viz.lam.blur`, `Window` and `WindowObjective`. The rest of `msit_lite.viz.lam` is the
# answer the checks compare with, so it cannot be yours: a file that imports or calls its `blur_path`,
# `path_integrated_gradients`, `lam`, `heat_map`, `gini` or `diffusion_index` fails the checks, and the checks
# also run your path with a `blur_fn` of their own, which the package's `blur_path` does not take.
# **Check** with the last cell, or in a terminal `msit-lite grade A5`. Everything here is kept cheap: few
# path steps and small images.

# %%
import copy

import matplotlib.pyplot as plt
import numpy as np
import skimage.data
import torch

import msit_lite
from msit_lite import viz
from msit_lite.config import build_model, load_config
from msit_lite.data.resize import imresize
from msit_lite.grading import grade_notebook, load_student
from msit_lite.viz.lam import Window, WindowObjective, blur, blur_path, path_integrated_gradients

msit_lite.seed_everything(0)
torch.set_num_threads(1)  # bit-stable printed numbers

a5 = load_student("A5")  # (re)imports student/a5_lam.py: run this cell again after every edit
print("your module is registered as: fem:", a5.FEM_NAME)


def attempt(fn):
    """Run a playground cell against your code; one line instead of a traceback while it is a stub."""
    try:
        return fn()
    except NotImplementedError as e:
        print(f"not implemented yet: {e}")


# %% [markdown]
# ## 1 · What LAM explains
#
# The **objective** F(x) is the edge strength of the super-resolved HR window: the sum over the window of
# $\sqrt{\Delta_y^2 + \Delta_x^2}$ (forward differences). Texture is what an SR network has to *invent*, so
# that is what is explained. An arbitrary-scale model makes it cheap: `WindowObjective` queries only the
# window's (size+1)² HR coordinates. Here is a tiny random-weight MSIT, the one the autograder uses
# (`student/a5_lam.yaml` with the package's FEM), on a 24×24 crop of the astronaut at ×2:

# %%
spec = load_config("student/a5_lam.yaml")
spec["model"]["args"]["msno"]["args"]["fem"] = "official"
tiny = build_model(spec).eval()
lr = torch.from_numpy(imresize(skimage.data.astronaut()[40:136, 176:272], scale=1 / 4)).permute(2, 0, 1).float() / 255
win = Window(top=18, left=18, size=10)  # in the 48x48 HR output
objective = WindowObjective(tiny, (48, 48), win)
print("LR", tuple(lr.shape), "-> F(x) =", f"{float(objective(lr[None])):.4f}",
      "| F(blurred x) =", f"{float(objective(blur(lr, 1.2)[None])):.4f}")

# %% [markdown]
# ## 2 · The path: progressive blur
#
# $\lambda(\alpha) = \mathrm{blur}_{\sigma(\alpha)}(x)$ with $\sigma(\alpha) = \sigma_{max}(1-\alpha)$: from a
# blurred copy (α = 0, the *baseline* x′, no high frequencies) to the input (α = 1). With n steps,
# α_i = i/n; `deltas[i]` = λ(α_{i+1}) − λ(α_i), and LAM takes the gradient of step i at its **right end**,
# `points[i]` = λ(α_{i+1}). Unlike the straight line of Integrated Gradients, every point of the path is a
# natural-looking image. Nothing in the definition needs the blur to be Gaussian: `blur_fn(img, σ, size)` is
# any degradation that is the identity at σ = 0 (a fade to the mean colour gives a path to a flat baseline,
# closer to Integrated Gradients), and your `blur_path` must build the path with the `blur_fn` it is given.
# The package's path, 4 steps:

# %%
points, deltas = blur_path(lr, sigma=1.2, steps=4, size=9)
fig, axes = plt.subplots(1, 5, figsize=(10, 2.2))
axes[0].imshow(blur(lr, 1.2).permute(1, 2, 0).clamp(0, 1))
axes[0].set_title("x' (α = 0)", fontsize=9)
for i, ax in enumerate(axes[1:]):
    ax.imshow(points[i].permute(1, 2, 0).clamp(0, 1))
    ax.set_title(f"points[{i}], α = {(i + 1) / 4:.2f}", fontsize=9)
for ax in axes:
    ax.set_axis_off()
plt.tight_layout()
plt.show()
print("points", tuple(points.shape), "| sum of deltas == x - x' (max abs diff < 1e-6):",
      bool((deltas.sum(0) - (lr - blur(lr, 1.2))).abs().max() < 1e-6))


def playground_path():
    mine_p, mine_d = a5.blur_path(lr, 1.2, 4, 9)
    print("your path == the package's (max abs diff < 1e-6):",
          bool((mine_p - points).abs().max() < 1e-6 and (mine_d - deltas).abs().max() < 1e-6))


attempt(playground_path)

# %% [markdown]
# ## 3 · The path-integrated gradient, and completeness
#
# $A = \int_0^1 \nabla F(\lambda(\alpha)) \odot \lambda'(\alpha)\,d\alpha \approx \sum_i \nabla F(\text{points}_i) \odot \text{deltas}_i$.
# The increments telescope, so **completeness** holds up to the discretisation error:
# $\sum A \approx F(x) - F(x')$. Two objectives where the answer is known exactly:
#
# * linear, $F(x) = \sum w\,x$: the gradient is w everywhere, so $A = w \odot (x - x')$ exactly;
# * $F(x) = \sum x^2$: the gradient at the right end is $2\,\text{points}_i$, and each step overshoots by
#   exactly $\Delta_i^2$ — the gap $\sum A - (F(x) - F(x'))$ is $\sum_i \sum \Delta_i^2$, which shrinks like 1/n.
#
# The package's `path_integrated_gradients` on both (batched objective: one number per image):

# %%
x64 = lr.double()  # float64: the identities below hold to ~1e-12, so the printed digits are stable
w = torch.randn_like(x64)
linear = lambda b: (b * w).sum(dim=(1, 2, 3))  # noqa: E731
square = lambda b: b.square().sum(dim=(1, 2, 3))  # noqa: E731
x0 = blur(x64, 1.2)
for n in (4, 16):
    p, d = blur_path(x64, 1.2, n)
    exact = (path_integrated_gradients(linear, p, d) - w * (x64 - x0)).abs().max() < 1e-9
    gap = float(path_integrated_gradients(square, p, d).sum() - (square(x64[None]) - square(x0[None])))
    print(f"n = {n:2d}: linear exact: {bool(exact)} | Σx² gap {gap:.4f} = Σ Δ² {float(d.square().sum()):.4f}")


def playground_pig():
    p, d = blur_path(x64, 1.2, 4)
    gap = float(a5.path_integrated_gradients(square, p, d).sum() - (square(x64[None]) - square(x0[None])))
    print(f"yours, n = 4: Σx² gap {gap:.4f}")


attempt(playground_pig)

# %% [markdown]
# ## 4 · LAM of a model
#
# `attribute(model, lr, window, scale)` puts the pieces together: HR size (round(h·scale), round(w·scale)),
# `WindowObjective(model.eval(), ...)`, your path, your integrated gradient. It must agree with the package's
# `viz.lam` (same settings):

# %%
ref = viz.lam(tiny, lr, win, scale=2, steps=8)
print(f"package LAM: attribution {tuple(ref.attribution.shape)}, completeness gap {ref.relative_gap:.1%}, "
      f"DI {ref.diffusion_index:.2f}")


def playground_attribute():
    mine = a5.attribute(tiny, lr, win, 2, steps=8)
    err = float((mine - ref.attribution).abs().max() / ref.attribution.abs().max())
    print("yours == viz.lam (relative max diff < 1e-4):", err < 1e-4)


attempt(playground_attribute)

# %% [markdown]
# ## 5 · The Diffusion Index
#
# heat = |Σ_c A_c| (sum the colour channels *first*: positive and negative contributions of one pixel cancel),
# normalised to max 1; Gini(v) = Σ_i (2i − n − 1)·v_(i) / (n·Σv) over the values sorted ascending; DI =
# (1 − Gini)·100. A flat map has Gini 0 (DI 100); a single bright pixel among n has Gini (n−1)/n (DI 100/n).

# %%
flat, spike = torch.ones(3, 8, 8), torch.zeros(3, 8, 8)
spike[:, 3, 4] = 1.0
for name, a in (("flat", flat), ("one pixel of 64", spike), ("tiny MSIT above", ref.attribution)):
    print(f"{name:16s} DI {viz.diffusion_index(viz.heat_map(a)):6.2f}")
attempt(lambda: print("yours:", ", ".join(f"{a5.diffusion_index(a):.2f}" for a in (flat, spike, ref.attribution))))

# %% [markdown]
# ## 6 · Your module: a cross-shaped shift, and what LAM says about it
#
# `CrossShift` splits the channels into 4 contiguous groups and moves them up, down, left and right by
# `stride` pixels with wrap-around (`torch.roll`): FEM's idea with four directions and a free stride. It
# has **no parameters**, so it can replace FEM in a *trained* model without retraining — an ablation with
# every weight fixed, as `viz.without_fem` does for notebook 10. Declare `receptive_radius` honestly: tiled
# inference pads every tile by it.
#
# The experiment: the shipped MSIT-lite (`checkpoints/lite-msit`), its FEM (stride 1) replaced by nothing,
# or by your cross shift with stride 1…4; LAM of a 16×16 window on the astronaut's eye at ×4. Besides DI we
# measure the **reach**: how many LR pixels around the window's footprint hold 99 % of the heat.
# FEM and `none` use the package's LAM; your module uses **your** `attribute` and `diffusion_index`.

# %%
# NBVAL_IGNORE_OUTPUT
from msit_lite.checkpoint import load_checkpoint
from msit_lite.paths import repo_dir

ckpt = repo_dir() / "checkpoints" / "lite-msit"
msit = load_checkpoint(ckpt)[0].eval() if (ckpt / "model.safetensors").is_file() else None
if msit is None:
    print("checkpoints/lite-msit not found: train it with `msit-lite train configs/lite-msit.yaml`; section 6 is skipped")
face_lr = imresize(skimage.data.astronaut()[0:192, 128:320], scale=1 / 4)  # 48 x 48
face = torch.from_numpy(face_lr).permute(2, 0, 1).float() / 255
EYE = Window(top=92, left=66, size=16)
STEPS = 8


TOP, LEFT, H, W = (int(round(v)) for v in EYE.to_lr((192, 192), (48, 48)))  # the window on the LR grid


def reach(heat, share=0.99):
    """LR pixels around the window's footprint that hold `share` of the heat (how far the map reaches)."""
    for d in range(48):
        if heat[max(TOP - d, 0):TOP + H + d, max(LEFT - d, 0):LEFT + W + d].sum() >= share * heat.sum():
            return d


def outside(heat):
    """Share of the heat outside the window's own LR footprint."""
    return 1 - heat[TOP:TOP + H, LEFT:LEFT + W].sum() / heat.sum()


def with_fem(model, fem):
    clone = copy.deepcopy(model)
    clone.msno.fem = fem
    return clone.eval()


def report(name, heat, di, note=""):
    print(f"{name:16s} DI {di:5.2f}   99% within {reach(heat)} px   outside the window {outside(heat):.1%}{note}")


results = {}
if msit is not None:
    results["FEM (stride 1)"] = viz.lam(msit, face, EYE, scale=4, steps=STEPS).heat
    results["no shift"] = viz.lam(viz.without_fem(msit), face, EYE, scale=4, steps=STEPS).heat
    for name, heat in results.items():
        report(name, heat, viz.diffusion_index(heat))


def yours_on_msit():
    for stride in (1, 2, 3, 4):
        model = with_fem(msit, a5.CrossShift(msit.dim, stride=stride))
        attr = a5.attribute(model, face, EYE, 4, steps=STEPS)
        results[f"cross shift {stride}"] = viz.heat_map(attr)
        report(f"cross shift {stride}", viz.heat_map(attr), a5.diffusion_index(attr), "   (your LAM and DI)")


if msit is not None:
    attempt(yours_on_msit)

# %%
# NBVAL_IGNORE_OUTPUT
if msit is not None:
    fig, axes = plt.subplots(1, len(results), figsize=(2.6 * len(results), 2.8))
    for ax, (name, heat) in zip(np.atleast_1d(axes), results.items()):
        ax.imshow(np.log10(np.maximum(heat, 1e-3)), cmap="inferno", vmin=-3, vmax=0)
        top, left, hh, ww = EYE.to_lr((192, 192), (48, 48))
        ax.add_patch(plt.Rectangle((left - 0.5, top - 0.5), ww, hh, fill=False, edgecolor="cyan"))
        ax.set_title(f"{name}\nlog10 heat", fontsize=9)
        ax.set_axis_off()
    plt.tight_layout()
    plt.show()

# %% [markdown]
# **Reading it honestly.** With the reference solution on the shipped weights the reach grows with the stride
# (5 px without a shift and with FEM, 4–5–6–7 px for cross shifts 1–4) and so, roughly, does the share of heat
# outside the window (17 % → 21 %), while DI stays small (0.85–1.3): on these weights most of the attribution sits on the window's own
# LR pixels, and a wider shift only lends the faint tail further to go. These are the weights of a network
# *trained with FEM (stride 1)*, now fed features it never saw: the map says where the computation reaches,
# not whether the result is any good. The paper's Fig. 8 compares networks
# *trained* with and without FEM; the equivalent here would retrain MSIT-lite with `fem: a5-cross-shift`
# (`msit-lite train` with your config). Eight path steps keep this cheap; LAM's reference uses 50
# (`MSIT_QUICK=0` in notebook 10).

# %% [markdown]
# ## 7 · Check
#
# Each check prints ✓ or ✗ with a hint. With the untouched stub every check fails; make them pass.

# %%
grade_notebook("A5")
