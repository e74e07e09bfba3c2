"""Evaluation runner and ``msit-lite eval``: published bicubic rows, protocols, file formats, errors."""
from __future__ import annotations

import csv
import json
import math

import numpy as np
import pytest
import torch

from msit_lite.cli import main
from msit_lite.errors import MsitError
from msit_lite.evaluate import PUBLISHED_BICUBIC, BicubicUpscaler, evaluate, make_lr, scale_key

SCALES = ["2", "3", "4"]


@pytest.mark.parametrize(
    "dataset", ["Set5", "Set14", "B100"]  # B100: ~11 s on 2 cores
)
def test_bicubic_reproduces_published_rows(benchmark_root, dataset):
    res = evaluate(BicubicUpscaler(), [dataset], SCALES, benchmark_root, progress=False)
    summary = res.summary()[dataset]
    for s in SCALES:
        assert summary[s]["images"] == {"Set5": 5, "Set14": 14, "B100": 100}[dataset]
        got, ref = summary[s]["psnr"], PUBLISHED_BICUBIC[dataset][s]
        assert abs(got - ref) <= 0.02, f"{dataset} x{s}: {got:.3f} vs published {ref}"
        assert 0.6 < summary[s]["ssim"] < 0.95
    assert {r.lr_source for r in res.records} == {"files"}


def test_gray_modes_on_set14(benchmark_root):
    chan = evaluate(BicubicUpscaler(), ["Set14"], ["4"], benchmark_root, progress=False)
    rgb = evaluate(BicubicUpscaler(), ["Set14"], ["4"], benchmark_root, gray="rgb", progress=False)
    by_name = {r.image: r for r in chan.records}
    for r in rgb.records:
        c = by_name[r.image]
        assert c.gray == (r.image == "img_003")
        if r.image == "img_003":  # Y of a gray difference is 219.859/256 of it: +1.32 dB
            assert r.psnr - c.psnr == pytest.approx(-20 * math.log10(219.859 / 256), abs=1e-6)
        else:
            assert r.psnr == c.psnr
    delta = rgb.summary()["Set14"]["4"]["psnr"] - chan.summary()["Set14"]["4"]["psnr"]
    assert 0.08 < delta < 0.10


def test_lr_sources(benchmark_root):
    files = evaluate(BicubicUpscaler(), ["Set5"], SCALES, benchmark_root, progress=False)
    matlab = evaluate(BicubicUpscaler(), ["Set5"], SCALES, benchmark_root, lr_source="matlab", progress=False)
    pil = evaluate(BicubicUpscaler(), ["Set5"], ["3"], benchmark_root, lr_source="pil", progress=False)
    # the MATLAB-exact imresize reproduces the stored LR files, so every score is identical
    assert [r.psnr for r in files.records] == [r.psnr for r in matlab.records]
    assert {r.lr_source for r in matlab.records} == {"matlab"}
    p3 = [r.psnr for r in pil.records]
    f3 = [r.psnr for r in files.records if r.scale == "3"]
    assert p3 != f3 and max(abs(a - b) for a, b in zip(p3, f3)) < 0.1


def test_non_integer_scale_falls_back_to_matlab(benchmark_root):
    res = evaluate(BicubicUpscaler(), ["Set5"], ["2.5"], benchmark_root, progress=False)
    assert {r.lr_source for r in res.records} == {"matlab"}
    r = res.records[0]  # img_001: 512x512 at X2 -> LR 204 -> HR 510
    assert (r.height, r.width) == (510, 510)
    assert 30 < res.summary()["Set5"]["2.5"]["psnr"] < 33.66


def test_make_lr_official_size_rule():
    hr = np.zeros((257, 100, 3), np.uint8)
    crop, lr = make_lr(hr, 2.5, "matlab")
    assert lr.shape == (102, 40, 3) and crop.shape == (255, 100, 3)
    crop, lr = make_lr(hr, 3, "pil")
    assert lr.shape == (85, 33, 3) and crop.shape == (255, 99, 3)


def test_tensor_upscaler_and_output_validation(benchmark_root):
    bic = BicubicUpscaler()

    def as_tensor(lr, size):
        return torch.from_numpy(bic(lr, size)).permute(2, 0, 1).float() / 255

    a = evaluate(bic, ["Set5"], ["4"], benchmark_root, progress=False)
    b = evaluate(as_tensor, ["Set5"], ["4"], benchmark_root, progress=False)
    assert b.model == "function"
    for x, y in zip(a.records, b.records):
        assert x.psnr == pytest.approx(y.psnr, abs=1e-4) and x.ssim == pytest.approx(y.ssim, abs=1e-6)
    with pytest.raises(MsitError, match="returned shape"):
        evaluate(lambda lr, size: torch.zeros(3, 8, 8), ["Set5"], ["4"], benchmark_root, progress=False)
    with pytest.raises(MsitError, match="expected"):
        evaluate(lambda lr, size: [0], ["Set5"], ["4"], benchmark_root, progress=False)


def test_scale_key():
    assert scale_key("2") == ("2", 2.0) and scale_key(2.5) == ("2.5", 2.5)
    for bad in ("two", "0.5", "nan", "2x3", "40"):
        with pytest.raises(MsitError):
            scale_key(bad)


def test_cli_json_and_csv(benchmark_root, tmp_path, capsys):
    out_json, out_csv = tmp_path / "r.json", tmp_path / "r.csv"
    rc = main([
        "eval", "--model", "bicubic", "--data-root", str(benchmark_root), "--datasets", "Set5",
        "--scales", "2", "4", "--json", str(out_json), "--csv", str(out_csv), "--no-progress",
    ])
    assert rc == 0
    printed = capsys.readouterr().out
    assert "Set5" in printed and "33.6" in printed
    data = json.loads(out_json.read_text())
    assert list(data) == ["results"] and list(data["results"]) == ["Set5"]
    assert list(data["results"]["Set5"]) == ["2", "4"]
    for v in data["results"]["Set5"].values():
        assert set(v) == {"psnr", "ssim"} and all(isinstance(x, float) for x in v.values())
    assert abs(data["results"]["Set5"]["2"]["psnr"] - 33.66) < 0.02
    rows = list(csv.DictReader(out_csv.open()))
    assert len(rows) == 10 and rows[0]["dataset"] == "Set5" and rows[0]["lr_source"] == "files"
    mean2 = np.mean([float(r["psnr"]) for r in rows if r["scale"] == "2"])
    assert mean2 == pytest.approx(data["results"]["Set5"]["2"]["psnr"], abs=1e-5)


@pytest.mark.parametrize(
    "argv, needle",
    [
        (["--datasets", "Set6"], "unknown benchmark set 'Set6'"),
        (["--data-root", "/no/such/dir"], "/no/such/dir"),
        (["--scales", "x2"], "not a number"),
    ],
)
def test_cli_bad_input_exit_2(benchmark_root, capsys, argv, needle):
    base = ["eval", "--no-progress"] + ([] if "--data-root" in argv else ["--data-root", str(benchmark_root)])
    assert main(base + argv) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("msit-lite: error:") and needle in err and "\n" not in err


# ----------------------------------------------------------------------------------------------
# The committed results/ files (notebook 09, docs/REPRODUCTION.md "Results") are reproducible
# ----------------------------------------------------------------------------------------------
def _committed(name: str):
    from msit_lite.paths import repo_dir

    res = repo_dir() / "results"
    if not (res / f"{name}.json").is_file() or not (res / f"{name}.csv").is_file():
        if name.startswith("lite/"):  # the lite table of the README is a deliverable, not optional
            pytest.fail(f"results/{name}.json/.csv missing")
        pytest.skip(f"results/{name}.json/.csv not committed yet")
    return json.loads((res / f"{name}.json").read_text()), list(csv.DictReader((res / f"{name}.csv").open()))


# results/bicubic.*: --protocol official; results/lite/*: --protocol benchmark --lr-source files
COMMITTED = ["bicubic", "lite/bicubic", "lite/lite-liif", "lite/lite-msit"]


def _protocol(name: str) -> str:
    return "benchmark" if name.startswith("lite/") else "official"


@pytest.mark.parametrize("name", COMMITTED)
def test_committed_results_json_is_the_csv_mean(name):
    data, rows = _committed(name)
    for ds, by_scale in data["results"].items():
        for s, v in by_scale.items():
            group = [r for r in rows if r["dataset"] == ds and r["scale"] == s]
            assert group, (ds, s)
            assert np.mean([float(r["psnr"]) for r in group]) == pytest.approx(v["psnr"], abs=1e-5)
            assert np.mean([float(r["ssim"]) for r in group]) == pytest.approx(v["ssim"], abs=1e-5)
            if _protocol(name) == "official":  # PIL LR except Set14/B100 x2-x4 (MATLAB files)
                paired = ds in ("Set14", "B100") and s in ("2", "3", "4")
                assert {r["lr_source"] for r in group} == ({"files"} if paired else {"pil"}), (ds, s)
            else:  # stored MATLAB LR files where they exist (x2-x4), MATLAB-exact imresize beyond
                assert {r["lr_source"] for r in group} == ({"files"} if s in ("2", "3", "4") else {"matlab"}), (ds, s)


@pytest.mark.parametrize("name", COMMITTED)
def test_committed_results_reproduce_one_image(benchmark_root, tmp_path, name):
    """Re-evaluate the smallest Set5 image at x4 and x8 and compare with the committed per-image rows."""
    import shutil

    _, rows = _committed(name)
    if name.endswith("bicubic"):
        upscaler = BicubicUpscaler()
    else:
        from msit_lite.inference import load_upscaler

        upscaler = load_upscaler(name.split("/")[-1], "cpu")  # a shipped checkpoint, by name
    mine = [r for r in rows if r["dataset"] == "Set5" and r["scale"] in ("4", "8")]
    image = min(mine, key=lambda r: int(r["height"]) * int(r["width"]))["image"]
    for k in (2, 4):  # x4 reads X4's HR; x8 (no X8 folder) reads X2's HR
        for part in ("HR", "LR"):
            src = benchmark_root / "Set5" / f"X{k}" / part / f"{image}.png"
            (tmp_path / "Set5" / f"X{k}" / part).mkdir(parents=True)
            shutil.copy(src, tmp_path / "Set5" / f"X{k}" / part / src.name)
    res = evaluate(upscaler, ["Set5"], ["4", "8"], tmp_path, protocol=_protocol(name), progress=False)
    for r in res.records:
        stored = next(x for x in mine if x["image"] == image and x["scale"] == r.scale)
        assert (r.height, r.width) == (int(stored["height"]), int(stored["width"]))
        assert r.psnr == pytest.approx(float(stored["psnr"]), abs=1e-3), r.scale
        assert r.ssim == pytest.approx(float(stored["ssim"]), abs=1e-4), r.scale
