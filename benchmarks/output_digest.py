"""SHA-256 of what the user sees: CLI images and eval JSON, and the evaluate/viz/training outputs.

Why: a refactor of the inference code must not change a single output bit. This script runs
``msit-lite upscale`` (in-process, through :func:`msit_lite.cli.main`) on real images -- crops of
scikit-image photos at odd sizes, a gray image, a Set5 LR image -- at ×2, ×3.5, ×8, ``--size`` and
an anisotropic ``2x3`` with each shipped checkpoint (plus the reference path, forced tiling and
tiny query chunks), ``msit-lite eval`` on Set5 ×2/×4, and the Python entry points the notebooks
use (``load_upscaler``, ``evaluate.model_upscaler``, ``viz`` error maps, stepwise SR, LAM,
attention maps, training validation, ``predict`` both paths). Each output's bytes are hashed.

    python benchmarks/output_digest.py --write before.json   # record
    python benchmarks/output_digest.py --check before.json   # compare: exit 1 on any difference

The hashes are specific to the machine and the torch build (oneDNN kernels differ); compare runs
made on the same machine. Needs scikit-image and the Set5 images of ``$MSIT_DATA/benchmark``.
"""
from __future__ import annotations

import argparse
import contextlib
import hashlib
import io
import json
import sys
import tempfile
from pathlib import Path
from typing import Any, Callable

import numpy as np
import torch

REPO = Path(__file__).resolve().parent.parent
CHECKPOINTS = ("lite-msit", "lite-liif", "lite-msit-rim")
SCALES = (["--scale", "2"], ["--scale", "3.5"], ["--scale", "8"], ["--size", "100x77"], ["--scale", "2x3"])


def checkpoint(name: str) -> Path:
    """A shipped checkpoint folder, wherever this version of the package keeps it."""
    try:
        from msit_lite.assets import checkpoint_dir  # the package-data location (after issue 14)

        return checkpoint_dir(name)
    except ImportError:
        return REPO / "checkpoints" / name


def digest(data: bytes | np.ndarray | torch.Tensor) -> str:
    if isinstance(data, torch.Tensor):
        data = data.detach().cpu().contiguous().numpy()
    if isinstance(data, np.ndarray):
        data = np.ascontiguousarray(data).tobytes()
    return hashlib.sha256(data).hexdigest()


def images(folder: Path) -> dict[str, Path]:
    """Input PNGs: odd-size crops of scikit-image photos (RGB and gray) and a Set5 LR image."""
    from skimage import data as skdata

    from msit_lite.data.io import save_image
    from msit_lite.paths import data_root

    out = {
        "astronaut61x47": skdata.astronaut()[100:161, 150:197],
        "coffee40x53": skdata.coffee()[200:240, 300:353],
        "camera-gray50x37": skdata.camera()[200:250, 220:257][..., None],
    }
    paths = {}
    for name, img in out.items():
        paths[name] = save_image(folder / f"{name}.png", np.ascontiguousarray(img))
    set5 = data_root() / "benchmark" / "Set5" / "X4" / "LR" / "img_003.png"
    paths["set5-img003-x4lr"] = set5
    return paths


def run_cli(argv: list[str]) -> None:
    from msit_lite.cli import main

    with contextlib.redirect_stdout(io.StringIO()):
        code = main(argv)
    if code != 0:
        raise SystemExit(f"msit-lite {' '.join(argv)} exited with {code}")


def cli_upscale(tmp: Path, record: Callable[[str, Any], None]) -> None:
    inputs = images(tmp)
    for ckpt in CHECKPOINTS:
        for img_name, path in inputs.items():
            for scale in SCALES:
                out = tmp / "out.png"
                run_cli(["upscale", str(path), *scale, "-o", str(out), "--checkpoint", str(checkpoint(ckpt)),
                         "--device", "cpu", "--no-progress"])
                record(f"upscale/{ckpt}/{img_name}/{''.join(scale)}", out.read_bytes())
        astro = inputs["astronaut61x47"]
        extra = {"reference-path": ["--scale", "3.5", "--reference-path"],
                 "tile16-budget16": ["--scale", "3", "--tile", "16", "--memory-budget", "16"],
                 "budget1": ["--scale", "2.5", "--memory-budget", "1"],
                 "reference-tile16": ["--scale", "2x3", "--tile", "16", "--reference-path", "--memory-budget", "8"]}
        for name, args in extra.items():
            out = tmp / "out.png"
            run_cli(["upscale", str(astro), *args, "-o", str(out), "--checkpoint", str(checkpoint(ckpt)),
                     "--device", "cpu", "--no-progress"])
            record(f"upscale/{ckpt}/astronaut61x47/{name}", out.read_bytes())


def cli_eval(tmp: Path, record: Callable[[str, Any], None]) -> None:
    from msit_lite.paths import data_root

    root = str(data_root() / "benchmark")
    for who in [["--model", "bicubic"], *(["--checkpoint", str(checkpoint(c))] for c in CHECKPOINTS)]:
        js, cs = tmp / "eval.json", tmp / "eval.csv"
        run_cli(["eval", *who, "--data-root", root, "--datasets", "Set5", "--scales", "2", "4", "--json", str(js),
                 "--csv", str(cs), "--no-progress", "--device", "cpu"])
        name = who[1] if who[0] == "--model" else Path(who[1]).name
        record(f"eval/{name}/json", js.read_bytes())
        record(f"eval/{name}/csv", cs.read_bytes())
    js = tmp / "eval.json"
    run_cli(["eval", "--checkpoint", str(checkpoint("lite-msit")), "--data-root", root, "--datasets", "Set5",
             "--scales", "3", "--json", str(js), "--no-progress", "--device", "cpu", "--reference-path",
             "--protocol", "official"])
    record("eval/lite-msit/reference-official-x3/json", js.read_bytes())


def python_api(record: Callable[[str, Any], None]) -> None:
    from skimage import data as skdata

    from msit_lite import viz
    from msit_lite.checkpoint import load_checkpoint
    from msit_lite.data.io import read_image, to_tensor
    from msit_lite.inference import load_upscaler, predict, upscale
    try:
        from msit_lite.inference import model_upscaler
    except ImportError:  # before issue 14 it lived in evaluate
        from msit_lite.evaluate import model_upscaler
    from msit_lite.paths import data_root

    lr = read_image(data_root() / "benchmark" / "Set5" / "X4" / "LR" / "img_002.png")
    msit, _ = load_checkpoint(checkpoint("lite-msit"))
    liif, _ = load_checkpoint(checkpoint("lite-liif"))
    rim, _ = load_checkpoint(checkpoint("lite-msit-rim"))
    for name, model in (("lite-msit", msit), ("lite-liif", liif), ("lite-msit-rim", rim)):
        for fast in (True, False):
            f = load_upscaler(checkpoint(name), "cpu", fast=fast)
            record(f"load_upscaler/{name}/fast={fast}", f(lr, (lr.shape[0] * 3, lr.shape[1] * 3)))
            g = model_upscaler(model, device="cpu", fast=fast)
            record(f"evaluate.model_upscaler/{name}/fast={fast}", g(lr, (lr.shape[0] * 2 + 1, lr.shape[1] * 4)))
            x = to_tensor(lr).unsqueeze(0).sub(0.5).div(0.5)
            record(f"predict/{name}/fast={fast}", predict(model, x, (77, 91), fast=fast))
            record(f"predict-chunk100/{name}/fast={fast}", predict(model, x, (50, 60), fast=fast, chunk=100))
        record(f"upscale-tensor/{name}", upscale(model, to_tensor(lr), scale=(1.5, 2.25)))

    hr = np.ascontiguousarray(skdata.chelsea()[60:156, 120:216])
    maps = viz.error_maps_across_scales(viz.model_upscaler(msit), hr, (2, 3.5, 4))
    for s, m in maps.items():
        record(f"viz.error_maps/lite-msit/x{s:g}", m)
    for s, out in viz.stepwise_sr(viz.model_upscaler(liif), lr[:24, :24], (1.7, 2.6)).items():
        record(f"viz.stepwise_sr/lite-liif/x{s:g}", out)
    face = lr[:32, :32]
    # LAM back-propagates; with two threads LIIF's gradient sums in a varying order (two runs of the
    # same tree differ by ~6e-8), so LAM is hashed on one thread, where it is reproducible.
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    for name, model in (("lite-msit", msit), ("lite-liif", liif)):
        res = viz.lam(model, face, viz.Window(top=40, left=40, size=16), scale=4, steps=8)
        record(f"viz.lam/{name}", res.attribution)
    torch.set_num_threads(threads)
    view = viz.attention_at(msit, face, [(10, 11), (50, 3)], scale=3)
    record("viz.attention_at/lite-msit", view.probs)

    from msit_lite.training.config import parse_data_config
    from msit_lite.training import validate

    dcfg = parse_data_config(None, "digest")
    hrs = [to_tensor(hr)]
    for name, model in (("lite-msit", msit), ("lite-liif", liif)):
        val = validate(model, hrs, (2.0, 3.5), dcfg, torch.device("cpu"), chunk=1000)
        record(f"training.validate/{name}", json.dumps({str(k): v for k, v in val.items()}).encode())


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    group = ap.add_mutually_exclusive_group(required=True)
    group.add_argument("--write", type=Path, metavar="JSON")
    group.add_argument("--check", type=Path, metavar="JSON")
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    import msit_lite

    print(f"msit_lite from {Path(msit_lite.__file__).parent}", file=sys.stderr)
    hashes: dict[str, str] = {}

    def record(key: str, value: Any) -> None:
        hashes[key] = digest(value)

    with tempfile.TemporaryDirectory() as tmp:
        cli_upscale(Path(tmp), record)
        cli_eval(Path(tmp), record)
    python_api(record)
    if args.write:
        args.write.write_text(json.dumps({"torch": torch.__version__, "hashes": hashes}, indent=1) + "\n")
        print(f"wrote {len(hashes)} hashes to {args.write}")
        return 0
    want = json.loads(args.check.read_text())["hashes"]
    differ = sorted(k for k in want if hashes.get(k) != want[k])
    new = sorted(set(hashes) - set(want))
    print(f"{len(want) - len(differ)}/{len(want)} outputs identical" + (f"; {len(new)} not in the reference" if new else ""))
    for key in differ:
        print(f"  DIFFERENT: {key}")
    return 1 if differ else 0


if __name__ == "__main__":
    sys.exit(main())
