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
# * **bicubic**, **LIIF-lite**, **LIIF-lite + long skip** and **MSIT-lite** (the ~0.35M-parameter models
#   of notebook 07, trained for under an hour each on a CPU, three seeds each) on Set5, Set14 and B100
#   at ×2–×12, with the published benchmark protocol (and the size of its difference from the paper's
#   own protocol, measured) — Table II in miniature, with the seed spread;
# * Tables III–V in miniature: the lite study's ablations (conventional SA, stage 2 with RIM, FEM,
#   SIM, one MSC branch, the stage-2 scale range), each as a *difference* beside the paper's
#   difference between the same rows, with the noise floor;
# * a plot of PSNR against scale, inside and outside the training range η ∈ [1, 4].
#
# **How the numbers are made.** A PSNR only means something with its protocol (notebook 01,
# docs/PROTOCOLS.md). The paper's numbers come from the official test configs, which mix two ways
# of getting the LR image (`docs/OFFICIAL_CODE.md`, Evaluation): Set14 and B100 at ×2–×4 read the benchmark's
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
# parameters the optimiser trains, in the official convention (`docs/OFFICIAL_CODE.md`, Parameter counts). Rounded to
# 0.1M as the paper prints them, the EDSR-baseline LIIF (1.6M), EDSR-baseline MSIT with RIM (6.0M)
# and RDN-LIIF (22.3M) match. **RDN-MSIT does not**: the paper's 27.9M is neither the RIM network
# (26.8M trainable) nor the plain one (28.9M) nor trainable + frozen RIM weights (29.7M) —
# notebook 12; the EDSR numbers show the counting convention is right.

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
assert paper.format_params(PARAMS["edsr-baseline-msit-rim"]) == paper.TABLE_I.row("EDSR-baseline-AMsIT(our)").params
# the RDN row is the one that differs (ours 26.8M vs the paper's 27.9M): the RDN puzzle of notebook 12
assert paper.format_params(PARAMS["rdn-msit-rim"]) != paper.TABLE_I.row("RDN-AMsIT(our)").params

# %% [markdown]
# ## Our results: the lite study
#
# Evaluating a learned model costs one query per HR pixel, far more than a notebook may spend on a CPU,
# so these cells read stored results. The lite study (`scripts/study.py`; notebook 07 §8) trained every
# row with the same data (T91 + BSD200) and budget (5,000 steps of 8 × 512 queries), three seeds for
# the Table II models, and evaluated each run with
#
# ```
# msit-lite eval --checkpoint RUN --datasets Set5 Set14 B100 --scales 2 3 4 6 8 12 \
#     --protocol benchmark --lr-source files --json results/study/RUN/eval.json --csv results/study/RUN/eval.csv
# ```
#
# (`python scripts/study.py configs` prints every command). `scripts/study_tables.py` summarises them in
# `results/study/tables.json`: mean ± standard deviation over seeds, paired differences per seed, and the
# **noise floor** — the seed spread σ of MSIT-lite at each set and scale. These use the **benchmark
# protocol** (Y channel, `shave = scale`, the stored MATLAB LR files at ×2–×4 and MATLAB-exact `imresize`
# beyond, Set14's gray image on its own channel) — the protocol of the published bicubic rows and of most
# SR papers. The paper's official test configs differ in two places (PIL LR for Set5 and for ×6/×8;
# Set14's gray image through its RGB copy); the size of that difference is measured on bicubic below.

# %%
STUDY = RESULTS / "study"
summary = json.loads((STUDY / "tables.json").read_text()) if (STUDY / "tables.json").is_file() else None
if summary is None:
    print("results/study/tables.json not found: run scripts/study.py, then scripts/study_tables.py")
else:
    for name, t in summary["tables"].items():
        done = {k: max(c["n"] for by in v.values() for c in by.values()) for k, v in t["rows"].items() if v}
        print(f"Table {name}: " + ", ".join(f"{summary['models'][k]} ({n} seed{'s' if n > 1 else ''})" for k, n in done.items())
              + (f"; not finished: {', '.join(summary['models'][k] for k in t['missing'])}" if t["missing"] else ""))

# %% [markdown]
# ## Table II, in the paper's format
#
# The paper's rows for the RDN encoder (LIIF and MSIT — the paper reports no EDSR-baseline rows on these
# sets, and no bicubic row at all; the bicubic row of the EDSR paper is shown instead where it exists,
# ×2–×4), then ours: mean ± std over seeds.
#
# Read the gap with care: the paper's models have 22–28M parameters and train on DF2K for
# `paper.TRAINING.total_steps` steps of 32 patches on GPUs (printed below); the lite models have 0.35M
# parameters and trained for 5,000 steps of 8 patches on 290 small images, on a CPU. What this table
# can show is the *protocol* reproduced (bicubic matches published rows to ±0.02 dB) and the *ordering*
# of methods at this scale, not the paper's absolute numbers.
#
# One protocol detail shows in the bicubic rows: our Set14 bicubic reads ~0.09 dB *above* the
# published 30.24 / 27.55 / 26.00. Set14's `img_003` is a gray image, and the official `calc_psnr`
# scores it through the Y of its RGB copy, which scales the error by 219.859/256 (+1.32 dB on that
# image, docs/PROTOCOLS.md §4). `--protocol official` does the same, so the paper's Set14 numbers
# carry the same offset; `--gray channel` gives the published bicubic rows (30.23 / 27.54 / 26.00).

# %%
print(paper.TRAINING.describe())
print("lite runs: 5,000 steps x 8 patches =", f"{5000 * 8 / paper.TRAINING.patches:.2%}", "of the paper's patches")
OURS = {"bicubic": "Bicubic (ours)", "liif": "LIIF-lite (ours)", "liif-skip": "LIIF-lite+skip (ours)", "msit": "MSIT-lite (ours)"}


def mean_std(key: str, ds: str, s: str) -> str:
    c = summary["tables"]["II"]["rows"].get(key, {}).get(ds, {}).get(s) if summary else None
    if not c:
        return f"{'-':>13}"
    return f"{c['mean']:>7.2f}" + (f" ±{c['std']:.2f}" if c["std"] is not None else "      ")


def table_ii_format(dataset: str, scales: list[str]) -> None:
    t2 = paper.TABLE_II[dataset]
    print(f"{dataset} (Y, shave = scale; paper rows: protocol official; ours: protocol benchmark, mean ± std over seeds)")
    print(f"{'method':<24}" + "".join(f"{'x' + s:>13}" for s in scales))
    rows = [(r.method, r.psnr) for r in t2.rows if r.method in ("RDN-LIIF", "RDN-MSIT(our)")]
    if dataset in paper.OTHER_BICUBIC:
        rows.append(("Bicubic (EDSR paper)", {s: v[0] for s, v in paper.OTHER_BICUBIC[dataset].items()}))
    for method, values in rows:
        print(f"{method:<24}" + "".join(f"{'-':>13}" if values.get(s) is None else f"{values[s]:>7.2f}      " for s in scales))
    for key, label in OURS.items():
        print(f"{label:<24}" + "".join(mean_std(key, dataset, s) for s in scales))


SCALES = ["2", "3", "4", "6", "8", "12"]
if summary is not None:
    for ds in ("Set5", "Set14", "B100"):
        table_ii_format(ds, SCALES)
        print()

# %% [markdown]
# Read the lite rows against each other: **LIIF-lite + long skip is ahead of MSIT-lite, and MSIT-lite
# ahead of LIIF-lite, at every set and scale** (paired per seed; the cell below checks it on the stored
# tables). The paper's ordering of MSIT over LIIF holds here only against the LIIF without MSIT's long
# skip; notebook 07 §8 shows the paired differences, the noise floor and what would be needed to see
# MSIT's advantage.

# %%
if summary is not None:
    pairs = summary["tables"]["II"]["pairs"]
    for pair in ("msit − liif-skip", "msit − liif"):
        if pair in pairs:
            means = [c["mean"] for by in pairs[pair].values() for c in by.values()]
            assert all(m < 0 for m in means) if pair == "msit − liif-skip" else all(m > 0 for m in means), pair
            print(f"{pair:17s}: {min(means):+.2f} to {max(means):+.2f} dB over {len(means)} set x scale cells")
        else:
            print(f"{pair:17s}: not finished yet")

# %% [markdown]
# The protocol effect, measured on bicubic (official minus benchmark, dB, `results/bicubic.json` vs
# `results/lite/bicubic.json`): Set5's PIL LR images and the PIL/MATLAB difference beyond ×4 move the
# numbers by hundredths of a dB; Set14's gray image moves Set14 by ~+0.09 dB at every scale. Add these
# to our rows before reading them against the paper's.

# %%
official = json.loads((RESULTS / "bicubic.json").read_text())["results"]
bench = json.loads((RESULTS / "lite" / "bicubic.json").read_text())["results"]
P_SCALES = ["2", "3", "4", "6", "8"]
print(f"{'set':<7}" + "".join(f"{'x' + s:>8}" for s in P_SCALES))
for ds in ("Set5", "Set14", "B100"):
    if ds in official and ds in bench:
        print(f"{ds:<7}" + "".join(f"{official[ds][s]['psnr'] - bench[ds][s]['psnr']:>+8.3f}" for s in P_SCALES))

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
    live = evaluate(BicubicUpscaler(), sets, P_SCALES, data_root() / "benchmark", protocol="official", progress=False)
    print(live.table())
    for ds, by_scale in live.to_json()["results"].items():
        for s, v in by_scale.items():
            assert abs(v["psnr"] - stored[ds][s]["psnr"]) < 1e-9, (ds, s)
    print("live bicubic == results/bicubic.json:", True)
except (MsitError, FileNotFoundError):
    print("benchmark images or results/bicubic.json not found: run `msit-lite data download benchmark --root DIR`, set MSIT_DATA=DIR (skipped)")

# %% [markdown]
# ## Tables III–V in miniature: differences beside the paper's differences
#
# The paper's ablations are on DIV2K validation with the EDSR-baseline model, a set this repository does
# not ship; ours are on Set5, Set14 and B100 with MSIT-lite. Absolute numbers cannot be compared, but the
# *question* of each ablation can: "what does removing or replacing this module change?" So each line
# shows the paper's difference between the two rows at ×2/×4/×6/×12, then ours per set (mean over the
# seeds we have), with `*` where ours exceeds the noise floor (2σ of MSIT-lite's seed spread for a
# single-seed row; for pairs over seeds: the same sign on every seed *and* |mean| > σ).

# %%
ABL = ["2", "4", "6", "12"]
COMPARISONS = [  # (table, our row, our reference, paper table, paper row, paper reference)
    ("III", "sa", "msit", paper.TABLE_III, "MSNO, SA", "MSNO, MSSA"),
    ("III", "rim-official", "cont", paper.TABLE_III, "MSNO, MSSA, RIM", "MSNO, MSSA"),
    ("III", "rim-identity", "cont", paper.TABLE_III, "MSNO, MSSA, RIM", "MSNO, MSSA"),
    ("IV", "fem-off", "msit", paper.TABLE_IV, "FEM W/O", "MSC 16 convs"),
    ("IV", "sim-off", "msit", paper.TABLE_IV, "SIM W/O", "MSC 16 convs"),
    ("IV", "msc1", "msit", paper.TABLE_IV, "MSC 1 conv", "MSC 16 convs"),
    ("V", "rim-official-u14", "rim-official", paper.TABLE_V, "η ~ U(1, 4)", "η ~ U(1, 8)"),
]


def our_delta(table: str, row: str, ref: str) -> dict | None:
    t = summary["tables"][table]
    key = f"{row} − {ref}"
    if key in t["pairs"]:
        return t["pairs"][key]
    if ref == "msit" and row in t["deltas"]:
        return t["deltas"][row]
    return None


if summary is not None:
    print(f"{'':44s}" + "".join(f"{'x' + s:>9}" for s in ABL))
    for table, row, ref, ptable, prow, pref in COMPARISONS:
        names = summary["models"]
        pd = [round(ptable.row(prow).value(s) - ptable.row(pref).value(s), 2) + 0.0 for s in ABL]
        print(f"Table {table}: {names[row]} − {names[ref]}")
        print(f"  {'paper (DIV2K): ' + prow + ' − ' + pref:42s}" + "".join(f"{d:>+9.2f}" for d in pd))
        got = our_delta(table, row, ref)
        for ds in ("Set5", "Set14", "B100"):
            if got is None or not got.get(ds):
                print(f"  {'ours, ' + ds:42s}   (not finished yet)")
                continue
            n = max(c["n"] for c in got[ds].values())
            cells = "".join(f"{got[ds][s]['mean']:>+8.2f}{'*' if got[ds][s]['exceeds_noise_floor'] else ' '}"
                            if s in got[ds] else f"{'-':>9}" for s in ABL)
            print(f"  {f'ours, {ds} ({n} seed' + ('s)' if n > 1 else ')'):42s}" + cells)
    print("noise floor σ (MSIT-lite over seeds):")
    for ds in ("Set5", "Set14", "B100"):
        print(f"  {ds:42s}" + "".join(f"{summary['noise_floor'][ds][s]:>9.3f}" if summary["noise_floor"][ds][s] is not None
                                      else f"{'-':>9}" for s in ABL))

# %% [markdown]
# ## PSNR against scale
#
# Left: PSNR per scale on Set5 and Set14 (mean over seeds, bars = std), with the paper's RDN-MSIT row for
# reference. Right: the **gain over bicubic**, which removes the per-scale difficulty and shows what a
# model adds. The shaded band is the training range η ∈ [1, 4] (from ×2 on the axis); ×6 to ×12 are
# out-of-distribution scales the models never saw — the setting arbitrary-scale SR is about.

# %%
if summary is not None:
    fig, axes = plt.subplots(1, 2, figsize=(12, 4))
    x = [float(s) for s in SCALES]
    STYLE = {"bicubic": ("k", "o"), "liif": ("C0", "s"), "liif-skip": ("C1", "D"), "msit": ("C3", "^")}
    rows = summary["tables"]["II"]["rows"]
    for ds, ls in (("Set5", "-"), ("Set14", "--")):
        ref = paper.TABLE_II[ds].row("RDN-MSIT(our)")
        ref_s = [s for s in SCALES if ref.value(s) is not None]
        axes[0].plot([float(s) for s in ref_s], [ref.value(s) for s in ref_s], color="C2", ls=ls, alpha=0.6,
                     label=f"paper RDN-MSIT, {ds}")
        for key, (color, marker) in STYLE.items():
            if key not in rows or not rows[key].get(ds):
                continue
            ss = [s for s in SCALES if s in rows[key][ds]]
            m = [rows[key][ds][s]["mean"] for s in ss]
            e = [rows[key][ds][s]["std"] or 0 for s in ss]
            axes[0].errorbar([float(s) for s in ss], m, yerr=e, color=color, ls=ls, marker=marker, ms=4, capsize=2,
                             label=f"{OURS[key]}, {ds}")
            if key != "bicubic" and "bicubic" in rows:
                b = [rows["bicubic"][ds][s]["mean"] for s in ss]
                axes[1].errorbar([float(s) for s in ss], [a - c for a, c in zip(m, b)], yerr=e, color=color, ls=ls,
                                 marker=marker, ms=4, capsize=2, label=f"{OURS[key]}, {ds}")
    for ax, title in zip(axes, ("PSNR (dB); ours: protocol benchmark", "gain over bicubic (dB)")):
        ax.axvspan(1.8, 4, color="0.9", zorder=0)
        ax.text(2.7, 0.03, "training range", transform=ax.get_xaxis_transform(), ha="center", color="0.4")
        ax.set_xscale("log"); ax.set_xticks(x); ax.set_xticklabels([f"×{s}" for s in SCALES]); ax.minorticks_off()
        ax.set_title(title); ax.set_xlabel("scale"); ax.grid(alpha=0.3)
        ax.legend(fontsize=6)
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
#
# ## Exercises
#
# Each exercise cell runs as it is; put your answer where it says so and run it again. A **predict,
# then run** exercise has a second cell whose output is collapsed: decide first, then run it.
#
# **Exercise 1 (predict, then run).** On Set14, which of our models gains *least* over bicubic at ×12 —
# far outside the training range η ≤ 4 — `"liif"`, `"liif-skip"` or `"msit"`?

# %%
from msit_lite.exercises import reveal

my_answer_1 = None  # "liif", "liif-skip" or "msit"

# %% hide-output
if summary is None or "msit" not in summary["tables"]["II"]["rows"]:
    print("the study's Table II is not in results/study yet")
else:
    rows = summary["tables"]["II"]["rows"]
    gains = {k: rows[k]["Set14"]["12"]["mean"] - rows["bicubic"]["Set14"]["12"]["mean"]
             for k in ("liif", "liif-skip", "msit") if k in rows and "12" in rows[k]["Set14"]}
    reveal(my_answer_1, min(gains, key=gains.get), hint="compare the right panel of the plot at x12")
    print({k: f"{v:+.2f} dB" for k, v in gains.items()})

# %% [markdown]
# **Exercise 2 (predict, then run).** Table III's "MSNO, SA" vs "MSNO, MSSA" rows: how many of the paper's
# four DIV2K differences (×2, ×4, ×6, ×12) are larger than 0.01 dB in magnitude?

# %%
my_answer_2 = None  # 0 ... 4

# %% hide-output
d = [paper.TABLE_III.row("MSNO, SA").value(s) - paper.TABLE_III.row("MSNO, MSSA").value(s) for s in ABL]
reveal(my_answer_2, sum(abs(round(x, 2)) > 0.01 for x in d), hint="print the two rows side by side")
print("SA - MSSA on DIV2K:", [f"{x:+.2f}" for x in d])

# %% [markdown]
# **Exercise 3.** The noise floor σ above comes from MSIT-lite's finished seeds (three are planned; the
# table says how many have landed). With only two, how much could the estimated σ be off? (Draw two numbers from a normal distribution many times and look at the spread of
# their sample standard deviation.) What does that mean for a `*` on a single-seed ablation row?
#
# **Exercise 4.** Re-score Set14 with `--gray rgb` for one model (`msit-lite eval --checkpoint
# results/study/msit-s0 --datasets Set14 --scales 2 --gray rgb`) and compare the change with the bicubic
# protocol table above.
#
# ## Takeaways
#
# * A PSNR needs its protocol: the published bicubic rows are reproduced with the benchmark protocol;
#   the paper's own numbers use a mixed one whose effect is measured here, not assumed.
# * The lite models reproduce *orderings* at their own size and budget, with a seed spread that bounds
#   what they can resolve; the paper's ablation differences (a few hundredths of a dB on DIV2K) are below
#   that floor, so a lite ablation can confirm a large effect or say "not visible at this scale", never
#   refute a small one.
# * Differences are compared with differences: the paper's row-to-row gaps beside ours.
