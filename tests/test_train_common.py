"""Shared tiny configs and a synthetic training folder for the training tests (no tests here)."""
from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image


def tiny_model(kind: str = "msit", conv: str = "plain") -> dict[str, Any]:
    enc = {"name": "edsr-baseline", "args": {"n_resblocks": 1, "n_feats": 8}}
    if kind == "liif":
        return {"name": "liif", "args": {"encoder": enc, "decoder": {"name": "mlp", "args": {"hidden_list": [16], "act": "relu"}}}}
    return {
        "name": "msit",
        "args": {
            "encoder": enc, "dim": 16, "heads": 2, "radius": 1, "conv": conv,
            "msno": {"name": "msno", "args": {"branches": 2, "fem": "official", "merge": "sim"}},
            "attention": {"name": "mssa", "args": {"projections": 2, "enc_dims": 8, "posenc_scale": 10}},
            "decoder": {"name": "mlp", "args": {"hidden_list": [16], "act": "gelu"}},
        },
    }


def tiny_config(kind: str = "msit", conv: str = "plain", **train: Any) -> dict[str, Any]:
    t = {
        "batch_size": 2, "patch_size": 8, "sample_q": 32, "scale_min": 1.0, "scale_max": 2.0,
        "warmup": {"steps": 2, "start_lr": 1.0e-4}, "scheduler": {"name": "cosine", "steps": 6},
        "optimizer": {"name": "adam", "lr": 1.0e-3},
        "log_every": 1, "tensorboard": False, "val_every": 0, "save_every": 0, "val": {"images": 0},
    }
    t.update(train)
    return copy.deepcopy({"model": tiny_model(kind, conv), "train": t, "data": {"train": "T91"}})


def make_data_root(root: Path, n: int = 8, size: int = 24, seed: int = 0) -> Path:
    """``root/train/T91`` with ``n`` smooth random RGB images of ``size`` x ``size`` pixels."""
    folder = root / "train" / "T91"
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    for i in range(n):
        small = rng.integers(0, 256, (6, 6, 3), dtype=np.uint8)
        Image.fromarray(small).resize((size, size), Image.BICUBIC).save(folder / f"img{i:02d}.png")
    return root
