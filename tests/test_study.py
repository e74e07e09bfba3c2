"""The lite study's run list (scripts/study.py) and its tables (scripts/study_tables.py)."""
from __future__ import annotations

import importlib.util
import json
import statistics
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def _load(name: str):
    spec = importlib.util.spec_from_file_location(name, ROOT / "scripts" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


study = _load("study")
tables = _load("study_tables")


def test_run_list_is_consistent() -> None:
    names = [r.name for r in study.RUNS]
    assert len(names) == len(set(names))
    for run in study.RUNS:
        assert (ROOT / run.config).is_file(), run.config
        assert run.name.endswith(f"-s{run.seed}")
        if run.init:
            assert run.init in study.BY_NAME and names.index(run.init) < names.index(run.name)
        if run.reuse:
            assert (ROOT / run.reuse / "model.safetensors").is_file(), run.reuse
    for model in ("liif", "liif-skip", "msit"):  # the headline: three seeds each
        assert {f"{model}-s{s}" for s in (0, 1, 2)} <= set(names)


def test_ablation_rows_have_the_headline_budget_and_size() -> None:
    """Same steps, queries and schedule as MSIT-lite; parameters within ±5 % where only a module differs."""
    import yaml

    from msit_lite.config import build_model, load_config

    def budget(path: str) -> tuple:
        t = yaml.safe_load((ROOT / path).read_text())["train"]
        return t["batch_size"], t["sample_q"], t["patch_size"], t["warmup"], t["scheduler"], t["optimizer"]

    def params(path: str) -> int:
        return sum(p.numel() for p in build_model(load_config(ROOT / path)).parameters() if p.requires_grad)

    head = "configs/lite-msit.yaml"
    for path in ("configs/study/lite-sa.yaml", "configs/study/lite-msit-fem-off.yaml",
                 "configs/study/lite-msit-sim-off.yaml", "configs/study/lite-msit-msc1.yaml",
                 "configs/study/lite-liif-skip.yaml", "configs/lite-liif.yaml"):
        assert budget(path) == budget(head), path
        assert abs(params(path) / params(head) - 1) <= 0.05, path
    assert params("configs/study/lite-liif-skip.yaml") == params("configs/lite-liif.yaml")  # the skip is free
    stage2 = [budget(p) for p in ("configs/lite-msit-rim.yaml", "configs/lite-msit-cont.yaml",
                                  "configs/study/lite-msit-rim-official.yaml", "configs/study/lite-msit-rim-official-u14.yaml",
                                  "configs/study/lite-msit-cont-u14.yaml")]
    assert all(b == stage2[0] for b in stage2)


def test_status_of_an_empty_study(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    study.status(study.Where(ROOT, tmp_path / "runs", tmp_path / "results"))
    out = capsys.readouterr().out
    assert "0/" in out and "waiting for msit-s1" in out and "reuses checkpoints/lite-msit" in out


def _fake(results: Path, run: str, psnr: dict[str, dict[str, float]]) -> None:
    (results / run).mkdir(parents=True)
    data = {"results": {ds: {sc: {"psnr": v, "ssim": 0.5} for sc, v in by.items()} for ds, by in psnr.items()}}
    (results / run / "eval.json").write_text(json.dumps(data))


def test_tables_mean_std_paired_differences_and_noise_floor(tmp_path: Path) -> None:
    msit = [30.0, 30.2, 30.1]
    skip = [29.9, 29.95, 30.05]  # MSIT − skip per seed: +0.10, +0.25, +0.05 -> all positive
    liif = [29.0, 29.1, 29.05]
    for s in range(3):
        _fake(tmp_path, f"msit-s{s}", {"Set5": {"4": msit[s]}})
        _fake(tmp_path, f"liif-skip-s{s}", {"Set5": {"4": skip[s]}})
        _fake(tmp_path, f"liif-s{s}", {"Set5": {"4": liif[s]}})
    _fake(tmp_path, "fem-off-s0", {"Set5": {"4": 30.05}})  # Δ +0.05 vs msit-s0: within 2σ
    _fake(tmp_path, "sim-off-s0", {"Set5": {"4": 29.5}})  # Δ −0.5: beyond 2σ
    summary = tables.write_tables(tmp_path)
    sigma = statistics.stdev(msit)
    assert summary["noise_floor"]["Set5"]["4"] == pytest.approx(sigma)
    row = summary["tables"]["II"]["rows"]["msit"]["Set5"]["4"]
    assert row["mean"] == pytest.approx(30.1) and row["std"] == pytest.approx(sigma) and row["n"] == 3
    pair = summary["tables"]["II"]["pairs"]["msit − liif-skip"]["Set5"]["4"]
    assert pair["values"] == pytest.approx([0.10, 0.25, 0.05])
    assert pair["exceeds_noise_floor"] is True  # same sign on every seed and mean 0.133 > σ 0.1
    near = summary["tables"]["II"]["pairs"]["liif-skip − liif"]["Set5"]["4"]
    assert near["exceeds_noise_floor"] is True
    deltas = summary["tables"]["IV"]["deltas"]
    assert deltas["fem-off"]["Set5"]["4"]["mean"] == pytest.approx(0.05)
    assert deltas["fem-off"]["Set5"]["4"]["exceeds_noise_floor"] is False  # |0.05| < 2σ = 0.2
    assert deltas["sim-off"]["Set5"]["4"]["exceeds_noise_floor"] is True
    assert "sa" in summary["tables"]["III"]["missing"]
    md = (tmp_path / "tables.md").read_text()
    assert "| MSIT-lite (3 seeds) | – | – | 30.10 ± 0.10 |" in md
    assert "+0.13 ± 0.10 *" in md


def test_evaluation_goes_one_set_at_a_time_and_a_stop_loses_only_the_running_set(tmp_path: Path,
                                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    where = study.Where(ROOT, tmp_path / "runs", tmp_path / "results")
    run = study.BY_NAME["msit-s1"]
    calls: list[list[str]] = []

    def fake_call(cmd: list[str], _where: object, _log: Path) -> None:
        ds = cmd[cmd.index("--datasets") + 1]
        calls.append(cmd)
        if ds == "Set14" and len(calls) == 2:
            raise SystemExit("stopped")           # a stop in the middle of Set14
        json_out, csv_out = Path(cmd[cmd.index("--json") + 1]), Path(cmd[cmd.index("--csv") + 1])
        json_out.write_text(json.dumps({"results": {ds: {"2": {"psnr": len(ds), "ssim": 0.5}}}}))
        csv_out.write_text(f"dataset,scale,image,psnr\n{ds},2,img_001,{len(ds)}\n")

    monkeypatch.setattr(study, "_call", fake_call)
    where.out(run).mkdir(parents=True)
    with pytest.raises(SystemExit):
        study.evaluate_by_set(where, run, tmp_path / "log")
    assert not (where.out(run) / "eval.csv").exists()
    study.evaluate_by_set(where, run, tmp_path / "log")  # resumes: Set5 is not evaluated again
    assert [c[c.index("--datasets") + 1:c.index("--scales")] for c in calls] == [["Set5"], ["Set14"], ["Set14"], ["B100"]]
    merged = json.loads((where.out(run) / "eval-parts" / "merged.json").read_text())["results"]
    assert {ds: v["2"]["psnr"] for ds, v in merged.items()} == {"Set5": 4, "Set14": 5, "B100": 4}
    lines = (where.out(run) / "eval.csv").read_text().splitlines()
    assert lines == ["dataset,scale,image,psnr", "Set5,2,img_001,4", "Set14,2,img_001,5", "B100,2,img_001,4"]


def test_the_readme_shows_the_table_ii_that_tables_json_holds() -> None:
    summary = json.loads((ROOT / "results" / "study" / "tables.json").read_text())
    readme = (ROOT / "README.md").read_text()
    start, end = readme.index(tables.README_BEGIN), readme.index(tables.README_END) + len(tables.README_END)
    assert readme[start:end] == tables.readme_block(summary), \
        "README's Table II is stale: python scripts/study_tables.py --readme README.md"
