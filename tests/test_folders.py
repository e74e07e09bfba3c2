"""Folder layouts: benchmark pairs in every supported layout, training folders, bad layouts."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from msit_lite.data.folders import (
    ImageFolder,
    ImagePair,
    benchmark_pairs,
    find_training_folders,
    image_files,
)
from msit_lite.errors import MsitError


def png(path: Path, w: int, h: int, value: int = 0) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.full((h, w, 3), value, dtype=np.uint8)).save(path)
    return path


def make_xk(root: Path, name: str = "Set5", scales=(2, 3), stems=("img_001", "img_002")) -> None:
    for k in scales:
        for i, s in enumerate(stems):
            png(root / name / f"X{k}" / "HR" / f"{s}.png", 6 * k + 6 * i * k, 4 * k)
            png(root / name / f"X{k}" / "LR" / f"{s}.png", 6 + 6 * i, 4)


def one_line(e: pytest.ExceptionInfo) -> str:
    msg = str(e.value)
    assert "\n" not in msg
    return msg


# --- image_files -----------------------------------------------------------------------------


def test_image_files_sorted_and_filtered(tmp_path):
    png(tmp_path / "b.png", 2, 2)
    png(tmp_path / "a.PNG", 2, 2)
    (tmp_path / "notes.txt").write_text("x")
    (tmp_path / "sub").mkdir()
    assert [p.name for p in image_files(tmp_path)] == ["a.PNG", "b.png"]


def test_image_files_empty_and_missing(tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(MsitError) as e:
        image_files(tmp_path / "empty")
    assert str(tmp_path / "empty") in one_line(e)
    with pytest.raises(MsitError, match="does not exist"):
        image_files(tmp_path / "missing")


# --- X<k> layout -------------------------------------------------------------------------------


def test_xk_layout_pairs(tmp_path):
    make_xk(tmp_path)
    pairs = benchmark_pairs(tmp_path, "set5", 3)
    assert [p.name for p in pairs] == ["img_001", "img_002"]
    assert pairs[1] == ImagePair(
        "img_002", tmp_path / "Set5/X3/HR/img_002.png", tmp_path / "Set5/X3/LR/img_002.png"
    )


def test_xk_layout_under_benchmark_folder(tmp_path):
    make_xk(tmp_path / "benchmark")
    assert len(benchmark_pairs(tmp_path, "Set5", 2)) == 2


def test_xk_layout_unpaired_scales_use_x2_hr(tmp_path):
    make_xk(tmp_path, scales=(2, 3))
    for s in (4, 2.5, 8):
        pairs = benchmark_pairs(tmp_path, "Set5", s)
        assert all(p.lr is None for p in pairs)
        assert all(p.hr.parent == tmp_path / "Set5/X2/HR" for p in pairs)
    make_xk(tmp_path, name="Set14", scales=(3, 4))
    assert benchmark_pairs(tmp_path, "Set14", 1.7)[0].hr.parent == tmp_path / "Set14/X3/HR"


def test_hr_without_lr_names_both(tmp_path):
    make_xk(tmp_path, scales=(2,))
    (tmp_path / "Set5/X2/LR/img_002.png").rename(tmp_path / "Set5/X2/LR/other.png")
    with pytest.raises(MsitError) as e:
        benchmark_pairs(tmp_path, "Set5", 2)
    msg = one_line(e)
    assert str(tmp_path / "Set5/X2/HR/img_002.png") in msg and str(tmp_path / "Set5/X2/LR") in msg


def test_size_mismatch_names_both(tmp_path):
    make_xk(tmp_path, scales=(2,))
    png(tmp_path / "Set5/X2/LR/img_001.png", 5, 4)  # HR is 12x8: LR should be 6x4
    with pytest.raises(MsitError) as e:
        benchmark_pairs(tmp_path, "Set5", 2)
    msg = one_line(e)
    assert "img_001" in msg and str(tmp_path / "Set5/X2/HR/img_001.png") in msg
    assert str(tmp_path / "Set5/X2/LR/img_001.png") in msg


def test_missing_set_lists_layouts_and_download(tmp_path):
    with pytest.raises(MsitError) as e:
        benchmark_pairs(tmp_path, "Urban100", 4)
    msg = one_line(e)
    assert "Urban100/X4/{HR,LR}" in msg and "LR_bicubic/X4" in msg
    assert "msit-lite data download benchmark --root DIR" in msg


def test_empty_set_folder(tmp_path):
    (tmp_path / "Set5" / "X2" / "HR").mkdir(parents=True)
    with pytest.raises(MsitError, match="not found or empty"):
        benchmark_pairs(tmp_path, "Set5", 2)


def test_bad_names_and_scales(tmp_path):
    make_xk(tmp_path)
    with pytest.raises(MsitError, match="unknown benchmark set"):
        benchmark_pairs(tmp_path, "Set7", 2)
    for bad in (0, -2, float("nan")):
        with pytest.raises(MsitError, match="scale"):
            benchmark_pairs(tmp_path, "Set5", bad)


# --- EDSR and DIV2K layouts --------------------------------------------------------------------


@pytest.mark.parametrize("lr_name", ["babyx2.png", "baby x2.png", "baby.png"])
def test_edsr_layout(tmp_path, lr_name):
    base = tmp_path / "benchmark" / "BSD100"  # BSD100 is an alias folder of B100
    png(base / "HR" / "baby.png", 11, 9)  # not modcropped: LR = floor(HR / 2) = 5x4
    png(base / "LR_bicubic" / "X2" / lr_name, 5, 4)
    pairs = benchmark_pairs(tmp_path, "B100", 2.0)
    assert pairs == [ImagePair("baby", base / "HR/baby.png", base / "LR_bicubic/X2" / lr_name)]
    assert benchmark_pairs(tmp_path / "benchmark", "bsd100", 3)[0].lr is None  # no X3 folder


def test_edsr_layout_size_mismatch(tmp_path):
    base = tmp_path / "Set14"
    png(base / "HR" / "a.png", 12, 12)
    png(base / "LR_bicubic" / "X4" / "ax4.png", 4, 4)  # should be 3x3
    with pytest.raises(MsitError, match="size mismatch"):
        benchmark_pairs(tmp_path, "Set14", 4)


@pytest.mark.parametrize("sub", ["", "DIV2K"])
def test_div2k_layout(tmp_path, sub):
    base = tmp_path / sub
    for n in ("0801", "0802"):
        png(base / "DIV2K_valid_HR" / f"{n}.png", 12, 8)
        png(base / "DIV2K_valid_LR_bicubic" / "X4" / f"{n}x4.png", 3, 2)
    pairs = benchmark_pairs(tmp_path, "DIV2K-val", 4)
    assert [(p.name, p.lr.name) for p in pairs] == [("0801", "0801x4.png"), ("0802", "0802x4.png")]
    assert all(p.lr is None for p in benchmark_pairs(tmp_path, "div2k", 2))
    with pytest.raises(MsitError, match="download div2k"):
        benchmark_pairs(tmp_path / "nothing", "DIV2K", 4)


# --- training folders and ImageFolder ----------------------------------------------------------


def test_find_training_folders_synthetic(tmp_path):
    png(tmp_path / "DIV2K_train_HR" / "0001.png", 4, 4)
    png(tmp_path / "Flickr2K" / "Flickr2K_HR" / "000001.png", 4, 4)
    assert find_training_folders(tmp_path, "div2k") == [tmp_path / "DIV2K_train_HR"]
    assert find_training_folders(tmp_path, "DF2K") == [
        tmp_path / "DIV2K_train_HR",
        tmp_path / "Flickr2K" / "Flickr2K_HR",
    ]
    with pytest.raises(MsitError) as e:
        find_training_folders(tmp_path, "T91")
    assert "train/T91" in one_line(e)
    with pytest.raises(MsitError, match="unknown training set"):
        find_training_folders(tmp_path, "ImageNet")


def test_image_folder(tmp_path):
    png(tmp_path / "a.png", 3, 2, value=10)
    png(tmp_path / "b.png", 3, 2, value=20)
    ds = ImageFolder(tmp_path, repeat=3, cache=True)
    assert len(ds) == 6
    assert ds[4].shape == (2, 3, 3) and ds[4].dtype == np.uint8 and ds[4][0, 0, 0] == 10
    assert ds[5][0, 0, 0] == 20
    assert ds.path(5) == tmp_path / "b.png"
    (tmp_path / "b.png").unlink()  # cached: still served
    assert ds[1][0, 0, 0] == 20
    t = ImageFolder([tmp_path / "a.png"], as_tensor=True)[0]
    assert isinstance(t, torch.Tensor) and t.shape == (3, 2, 3)
    assert torch.allclose(t, torch.full_like(t, 10 / 255))
    with pytest.raises(IndexError):
        ds[6]


# --- the real data in ../shared ----------------------------------------------------------------


@pytest.mark.parametrize("name,count", [("Set5", 5), ("Set14", 14), ("B100", 100)])
@pytest.mark.parametrize("k", [2, 3, 4])
def test_shared_benchmark_pairs(benchmark_root, name, count, k):
    pairs = benchmark_pairs(benchmark_root, name, k)
    assert len(pairs) == count
    for p in pairs:
        assert p.lr is not None and p.hr.parent.parent.name == f"X{k}"
        w, h = Image.open(p.hr).size
        lw, lh = Image.open(p.lr).size
        assert (lw * k, lh * k) == (w, h)


def test_shared_data_root_also_works(benchmark_root):
    assert len(benchmark_pairs(benchmark_root.parent, "bsd100", 4)) == 100


def test_shared_training_folders(train_root):
    t91, bsd = find_training_folders(train_root.parent, "train291")
    assert len(image_files(t91)) == 91 and len(image_files(bsd)) == 199
    assert find_training_folders(train_root.parent, "T91") == [t91]
