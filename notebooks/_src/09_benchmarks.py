# %% [markdown]
# # 09 · Reproducing the benchmark tables
#
# The paper reports PSNR on five test sets (§IV-B): **Table I** on the DIV2K validation set at
# ×2…×30 with EDSR-baseline and RDN encoders and a parameter column, **Table II** on Set5, Set14,
# BSD100 (B100) and Urban100 at ×2…×8 with the RDN encoder, **Tables III–V** ablations on DIV2K.
# This notebook puts our numbers beside them:
#
# * the paper's tables are data (`msit_lite.paper`), checked number by number against the paper's
#   text in `tests/test_paper.py`;
# * Table I's **parameter column** is recomputed from our YAML configs;
# * **bicubic**, **LIIF-lite** and **MSIT-lite** (the ~0.35M-parameter models of notebook 07,
#   trained for under an hour each on a CPU) on Set5, Set14 and B100 at ×2–×8, with the published
#   benchmark protocol (and the size of its difference from the paper's own protocol, measured);
# * a plot of PSNR against scale, inside and outside the training range η ∈ [1, 4].
#
# **How the numbers are made.** A PSNR only means something with its protocol (notebook 01,
# docs/PROTOCOLS.md). The paper's numbers come from the official test configs, which mix two ways
# of getting the LR image (golden README §8, §9.10): Set14 and B100 at ×2–×4 read the benchmark's
# MATLAB-bicubic LR files; Set5, Urban100, DIV2K and every scale above ×4 downsample the HR on the
# fly with PIL bicubic. Benchmark sets are scored on the Y channel with `shave = scale`, DIV2K on
# RGB with `shave = scale + 6`. `msit-lite eval --protocol official` reproduces exactly that mix,
# and every number below was made with it.
#
# Evaluating a learned model costs one query per HR pixel — about 10⁷ queries for Set5 + Set14 at
# five scales — which takes far longer than a notebook may run on a CPU. So the tables read JSON
# files in `results/`, each written by one documented command (below); `tests/test_evaluate.py`
# re-evaluates one image of each committed file to pin the numbers, and the bicubic cell further
# down re-runs its part live when the benchmark images are present.

# %%
import json

import matplotlib.pyplot as plt
import numpy as np

import msit_lite
from msit_lite import paper
from msit_lite.config import build_model, load_config
from msit_lite.errors import MsitError
from msit_lite.evaluate import BicubicUpscaler, evaluate
from msit_lite.params import count_parameters
from msit_lite.paths import data_root, repo_dir
from msit_lite.utils import quick_mode

msit_lite.seed_everything(0)
REPO = repo_dir()
RESULTS = REPO / "results"
CONFIGS = REPO / "configs"

# %% [markdown]
# ## The paper's tables as data
#
# `msit_lite.paper` holds Tables I–V as `PaperTable` objects: scales as keys (`"2"`, `"30"`), one
# `PaperRow` per method with its printed parameter count, `None` for the paper's "–". Table I,
# as printed (the model is called "AMsIT" there and "MSIT" in Table II):

# %%
def show(table: paper.PaperTable, rows=None) -> None:
    """Print a paper table (or some of its rows) in the paper's layout."""
    print(f"{table.name}: {table.caption}")
    print(f"{'method':<26}{'params':>7}" + "".join(f"{'x' + s:>7}" for s in table.scales))
    for r in table.rows:
        if rows is None or r.method in rows:
            cells = "".join(f"{'-':>7}" if r.value(s) is None else f"{r.value(s):>7.2f}" for s in table.scales)
            print(f"{r.method:<26}{r.params or '':>7}{cells}")


show(paper.TABLE_I)

# %% [markdown]
# ## Table I's parameter column, from our configs
#
# `msit_lite.params.count_parameters` builds each network from its YAML and counts the
# parameters the optimiser trains, in the official convention (golden README §7). Rounded to
# 0.1M as the paper prints them, the EDSR-baseline LIIF (1.6M), EDSR-baseline MSIT with RIM (6.0M)
# and RDN-LIIF (22.3M) match. **RDN-MSIT does not**: the paper's 27.9M is neither the RIM network
# (26.8M trainable) nor the plain one (28.9M) nor trainable + frozen RIM weights (29.7M) —
# golden README §9.9; the EDSR numbers show the counting convention is right.

# %%
PARAM_ROWS = [
    ("edsr-baseline-liif", "EDSR-baseline-LIIF"),
    ("edsr-baseline-msit-rim", "EDSR-baseline-AMsIT(our)"),
    ("rdn-liif", "RDN-LIIF"),
    ("rdn-msit-rim", "RDN-AMsIT(our)"),
    ("lite-liif", None),
    ("lite-msit", None),
]
PARAMS = {}
print(f"{'config':<24}{'trainable':>12}{'ours':>8}{'paper':>8}  paper row")
for config, row in PARAM_ROWS:
    rep = count_parameters(build_model(load_config(CONFIGS / f"{config}.yaml")))
    PARAMS[config] = rep.trainable
    printed = paper.TABLE_I.row(row).params if row else "-"
    mark = "" if row is None else ("  equal" if paper.format_params(rep.trainable) == printed else "  DIFFERENT")
    print(f"{config:<24}{rep.trainable:>12,}{paper.format_params(rep.trainable):>8}{printed:>8}  {row or '(not in the paper)'}{mark}")
assert paper.format_params(PARAMS["edsr-baseline-msit-rim"]) == "6.0M"
assert paper.format_params(PARAMS["rdn-msit-rim"]) == "26.8M"  # paper: 27.9M (golden §9.9)

# %% [markdown]
# ## Our results
#
# Each file in `results/lite/` is the `--json` output of one command (run from the repository root;
# `--csv` writes the per-image rows next to it; `scripts/eval_lite.sh` runs all three):
#
# ```
# msit-lite eval --model bicubic --datasets Set5 Set14 B100 --scales 2 3 4 6 8 \
#     --protocol benchmark --lr-source files --json results/lite/bicubic.json --csv results/lite/bicubic.csv
# msit-lite eval --checkpoint checkpoints/lite-liif --datasets Set5 Set14 B100 --scales 2 3 4 6 8 \
#     --protocol benchmark --lr-source files --json results/lite/lite-liif.json --csv results/lite/lite-liif.csv
# msit-lite eval --checkpoint checkpoints/lite-msit --datasets Set5 Set14 B100 --scales 2 3 4 6 8 \
#     --protocol benchmark --lr-source files --json results/lite/lite-msit.json --csv results/lite/lite-msit.csv
# ```
#
# These use the **benchmark protocol** (Y channel, `shave = scale`, the stored MATLAB LR files at
# ×2–×4 and MATLAB-exact `imresize` beyond, Set14's gray image on its own channel) — the protocol
# of the published bicubic rows and of most SR papers. The paper's official test configs differ in
# two places (PIL LR for Set5 and for ×6/×8; Set14's gray image through its RGB copy): for bicubic,
# `results/bicubic.json` holds the same sets with `--protocol official`, and the cell after the
# table prints the difference per set and scale, so the size of the protocol effect is measured,
# not guessed. A model whose checkpoint or results file is missing is skipped with one line saying
# what to run.

# %%
LITE = RESULTS / "lite"
MODELS = {"bicubic": "Bicubic (ours)", "lite-liif": "LIIF-lite (ours)", "lite-msit": "MSIT-lite (ours)"}
OURS = {}
for name, label in MODELS.items():
    path = LITE / f"{name}.json"
    if path.is_file():
        OURS[label] = json.loads(path.read_text())["results"]
        sets = ", ".join(f"{d} ({len(v)} scales)" for d, v in OURS[label].items())
        print(f"{label:<18} results/lite/{name}.json: {sets}")
    elif name != "bicubic" and not (REPO / "checkpoints" / name).is_dir():
        print(f"{label:<18} no checkpoint checkpoints/{name} yet: train it (notebook 07), then run the command above")
    else:
        print(f"{label:<18} results/lite/{name}.json missing: run the command above")

# %% [markdown]
# ## Table II, in the paper's format
#
# The paper's rows for the RDN encoder (LIIF and MSIT — the paper reports no EDSR-baseline rows
# on these sets, and no bicubic row at all; the bicubic row of the EDSR paper is shown instead
# where it exists, ×2–×4), then ours.
#
# Read the gap with care: the paper's models have 22–28M parameters and train for 1000 epochs on
# 800 DIV2K images (~10⁶ steps of 32 patches, on GPUs); the lite models have 0.35M parameters and
# trained for 5,000 steps of 8 patches on 290 small images, on a CPU. What this table can show
# is the *protocol* reproduced (bicubic matches published rows to ±0.02 dB) and the *ordering*
# of methods, not the paper's absolute numbers.
#
# One protocol detail shows in the bicubic rows: our Set14 bicubic reads ~0.09 dB *above* the
# published 30.24 / 27.55 / 26.00. Set14's `img_003` is a gray image, and the official `calc_psnr`
# scores it through the Y of its RGB copy, which scales the error by 219.859/256 (+1.32 dB on that
# image, docs/PROTOCOLS.md §4). `--protocol official` does the same, so the paper's Set14 numbers
# carry the same offset; `--gray channel` gives the published bicubic rows (30.23 / 27.54 / 26.00).

# %%
def table_ii_format(dataset: str, scales: list[str]) -> None:
    t2 = paper.TABLE_II[dataset]
    print(f"{dataset} (Y, shave = scale; paper rows: protocol official, ours: protocol benchmark)")
    print(f"{'method':<24}" + "".join(f"{'x' + s:>7}" for s in scales))
    rows = [(r.method, r.psnr) for r in t2.rows if r.method in ("RDN-LIIF", "RDN-MSIT(our)")]
    if dataset in paper.OTHER_BICUBIC:
        rows.append(("Bicubic (EDSR paper)", {s: v[0] for s, v in paper.OTHER_BICUBIC[dataset].items()}))
    rows += [(label, {s: v["psnr"] for s, v in res[dataset].items()}) for label, res in OURS.items() if dataset in res]
    for method, values in rows:
        print(f"{method:<24}" + "".join(f"{'-':>7}" if values.get(s) is None else f"{values[s]:>7.2f}" for s in scales))


SCALES = ["2", "3", "4", "6", "8"]
for ds in ("Set5", "Set14", "B100"):
    if any(ds in res for res in OURS.values()):
        table_ii_format(ds, SCALES)
        print()

# %% [markdown]
# The protocol effect, measured on bicubic (official minus benchmark, dB): Set5's PIL LR images and
# the PIL/MATLAB difference beyond ×4 move the numbers by hundredths of a dB; Set14's gray image moves
# Set14 by ~+0.09 dB at every scale. Add these to our rows before reading them against the paper's.

# %%
official = json.loads((RESULTS / "bicubic.json").read_text())["results"]
bench = OURS.get("Bicubic (ours)", {})
print(f"{'set':<7}" + "".join(f"{'x' + s:>8}" for s in SCALES))
for ds in ("Set5", "Set14", "B100"):
    if ds in official and ds in bench:
        print(f"{ds:<7}" + "".join(f"{official[ds][s]['psnr'] - bench[ds][s]['psnr']:>+8.3f}" for s in SCALES))

# %% [markdown]
# ### The bicubic numbers, live
#
# When the benchmark images are present (`../shared/data/benchmark`, or `$MSIT_DATA`), this cell
# re-runs bicubic with the official protocol and checks it against `results/bicubic.json`
# (quick path: Set5; `MSIT_QUICK=0`: every set in the file). It also shows what the per-set protocol
# resolved to. Its output depends on the data present, so nbval does not compare it.

# %%
# NBVAL_IGNORE_OUTPUT
try:
    stored = json.loads((RESULTS / "bicubic.json").read_text())["results"]
    sets = ["Set5"] if quick_mode() else list(stored)
    live = evaluate(BicubicUpscaler(), sets, SCALES, data_root() / "benchmark", protocol="official", progress=False)
    print(live.table())
    for ds, by_scale in live.to_json()["results"].items():
        for s, v in by_scale.items():
            assert abs(v["psnr"] - stored[ds][s]["psnr"]) < 1e-9, (ds, s)
    print("live bicubic == results/bicubic.json:", True)
except (MsitError, FileNotFoundError):
    print("benchmark images or results/bicubic.json not found: run `msit-lite data download benchmark --root DIR`, set MSIT_DATA=DIR (skipped)")

# %% [markdown]
# ## PSNR against scale
#
# Left: PSNR per scale on Set5 and Set14 for everything we have, with the paper's RDN-MSIT row for
# reference. Right: the **gain over bicubic**, which removes the per-scale difficulty and shows what
# a model adds. The shaded band is the training range η ∈ [1, 4] (from ×2 on the axis); ×6 and ×8 are
# out-of-distribution scales the models never saw — the setting arbitrary-scale SR is about.

# %%
fig, axes = plt.subplots(1, 2, figsize=(12, 4))
x = [float(s) for s in SCALES]
STYLE = {"Bicubic (ours)": ("k", "o"), "LIIF-lite (ours)": ("C0", "s"), "MSIT-lite (ours)": ("C3", "^")}
bic = OURS.get("Bicubic (ours)", {})
for ds, ls in (("Set5", "-"), ("Set14", "--")):
    ref = paper.TABLE_II[ds].row("RDN-MSIT(our)")
    ref_s = [s for s in SCALES if ref.value(s) is not None]
    axes[0].plot([float(s) for s in ref_s], [ref.value(s) for s in ref_s], color="C2", ls=ls, alpha=0.6,
                 label=f"paper RDN-MSIT, {ds}")
    if ds in bic:
        axes[1].plot([float(s) for s in ref_s], [ref.value(s) - bic[ds][s]["psnr"] for s in ref_s], color="C2",
                     ls=ls, alpha=0.6, label=f"paper RDN-MSIT − our bicubic, {ds}")
    for label, res in OURS.items():
        if ds not in res:
            continue
        color, marker = STYLE[label]
        ss = [s for s in SCALES if s in res[ds]]
        axes[0].plot([float(s) for s in ss], [res[ds][s]["psnr"] for s in ss], color=color, ls=ls, marker=marker,
                     label=f"{label}, {ds}")
        if ds in bic and label != "Bicubic (ours)":
            ss = [s for s in ss if s in bic[ds]]
            axes[1].plot([float(s) for s in ss], [res[ds][s]["psnr"] - bic[ds][s]["psnr"] for s in ss], color=color,
                         ls=ls, marker=marker, label=f"{label}, {ds}")
for ax, title in zip(axes, ("PSNR (dB); ours: protocol benchmark", "gain over bicubic (dB)")):
    ax.axvspan(1.8, 4, color="0.9", zorder=0)
    ax.text(2.7, 0.03, "training range", transform=ax.get_xaxis_transform(), ha="center", color="0.4")
    ax.set_xscale("log"); ax.set_xticks(x); ax.set_xticklabels([f"×{s}" for s in SCALES]); ax.minorticks_off()
    ax.set_title(title); ax.set_xlabel("scale"); ax.grid(alpha=0.3)
    ax.legend(fontsize=7)
axes[1].axhline(0, color="k", lw=0.8)
plt.tight_layout()
plt.show()

# %% [markdown]
# ## DIV2K validation (Table I) and Urban100, when present
#
# Neither set ships with this repository. With DIV2K val under `$MSIT_DATA` (`DIV2K_valid_HR/`,
# `msit-lite data download div2k --root DIR`) this cell scores bicubic at Table I's scales
# (quick path: the first 5 images; `MSIT_QUICK=0`: all 100) and prints it beside the paper's
# bicubic row with deltas — RGB, `shave = scale + 6`, LR by PIL bicubic as the official configs.

# %%
# NBVAL_IGNORE_OUTPUT
from msit_lite.evaluate import compare_paper

try:
    res = evaluate(BicubicUpscaler(), ["DIV2K"], list(paper.TABLE_I.scales), data_root(), protocol="official",
                   progress=False, max_images=5 if quick_mode() else None)
    print(compare_paper(res, model="bicubic", rows=["Bicubic"]))
    if quick_mode():
        print("(first 5 images only: run with MSIT_QUICK=0 for the full set)")
except MsitError:
    print("DIV2K validation images not found: run `msit-lite data download div2k --root DIR`, set MSIT_DATA=DIR (skipped)")

# %% [markdown]
# ## With a full checkpoint: trained on a GPU, or the authors' own
#
# The same command evaluates any checkpoint; only the time changes (a GPU does Set5–Urban100 at
# five scales in minutes). `--compare-paper` prints the matching rows of Table I (DIV2K) or II
# with deltas and our parameter count beside the paper's:
#
# ```
# # a checkpoint trained with msit-lite train (configs/edsr-baseline-msit-rim.yaml, DIV2K, GPU)
# msit-lite eval --checkpoint runs/edsr-baseline-msit-rim --device cuda --data-root $DATA \
#     --datasets Set5 Set14 B100 Urban100 --scales 2 3 4 6 8 --protocol official --compare-paper \
#     --json results/edsr-msit.json
# # the authors' checkpoint, converted in memory (or once with `msit-lite convert`)
# msit-lite eval --official-checkpoint edsr-baseline-MSIT.pth --config configs/edsr-baseline-msit-rim.yaml \
#     --data-root $DATA --datasets DIV2K --scales 2 3 4 6 12 18 24 30 --protocol official --compare-paper
# ```
#
# Large scales are not a memory problem: the cost is one query per **HR** pixel whatever the scale,
# queries run in chunks and big LR inputs are encoded in exact tiles (`--memory-budget MB`).
# `python benchmarks/eval_memory.py` measures a 2040×1356 DIV2K-sized image at ×12 and ×30 on a
# CPU; docs/REPRODUCTION.md ("Results") has the numbers and explains every difference from the
# paper.
