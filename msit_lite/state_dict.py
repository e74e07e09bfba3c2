"""How two state dicts differ: missing, unexpected and mis-shaped keys, told in one line.

Loading a checkpoint, loading stage-1 weights into a RIM model and ``--init`` all explain a
mismatch the same way, through :func:`diff`. The module is a leaf (it imports nothing of the
package), so that a model file can word such a message without importing the checkpoint code --
which imports the models and would close a cycle.
"""
from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass

from torch import Tensor


@dataclass(frozen=True)
class KeyDiff:
    """Keys of the model missing from the weights, keys of the weights the model lacks, shape mismatches.

    ``wrong_shape`` entries read ``"key (weights shape) vs (model shape)"``.
    """

    missing: tuple[str, ...] = ()
    unexpected: tuple[str, ...] = ()
    wrong_shape: tuple[str, ...] = ()

    def __bool__(self) -> bool:
        return bool(self.missing or self.unexpected or self.wrong_shape)

    def message(self) -> str:
        """One line: counts and the first few keys of each kind of mismatch."""
        parts = []
        if self.missing:
            parts.append(f"missing keys {few_keys(self.missing)}")
        if self.unexpected:
            parts.append(f"unexpected keys {few_keys(self.unexpected)}")
        if self.wrong_shape:
            parts.append(f"shape mismatches {few_keys(self.wrong_shape)}")
        return "; ".join(parts)


def diff(own: Mapping[str, Tensor], weights: Mapping[str, Tensor], *, may_miss: Collection[str] = ()) -> KeyDiff:
    """What keeps ``weights`` from loading into a model whose state dict is ``own``.

    ``may_miss``: keys of ``own`` that the weights need not hold (e.g. RIM maps that keep their
    fresh initialisation when stage-1 weights are loaded).
    """
    return KeyDiff(
        missing=tuple(k for k in own if k not in weights and k not in may_miss),
        unexpected=tuple(k for k in weights if k not in own),
        wrong_shape=tuple(f"{k} {tuple(weights[k].shape)} vs {tuple(own[k].shape)}"
                          for k in weights if k in own and tuple(weights[k].shape) != tuple(own[k].shape)),
    )


def few_keys(keys: Sequence[str], n: int = 5) -> str:
    """``"7 (a, b, c, d, e, ...)"``: how many keys, and the first ``n``."""
    head = ", ".join(keys[:n])
    return f"{len(keys)} ({head}{', ...' if len(keys) > n else ''})"


__all__ = ["KeyDiff", "diff", "few_keys"]
