"""The paper's tables as data (``msit_lite.paper``): checked number by number against the paper's text,
plus the comparison printer and Table I's parameter column reproduced from our configs."""
from __future__ import annotations

import os
import re

import pytest

from msit_lite import paper
from msit_lite.config import build_model, load_config
from msit_lite.params import count_parameters
from msit_lite.paths import repo_dir, shared_dir

NUM = re.compile(r"^(\d+\.\d+|\d+(\.\d)?M|-)$")


@pytest.fixture(scope="module")
def paper_text() -> list[str]:
    path = shared_dir() / "paper" / "MSIT-paper.txt"
    if not path.is_file():
        msg = f"paper text not found at {path}"
        if os.environ.get("CI"):
            pytest.fail(f"CI is set but {msg}")
        pytest.skip(msg)
    return path.read_text(encoding="utf-8").splitlines()


def _numeric_lines(lines: list[str], start: str, stop: str) -> list[list[str]]:
    """Tab-separated lines between a line starting with ``start`` and one starting with ``stop``:
    the trailing numeric cells (values, ``-``, ``8.4M``) of each line that has any."""
    i = next(n for n, line in enumerate(lines) if line.startswith(start))
    out = []
    for line in lines[i + 1:]:
        if line.startswith(stop):
            break
        cells = [c.strip() for c in line.split("\t") if c.strip()]
        tail = []
        for c in reversed(cells):
            if not NUM.match(c):
                break
            tail.append(c)
        if len(tail) >= 4:
            out.append(tail[::-1])
    return out


def _fmt(v: float | None) -> str:
    return "-" if v is None else f"{v:.2f}"


def test_table_i_equals_the_paper(paper_text):
    lines = _numeric_lines(paper_text, "Method\tParams", "TABLE I:")
    assert len(lines) == len(paper.TABLE_I.rows) == 17
    for row, cells in zip(paper.TABLE_I.rows, lines):
        assert [row.params] + [_fmt(row.value(s)) for s in paper.TABLE_I.scales] == cells, row.method


def test_table_ii_equals_the_paper(paper_text):
    lines = _numeric_lines(paper_text, "Method\tSet5", "TABLE II:")
    assert len(lines) == 16  # 8 methods x (Set5|Set14, BSD100|Urban100)
    pairs = [("Set5", "Set14")] * 8 + [("B100", "Urban100")] * 8
    for n, (cells, sets) in enumerate(zip(lines, pairs)):
        ours = []
        for ds in sets:
            row = paper.TABLE_II[ds].rows[n % 8]
            ours += [_fmt(row.value(s)) for s in paper.TABLE_II[ds].scales]
        assert ours == cells, (sets, n)


@pytest.mark.parametrize("table, start, stop", [
    (paper.TABLE_III, "MSNO\tMSSA", "TABLE III:"),
    (paper.TABLE_IV, "\tMSNO", "TABLE IV:"),
    (paper.TABLE_V, "Sampling distribution", "TABLE V:"),
])
def test_ablation_tables_equal_the_paper(paper_text, table, start, stop):
    lines = _numeric_lines(paper_text, start, stop)
    assert len(lines) == len(table.rows)
    for row, cells in zip(table.rows, lines):
        values = [_fmt(row.value(s)) for s in table.scales]
        assert (([row.params] if row.params else []) + values) == cells, row.method


def test_table_shapes_and_lookup():
    assert paper.TABLE_I.scales == ("2", "3", "4", "6", "12", "18", "24", "30")
    assert set(paper.TABLE_II) == {"Set5", "Set14", "B100", "Urban100"}
    assert paper.table_for("DIV2K") is paper.TABLE_I and paper.table_for("Urban100").dataset == "Urban100"
    assert paper.table_for("T91") is None
    assert paper.TABLE_I.row("EDSR-baseline-AMsIT(our)").value("30") == 20.59
    assert paper.TABLE_II["B100"].row("RDN-MSIT(our)").value("8") == 25.03
    with pytest.raises(KeyError, match="no row"):
        paper.TABLE_I.row("SwinIR")


@pytest.mark.parametrize("table, model, encoder, expected", [
    (paper.TABLE_I, "msit", "edsr-baseline", "EDSR-baseline-AMsIT(our)"),
    (paper.TABLE_I, "liif", "rdn", "RDN-LIIF"),
    (paper.TABLE_I, "bicubic", None, "Bicubic"),
    (paper.TABLE_II["Set14"], "msit", "rdn", "RDN-MSIT(our)"),
    (paper.TABLE_II["Set14"], "liif", "edsr-baseline", "RDN-LIIF"),
    (paper.TABLE_II["Set5"], "bicubic", None, "Bicubic (EDSR paper)"),
])
def test_reference_rows(table, model, encoder, expected):
    row, remark = paper.reference_row(table, model, encoder)
    assert row.method == expected
    assert bool(remark) == (expected in ("Bicubic (EDSR paper)",) or (encoder == "edsr-baseline" and "RDN" in expected))


def test_compare_table_deltas():
    text = paper.compare_table({"2": 31.04, "30": 19.50}, paper.TABLE_I, label="bicubic", model="bicubic",
                               rows=["Bicubic"])
    ours = next(line for line in text.splitlines() if line.startswith("ours: bicubic"))
    delta = next(line for line in text.splitlines() if line.startswith("delta vs Bicubic"))
    assert ours.split()[-2:] == ["31.04", "19.50"]
    assert delta.split()[-2:] == ["+0.03", "-0.09"]
    assert text.splitlines()[1].split()[2:] == ["x2", "x30"]  # only the scales we evaluated
    text = paper.compare_table({"8": 24.0}, paper.TABLE_II["Set5"], label="m", model="unknown")
    assert "delta" not in text and "RDN-MSIT(our)" in text


@pytest.mark.parametrize("config, row", [
    ("edsr-baseline-liif.yaml", "EDSR-baseline-LIIF"),
    ("edsr-baseline-msit-rim.yaml", "EDSR-baseline-AMsIT(our)"),
    ("rdn-liif.yaml", "RDN-LIIF"),
])
def test_table_i_parameter_column_from_configs(config, row):
    n = count_parameters(build_model(load_config(repo_dir() / "configs" / config))).trainable
    assert paper.format_params(n) == paper.TABLE_I.row(row).params


def test_rdn_msit_parameter_count_differs_from_the_paper():
    """Golden README §9.9: 27.9M matches neither the RIM (26.8M) nor the plain (28.9M) network."""
    n = count_parameters(build_model(load_config(repo_dir() / "configs" / "rdn-msit-rim.yaml"))).trainable
    assert paper.format_params(n) == "26.8M" != paper.TABLE_I.row("RDN-AMsIT(our)").params
