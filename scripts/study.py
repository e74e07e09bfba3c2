"""The controlled lite study: Tables II-V of the paper in miniature, with seeds and controls.

Every run of the study is declared once in :data:`RUNS` (name, config, seed, what it initialises
from, which table it serves). One command trains and evaluates them in priority order on a few
CPU lanes (one thread each), and can be stopped and restarted at any point:

    python scripts/study.py status                 # what is done, running, waiting (and the ETA)
    python scripts/study.py run --lanes 2          # train + evaluate everything not done (resumes)
    python scripts/study.py run --only msit-s1     # just these runs (and nothing that waits on others)
    python scripts/study.py tables                 # results/study/tables.{json,md} from what is done
    python scripts/study.py configs                # print each run's command lines

Resuming: a run's training resumes bit-exactly from its ``train_state.pt`` (``msit-lite train
--resume``); a finished training leaves ``DONE`` in its run folder; a finished evaluation is
``results/study/<run>/eval.json`` (written atomically). So killing ``run`` (or the machine) loses at
most the steps since the last checkpoint and the evaluation in progress.

Code under a long job must not change: start ``run`` from a ``git worktree`` of a fixed commit
(``--runs`` / ``--results`` may point outside it; the lanes run ``python -m msit_lite`` with that
tree first on ``sys.path``), e.g.::

    git worktree add ../study-wt HEAD
    cd ../study-wt && nohup python scripts/study.py run --lanes 2 --runs ../study-runs \\
        --results ../main/results/study > ../study-runs/study.log 2>&1 &

What lands in ``results/study/<run>/``: ``config.yaml`` (the run's resolved config), ``log.csv`` /
``val.csv`` (training curve), ``model.safetensors`` (the weights, ~1.4 MB), ``eval.json`` /
``eval.csv`` (Set5, Set14, B100 at ×2, 3, 4, 6, 8, 12, benchmark protocol: Y channel, shave =
scale, MATLAB LR files where stored and MATLAB-exact ``imresize`` beyond) and ``meta.json`` (seed,
commit, wall-clock times, parameter count). Seed 0 of LIIF-lite and MSIT-lite, the identity-start
stage 2 and its plain control *reuse* the shipped checkpoints (same recipe; trained before the
training-step speed-up, which changes the arithmetic only by float rounding) and are re-evaluated.
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
EVAL_SETS = ["Set5", "Set14", "B100"]
EVAL_SCALES = ["2", "3", "4", "6", "8", "12"]


@dataclass(frozen=True)
class Run:
    name: str
    config: str  # relative to the code tree
    seed: int
    tables: tuple[str, ...]
    init: str | None = None  # another run's name (its trained weights) for a continuation
    reuse: str | None = None  # a shipped checkpoint folder: no training, evaluation only
    note: str = ""


def _table_ii(model: str, config: str, reuse0: str | None) -> list[Run]:
    return [Run(f"{model}-s{s}", config, s, ("II",), reuse=reuse0 if s == 0 else None) for s in (0, 1, 2)]


_II = {
    "liif": _table_ii("liif", "configs/lite-liif.yaml", "checkpoints/lite-liif"),
    "liif-skip": _table_ii("liif-skip", "configs/study/lite-liif-skip.yaml", None),
    "msit": _table_ii("msit", "configs/lite-msit.yaml", "checkpoints/lite-msit"),
}

#: Every run, in the order the lanes take them. Interleaved so that every table has a first version
#: early (seed 1 of the headline gives a first noise floor) and the last seeds fill in after.
RUNS: list[Run] = [
    _II["liif-skip"][0], _II["msit"][1],
    _II["msit"][0], _II["liif"][0],  # the shipped seed-0 models, re-evaluated
    _II["liif"][1], _II["liif-skip"][1],
    # Table III: conventional SA vs MSSA (from scratch); stage 2 with the official fresh-map switch
    # vs the identity start vs plain convs continued (1,000 steps, eta ~ U(1, 8), from msit-s0).
    Run("sa-s0", "configs/study/lite-sa.yaml", 0, ("III",)),
    Run("rim-official-s0", "configs/study/lite-msit-rim-official.yaml", 0, ("III", "V"), init="msit-s0"),
    # Table IV: inside MSNO, each from scratch with MSIT-lite's recipe.
    Run("fem-off-s0", "configs/study/lite-msit-fem-off.yaml", 0, ("IV",)),
    Run("sim-off-s0", "configs/study/lite-msit-sim-off.yaml", 0, ("IV",)),
    Run("msc1-s0", "configs/study/lite-msit-msc1.yaml", 0, ("IV",)),
    Run("rim-identity-s0", "configs/lite-msit-rim.yaml", 0, ("III",), reuse="checkpoints/lite-msit-rim"),
    Run("cont-s0", "configs/lite-msit-cont.yaml", 0, ("III", "V"), reuse="checkpoints/lite-msit-cont"),
    # Table V: the stage-2 training range, U(1, 4) vs U(1, 8) (rim-official-s0), with its plain twin.
    Run("rim-official-u14-s0", "configs/study/lite-msit-rim-official-u14.yaml", 0, ("V",), init="msit-s0"),
    Run("cont-u14-s0", "configs/study/lite-msit-cont-u14.yaml", 0, ("V",), init="msit-s0"),
    # The third seed of the headline.
    _II["msit"][2], _II["liif"][2], _II["liif-skip"][2],
    # The stage-2 comparison once more on another stage-1 model (its own noise), and SA's second seed.
    Run("rim-official-s1", "configs/study/lite-msit-rim-official.yaml", 1, ("III",), init="msit-s1"),
    Run("rim-identity-s1", "configs/lite-msit-rim.yaml", 1, ("III",), init="msit-s1"),
    Run("cont-s1", "configs/lite-msit-cont.yaml", 1, ("III",), init="msit-s1"),
    Run("sa-s1", "configs/study/lite-sa.yaml", 1, ("III",)),
]
BY_NAME = {r.name: r for r in RUNS}


# ----------------------------------------------------------------------------------------------
# Paths and state
# ----------------------------------------------------------------------------------------------
@dataclass
class Where:
    code: Path  # the tree whose msit_lite runs
    runs: Path  # run folders (weights, train_state.pt) and logs
    results: Path  # results/study

    def run_dir(self, run: Run) -> Path:
        return (self.code / run.reuse) if run.reuse else self.runs / run.name

    def out(self, run: Run) -> Path:
        return self.results / run.name


def trained(where: Where, run: Run) -> bool:
    return bool(run.reuse) or (where.run_dir(run) / "DONE").is_file()


def evaluated(where: Where, run: Run) -> bool:
    return (where.out(run) / "eval.json").is_file()


def progress(where: Where, run: Run) -> tuple[int, int | None]:
    """(last logged step, total steps) of a run's training, from its log.csv and config."""
    import csv

    import yaml

    log = where.run_dir(run) / "log.csv"
    step = 0
    if log.is_file():
        rows = [r for r in csv.DictReader(open(log)) if r.get("step")]
        step = int(rows[-1]["step"]) if rows else 0
    total = None
    cfg = yaml.safe_load((where.code / run.config).read_text()).get("train", {})
    w, s = cfg.get("warmup") or {}, cfg.get("scheduler") or {}
    if "steps" in w and "steps" in s:
        total = int(w["steps"]) + int(s["steps"])
    return step, total


def state_of(where: Where, run: Run, running: set[str]) -> str:
    if evaluated(where, run):
        return "done"
    if run.name in running:
        return "training" if not trained(where, run) else "evaluating"
    if trained(where, run):
        return "trained, waiting for evaluation"
    if run.init and not trained(where, BY_NAME[run.init]):
        return f"waiting for {run.init}"
    return "pending"


# ----------------------------------------------------------------------------------------------
# One run: train (resumable), evaluate, collect
# ----------------------------------------------------------------------------------------------
def _env(where: Where) -> dict[str, str]:
    env = dict(os.environ, OMP_NUM_THREADS="1", MKL_NUM_THREADS="1", PYTHONPATH=str(where.code))
    env.setdefault("MSIT_DATA", str((where.code.parent / "shared" / "data").resolve()))
    return env


def _call(cmd: list[str], where: Where, log: Path) -> None:
    """Run one ``msit-lite`` command, output appended to ``log``. The lane itself ignores Ctrl-C /
    SIGINT (sent to the whole group on stop) so that it waits while the trainer saves its state."""
    log.parent.mkdir(parents=True, exist_ok=True)
    with open(log, "a") as f:
        f.write(f"\n$ {' '.join(cmd)}   # {time.strftime('%Y-%m-%d %H:%M:%S')}\n")
        f.flush()
        proc = subprocess.run(cmd, cwd=where.code, env=_env(where), stdout=f, stderr=subprocess.STDOUT,
                              preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    if proc.returncode:
        raise SystemExit(f"{cmd[3]} failed (exit {proc.returncode}); see {log}")


def train_cmd(where: Where, run: Run) -> list[str]:
    out = where.run_dir(run)
    cmd = [sys.executable, "-m", "msit_lite", "train", "--config", run.config, "--out", str(out), "--seed", str(run.seed),
           "--threads", "1", "--device", "cpu", "--no-progress"]
    if (out / "train_state.pt").is_file():
        cmd.append("--resume")
    elif run.init:
        cmd += ["--init", str(where.run_dir(BY_NAME[run.init]))]
    return cmd


def eval_cmd(where: Where, run: Run, json_out: Path, csv_out: Path, datasets: list[str] = EVAL_SETS) -> list[str]:
    return [sys.executable, "-m", "msit_lite", "eval", "--checkpoint", str(where.run_dir(run)),
            "--datasets", *datasets, "--scales", *EVAL_SCALES, "--protocol", "benchmark", "--lr-source", "files",
            "--device", "cpu", "--no-progress", "--json", str(json_out), "--csv", str(csv_out)]


def pid_file(where: Where, run: Run) -> Path:
    return where.runs / "logs" / f"{run.name}.pid"


def is_running(where: Where, run: Run) -> bool:
    try:
        os.kill(int(pid_file(where, run).read_text()), 0)
        return True
    except (OSError, ValueError):
        return False


def run_one(where: Where, run: Run) -> None:
    """One lane: train (or resume) and evaluate one run; SIGINT is left to the trainer (see _call)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    pid_file(where, run).parent.mkdir(parents=True, exist_ok=True)
    pid_file(where, run).write_text(str(os.getpid()))
    try:
        _run_one(where, run)
    finally:
        pid_file(where, run).unlink(missing_ok=True)


def _run_one(where: Where, run: Run) -> None:
    log = where.runs / "logs" / f"{run.name}.log"
    out = where.out(run)
    meta_path = out / "meta.json"
    meta = json.loads(meta_path.read_text()) if meta_path.is_file() else {}
    if not trained(where, run):
        t0 = time.time()
        _call(train_cmd(where, run), where, log)
        (where.run_dir(run) / "DONE").write_text(time.strftime("%Y-%m-%d %H:%M:%S\n"))
        meta["train_wall_s_last_session"] = round(time.time() - t0, 1)
    out.mkdir(parents=True, exist_ok=True)
    for name in ("config.yaml", "log.csv", "val.csv", "model.safetensors"):
        src = where.run_dir(run) / name
        if src.is_file():
            shutil.copy2(src, out / name)
    if not evaluated(where, run):
        evaluate_by_set(where, run, log)
        meta["eval_wall_s"] = round(sum(float((out / "eval-parts" / f"{ds}.wall").read_text()) for ds in EVAL_SETS), 1)
        meta.update(_describe(where, run))
        meta_path.write_text(json.dumps(meta, indent=1) + "\n")
        os.replace(out / "eval-parts" / "merged.json", out / "eval.json")  # last: eval.json marks the run done
        shutil.rmtree(out / "eval-parts")


def evaluate_by_set(where: Where, run: Run, log: Path) -> None:
    """Evaluate one data set at a time into ``eval-parts/`` and merge them into ``eval.csv`` and
    ``eval-parts/merged.json``. Why: a whole evaluation takes up to an hour on a loaded CPU; a stop in
    the middle now loses at most the set being evaluated, and the next ``run`` skips the finished sets."""
    parts = where.out(run) / "eval-parts"
    parts.mkdir(parents=True, exist_ok=True)
    for ds in EVAL_SETS:
        if (parts / f"{ds}.json").is_file():
            continue
        t0 = time.time()
        _call(eval_cmd(where, run, parts / f"{ds}.json.part", parts / f"{ds}.csv.part", [ds]), where, log)
        (parts / f"{ds}.wall").write_text(f"{time.time() - t0:.1f}\n")
        os.replace(parts / f"{ds}.csv.part", parts / f"{ds}.csv")
        os.replace(parts / f"{ds}.json.part", parts / f"{ds}.json")  # last: the set is done
    merged: dict = {}
    lines: list[str] = []
    for ds in EVAL_SETS:
        got = json.loads((parts / f"{ds}.json").read_text())
        if set(got) != {"results"} or set(got["results"]) != {ds}:
            raise SystemExit(f"{parts / (ds + '.json')}: expected the results of {ds} only, got {sorted(got)}")
        merged.update(got["results"])
        rows = (parts / f"{ds}.csv").read_text().splitlines()
        lines += rows if not lines else rows[1:]
    (parts / "eval.csv.part").write_text("\n".join(lines) + "\n")
    os.replace(parts / "eval.csv.part", where.out(run) / "eval.csv")
    (parts / "merged.json").write_text(json.dumps({"results": merged}, indent=2) + "\n")


def _describe(where: Where, run: Run) -> dict:
    commit = subprocess.run(["git", "-C", str(where.code), "rev-parse", "--short", "HEAD"], capture_output=True, text=True)
    dirty = subprocess.run(["git", "-C", str(where.code), "status", "--porcelain", "--", "msit_lite", "configs"],
                           capture_output=True, text=True)
    sys.path.insert(0, str(where.code))
    from msit_lite.checkpoint import load_checkpoint

    model = load_checkpoint(where.run_dir(run), device="cpu")[0]
    return {"run": run.name, "config": run.config, "seed": run.seed, "tables": list(run.tables), "init": run.init,
            "reused_checkpoint": run.reuse, "code_commit": commit.stdout.strip(),
            "code_changed_since_commit": [line[3:] for line in dirty.stdout.splitlines()],
            "trainable_parameters": sum(p.numel() for p in model.parameters() if p.requires_grad),
            "eval": {"sets": EVAL_SETS, "scales": EVAL_SCALES, "protocol": "benchmark", "lr_source": "files"}}


# ----------------------------------------------------------------------------------------------
# The scheduler
# ----------------------------------------------------------------------------------------------
def runnable(where: Where, run: Run, running: set[str]) -> bool:
    if run.name in running or evaluated(where, run):
        return False
    return not run.init or trained(where, BY_NAME[run.init])


def schedule(where: Where, lanes: int, only: list[str] | None) -> None:
    todo = [r for r in RUNS if only is None or r.name in only]
    procs: dict[str, subprocess.Popen] = {}
    stop = False

    def handle(signum: int, _frame: object) -> None:
        nonlocal stop
        stop = True
        for p in procs.values():
            os.killpg(p.pid, signal.SIGINT)  # the trainer saves its state on KeyboardInterrupt

    signal.signal(signal.SIGTERM, handle)
    signal.signal(signal.SIGINT, handle)
    print(f"study: code {where.code}, runs {where.runs}, results {where.results}, {lanes} lane(s)", flush=True)
    while not stop:
        for name, p in list(procs.items()):
            if p.poll() is not None:
                print(f"{time.strftime('%H:%M:%S')} {name}: {'finished' if p.returncode == 0 else f'FAILED ({p.returncode})'}",
                      flush=True)
                del procs[name]
                if p.returncode:
                    todo = [r for r in todo if r.name != name]  # do not retry in this session
        waiting = [r for r in todo if not evaluated(where, r)]
        if not waiting and not procs:
            break
        for run in waiting:
            if len(procs) >= lanes:
                break
            if runnable(where, run, set(procs)):
                cmd = [sys.executable, __file__, "one", run.name, "--code", str(where.code), "--runs", str(where.runs),
                       "--results", str(where.results)]
                procs[run.name] = subprocess.Popen(cmd, env=_env(where), start_new_session=True)
                print(f"{time.strftime('%H:%M:%S')} {run.name}: started", flush=True)
        if not procs and waiting:
            print("study: nothing runnable (a run this waits on failed?)", [r.name for r in waiting], flush=True)
            break
        time.sleep(10)
    for p in procs.values():
        p.wait()


def status(where: Where) -> None:
    running = {run.name for run in RUNS if is_running(where, run)}
    print(f"{'run':22s} {'tables':8s} {'seed':>4s}  state")
    for run in RUNS:
        st = state_of(where, run, running)
        if st == "training":
            step, total = progress(where, run)
            st += f" (step {step}/{total})"
        elif run.reuse and st != "done":
            st += f" (reuses {run.reuse})"
        print(f"{run.name:22s} {','.join(run.tables):8s} {run.seed:>4d}  {st}")
    done = sum(evaluated(where, r) for r in RUNS)
    print(f"{done}/{len(RUNS)} runs done")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    for name in ("status", "run", "one", "tables", "configs"):
        p = sub.add_parser(name)
        p.add_argument("--code", type=Path, default=ROOT, help="the tree whose msit_lite runs (default: this one)")
        p.add_argument("--runs", type=Path, default=ROOT / "runs" / "study")
        p.add_argument("--results", type=Path, default=ROOT / "results" / "study")
        if name == "run":
            p.add_argument("--lanes", type=int, default=2, help="runs side by side, one CPU thread each")
            p.add_argument("--only", nargs="+", choices=list(BY_NAME))
        if name == "one":
            p.add_argument("name", choices=list(BY_NAME))
    args = ap.parse_args()
    where = Where(args.code.resolve(), args.runs.resolve(), args.results.resolve())
    if args.cmd == "status":
        status(where)
    elif args.cmd == "run":
        schedule(where, args.lanes, args.only)
    elif args.cmd == "one":
        run_one(where, BY_NAME[args.name])
    elif args.cmd == "configs":
        for run in RUNS:
            print(f"# {run.name}: tables {', '.join(run.tables)}")
            if not run.reuse:
                print(" ".join(train_cmd(where, run)))
            print(" ".join(eval_cmd(where, run, where.out(run) / "eval.json", where.out(run) / "eval.csv")))
    elif args.cmd == "tables":
        from study_tables import write_tables  # scripts/study_tables.py

        write_tables(where.results)


if __name__ == "__main__":
    main()
