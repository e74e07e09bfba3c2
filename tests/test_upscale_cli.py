"""``msit-lite upscale``: success writes the image; every bad input gives exit 2, one stderr line, no file.

Runs the CLI in-process (``msit_lite.cli.main``) on a tiny MSIT checkpoint made with
``save_checkpoint`` in ``tmp_path``.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
import yaml
from PIL import Image

from msit_lite.cli import main
from msit_lite.cli.upscale_cmd import default_checkpoint, parse_scale, parse_size
from msit_lite.errors import MsitError

TINY = {
    "model": {
        "name": "msit",
        "args": {
            "encoder": {"name": "edsr-baseline", "args": {"n_resblocks": 1, "n_feats": 8}},
            "dim": 16, "heads": 2, "radius": 1, "conv": "rim",
            "msno": {"name": "msno", "args": {"branches": 2}},
            "attention": {"name": "mssa", "args": {"projections": 2}},
            "decoder": {"name": "mlp", "args": {"hidden_list": [16]}},
        },
    }
}


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory) -> Path:
    from msit_lite.checkpoint import save_checkpoint
    from msit_lite.config import build_model

    torch.manual_seed(0)
    model = build_model(TINY)
    return save_checkpoint(tmp_path_factory.mktemp("ckpt") / "tiny", model, TINY)


@pytest.fixture
def image(tmp_path) -> Path:
    path = tmp_path / "in.png"
    Image.fromarray(np.random.default_rng(0).integers(0, 256, (9, 11, 3), dtype=np.uint8)).save(path)
    return path


def _run(capsys, *argv: object) -> tuple[int, str, str]:
    rc = main([str(a) for a in argv])
    captured = capsys.readouterr()
    return rc, captured.out, captured.err


def _size(path: Path) -> tuple[int, int]:
    with Image.open(path) as img:
        return img.size  # (W, H)


@pytest.mark.parametrize("scale, size_arg, expected_wh",
                         [("2", None, (22, 18)), ("2.5", None, (28, 22)), ("2x3", None, (33, 18)),
                          (None, "30x20", (30, 20))])
def test_upscale_writes_the_image(capsys, tmp_path, image, checkpoint, scale, size_arg, expected_wh):
    out = tmp_path / "sub" / "out.png"
    what = ["--scale", scale] if scale else ["--size", size_arg]
    rc, stdout, _ = _run(capsys, "upscale", image, *what, "-o", out, "--checkpoint", checkpoint,
                         "--device", "cpu", "--no-progress")
    assert rc == 0 and "wrote" in stdout
    assert _size(out) == expected_wh
    assert sorted(p.name for p in out.parent.iterdir()) == ["out.png"]  # no temp file left


def test_tiled_cli_run_matches_untiled(capsys, tmp_path, image, checkpoint):
    outs = []
    for tile in ("0", "4"):
        out = tmp_path / f"t{tile}.png"
        rc, _, _ = _run(capsys, "upscale", image, "--scale", "2", "-o", out, "--checkpoint", checkpoint,
                        "--tile", tile, "--no-progress", "--device", "cpu")
        assert rc == 0
        outs.append(np.asarray(Image.open(out)).astype(int))
    assert np.abs(outs[0] - outs[1]).max() <= 1


def _bad_cases(tmp_path: Path, image: Path) -> dict[str, list[object]]:
    not_image = tmp_path / "notes.png"
    not_image.write_text("this is not a picture")
    truncated = tmp_path / "trunc.png"
    truncated.write_bytes(image.read_bytes()[:60])
    cases: dict[str, list[object]] = {
        "missing input": [tmp_path / "nope.png", "--scale", "2"],
        "not an image": [not_image, "--scale", "2"],
        "truncated image": [truncated, "--scale", "2"],
        "scale 1": [image, "--scale", "1"],
        "scale below 1": [image, "--scale", "0.5"],
        "scale 0": [image, "--scale", "0"],
        "scale too large": [image, "--scale", "40"],
        "scale not a number": [image, "--scale", "big"],
        "size smaller": [image, "--size", "5x5"],
        "size malformed": [image, "--size", "20"],
        "scale and size": [image, "--scale", "2", "--size", "30x20"],
        "neither scale nor size": [image],
        "output too large": [image, "--scale", "30", "--max-megapixels", "0.01"],
        "missing checkpoint": [image, "--scale", "2", "--checkpoint", tmp_path / "no-such-ckpt"],
    }
    return cases


def test_each_bad_input_exits_2_with_one_line_and_no_file(capsys, tmp_path, image):
    for name, argv in _bad_cases(tmp_path, image).items():
        out = tmp_path / "out" / f"{name.replace(' ', '_')}.png"
        rc, _, err = _run(capsys, "upscale", *argv, "-o", out, "--device", "cpu", "--no-progress")
        assert rc == 2, name
        lines = err.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("msit-lite: error: "), (name, err)
        assert not out.exists(), name
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())


def test_bad_output_suffix(capsys, tmp_path, image, checkpoint):
    out = tmp_path / "out.xyz"
    rc, _, err = _run(capsys, "upscale", image, "--scale", "2", "-o", out, "--checkpoint", checkpoint)
    assert rc == 2 and "suffix" in err and len(err.strip().splitlines()) == 1
    assert not out.exists()


def test_checkpoint_that_does_not_match_its_config(capsys, tmp_path, image, checkpoint):
    broken = tmp_path / "broken"
    broken.mkdir()
    for f in checkpoint.iterdir():
        (broken / f.name).write_bytes(f.read_bytes())
    config = yaml.safe_load((broken / "config.yaml").read_text())
    config["model"]["args"]["dim"] = 24  # weights are for dim 16
    (broken / "config.yaml").write_text(yaml.safe_dump(config))
    out = tmp_path / "out.png"
    rc, _, err = _run(capsys, "upscale", image, "--scale", "2", "-o", out, "--checkpoint", broken, "--no-progress")
    assert rc == 2 and len(err.strip().splitlines()) == 1 and str(broken) in err
    assert not out.exists()


def test_missing_default_checkpoint_message(capsys, tmp_path, image, monkeypatch):
    import msit_lite.cli.upscale_cmd as cmd

    monkeypatch.setattr(cmd, "default_checkpoint", lambda: tmp_path / "checkpoints" / "lite-msit")
    rc, _, err = _run(capsys, "upscale", image, "--scale", "2", "-o", tmp_path / "o.png")
    assert rc == 2 and "--checkpoint" in err and "lite-msit" in err
    assert default_checkpoint().parts[-2:] == ("checkpoints", "lite-msit")


def test_parse_scale_and_size():
    assert parse_scale("3.5") == 3.5
    assert parse_scale("2x3") == (2.0, 3.0)
    assert parse_scale(" 1.5X2 ") == (1.5, 2.0)
    assert parse_size("1920x1080") == (1080, 1920)  # WIDTHxHEIGHT -> (H, W)
    for bad in ("x", "2x", "abc"):
        with pytest.raises(MsitError):
            parse_scale(bad)
    for bad in ("20", "0x5", "2.5x3", "-3x4"):
        with pytest.raises(MsitError):
            parse_size(bad)


def test_help_has_examples(capsys):
    with pytest.raises(SystemExit) as e:
        main(["upscale", "--help"])
    assert e.value.code == 0
    text = capsys.readouterr().out
    assert "--scale 2x3" in text and "--size 1920x1080" in text and "WIDTH x HEIGHT" in text
