"""Issue 15: the bad inputs a hostile user tried, each with its guaranteed outcome.

``CASES`` walks every CLI error path named in the issue: exit code 2, exactly one line on stderr
(``msit-lite: error: ...``) naming the file, key or value, no traceback, and nothing written.
The other tests pin what must *not* happen silently (a replaced input, run or checkpoint) and the
weak spots (header-size check before decoding, outputs not larger than the input, JSON without
``Infinity``, NaN weights and outputs). ``docs/RELIABILITY.md`` lists every case; the last test
keeps the two in step.
"""
from __future__ import annotations

import json
import shutil
import struct
import zlib
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml
from PIL import Image

from msit_lite.checkpoint import load_checkpoint, save_checkpoint
from msit_lite.cli import main
from msit_lite.config import build_model
from msit_lite.errors import MsitError
from msit_lite.paths import repo_dir

from test_train_common import make_data_root, tiny_config

TINY = tiny_config(conv="rim")["model"]


def huge_png_header(path: Path, side: int = 12000) -> Path:
    """A PNG whose header says ``side`` x ``side`` RGB (432 MB decoded) but whose data is tiny."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    ihdr = struct.pack(">IIBBBBB", side, side, 8, 2, 0, 0, 0)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\0" * 64))
                     + chunk(b"IEND", b""))
    return path


@pytest.fixture(scope="module")
def w(tmp_path_factory) -> Path:
    """A work folder: a tiny checkpoint, configs, images, a finished 2-step run, broken files."""
    torch.set_num_threads(1)
    w = tmp_path_factory.mktemp("reliability")
    torch.manual_seed(0)
    save_checkpoint(w / "ckpt", build_model({"model": TINY}), {"model": TINY})
    shutil.copytree(w / "ckpt", w / "other_ckpt")
    nan = build_model({"model": TINY})
    with torch.no_grad():
        next(nan.parameters()).view(-1)[0] = float("nan")
    save_checkpoint(w / "nan_ckpt", nan, {"model": TINY})
    (w / "tiny.yaml").write_text(yaml.safe_dump({"model": TINY}))
    for name, key, value in (("radius", "radius", -1), ("dim0", "dim", 0), ("dimstr", "dim", "thirty-two")):
        spec = {"model": {"name": TINY["name"], "args": {**TINY["args"], key: value}}}
        (w / f"bad_{name}.yaml").write_text(yaml.safe_dump(spec))
    make_data_root(w / "data", n=4)
    (w / "train.yaml").write_text(yaml.safe_dump(tiny_config()))
    (w / "train_val.yaml").write_text(yaml.safe_dump(tiny_config(val={"images": 1, "crop": 16, "scales": [20]})))
    (w / "train_val_images.yaml").write_text(yaml.safe_dump(tiny_config(val={"images": 1, "crop": 144, "scales": [30]})))
    assert main(["train", "--config", str(w / "train.yaml"), "--out", str(w / "run"), "--data-root", str(w / "data"),
                 "--no-progress", "--max-steps", "2"]) == 0
    for name in ("empty_state", "nokeys_state", "no_state"):
        shutil.copytree(w / "run", w / name)
    (w / "empty_state" / "train_state.pt").write_bytes(b"")
    torch.save({"step": 1}, w / "nokeys_state" / "train_state.pt")
    (w / "no_state" / "train_state.pt").unlink()
    Image.fromarray(np.random.default_rng(0).integers(0, 256, (16, 16, 3), dtype=np.uint8)).save(w / "in.png")
    huge_png_header(w / "huge.png")
    (w / "empty.pth").write_bytes(b"")
    return w


def run(capsys, argv: list[object]) -> tuple[int, str, str]:
    rc = main([str(a) for a in argv])
    out = capsys.readouterr()
    return rc, out.out, out.err


UP = ["upscale", "{w}/in.png", "--scale", "2", "--checkpoint", "{w}/ckpt", "--device", "cpu", "--no-progress"]
TRAIN = ["train", "--data-root", "{w}/data", "--no-progress"]

#: (id, the input tried, argv with {w} for the work folder, what the one-line error must contain)
CASES: list[tuple[str, str, list[str], str]] = [
    ("convert-empty-pth", "convert a 0-byte .pth",
     ["convert", "--official", "{w}/empty.pth", "--config", "{w}/tiny.yaml", "-o", "{w}/new_ckpt"],
     "empty.pth is empty (0 bytes)"),
    ("convert-output-is-a-file", "convert -o naming an existing file",
     ["convert", "--official", "{w}/ckpt/model.safetensors", "--config", "{w}/tiny.yaml", "-o", "{w}/in.png"],
     "-o {w}/in.png exists and is not a folder"),
    ("convert-output-holds-a-checkpoint", "convert -o into a folder holding a checkpoint",
     ["convert", "--official", "{w}/ckpt/model.safetensors", "--config", "{w}/tiny.yaml", "-o", "{w}/other_ckpt"],
     "{w}/other_ckpt already holds a checkpoint (model.safetensors); give a new folder, or --force"),
    ("export-output-holds-a-checkpoint", "export -o into a folder holding a checkpoint",
     ["export", "--checkpoint", "{w}/ckpt", "-o", "{w}/other_ckpt"], "already holds a checkpoint"),
    ("resume-empty-state", "train --resume on a 0-byte train_state.pt",
     [*TRAIN, "--out", "{w}/empty_state", "--resume"], "{w}/empty_state/train_state.pt is empty (0 bytes)"),
    ("resume-state-without-keys", "train --resume on a train_state.pt missing its keys",
     [*TRAIN, "--out", "{w}/nokeys_state", "--resume"], "train_state.pt has no key 'model'"),
    ("resume-state-deleted", "train --resume with train_state.pt deleted",
     [*TRAIN, "--out", "{w}/no_state", "--resume"], "but no train_state.pt, so there is nothing to continue"),
    ("resume-nothing", "train --resume into a folder without a run",
     [*TRAIN, "--config", "{w}/train.yaml", "--out", "{w}/nothing_here", "--resume"],
     "there is no run in {w}/nothing_here (no train_state.pt)"),
    ("train-into-a-run", "train without --resume into a folder that holds a run",
     [*TRAIN, "--config", "{w}/train.yaml", "--out", "{w}/run"],
     "--out {w}/run holds a run (train_state.pt, model.safetensors); continue it with --resume, replace it with --force"),
    ("train-resume-and-force", "train --resume --force",
     [*TRAIN, "--out", "{w}/run", "--resume", "--force"], "give one of them"),
    ("train-val-scale-above-crop", "train with val.scales larger than val.crop",
     [*TRAIN, "--config", "{w}/train_val.yaml", "--out", "{w}/val_run"], "train.val.scales' has x20, larger than train.val.crop"),
    ("train-val-scale-above-image", "train with val.scales larger than the (small) validation images",
     [*TRAIN, "--config", "{w}/train_val_images.yaml", "--out", "{w}/val_run2"],
     "train.val.scales has x30, too large for a 24x24 validation crop"),
    ("train-threads-0", "train --threads 0", [*TRAIN, "--config", "{w}/train.yaml", "--out", "{w}/t0", "--threads", "0"],
     "--threads must be >= 1, got 0"),
    ("model-radius-negative", "model arg radius: -1", ["params", "--config", "{w}/bad_radius.yaml"],
     "{w}/bad_radius.yaml: model 'msit': argument 'radius' must be >= 0, got -1"),
    ("model-dim-zero", "model arg dim: 0", ["params", "--config", "{w}/bad_dim0.yaml"],
     "{w}/bad_dim0.yaml: model 'msit': argument 'dim' must be >= 1, got 0"),
    ("model-dim-not-a-number", "model arg dim: thirty-two", ["params", "--config", "{w}/bad_dimstr.yaml"],
     "model 'msit': argument 'dim' must be an integer, got 'thirty-two'"),
    ("upscale-memory-budget-nan", "upscale --memory-budget nan", [*UP, "-o", "{w}/o.png", "--memory-budget", "nan"],
     "--memory-budget nan must be a positive, finite number"),
    ("upscale-memory-budget-inf", "upscale --memory-budget inf", [*UP, "-o", "{w}/o.png", "--memory-budget", "inf"],
     "--memory-budget inf must be a positive, finite number"),
    ("upscale-max-megapixels-nan", "upscale --max-megapixels nan", [*UP, "-o", "{w}/o.png", "--max-megapixels", "nan"],
     "--max-megapixels nan must be a positive, finite number"),
    ("upscale-max-megapixels-inf", "upscale --max-megapixels inf", [*UP, "-o", "{w}/o.png", "--max-megapixels", "inf"],
     "--max-megapixels inf must be a positive, finite number"),
    ("upscale-output-is-the-input", "upscale IN -o IN", [*UP, "-o", "{w}/in.png"],
     "-o {w}/in.png is the input image"),
    ("upscale-output-is-the-input-respelled", "upscale IN -o ./dir/../IN",
     [*UP, "-o", "{w}/ckpt/../in.png"], "is the input image"),
    ("upscale-huge-header", "upscale a 12000x12000 PNG (refused from its header, before decoding)",
     ["upscale", "{w}/huge.png", "--scale", "2", "--checkpoint", "{w}/ckpt", "-o", "{w}/o.png"],
     "of the 12000x12000 (HxW) input gives 24000x24000 = 576.0 megapixels, above the limit of 64"),
    ("upscale-not-larger", "upscale --scale 1.0001 of a 16x16 image",
     ["upscale", "{w}/in.png", "--scale", "1.0001", "--checkpoint", "{w}/ckpt", "-o", "{w}/o.png"],
     "scale 1.0001 of the 16x16 (HxW) input gives 16x16, not larger than the input"),
    ("upscale-nan-weights", "upscale with a checkpoint holding NaN weights",
     ["upscale", "{w}/in.png", "--scale", "2", "--checkpoint", "{w}/nan_ckpt", "-o", "{w}/o.png"],
     "{w}/nan_ckpt/model.safetensors holds NaN or infinite values"),
    ("eval-scale-above-32", "eval --scales 100", ["eval", "--model", "bicubic", "--scales", "100"],
     "scale '100' is above the supported maximum x32"),
    ("eval-scale-33", "eval --scales 33", ["eval", "--model", "bicubic", "--scales", "2", "33"],
     "scale '33' is above the supported maximum x32"),
    ("eval-memory-budget-nan", "eval --memory-budget nan", ["eval", "--model", "bicubic", "--memory-budget", "nan"],
     "--memory-budget nan must be a positive, finite number"),
    ("grade-time-limit-0", "grade --time-limit 0", ["grade", "A1", "--time-limit", "0"],
     "--time-limit 0 must be a positive number of seconds"),
]


@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_cli_error_paths(case, w, capsys):
    _, _, argv, expected = case
    before = sorted(p.relative_to(w).as_posix() for p in w.rglob("*"))
    stamps = {p: p.stat().st_mtime_ns for p in w.rglob("*") if p.is_file()}
    rc, _, err = run(capsys, [a.format(w=w) for a in argv])
    lines = err.strip().splitlines()
    assert rc == 2, err
    assert len(lines) == 1 and lines[0].startswith("msit-lite: error: "), err
    assert "Traceback" not in err and expected.format(w=w) in lines[0], lines[0]
    assert sorted(p.relative_to(w).as_posix() for p in w.rglob("*")) == before  # nothing written ...
    assert {p: p.stat().st_mtime_ns for p in stamps} == stamps  # ... or touched


# ---- nothing of the user's is replaced silently ------------------------------------------------
def test_resume_without_state_leaves_the_model_alone(w, capsys):
    weights = (w / "no_state" / "model.safetensors").read_bytes()
    rc, _, err = run(capsys, [*(a.format(w=w) for a in TRAIN), "--out", w / "no_state", "--resume"])
    assert rc == 2 and "nothing to continue" in err
    assert (w / "no_state" / "model.safetensors").read_bytes() == weights


def test_force_replaces_a_run_and_says_so(tmp_path, capsys):
    make_data_root(tmp_path / "data", n=4)
    (tmp_path / "c.yaml").write_text(yaml.safe_dump(tiny_config(tensorboard=True)))
    base = ["train", "--config", tmp_path / "c.yaml", "--data-root", tmp_path / "data", "--out", tmp_path / "r",
            "--no-progress"]
    assert run(capsys, [*base, "--max-steps", "3"])[0] == 0
    assert (tmp_path / "r" / "tb").is_dir()
    first = (tmp_path / "r" / "model.safetensors").read_bytes()
    rc, out, err = run(capsys, [*base, "--max-steps", "2", "--force"])
    assert rc == 0 and "--force: deleted the earlier run's train_state.pt, model.safetensors" in err
    assert "steps 1-2 done; step 2 saved" in out
    assert torch.load(tmp_path / "r" / "train_state.pt", weights_only=True)["step"] == 2
    assert (tmp_path / "r" / "model.safetensors").read_bytes() != first
    rows = (tmp_path / "r" / "log.csv").read_text().splitlines()
    assert [r.split(",")[0] for r in rows[1:]] == ["1", "2"]  # the new run's log, not the old one's


def test_the_study_pattern_still_works(tmp_path, capsys):
    """scripts/study.py: ``train --out DIR`` for a new folder, ``--resume`` once DIR/train_state.pt exists."""
    make_data_root(tmp_path / "data", n=4)
    (tmp_path / "c.yaml").write_text(yaml.safe_dump(tiny_config()))
    out = tmp_path / "runs" / "a"
    base = ["train", "--config", tmp_path / "c.yaml", "--data-root", tmp_path / "data", "--out", out, "--no-progress"]
    (out).mkdir(parents=True)
    (out / "log.csv").write_text("step,epoch,loss,lr,time,val_psnr\n1,0.1,0.5,0.001,1.0,\n")  # killed before a save
    rc, _, err = run(capsys, [*base, "--max-steps", "3"])
    assert rc == 0 and "replacing log.csv" in err and "stopped before its first checkpoint" in err
    rc, out_text, _ = run(capsys, [*base, *(["--resume"] if (out / "train_state.pt").is_file() else [])])
    assert rc == 0 and "steps 4-8 done" in out_text


def test_max_steps_0_says_it_wrote_nothing(w, tmp_path, capsys):
    out = tmp_path / "zero"
    rc, text, _ = run(capsys, [*(a.format(w=w) for a in TRAIN), "--config", w / "train.yaml", "--out", out,
                               "--max-steps", "0"])
    assert rc == 0 and text.strip() == f"msit-lite train: nothing to train (--max-steps 0; the run is at step 0); " \
                                       f"nothing written to {out}"
    assert not out.exists()


def test_upscale_never_replaces_its_input(w, capsys):
    data = (w / "in.png").read_bytes()
    assert run(capsys, [*(a.format(w=w) for a in UP), "-o", w / "in.png"])[0] == 2
    assert (w / "in.png").read_bytes() == data


# ---- weak spots ---------------------------------------------------------------------------------
def test_the_size_limit_is_checked_before_decoding(w, monkeypatch, capsys):
    import msit_lite.data.io as io

    decoded: list[Path] = []
    real = io._decode
    monkeypatch.setattr(io, "_decode", lambda path: decoded.append(path) or real(path))
    rc, _, err = run(capsys, ["upscale", w / "huge.png", "--scale", "2", "--checkpoint", w / "ckpt", "-o", w / "o.png"])
    assert rc == 2 and "megapixels" in err and decoded == []


def test_an_output_one_pixel_larger_is_accepted(w, tmp_path, capsys):
    """The rule: no axis smaller, at least one larger. 16 x 1.04 = 16.64 rounds to 17."""
    rc, out, err = run(capsys, ["upscale", w / "in.png", "--scale", "1.04", "--checkpoint", w / "ckpt", "--device", "cpu",
                                "--no-progress", "-o", tmp_path / "o.png"])
    assert rc == 0, err
    assert Image.open(tmp_path / "o.png").size == (17, 17)


def test_nan_weights_are_refused_at_load(w):
    with pytest.raises(MsitError, match=r"nan_ckpt/model\.safetensors holds NaN or infinite values in 1 \(encoder"):
        load_checkpoint(w / "nan_ckpt")


def test_a_non_finite_output_is_refused(w):
    from msit_lite.inference import upscale

    model, _ = load_checkpoint(w / "ckpt")
    with torch.no_grad():
        model.decoder.layers[-1].bias.fill_(float("inf"))  # finite checkpoint, non-finite prediction
    image = np.asarray(Image.open(w / "in.png"))
    with pytest.raises(MsitError, match="the model produced NaN or infinite values"):
        upscale(model, image, 2, device="cpu")


def test_eval_json_has_no_infinity(tmp_path, capsys):
    """Bicubic at x1 reproduces its target: PSNR = inf, written as null (JSON has no Infinity)."""
    for kind in ("HR", "LR"):
        folder = tmp_path / "bench" / "Set5" / "X2" / kind
        folder.mkdir(parents=True)
        size = 16 if kind == "HR" else 8
        img = np.random.default_rng(0).integers(0, 256, (size, size, 3), dtype=np.uint8)
        Image.fromarray(img).save(folder / "a.png")
    out = tmp_path / "r.json"
    rc, _, err = run(capsys, ["eval", "--model", "bicubic", "--datasets", "Set5", "--scales", "1", "2",
                              "--data-root", tmp_path / "bench", "--json", out, "--no-progress"])
    assert rc == 0, err
    text = out.read_text()
    assert "Infinity" not in text and "NaN" not in text
    results = json.loads(text, parse_constant=lambda c: pytest.fail(f"non-standard JSON constant {c}"))["results"]
    assert results["Set5"]["1"]["psnr"] is None and results["Set5"]["1"]["ssim"] == pytest.approx(1.0)
    assert isinstance(results["Set5"]["2"]["psnr"], float)


def test_reliability_doc_lists_every_case():
    doc = (repo_dir() / "docs" / "RELIABILITY.md").read_text()
    missing = [case_id for case_id, *_ in CASES if f"test_cli_error_paths[{case_id}]" not in doc]
    assert not missing, f"docs/RELIABILITY.md does not list {missing}"
