# %% [markdown]
# # A7 · A FEM whose shift stride really learns
#
# **Context.** The paper's Feature Enhancement Module shifts eight channel groups of the latent code in
# eight directions (notebook 03, assignment A1), and claims more:
#
# > "In addition, FEM has a learnable shift stride size, which allows Z to enrich the feature with varying
# > degrees." (§III-B a) — and under Eq. 2: "Where n denotes the learnable shift stride size."
#
# The official code does make the stride an `nn.Parameter(..., requires_grad=True)`, but its `LEM.forward`
# reads it as `m = int(self.mix_margin.item())`: the value leaves the autograd graph, the stride never gets a
# gradient and stays at 1.0 for the whole training (notebook 03 §4 shows it). And even without `.item()`, a
# stride that only selects *which* integer shift to apply has a zero derivative almost everywhere. Notebook
# 03 §4 ends with the way out: a **fractional** shift, interpolating between the two neighbouring integer
# shifts, is differentiable in the stride.
#
# **Your task** — in `student/a7_learnable_stride.py` (not in this notebook):
#
# 1. `fractional_roll(x, shift, dim)` — a shift by a real number of pixels with wrap-around (§1–2) whose
#    result is differentiable in `shift` (§3);
# 2. `shift2d(x, dy, dx)` — the same along both axes (§4);
# 3. `LearnableFEM` — registered as `fem: a7-learnable`: the paper's eight contiguous groups and directions,
#    group g moved by `stride · DIRECTIONS[g]`, with `stride` its **only trainable parameter** (§5);
#    `student/a7_learnable_stride.yaml` puts it in a tiny MSIT, where the stride must receive a gradient and
#    learn (§6).
#
# **Check** with the last cell, or in a terminal `msit-lite grade A7`. At integer strides the checks compare
# your module with the package's `FEM(mode="paper")`; a file that imports or calls the package's FEM fails.

# %%
import matplotlib.pyplot as plt
import numpy as np
import skimage.data
import torch
import torch.nn.functional as F

import msit_lite
from msit_lite.grading import grade_notebook, load_student

msit_lite.seed_everything(0)
torch.set_num_threads(1)  # bit-stable printed numbers

a7 = load_student("A7")  # (re)imports student/a7_learnable_stride.py: run this cell again after every edit
print("your module is registered as: fem:", a7.FEM_NAME)


def attempt(fn):
    """Run a playground cell against your code; one line instead of a traceback while it is a stub."""
    try:
        return fn()
    except NotImplementedError as e:
        print(f"not implemented yet: {e}")

# %% [markdown]
# ## 1 · Integer shifts are rolls
#
# `torch.roll(x, k, dims=d)` moves the content by k positions towards higher indices along `d` and wraps
# around: `out[i] = x[(i − k) mod n]`. For an integer `shift`, `fractional_roll` is exactly that.

# %%
x = torch.arange(6.0)
print("x             ", x.tolist())
print("roll by 2     ", torch.roll(x, 2).tolist())
print("roll by -1    ", torch.roll(x, -1).tolist())
attempt(lambda: print("yours, shift 2", a7.fractional_roll(x, torch.tensor(2.0), 0).tolist()))

# %% [markdown]
# ## 2 · Between two integers: interpolate
#
# A shift by s = k + f (k = ⌊s⌋, 0 ≤ f < 1) lies between the rolls by k and by k + 1. Linear interpolation
# weights them by how close s is to each: `(1 − f)·roll(x, k) + f·roll(x, k + 1)`. It is what bilinear
# sampling does (notebook 01), restricted to one axis and with wrap-around. Check against a periodic
# `np.interp` on a smooth 1-D signal (the curve should slide smoothly as s grows):

# %%
n = 32
t = np.arange(n)
signal = np.sin(2 * np.pi * t / n) + 0.5 * np.sin(6 * np.pi * t / n)


def periodic_interp(y, s):
    """y moved by s samples: out[i] = y(i − s), y continued periodically and linearly between samples."""
    return np.interp((t - s) % n, np.r_[t, n], np.r_[y, y[0]])


fig, ax = plt.subplots(figsize=(9, 2.8))
for s in (0, 0.25, 0.5, 0.75, 1.0):
    ax.plot(t, periodic_interp(signal, s), ".-", lw=0.8, label=f"s = {s}")
ax.set_xlabel("index"); ax.legend(fontsize=8, ncol=5); ax.set_title("a 1-D signal moved by fractional shifts")
plt.tight_layout(); plt.show()


def playground_fraction():
    x1 = torch.from_numpy(signal)
    for s in (0.25, 1.5, -0.75):
        mine = a7.fractional_roll(x1, torch.tensor(s, dtype=torch.float64), 0).numpy()
        print(f"shift {s:5}: max |yours − periodic interpolation| = {np.abs(mine - periodic_interp(signal, s)).max():.1e}")


attempt(playground_fraction)

# %% [markdown]
# ## 3 · The gradient
#
# With k fixed, `out = (1 − f)·roll(x, k) + f·roll(x, k + 1)` is linear in f, and f = s − k, so
#
# $$\frac{\partial\, \mathrm{out}}{\partial s} = \mathrm{roll}(x, k+1) - \mathrm{roll}(x, k).$$
#
# k itself is an integer index — it selects the two rolls, and its derivative is zero — so the gradient can
# only flow through f. Anything that turns s into a Python number or an integer *before* f is formed
# (`.item()`, `int()`, `float()`, `round`, `.detach()`) cuts it, exactly as in the official FEM. Your
# `fractional_roll` against a finite difference (the gradient of a weighted sum, since a plain sum of a
# rolled signal does not depend on the shift at all):

# %%
def playground_gradient():
    x1 = torch.from_numpy(signal)
    w = torch.from_numpy(np.cos(2 * np.pi * 3 * t / n))
    s = torch.tensor(1.3, dtype=torch.float64, requires_grad=True)
    (a7.fractional_roll(x1, s, 0) * w).sum().backward()
    eps = 1e-6
    f = lambda v: float((torch.from_numpy(periodic_interp(signal, v)) * w).sum())  # noqa: E731
    print(f"d/ds at s = 1.3: yours {s.grad}, finite difference {(f(1.3 + eps) - f(1.3 - eps)) / (2 * eps):.6f}")


attempt(playground_gradient)

# %% [markdown]
# ## 4 · Both axes: a bilinear shift
#
# `shift2d(x, dy, dx)` applies `fractional_roll` along the rows (dy) and along the columns (dx): the bilinear
# interpolation of the four integer shifts around (dy, dx). On the camera photo, by (0.5, 12.5) pixels:

# %%
cam = torch.from_numpy(skimage.data.camera()[::8, ::8].astype("float32") / 255)  # 64 x 64


def playground_shift2d():
    moved = a7.shift2d(cam, torch.tensor(0.5), torch.tensor(12.5))
    fig, axes = plt.subplots(1, 3, figsize=(9, 3))
    for ax, (title, img) in zip(axes, (("input", cam), ("yours: (0.5, 12.5)", moved), ("difference", moved - cam))):
        im = ax.imshow(img, cmap="gray" if title != "difference" else "RdBu_r")
        ax.set_title(title, fontsize=9); ax.axis("off")
    fig.colorbar(im, ax=axes[2], fraction=0.046)
    plt.tight_layout(); plt.show()


attempt(playground_shift2d)

# %% [markdown]
# ## 5 · The module
#
# `LearnableFEM(channels, stride)`: 8 contiguous channel groups, group g moved by `stride · DIRECTIONS[g]`
# (the paper's order, A1's directions), one trainable 0-dim parameter `stride`. At an integer stride m it must
# equal the paper's FEM with `mix_margin = m`; in between it interpolates. `receptive_radius` must be at least
# how far an output looks (tiled inference pads every tile by it): at stride 1.5 an output reads pixels 2 away.

# %%
from msit_lite.models.fem import FEM


def playground_module():
    fem = a7.LearnableFEM(16, stride=2.0)
    trainable = [(name, tuple(p.shape)) for name, p in fem.named_parameters() if p.requires_grad]
    z = torch.randn(1, 16, 9, 9)
    same = torch.allclose(fem(z), FEM(16, mix_margin=2, mode="paper")(z), atol=1e-6)
    print("trainable parameters:", trainable, "| at stride 2 == the paper's FEM:", same,
          "| receptive_radius at 1.5:", a7.LearnableFEM(16, stride=1.5).receptive_radius)


attempt(playground_module)

# %% [markdown]
# ## 6 · Does it learn?
#
# A toy problem: the target is the paper's FEM with stride 2 applied to random features; start at stride 1.3
# and let Adam (lr 0.05) fit the stride alone. The loss as a function of the stride is a parabola between two
# integers (the output is linear in f), with kinks at the integers — the plot shows it — so gradient descent
# slides into the integer 2. Then the same stride inside a tiny MSIT (`student/a7_learnable_stride.yaml`): the
# loss's gradient must reach `msno.fem.stride`.

# %%
def playground_learning():
    z = torch.randn(2, 16, 12, 12)
    target = FEM(16, mix_margin=2, mode="paper")(z)
    strides = np.linspace(0.5, 3.5, 61)
    with torch.no_grad():
        landscape = [float(F.mse_loss(a7.LearnableFEM(16, stride=float(s))(z), target)) for s in strides]
    fem = a7.LearnableFEM(16, stride=1.3)
    opt = torch.optim.Adam(fem.parameters(), lr=0.05)
    path = []
    for _ in range(100):
        loss = F.mse_loss(fem(z), target)
        opt.zero_grad(); loss.backward(); opt.step()
        path.append(float(fem.stride.detach()))
    fig, axes = plt.subplots(1, 2, figsize=(10, 3))
    axes[0].plot(strides, landscape); axes[0].set_xlabel("stride"); axes[0].set_ylabel("MSE to the target")
    axes[0].set_title("loss landscape (target: stride 2)")
    axes[1].plot(path); axes[1].axhline(2, color="0.6", ls="--"); axes[1].set_xlabel("Adam step"); axes[1].set_ylabel("stride")
    axes[1].set_title("the stride learns")
    plt.tight_layout(); plt.show()
    print(f"stride after 100 steps: {path[-1]:.3f}")

    from msit_lite.config import build_model, load_config

    model = build_model(load_config("student/a7_learnable_stride.yaml"))
    model(torch.rand(1, 3, 8, 9), torch.rand(1, 20, 2) * 2 - 1, torch.full((1, 2), 0.1)).square().mean().backward()
    print("tiny MSIT: gradient of the loss w.r.t. msno.fem.stride =", model.msno.fem.stride.grad)


attempt(playground_learning)

# %% [markdown]
# The landscape also shows the limit of the idea: the loss is smooth only *between* integers, and its basin
# around the true stride 2 ends at 1 and 3 — started below 1, the same descent would slide to 0.
#
# **Think about it.** A learnable stride can only move by following the loss's slope between two integers.
# Would a real MSIT, trained from a stride of 1, move it at all? Train the lite config with `fem: a7-learnable`
# (a copy of `configs/lite-msit.yaml`, `msit-lite train`) and log `msno.fem.stride` — the paper never
# reports the value its "learnable" stride reached, and the official code could not have changed it.
#
# ## 7 · Check
#
# Each check prints ✓ or ✗ with a hint. With the untouched stub every check fails; make them pass.

# %%
grade_notebook("A7")
