"""Two-process DistributedDataParallel training on the CPU (gloo), as torchrun would start it."""
from __future__ import annotations

import os
import socket
import subprocess
import sys
import textwrap
from pathlib import Path

import torch
import yaml

from test_train_common import make_data_root, tiny_config

WORKER = textwrap.dedent(
    """
    import sys, torch, yaml
    torch.set_num_threads(1)
    from msit_lite.training import train
    cfg = yaml.safe_load(open(sys.argv[1]))
    res = train(cfg, sys.argv[2], data_root=sys.argv[3], device="cpu", progress=False)
    rank = int(__import__("os").environ["RANK"])
    torch.save({"state": res.model.state_dict(), "losses": res.losses, "step": res.step}, f"{sys.argv[2]}/rank{rank}.pt")
    """
)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_two_gloo_processes_end_with_identical_weights(tmp_path: Path) -> None:
    root = make_data_root(tmp_path / "data", n=8)
    cfg = tiny_config(scheduler={"name": "cosine", "steps": 3}, save_every=2)
    (tmp_path / "c.yaml").write_text(yaml.safe_dump(cfg))
    out = tmp_path / "run"
    out.mkdir()
    port = _free_port()
    procs = []
    for rank in range(2):
        env = dict(os.environ, RANK=str(rank), LOCAL_RANK=str(rank), WORLD_SIZE="2", MASTER_ADDR="127.0.0.1",
                   MASTER_PORT=str(port), OMP_NUM_THREADS="1")
        procs.append(subprocess.Popen([sys.executable, "-c", WORKER, str(tmp_path / "c.yaml"), str(out), str(root)],
                                      env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True))
    logs = [p.communicate(timeout=120)[0] for p in procs]
    assert [p.returncode for p in procs] == [0, 0], logs
    r0, r1 = (torch.load(out / f"rank{r}.pt", weights_only=True) for r in range(2))
    assert r0["step"] == r1["step"] == 5
    assert r0["state"].keys() == r1["state"].keys()
    for k in r0["state"]:
        assert torch.equal(r0["state"][k], r1["state"][k]), k
    assert r0["losses"] != r1["losses"]  # the two ranks saw different batches
    from msit_lite.checkpoint import read_weights
    from msit_lite.training.state import load_state

    saved = read_weights(out / "model.safetensors")  # rank 0 wrote the checkpoint
    assert all(torch.equal(saved[k], r0["state"][k]) for k in saved)
    assert load_state(out)["sampler"]["world_size"] == 2
    # 8 images, batch 2, 2 processes: 2 steps per epoch on each
    assert load_state(out)["epoch"] == 2.5
