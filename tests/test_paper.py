"""The paper's tables as data (``msit_lite.paper``): checked number by number against the paper's text,
plus the comparison printer and Table I's parameter column reproduced from our configs."""
from __future__ import annotations

import dataclasses
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
    """27.9M matches neither the RIM (26.8M) nor the plain (28.9M) network (notebook 12 §4)."""
    n = count_parameters(build_model(load_config(repo_dir() / "configs" / "rdn-msit-rim.yaml"))).trainable
    assert paper.format_params(n) == "26.8M" != paper.TABLE_I.row("RDN-AMsIT(our)").params


# ---- the training recipe and other cross-notebook facts ----------------------------------------
def test_training_recipe_is_the_papers(paper_text):
    """§IV-A and §IV-C, sentence by sentence, against the numbers of TRAINING / ABLATION_TRAINING."""
    text = " ".join(paper_text)
    t, a = paper.TRAINING, paper.ABLATION_TRAINING
    assert f"DIV2K contributes {paper.DF2K_IMAGES['DIV2K']} high-quality images" in text
    assert f"Flickr2K added {paper.DF2K_IMAGES['Flickr2K']:,} different images" in text
    assert f"after {t.warmup_epochs} epochs as a warm-up phase" in text
    assert f"train the model for {t.cosine_epochs} epochs, with a batch size of {t.batch_size}" in text
    assert f"initialized to 1×10^{{-5}} and then incremented to 1×10^{{-4}}" in text
    assert (t.lr_start, t.lr_peak) == (1e-5, 1e-4)
    assert f"sized at ${t.lr_patch}\\eta \\times {t.lr_patch}\\eta$" in text and "uniform distribution $U(1, 4)$" in text
    assert f"randomly sample {t.lr_patch}^2 pixels" in text and t.sample_q == t.lr_patch**2
    assert f"we used the DIV2K dataset with a batch size of {a.batch_size}, otherwise consistent" in text


def test_training_steps_follow_from_the_recipe():
    t = paper.TRAINING
    assert (t.images, t.epochs, t.steps_per_epoch, t.last_batch, t.total_steps) == (3450, 1050, 108, 26, 113_400)
    dropped = dataclasses.replace(t, drop_last=True)  # what a drop_last loader would give
    assert (dropped.steps_per_epoch, dropped.total_steps) == (107, 112_350)
    assert paper.ABLATION_TRAINING.total_steps == 1050 * 50 == 52_500
    o = paper.OFFICIAL_TRAINING
    assert (o.samples_per_epoch, o.steps_per_epoch, o.total_steps) == (32_000, 1000, 1_050_000)
    assert o.epochs == 1050  # the official epoch_max
    assert "113,400 steps" in t.describe() and "last one of 26 kept" in t.describe()


@pytest.mark.parametrize("config", sorted(paper.OFFICIAL_PARAMS))
def test_official_parameter_counts_from_our_configs(config):
    report = count_parameters(build_model(load_config(repo_dir() / "configs" / f"{config}.yaml")))
    want = paper.OFFICIAL_PARAMS[config]
    assert (report.trainable, report.rim_buffers, report.official_num_params) == (
        want["trainable"], want["rim_buffers"], want["official"])


def test_official_parameter_counts_equal_the_golden_json():
    path = shared_dir() / "golden" / "param_counts.json"
    if not path.is_file():
        pytest.skip(f"{path} not found")
    import json

    counts = json.loads(path.read_text())
    names = {"edsr-baseline-msit-rim": "msit_edsr_baseline_rim", "edsr-baseline-msit": "msit_edsr_baseline_plain",
             "rdn-msit-rim": "msit_rdn_rim", "rdn-msit": "msit_rdn_plain",
             "edsr-baseline-liif": "liif_edsr_baseline", "rdn-liif": "liif_rdn"}
    for ours, theirs in names.items():
        assert paper.OFFICIAL_PARAMS[ours]["trainable"] == counts[theirs]["total"]["trainable"], ours
        assert paper.OFFICIAL_PARAMS[ours]["official"] == counts[theirs]["official_compute_num_params"], ours


# Typed-by-hand conversions of the paper's epochs into steps: each notebook must print them from
# msit_lite.paper (TRAINING, ABLATION_TRAINING, OFFICIAL_TRAINING) instead.
TYPED_STEPS = re.compile(r"\b\d{2,4}k steps|≈ ?1\d\dk\b|10⁶ steps|10\^6 steps|\b1[01]\d,\d{3} steps|1,050,000|"
                         r"an epoch is \d+ steps|\b10[78] steps per epoch|"
                         r"(?<!model )for 1,?000 epochs")  # the run is 50 + 1,000 = 1,050 epochs; quote the paper in full
# Notebooks being rewritten around msit_lite.paper in another branch (remove them here when they are).
PENDING: set[str] = set()
SOURCES = sorted((repo_dir() / "notebooks").glob("**/_src/*.py"))


def _code_cells(text: str) -> list[str]:
    cells, current, kind = [], [], None
    for line in text.splitlines():
        if line.startswith("# %%"):
            if kind == "code":
                cells.append("\n".join(current))
            kind, current = ("markdown" if "[markdown]" in line else "code"), []
        else:
            current.append(line)
    if kind == "code":
        cells.append("\n".join(current))
    return cells


def _table_literals() -> set[str]:
    """Every PSNR (as printed, 2 decimals) and Params string of Tables I-V."""
    out = set()
    tables = [paper.TABLE_I, paper.TABLE_III, paper.TABLE_IV, paper.TABLE_V, *paper.TABLE_II.values()]
    for table in tables:
        for row in table.rows:
            out |= {f"{v:.2f}" for v in row.psnr.values() if v is not None}
            if row.params and row.params != "-":
                out.add(row.params)
    return out


@pytest.mark.parametrize("source", SOURCES, ids=lambda p: p.name)
def test_notebooks_take_cross_notebook_facts_from_msit_lite_paper(source, request):
    if source.name in PENDING:
        request.applymarker(pytest.mark.xfail(reason="rewritten around msit_lite.paper in another branch", strict=False))
    text = source.read_text(encoding="utf-8")
    typed = sorted({m.group(0) for m in TYPED_STEPS.finditer(text)})
    assert not typed, f"{source.name} types the paper's training budget in steps: {typed} -- print paper.TRAINING instead"
    literals = _table_literals()
    for cell in _code_cells(text):
        code = "\n".join(line.split("#")[0] for line in cell.splitlines())  # comments may quote the paper
        found = sorted({tok for tok in re.findall(r"\d+\.\d+M?", code) if tok in literals})
        assert not found, f"{source.name}: a code cell types paper numbers {found} -- take them from msit_lite.paper"
