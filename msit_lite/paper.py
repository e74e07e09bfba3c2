"""The paper's Tables I-V as data, and helpers to put reproduced numbers beside them.

Why keep published numbers in code?  A reproduction is a comparison, and a comparison typed by
hand into a README rots.  Here every PSNR of the paper ("Multi-Scale Implicit Transformer with
Re-parameterize for Arbitrary-Scale Super-Resolution", Section IV) is one entry of a table object,
``msit-lite eval --compare-paper`` prints our numbers beside the matching rows with deltas, and
notebook 09 / docs/REPRODUCTION.md ("Results") render the same objects.

What each table measures (PSNR in dB; none of them reports SSIM):

* **Table I** -- DIV2K validation (100 images, RGB, shave ``scale + 6``), scales ×2…×30, EDSR-baseline
  and RDN encoders, with a parameter column.  ×2-×4 are "in distribution" (training η ~ U(1, 4)),
  ×6…×30 are out of the training range.
* **Table II** -- Set5, Set14, B100 (BSD100), Urban100 (Y channel, shave ``scale``), ×2…×8, RDN only.
* **Table III** -- module ablation (MSNO / MSSA / RIM / RefConv) on DIV2K val, ×2 ×4 ×6 ×12.
* **Table IV** -- ablation inside MSNO (number of convolutions, FEM, SIM) and MSSA (number of
  projection matrices), EDSR-baseline-MSIT, DIV2K val.
* **Table V** -- the re-parameterisation training range η, DIV2K val.

The paper's own protocol is the official code's (docs/OFFICIAL_CODE.md, Evaluation): Set14/B100 ×2-×4 use
the MATLAB LR files, everything else is downsampled on the fly with PIL bicubic
(``msit-lite eval --protocol official``).

The method names are the paper's own spelling (Table I calls the model "AMsIT", Table II "MSIT").
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Iterable, Mapping, Sequence

__all__ = [
    "PaperRow",
    "PaperTable",
    "TABLE_I",
    "TABLE_II",
    "TABLE_III",
    "TABLE_IV",
    "TABLE_V",
    "TABLES",
    "OTHER_BICUBIC",
    "table_for",
    "reference_row",
    "format_params",
    "compare_table",
]


@dataclass(frozen=True)
class PaperRow:
    """One row: a method (with an optional parameter count as printed) and its PSNR per scale.

    ``psnr`` maps a scale key (``"2"``, ``"30"``) to dB; ``None`` is the paper's "-".
    ``params`` is the printed string ("6.0M", "-" or None when the table has no such column).
    ``note`` describes ablation settings (Tables III-V).
    """

    method: str
    psnr: Mapping[str, float | None]
    params: str | None = None
    note: str = ""

    def value(self, scale: str) -> float | None:
        return self.psnr.get(scale)


@dataclass(frozen=True)
class PaperTable:
    """A table for one dataset: its scales (as keys), rows and the protocol it was measured with."""

    name: str  # "Table I", "Table II (Set5)", ...
    dataset: str  # canonical set name of msit_lite.data.folders (DIV2K, Set5, ...)
    scales: tuple[str, ...]
    rows: tuple[PaperRow, ...]
    protocol: str  # "div2k" or "benchmark"
    caption: str = ""

    def row(self, method: str) -> PaperRow:
        for r in self.rows:
            if r.method == method:
                return r
        raise KeyError(f"{self.name} has no row {method!r}; rows: {[r.method for r in self.rows]}")

    def methods(self) -> list[str]:
        return [r.method for r in self.rows]


def _rows(scales: Sequence[str], text: str, with_params: bool) -> tuple[PaperRow, ...]:
    """Parse ``method | params | v1 v2 ...`` lines (``-`` = not reported)."""
    rows = []
    for line in text.strip().splitlines():
        parts = [p.strip() for p in line.split("|")]
        method = parts[0]
        params = parts[1] if with_params else None
        values = parts[-1].split()
        if len(values) != len(scales):
            raise ValueError(f"row {method!r}: {len(values)} values for {len(scales)} scales")
        psnr = {s: (None if v == "-" else float(v)) for s, v in zip(scales, values)}
        rows.append(PaperRow(method, psnr, params))
    return tuple(rows)


# ----------------------------------------------------------------------------------------------
# Table I: DIV2K validation, EDSR-baseline and RDN encoders
# ----------------------------------------------------------------------------------------------
_T1_SCALES = ("2", "3", "4", "6", "12", "18", "24", "30")
TABLE_I = PaperTable(
    "Table I",
    "DIV2K",
    _T1_SCALES,
    _rows(_T1_SCALES, """
Bicubic                    | -     | 31.01 28.22 26.66 24.82 22.27 21.00 20.19 19.59
EDSR-baseline              | 1.4M  | 34.55 30.90 28.94 - - - - -
EDSR-baseline-MetaSR       | 1.7M  | 34.64 30.93 28.92 26.61 23.55 22.03 21.06 20.37
EDSR-baseline-LIIF         | 1.6M  | 34.67 30.96 29.00 26.75 23.71 22.17 21.18 20.48
EDSR-baseline-UltraSR      | 1.6M  | 34.69 31.02 29.05 26.81 23.75 22.21 21.21 20.51
EDSR-baseline-IPE          | -     | 34.72 31.01 29.04 26.79 23.75 22.21 21.22 20.51
EDSR-baseline-LTE          | 1.7M  | 34.72 31.02 29.04 26.81 23.78 22.23 21.24 20.53
EDSR-baseline-CLIT         | 16.9M | 34.82 31.14 29.17 26.93 23.85 22.30 21.27 20.54
EDSR-baseline-AMsIT(our)   | 6.0M  | 34.97 31.29 29.30 27.03 23.93 22.36 21.31 20.59
RDN                        | 22.1M | 34.94 31.22 29.19 - - - - -
RDN-MetaSR                 | 22.4M | 35.00 31.27 29.25 26.88 23.73 22.18 21.17 20.47
RDN-LIIF                   | 22.3M | 34.99 31.26 29.27 26.99 23.89 22.34 21.31 20.59
RDN-UltraSR                | 22.3M | 35.00 31.30 29.32 27.03 23.73 22.36 21.33 20.61
RDN-IPE                    | -     | 35.04 31.32 29.32 27.04 23.93 22.38 21.34 20.63
RDN-LTE                    | 22.5M | 35.04 31.32 29.33 27.04 23.95 22.40 21.36 20.64
RDN-CLIT                   | 37.7M | 35.10 31.38 29.40 27.12 24.01 22.45 21.38 20.64
RDN-AMsIT(our)             | 27.9M | 35.20 31.50 29.51 27.21 24.08 22.50 21.44 20.68
""", with_params=True),
    "div2k",
    "DIV2K validation set (100 images), RGB, shave = scale + 6",
)

# ----------------------------------------------------------------------------------------------
# Table II: benchmark sets, RDN encoder (no parameter column in the paper)
# ----------------------------------------------------------------------------------------------
_T2_SCALES = ("2", "3", "4", "6", "8")
_T2_METHODS = ("RDN", "RDN-MetaSR", "RDN-LIIF", "RDN-UltraSR", "RDN-IPE", "RDN-LTE", "RDN-CLIT", "RDN-MSIT(our)")
_T2_VALUES = {
    "Set5": """
38.24 34.71 32.47 - -
38.22 34.63 32.38 29.04 26.96
38.17 34.68 32.50 29.15 27.14
38.21 34.67 32.49 29.33 27.24
38.11 34.68 32.51 29.25 27.22
38.23 34.72 32.61 29.32 27.26
38.26 34.80 32.69 29.39 27.34
38.32 34.86 32.74 29.44 27.36
""",
    "Set14": """
34.01 30.57 28.81 - -
33.98 30.54 28.78 26.51 24.97
33.97 30.53 28.80 26.64 25.15
33.97 30.59 28.86 26.69 25.25
33.94 30.47 28.75 26.58 25.09
34.09 30.58 28.88 26.71 25.16
34.21 30.66 28.98 26.83 25.35
34.47 30.89 29.04 26.89 25.44
""",
    "B100": """
32.34 29.26 27.72 - -
32.33 29.26 27.71 25.90 24.83
32.32 29.26 27.74 25.98 24.91
32.35 29.29 27.77 26.01 24.96
32.31 29.28 27.76 26.00 24.93
32.36 29.30 27.77 26.01 24.95
32.39 29.34 27.82 26.07 25.00
32.49 29.40 27.88 26.11 25.03
""",
    "Urban100": """
32.89 28.80 26.61 - -
32.92 28.82 26.55 23.99 22.59
32.87 28.82 26.68 24.20 22.79
32.97 28.92 26.78 24.30 22.87
32.97 28.82 26.76 24.26 22.87
33.04 28.97 26.81 24.28 22.88
33.13 29.04 26.91 24.43 23.03
33.59 29.43 27.26 24.74 23.27
""",
}
TABLE_II: dict[str, PaperTable] = {
    ds: PaperTable(
        f"Table II ({'BSD100' if ds == 'B100' else ds})",
        ds,
        _T2_SCALES,
        _rows(_T2_SCALES, "\n".join(f"{m} | {v}" for m, v in zip(_T2_METHODS, text.strip().splitlines())),
              with_params=False),
        "benchmark",
        f"{ds}, Y channel, shave = scale; RDN encoder",
    )
    for ds, text in _T2_VALUES.items()
}

# ----------------------------------------------------------------------------------------------
# Tables III-V: ablations on DIV2K val (EDSR-baseline-MSIT), scales x2 x4 x6 x12
# ----------------------------------------------------------------------------------------------
_ABL_SCALES = ("2", "4", "6", "12")


def _abl(method: str, params: str | None, values: str, note: str) -> PaperRow:
    v = values.split()
    return PaperRow(method, {s: float(x) for s, x in zip(_ABL_SCALES, v)}, params, note)


TABLE_III = PaperTable(
    "Table III",
    "DIV2K",
    _ABL_SCALES,
    (
        _abl("no MSNO, SA", "8.4M", "34.80 29.11 26.84 23.75", "MSNO ✗ MSSA ✗ (conventional SA) RIM ✗ Ref ✗"),
        _abl("MSNO, SA", "8.4M", "34.87 29.15 26.88 23.79", "MSNO ✓ MSSA ✗ RIM ✗ Ref ✗"),
        _abl("MSNO, MSSA", "8.1M", "34.87 29.16 26.89 23.81", "MSNO ✓ MSSA ✓ RIM ✗ Ref ✗ (stage 1)"),
        _abl("MSNO, MSSA, RIM", "6.0M", "34.91 29.19 26.91 23.83", "MSNO ✓ MSSA ✓ RIM ✓, η ~ U(1, 4)"),
        _abl("MSNO, MSSA, RefConv", "6.0M", "34.91 29.19 26.89 23.81", "MSNO ✓ MSSA ✓ Ref ✓, η ~ U(1, 4)"),
    ),
    "div2k",
    "module ablation, EDSR-baseline, DIV2K val (batch 16)",
)

TABLE_IV = PaperTable(
    "Table IV",
    "DIV2K",
    _ABL_SCALES,
    (
        _abl("MSC 1 conv", None, "34.83 29.14 26.86 23.79", "MSNO: 1 parallel conv, FEM, SIM"),
        _abl("MSC 2 convs", None, "34.84 29.14 26.87 23.80", "MSNO: 2 parallel convs, FEM, SIM"),
        _abl("MSC 4 convs", None, "34.84 29.14 26.87 23.80", "MSNO: 4 parallel convs, FEM, SIM"),
        _abl("MSC 8 convs", None, "34.85 29.15 26.88 23.80", "MSNO: 8 parallel convs, FEM, SIM"),
        _abl("MSC 16 convs", None, "34.87 29.16 26.89 23.81", "MSNO: 16 parallel convs (3x3 ... 33x33), FEM, SIM"),
        _abl("MSSA 1 projection", None, "34.87 29.15 26.88 23.79", "16 convs; MSSA with 1 projection matrix"),
        _abl("MSSA 2 projections", None, "34.87 29.15 26.89 23.81", "16 convs; MSSA with 2 projection matrices"),
        _abl("MSSA 4 projections", None, "34.87 29.16 26.89 23.81", "16 convs; MSSA with 4 projection matrices"),
        _abl("MSSA 8 projections", None, "34.87 29.15 26.88 23.79", "16 convs; MSSA with 8 projection matrices"),
        _abl("MSSA 16 projections", None, "34.83 29.13 26.86 23.79", "16 convs; MSSA with 16 projection matrices"),
        _abl("FEM W/O", None, "34.87 29.15 26.88 23.80", "16 convs, no FEM, SIM"),
        _abl("SIM W/O", None, "34.82 29.11 26.84 23.77", "16 convs, FEM, regular conv instead of SIM"),
    ),
    "div2k",
    "ablation inside MSNO and MSSA, EDSR-baseline-MSIT, DIV2K val",
)

TABLE_V = PaperTable(
    "Table V",
    "DIV2K",
    _ABL_SCALES,
    (
        _abl("Original EDSR-MSIT", None, "34.87 29.16 26.89 23.81", "stage 1 only (no re-parameterisation)"),
        _abl("η ~ U(1, 4)", None, "34.91 29.19 26.91 23.83", "cumulative training, stage 2 scale range"),
        _abl("η ~ U(1, 8)", None, "34.85 29.20 26.94 23.86", "the paper's choice (and the EDSR _rim config)"),
        _abl("η ~ U(4, 12)", None, "34.50 29.15 26.93 23.85", ""),
        _abl("η ~ U(1, 12)", None, "34.80 29.18 26.94 23.85", ""),
    ),
    "div2k",
    "training range of the re-parameterised stage, EDSR-baseline-MSIT, DIV2K val",
)

TABLES: dict[str, PaperTable | dict[str, PaperTable]] = {
    "I": TABLE_I, "II": TABLE_II, "III": TABLE_III, "IV": TABLE_IV, "V": TABLE_V,
}

#: Bicubic on the benchmark sets is not in the paper; these are the rows every SR paper copies
#: (EDSR, Lim et al. 2017, Table 4; MATLAB LR, Y channel): PSNR / SSIM.
OTHER_BICUBIC: dict[str, dict[str, tuple[float, float]]] = {
    "Set5": {"2": (33.66, 0.9299), "3": (30.39, 0.8682), "4": (28.42, 0.8104)},
    "Set14": {"2": (30.24, 0.8688), "3": (27.55, 0.7742), "4": (26.00, 0.7027)},
    "B100": {"2": (29.56, 0.8431), "3": (27.21, 0.7385), "4": (25.96, 0.6675)},
    "Urban100": {"2": (26.88, 0.8403), "3": (24.46, 0.7349), "4": (23.14, 0.6577)},
}


def table_for(dataset: str) -> PaperTable | None:
    """The paper's main table for a canonical set name (Table I for DIV2K, II for the others)."""
    if dataset == "DIV2K":
        return TABLE_I
    return TABLE_II.get(dataset)


def reference_row(table: PaperTable, model: str, encoder: str | None = None) -> tuple[PaperRow | None, str]:
    """The paper row our ``model`` ("bicubic", "liif", "msit") should be compared with.

    Returns ``(row, remark)``; the remark says when the match is only the closest one (e.g. an
    EDSR-baseline model against Table II, which reports RDN models only, or bicubic on the
    benchmark sets, which the paper does not report: then the EDSR paper's row is used).
    """
    kind = model.lower()
    enc = "RDN" if (encoder or "").lower() == "rdn" else "EDSR-baseline"
    wanted = {
        "bicubic": ["Bicubic"],
        "liif": [f"{enc}-LIIF", "RDN-LIIF"],
        "msit": [f"{enc}-AMsIT(our)", f"{enc}-MSIT(our)", "RDN-MSIT(our)", "RDN-AMsIT(our)"],
    }.get(kind, [])
    for i, name in enumerate(wanted):
        if name in table.methods():
            remark = "" if i == 0 or name.startswith(enc) else f"closest row; the paper has no {enc} row here"
            return table.row(name), remark
    if kind == "bicubic" and table.dataset in OTHER_BICUBIC:
        values = {s: v[0] for s, v in OTHER_BICUBIC[table.dataset].items()}
        return PaperRow("Bicubic (EDSR paper)", values, "-"), "not in the paper; EDSR paper's bicubic row"
    return None, ""


def format_params(n: int | None) -> str:
    """Parameter count as the paper prints it: ``6,047,308`` -> ``"6.0M"`` (``None`` -> ``"-"``)."""
    if n is None:
        return "-"
    return f"{n / 1e6:.1f}M"


def _cell(v: float | None, width: int, sign: str = "") -> str:
    if v is None or math.isnan(v):
        return f"{'-':>{width}}"
    return f"{v:>{sign}{width}.2f}"


def compare_table(
    ours: Mapping[str, float],
    table: PaperTable,
    *,
    label: str,
    model: str,
    encoder: str | None = None,
    params: int | None = None,
    scales: Iterable[str] | None = None,
    rows: Sequence[str] | None = None,
) -> str:
    """Print the paper's rows, our row and the deltas against the matching paper row.

    ``ours`` maps scale keys to our PSNR; columns are the paper's scales that we evaluated plus
    any of ours the paper lacks (shown as "-" in its rows).  ``rows`` limits the paper rows shown
    (default: all).  The delta row is ``ours - reference`` (positive = we are higher).
    """
    cols = list(scales) if scales is not None else list(ours)
    ref, remark = reference_row(table, model, encoder)
    shown = [r for r in table.rows if rows is None or r.method in rows]
    if ref is not None and all(r.method != ref.method for r in shown):
        shown.append(ref)
    extra = [len(label) + 6, 24] + ([len(ref.method) + 9] if ref is not None else [])
    name_w = max([len(r.method) for r in shown] + extra) + 2
    head = f"{'method':<{name_w}}{'params':>8}" + "".join(f"{'x' + s:>8}" for s in cols)
    lines = [f"{table.name} -- {table.caption}", head, "-" * len(head)]
    for r in shown:
        lines.append(f"{r.method:<{name_w}}{r.params or '-':>8}" + "".join(_cell(r.value(s), 8) for s in cols))
    lines.append("-" * len(head))
    lines.append(f"{'ours: ' + label:<{name_w}}{format_params(params):>8}" + "".join(_cell(ours.get(s), 8) for s in cols))
    if ref is not None:
        deltas = [None if ours.get(s) is None or ref.value(s) is None else ours[s] - ref.value(s) for s in cols]
        lines.append(f"{'delta vs ' + ref.method:<{name_w}}{'':>8}" + "".join(_cell(d, 8, "+") for d in deltas))
        if remark:
            lines.append(f"  ({remark})")
    return "\n".join(lines)
