"""What a run writes as it goes: ``log.csv``, ``val.csv``, TensorBoard, and one line per log row.

Rank 0 alone writes. A resumed run keeps the rows up to the step it resumes from and drops the
rest (they belong to steps that will run again), so the logs of a resumed run read like those of
an uninterrupted one.
"""
from __future__ import annotations

import csv
import math
from pathlib import Path

from msit_lite.utils import atomic_path

LOG_CSV = "log.csv"
VAL_CSV = "val.csv"
CSV_FIELDS = ["step", "epoch", "loss", "lr", "time", "val_psnr"]


class Logs:
    """CSV (always), TensorBoard (if importable) and the tqdm bar, on rank 0 only."""

    def __init__(self, out: Path, start_step: int, enabled: bool, tensorboard: bool = True) -> None:
        self.enabled = enabled
        self.log_path, self.val_path = out / LOG_CSV, out / VAL_CSV
        self.tb = None
        if not enabled:
            return
        for path, fields in ((self.log_path, CSV_FIELDS), (self.val_path, ["step", "scale", "psnr"])):
            truncate_csv(path, fields, start_step)
        if not tensorboard:
            return
        try:
            from torch.utils.tensorboard import SummaryWriter

            self.tb = SummaryWriter(str(out / "tb"), purge_step=start_step + 1)
        except Exception:  # tensorboard not installed: CSV only
            self.tb = None

    def row(self, step: int, epoch: float, loss: float, lr: float, elapsed: float, val: dict[float, float] | None) -> None:
        if not self.enabled:
            return
        mean = sum(val.values()) / len(val) if val else None
        with open(self.log_path, "a", newline="") as f:
            csv.writer(f).writerow([step, f"{epoch:.4f}", f"{loss:.6f}", f"{lr:.6e}", f"{elapsed:.1f}",
                                    "" if mean is None else f"{mean:.4f}"])
        if val:
            with open(self.val_path, "a", newline="") as f:
                for s, v in val.items():
                    csv.writer(f).writerow([step, s, f"{v:.4f}"])
        if self.tb is not None:
            if not math.isnan(loss):
                self.tb.add_scalar("train/loss", loss, step)
            self.tb.add_scalar("train/lr", lr, step)
            for s, v in (val or {}).items():
                self.tb.add_scalar(f"val/psnr_x{s:g}", v, step)
            self.tb.flush()

    def close(self) -> None:
        if self.tb is not None:
            self.tb.close()


def truncate_csv(path: Path, fields: list[str], start_step: int) -> None:
    """Start a CSV, or keep only the rows up to ``start_step`` of an earlier (resumed) run."""
    rows: list[list[str]] = []
    if start_step > 0 and path.is_file():
        with open(path, newline="") as f:
            rows = [r for r in list(csv.reader(f))[1:] if r and int(r[0]) <= start_step]
    with atomic_path(path) as tmp:
        with open(tmp, "w", newline="") as f:
            w = csv.writer(f)
            w.writerow(fields)
            w.writerows(rows)


__all__ = ["CSV_FIELDS", "LOG_CSV", "Logs", "VAL_CSV", "truncate_csv"]
