"""Parameter counts: trainable, RIM buffers, deployed (after folding), per module.

Counted the way the official code and ``param_counts.json`` count them:

* ``trainable`` -- parameters handed to the optimiser, **including** FEM's stride ``mix_margin``
  (1 per FEM): the official code makes it an ``nn.Parameter(requires_grad=True)``, although it
  never receives a gradient (``LEM.forward`` reads it with ``int(...item())``). Here it is a buffer; ``learnable`` is the count
  without it (what actually learns).
* ``rim_buffers`` -- the frozen stage-1 weights ``W`` inside RIM/RefConv (not trained, but stored).
* ``deployed`` -- ``trainable`` of :func:`msit_lite.models.rim.fold` (model): every RIM replaced by a
  plain conv holding ``W'`` -- the paper's inference form, equal to the stage-1 network's count.
* ``official_num_params`` -- what the official ``compute_num_params`` logs: all ``nn.Parameter``s,
  which adds EDSR's unused MeanShift constants (24) and the FEM mask (C·9) that this package does
  not keep as parameters.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from torch import nn

from msit_lite.models.encoders import EDSRBaseline
from msit_lite.models.fem import FEM
from msit_lite.models.rim import RIMConv2d, fold

MEANSHIFT_PARAMS = 24  # two 1x1 convs 3 -> 3 with bias, never applied (edsr.py)


@dataclass
class Counts:
    trainable: int = 0
    learnable: int = 0
    rim_buffers: int = 0

    def add(self, other: "Counts") -> None:
        self.trainable += other.trainable
        self.learnable += other.learnable
        self.rim_buffers += other.rim_buffers


@dataclass
class ParamReport:
    trainable: int
    learnable: int
    rim_buffers: int
    deployed: int
    official_num_params: int
    modules: dict[str, dict[str, int]] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _counts(module: nn.Module) -> Counts:
    learnable = sum(p.numel() for p in module.parameters() if p.requires_grad)
    strides = sum(1 for m in module.modules() if isinstance(m, FEM))
    rim = sum(m.weight.numel() for m in module.modules() if isinstance(m, RIMConv2d))
    return Counts(trainable=learnable + strides, learnable=learnable, rim_buffers=rim)


def count_parameters(model: nn.Module) -> ParamReport:
    """Counts for ``model``, with a breakdown by top-level module (and by the attention's parts)."""
    total = _counts(model)
    modules: dict[str, dict[str, int]] = {}
    for name, sub in model.named_children():
        modules[name] = asdict(_counts(sub))
        if name == "attention":
            for sub_name, part in sub.named_children():
                modules[f"{name}.{sub_name}"] = asdict(_counts(part))
    extra = sum(MEANSHIFT_PARAMS for m in model.modules() if isinstance(m, EDSRBaseline))
    extra += sum(m.mask.numel() for m in model.modules() if isinstance(m, FEM))
    deployed = _counts(fold(model)).trainable if total.rim_buffers else total.trainable
    return ParamReport(
        trainable=total.trainable,
        learnable=total.learnable,
        rim_buffers=total.rim_buffers,
        deployed=deployed,
        official_num_params=total.trainable + extra,
        modules=modules,
    )


def format_report(report: ParamReport) -> str:
    """A small human-readable table."""
    lines = [
        f"trainable            {report.trainable:>12,}  (official convention, incl. FEM stride)",
        f"learnable            {report.learnable:>12,}  (receive gradients)",
        f"RIM weight buffers   {report.rim_buffers:>12,}  (frozen stage-1 W)",
        f"deployed (folded)    {report.deployed:>12,}  (RIM -> plain conv with W')",
        f"official #params     {report.official_num_params:>12,}  (+ MeanShift / FEM mask, as the official log)",
        "",
        f"{'module':<24}{'trainable':>12}{'RIM buffers':>14}",
    ]
    for name, c in report.modules.items():
        lines.append(f"{name:<24}{c['trainable']:>12,}{c['rim_buffers']:>14,}")
    return "\n".join(lines)
