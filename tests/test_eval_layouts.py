"""Evaluation on the layouts users download (DIV2K, EDSR ``benchmark/``, ``X<k>``) and the protocol presets.

There is no DIV2K or Urban100 on the development machine, so these tests build tiny synthetic
sets in ``tmp_path`` (smooth random images, LR made with the MATLAB-exact ``imresize`` like the
real files) and check, image by image, that each path scores what the protocol says.
"""
from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from msit_lite.checkpoint import save_checkpoint
from msit_lite.cli import main
from msit_lite.config import build_model, load_config
from msit_lite.data.io import read_image, save_image
from msit_lite.data.resize import imresize, resize_pil
from msit_lite.evaluate import BicubicUpscaler, evaluate, make_lr, resolve_protocol
from msit_lite.inference import model_upscaler
from msit_lite.metrics import calc_psnr
from msit_lite.paths import repo_dir


def _photo(h: int, w: int, seed: int) -> np.ndarray:
    """A smooth random RGB image (low-frequency noise, upsampled): bicubic scores are finite."""
    rng = np.random.default_rng(seed)
    small = rng.integers(0, 256, (max(2, h // 8), max(2, w // 8), 3), dtype=np.uint8)
    return imresize(small, size=(h, w))


@pytest.fixture()
def div2k_root(tmp_path):
    """``DIV2K_valid_HR`` + ``DIV2K_valid_LR_bicubic/X{2,3,4}`` with two un-modcropped images."""
    for i, (h, w) in enumerate([(101, 150), (96, 131)]):
        hr = _photo(h, w, i)
        name = f"08{i + 1:02d}"
        save_image(tmp_path / "DIV2K_valid_HR" / f"{name}.png", hr)
        for k in (2, 3, 4):
            lr = imresize(hr[: h // k * k, : w // k * k], size=(h // k, w // k))
            save_image(tmp_path / "DIV2K_valid_LR_bicubic" / f"X{k}" / f"{name}x{k}.png", lr)
    return tmp_path


@pytest.fixture()
def edsr_root(tmp_path):
    """EDSR ``benchmark/Urban100/{HR, LR_bicubic/X2}`` (HR not modcropped) and Set14 in ``X<k>``."""
    bench = tmp_path / "benchmark"
    hr = _photo(75, 101, 7)
    save_image(bench / "Urban100" / "HR" / "img_001.png", hr)
    save_image(bench / "Urban100" / "LR_bicubic" / "X2" / "img_001x2.png", imresize(hr[:74, :100], size=(37, 50)))
    for k in (2, 3):  # X<k>: modcropped HR per scale, one gray image like Set14's bridge
        for name, img in (("img_001", _photo(96, 120, 3)), ("img_003", _photo(96, 120, 4)[:, :, :1])):
            crop = img[: 96 // k * k, : 120 // k * k]
            save_image(bench / "Set14" / f"X{k}" / "HR" / f"{name}.png", crop)
            save_image(bench / "Set14" / f"X{k}" / "LR" / f"{name}.png", imresize(crop, size=(96 // k, 120 // k)))
    return tmp_path


def test_resolve_protocol_presets():
    assert resolve_protocol("DIV2K", 2, "auto", "files") == ("div2k", "files")
    assert resolve_protocol("Set5", 2, "auto", "matlab") == ("benchmark", "matlab")
    assert resolve_protocol("DIV2K", 2, "benchmark", "files") == ("benchmark", "files")
    # the official test configs: paired files only for Set14/B100 x2-x4, PIL otherwise
    assert resolve_protocol("Set14", 3, "official", "matlab") == ("benchmark", "files")
    assert resolve_protocol("B100", 4.0, "official", "pil") == ("benchmark", "files")
    for ds, s in [("Set14", 6), ("B100", 8), ("Set5", 2), ("Urban100", 4), ("Set14", 2.5)]:
        assert resolve_protocol(ds, s, "official", "files") == ("benchmark", "pil")
    assert resolve_protocol("DIV2K", 2, "official", "files") == ("div2k", "pil")


def test_div2k_files_and_fallback(div2k_root):
    res = evaluate(BicubicUpscaler(), ["DIV2K"], ["2", "6"], div2k_root, progress=False)
    by = {(r.scale, r.image): r for r in res.records}
    assert len(res.records) == 4 and {r.protocol for r in res.records} == {"div2k"}
    assert by["2", "0801"].lr_source == "files" and by["6", "0801"].lr_source == "matlab"
    # x2: stored LR 50x75 -> HR cropped to 100x150; RGB, shave 2 + 6
    r = by["2", "0801"]
    assert (r.height, r.width) == (100, 150)
    hr = read_image(div2k_root / "DIV2K_valid_HR" / "0801.png")[:100, :150]
    lr = read_image(div2k_root / "DIV2K_valid_LR_bicubic" / "X2" / "0801x2.png")
    assert r.psnr == pytest.approx(calc_psnr(imresize(lr, size=(100, 150)), hr, "div2k", 2), abs=1e-9)
    # x6: LR floor(101/6) = 16 rows -> HR 96 rows, made on the fly
    assert (by["6", "0801"].height, by["6", "0801"].width) == (96, 150)


def test_div2k_official_is_pil_everywhere(div2k_root):
    res = evaluate(BicubicUpscaler(), ["div2k-val"], ["3", "30"], div2k_root, protocol="official", progress=False)
    assert {r.lr_source for r in res.records} == {"pil"} and res.lr_source == "official"
    r = next(x for x in res.records if x.scale == "3" and x.image == "0802")
    hr, lr = make_lr(read_image(div2k_root / "DIV2K_valid_HR" / "0802.png"), 3, "pil")
    assert np.array_equal(lr, resize_pil(hr, (32, 43)))
    assert r.psnr == pytest.approx(calc_psnr(imresize(lr, size=hr.shape[:2]), hr, "div2k", 3), abs=1e-9)
    summary = res.summary()["DIV2K"]
    assert list(summary) == ["3", "30"] and summary["30"]["images"] == 2


def test_edsr_layout_urban100(edsr_root):
    res = evaluate(BicubicUpscaler(), ["Urban100"], ["2", "4"], edsr_root, progress=False)
    r2, r4 = res.records
    assert r2.lr_source == "files" and (r2.height, r2.width) == (74, 100)  # HR cropped to 2 x LR
    assert r4.lr_source == "matlab" and r4.protocol == "benchmark"
    off = evaluate(BicubicUpscaler(), ["Urban100"], ["2"], edsr_root, protocol="official", progress=False)
    assert off.records[0].lr_source == "pil" and off.gray == "rgb"


def test_xk_layout_official_mix_and_gray(edsr_root):
    res = evaluate(BicubicUpscaler(), ["Set14"], ["2", "6"], edsr_root / "benchmark", protocol="official",
                   progress=False)
    src = {(r.scale, r.image): r.lr_source for r in res.records}
    assert src == {("2", "img_001"): "files", ("2", "img_003"): "files",
                   ("6", "img_001"): "pil", ("6", "img_003"): "pil"}
    # x6 has no X6 folder: the HR comes from X2 (96x120), LR 16x20 -> HR 96x120
    r6 = next(r for r in res.records if r.scale == "6" and r.image == "img_001")
    assert (r6.height, r6.width) == (96, 120)
    # gray image: official = Y of the RGB copy; channel mode is 20 log10(256/219.859) dB lower
    chan = evaluate(BicubicUpscaler(), ["Set14"], ["2"], edsr_root / "benchmark", protocol="official",
                    gray="channel", progress=False)
    g_rgb = next(r.psnr for r in res.records if r.scale == "2" and r.image == "img_003")
    g_chan = next(r.psnr for r in chan.records if r.image == "img_003")
    assert g_rgb - g_chan == pytest.approx(20 * np.log10(256 / 219.859), abs=1e-6)


def test_save_images_and_json_keys(div2k_root, tmp_path):
    out = tmp_path / "sr"
    res = evaluate(BicubicUpscaler(), ["DIV2K"], ["2", "2.5"], div2k_root, save_images=out, progress=False)
    saved = sorted(p.relative_to(out).as_posix() for p in out.rglob("*.png"))
    assert saved == ["DIV2K/x2.5/0801.png", "DIV2K/x2.5/0802.png", "DIV2K/x2/0801.png", "DIV2K/x2/0802.png"]
    img = read_image(out / "DIV2K" / "x2" / "0801.png")
    lr = read_image(div2k_root / "DIV2K_valid_LR_bicubic" / "X2" / "0801x2.png")
    assert np.array_equal(img, imresize(lr, size=(100, 150)))
    data = res.to_json()
    assert list(data["results"]["DIV2K"]) == ["2", "2.5"]
    assert set(data["results"]["DIV2K"]["2.5"]) == {"psnr", "ssim"}


def _liif_checkpoint(tmp_path):
    config = load_config(repo_dir() / "configs" / "golden" / "liif-small.yaml")
    torch.manual_seed(0)
    model = build_model(config).eval()
    save_checkpoint(tmp_path / "ckpt", model, config)
    # the same weights under the official LIIF key names, wrapped as LIIF saves them
    sd = {("imnet." + k[len("decoder."):] if k.startswith("decoder.") else k): v for k, v in model.state_dict().items()}
    torch.save({"model": {"name": "liif", "args": {}, "sd": sd}}, tmp_path / "official.pth")
    return model


def test_cli_checkpoint_official_and_compare(tmp_path, capsys):
    model = _liif_checkpoint(tmp_path)
    div2k_root = tmp_path / "data"  # one small image: a model costs one query per HR pixel
    save_image(div2k_root / "DIV2K_valid_HR" / "0801.png", _photo(48, 61, 5))
    base = ["eval", "--data-root", str(div2k_root), "--datasets", "DIV2K", "--scales", "3", "12",
            "--protocol", "official", "--no-progress", "--device", "cpu"]
    assert main(base + ["--checkpoint", str(tmp_path / "ckpt"), "--json", str(tmp_path / "a.json"),
                        "--compare-paper"]) == 0
    printed = capsys.readouterr().out
    assert "Table I" in printed and "delta vs EDSR-baseline-LIIF" in printed and "x12" in printed
    assert main(base + ["--official-checkpoint", str(tmp_path / "official.pth"), "--config",
                        str(repo_dir() / "configs" / "golden" / "liif-small.yaml"),
                        "--json", str(tmp_path / "b.json")]) == 0
    a = json.loads((tmp_path / "a.json").read_text())
    b = json.loads((tmp_path / "b.json").read_text())
    assert a == b and list(a["results"]["DIV2K"]) == ["3", "12"]
    # the in-memory wrapper scores the same as the checkpoint path
    direct = evaluate(model_upscaler(model), ["DIV2K"], ["3", "12"], div2k_root, protocol="official", progress=False)
    assert direct.to_json() == a


@pytest.mark.parametrize(
    "argv, needle",
    [
        (["--official-checkpoint", "x.pth"], "needs --config"),
        (["--config", "c.yaml"], "only used with --official-checkpoint"),
        (["--checkpoint", "/no/such/ckpt"], "/no/such/ckpt"),
    ],
)
def test_cli_model_errors(div2k_root, capsys, argv, needle):
    assert main(["eval", "--data-root", str(div2k_root), "--datasets", "DIV2K", "--no-progress"] + argv) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("msit-lite: error:") and needle in err and "\n" not in err


def test_fast_and_reference_paths_score_the_same(tmp_path):
    """The evaluation's model wrapper: MSIT's fast grid query for MSIT, same scores as the reference."""
    torch.manual_seed(0)
    model = build_model(load_config(repo_dir() / "configs" / "golden" / "msit-small-plain.yaml")).eval()
    save_image(tmp_path / "DIV2K_valid_HR" / "0801.png", _photo(36, 45, 9))
    fast, ref = model_upscaler(model, fast=True), model_upscaler(model, fast=False)
    assert fast.route.fast and not ref.route.fast
    a = evaluate(fast, ["DIV2K"], ["2.5"], tmp_path, progress=False)
    b = evaluate(ref, ["DIV2K"], ["2.5"], tmp_path, progress=False)
    for x, y in zip(a.records, b.records):
        assert x.psnr == pytest.approx(y.psnr, abs=1e-4) and x.ssim == pytest.approx(y.ssim, abs=1e-4)