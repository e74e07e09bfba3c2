"""Tables II-V of the lite study from ``results/study/<run>/eval.json``: seeds, spreads, paired differences.

    python scripts/study_tables.py [--results results/study] [--readme README.md]   # tables.json, tables.md (+ README)

Statistics (all PSNR in dB, benchmark protocol: Y channel, shave = scale):

* a row with several seeds shows the mean and the sample standard deviation (n − 1) over seeds;
* **paired difference**: model A − model B for the same seed (same data order, same
  initialisation seed), then mean ± std over the seeds -- the comparison the seeds make fair;
* **noise floor** of a table: σ_headline, the seed spread of MSIT-lite (the headline model) at that
  set and scale. A difference is marked ``*`` when it exceeds the floor: for a paired difference
  over seeds, when every seed has the same sign *and* |mean| > σ_headline; for a single-seed row
  against its reference, when |Δ| > 2 σ_headline (two independent runs differ by √2 σ on average).
  Stage-2 rows (continuations from one stage-1 model) are compared with their plain control, whose
  seed-1 repeat shows how far such a pair moves by chance.

Rows that are not finished yet are left out (the JSON lists what is missing), so the tables can be
regenerated as runs land.
"""
from __future__ import annotations

import argparse
import json
import statistics
from pathlib import Path
from typing import Any

SETS = ["Set5", "Set14", "B100"]
SCALES = ["2", "3", "4", "6", "8", "12"]
HEADLINE = "msit"
#: row key -> (label, run name prefix; seeds are -s0, -s1, -s2)
MODELS = {
    "bicubic": ("bicubic", None),
    "liif": ("LIIF-lite", "liif"),
    "liif-skip": ("LIIF-lite + long skip", "liif-skip"),
    "msit": ("MSIT-lite", "msit"),
    "sa": ("SA-lite (conventional SA)", "sa"),
    "fem-off": ("FEM W/O", "fem-off"),
    "sim-off": ("SIM W/O (1×1 conv merge)", "sim-off"),
    "msc1": ("MSC 1 conv (3×3 only)", "msc1"),
    "rim-official": ("stage 2: RIM, official fresh maps", "rim-official"),
    "rim-identity": ("stage 2: RIM, identity start", "rim-identity"),
    "cont": ("stage 2 control: plain convs continued", "cont"),
    "rim-official-u14": ("stage 2: RIM official, η ~ U(1, 4)", "rim-official-u14"),
    "cont-u14": ("stage 2 control, η ~ U(1, 4)", "cont-u14"),
}
#: table -> (rows, reference row for Δ, paired comparisons over seeds, caption)
TABLES: dict[str, dict[str, Any]] = {
    "II": {"rows": ["bicubic", "liif", "liif-skip", "msit"], "reference": None,
           "pairs": [("liif-skip", "liif"), ("msit", "liif-skip"), ("msit", "liif")],
           "caption": "Table II in miniature: LIIF-lite, its long-skip control and MSIT-lite (3 seeds each planned; each row says how many have finished)"},
    "III": {"rows": ["msit", "sa", "cont", "rim-identity", "rim-official"], "reference": "msit",
            "pairs": [("msit", "sa"), ("rim-official", "cont"), ("rim-identity", "cont")],
            "caption": "Table III in miniature: MSSA vs conventional SA (from scratch); stage 2 (RIM) vs its plain control"},
    "IV": {"rows": ["msit", "fem-off", "sim-off", "msc1"], "reference": "msit", "pairs": [],
           "caption": "Table IV in miniature: inside MSNO, each row trained from scratch (seed 0)"},
    "V": {"rows": ["msit", "cont-u14", "rim-official-u14", "cont", "rim-official"], "reference": None,
          "pairs": [("rim-official-u14", "rim-official"), ("cont-u14", "cont"), ("rim-official-u14", "cont-u14"),
                    ("rim-official", "cont")],
          "caption": "Table V in miniature: the stage-2 scale range, U(1, 4) vs U(1, 8) (in distribution ≤ ×4, beyond: out)"},
}


def load(results: Path) -> dict[str, dict[int, dict[str, dict[str, float]]]]:
    """row -> seed -> set -> scale -> PSNR, for every finished run."""
    out: dict[str, dict[int, dict[str, dict[str, float]]]] = {}
    for key, (_, prefix) in MODELS.items():
        runs = {0: results / "bicubic"} if prefix is None else {s: results / f"{prefix}-s{s}" for s in range(3)}
        for seed, folder in runs.items():
            path = folder / "eval.json"
            if path.is_file():
                data = json.loads(path.read_text())["results"]
                out.setdefault(key, {})[seed] = {ds: {sc: v["psnr"] for sc, v in by.items()} for ds, by in data.items()}
    return out


def _stats(values: list[float]) -> dict[str, Any]:
    return {"mean": statistics.fmean(values), "std": statistics.stdev(values) if len(values) > 1 else None,
            "n": len(values), "values": values}


def summarise(data: dict) -> dict[str, Any]:
    rows = {}
    for key, by_seed in data.items():
        rows[key] = {ds: {sc: _stats([by_seed[s][ds][sc] for s in sorted(by_seed) if sc in by_seed[s].get(ds, {})])
                          for sc in SCALES if any(sc in by_seed[s].get(ds, {}) for s in by_seed)}
                     for ds in SETS}
    floor = {ds: {sc: rows.get(HEADLINE, {}).get(ds, {}).get(sc, {}).get("std") for sc in SCALES} for ds in SETS}
    tables: dict[str, Any] = {}
    for name, spec in TABLES.items():
        t: dict[str, Any] = {"caption": spec["caption"], "rows": {}, "deltas": {}, "pairs": {}, "missing": []}
        for key in spec["rows"]:
            if key not in rows:
                t["missing"].append(key)
                continue
            t["rows"][key] = rows[key]
        ref = spec["reference"]
        if ref in data:
            for key in spec["rows"]:
                if key == ref or key not in data or key in ("cont", "rim-identity", "rim-official"):
                    continue
                seeds = sorted(set(data[key]) & set(data[ref]))
                t["deltas"][key] = {ds: {sc: _delta([data[key][s][ds][sc] - data[ref][s][ds][sc] for s in seeds],
                                                    floor[ds][sc], paired=False)
                                         for sc in SCALES if all(sc in data[k][s].get(ds, {}) for k in (key, ref) for s in seeds)}
                                    for ds in SETS}
        for a, b in spec["pairs"]:
            if a not in data or b not in data:
                continue
            seeds = sorted(set(data[a]) & set(data[b]))
            t["pairs"][f"{a} − {b}"] = {ds: {sc: _delta([data[a][s][ds][sc] - data[b][s][ds][sc] for s in seeds],
                                                        floor[ds][sc], paired=True)
                                             for sc in SCALES if all(sc in data[k][s].get(ds, {}) for k in (a, b) for s in seeds)}
                                        for ds in SETS}
        tables[name] = t
    return {"noise_floor": floor, "tables": tables, "models": {k: v[0] for k, v in MODELS.items()}}


def _delta(values: list[float], sigma: float | None, paired: bool) -> dict[str, Any]:
    mean = statistics.fmean(values)
    std = statistics.stdev(values) if len(values) > 1 else None
    if sigma is None:
        exceeds = None
    elif paired and len(values) > 1:
        exceeds = (all(v > 0 for v in values) or all(v < 0 for v in values)) and abs(mean) > sigma
    else:
        exceeds = abs(mean) > 2 * sigma
    return {"mean": mean, "std": std, "n": len(values), "values": values, "exceeds_noise_floor": exceeds}


def _fmt(cell: dict[str, Any] | None, signed: bool = False) -> str:
    if not cell:
        return "–"
    sign = "+" if signed else ""
    text = f"{cell['mean']:{sign}.2f}"
    if cell.get("std") is not None:
        text += f" ± {cell['std']:.2f}"
    if cell.get("exceeds_noise_floor"):
        text += " *"
    return text


def floor_markdown(summary: dict[str, Any]) -> list[str]:
    floor = summary["noise_floor"]
    out = ["| set | " + " | ".join(f"×{s}" for s in SCALES) + " |", "| --- |" + " ---: |" * len(SCALES)]
    for ds in SETS:
        out.append(f"| {ds} | " + " | ".join("–" if floor[ds][s] is None else f"{floor[ds][s]:.3f}" for s in SCALES) + " |")
    return out


def table_markdown(summary: dict[str, Any], name: str) -> list[str]:
    """One table's rows, Δ and paired differences per set, as markdown lines."""
    models, t = summary["models"], summary["tables"][name]
    out = [t["caption"] + ".", ""]
    if t["missing"]:
        out += [f"Not finished yet: {', '.join(models[k] for k in t['missing'])}.", ""]
    for ds in SETS:
        out += [f"**{ds}**", "", "| model | " + " | ".join(f"×{s}" for s in SCALES) + " |",
                "| --- |" + " ---: |" * len(SCALES)]
        for key, by_set in t["rows"].items():
            n = max((c["n"] for c in by_set[ds].values()), default=0)
            seeds = "" if key == "bicubic" else f" ({n} seed{'s' if n > 1 else ''})"
            out.append(f"| {models[key]}{seeds} | "
                       + " | ".join(_fmt(by_set[ds].get(s)) for s in SCALES) + " |")
        for key, by_set in t["deltas"].items():
            out.append(f"| Δ {models[key]} − {models[TABLES[name]['reference']]} | "
                       + " | ".join(_fmt(by_set[ds].get(s), signed=True) for s in SCALES) + " |")
        for pair, by_set in t["pairs"].items():
            a, b = pair.split(" − ")
            n = max((c["n"] for c in by_set[ds].values()), default=0)
            out.append(f"| paired {models[a]} − {models[b]} ({n} seed{'s' if n > 1 else ''}) | "
                       + " | ".join(_fmt(by_set[ds].get(s), signed=True) for s in SCALES) + " |")
        out.append("")
    return out


def markdown(summary: dict[str, Any]) -> str:
    out = ["# The lite study: Tables II–V in miniature", "",
           "Generated by `scripts/study_tables.py` from `results/study/<run>/eval.json` (PSNR in dB, benchmark "
           "protocol: Y channel, shave = scale). `mean ± std` over seeds; Δ and paired differences carry `*` when "
           "they exceed the noise floor (σ of MSIT-lite over its seeds at that set and scale; rule in the script).", ""]
    out += ["## Noise floor: σ of MSIT-lite over seeds", ""] + floor_markdown(summary)
    for name in summary["tables"]:
        out += ["", f"## Table {name}", ""] + table_markdown(summary, name)
    return "\n".join(out) + "\n"


#: The README shows Table II and the noise floor between these markers; ``--readme`` rewrites them and
#: tests/test_study.py checks that the README agrees with ``tables.json``.
README_BEGIN = "<!-- study-table-ii: generated by scripts/study_tables.py --readme README.md -->"
README_END = "<!-- /study-table-ii -->"


def readme_block(summary: dict[str, Any]) -> str:
    lines = [README_BEGIN, ""] + table_markdown(summary, "II")
    lines += ["Noise floor (σ of MSIT-lite over its seeds, dB):", ""] + floor_markdown(summary) + ["", README_END]
    return "\n".join(lines)


def update_readme(readme: Path, summary: dict[str, Any]) -> None:
    text = readme.read_text()
    start, end = text.find(README_BEGIN), text.find(README_END)
    if start < 0 or end < start:
        raise SystemExit(f"{readme}: the markers {README_BEGIN!r} … {README_END!r} are missing")
    readme.write_text(text[:start] + readme_block(summary) + text[end + len(README_END):])


def write_tables(results: Path) -> dict[str, Any]:
    summary = summarise(load(results))
    (results / "tables.json").write_text(json.dumps(summary, indent=1, allow_nan=False) + "\n")
    (results / "tables.md").write_text(markdown(summary))
    return summary


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--results", type=Path, default=Path(__file__).resolve().parent.parent / "results" / "study")
    ap.add_argument("--readme", type=Path, help="also rewrite the Table II block of this README")
    args = ap.parse_args()
    summary = write_tables(args.results)
    if args.readme:
        update_readme(args.readme, summary)
    done = {k: len(v) for k, v in load(args.results).items()}
    print(f"wrote {args.results / 'tables.md'} and tables.json; finished rows (seeds): {done}")


if __name__ == "__main__":
    main()
