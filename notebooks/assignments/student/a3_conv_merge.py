"""A3 -- replace SIM by a plain conv merge (Table IV, "SIM W/O"), registered as ``merge: student-conv``.

Read notebook ``A3_conv_merge.ipynb`` first. Replace every ``raise NotImplementedError(...)``
and check your work with ``msit-lite grade A3`` (or the last cell of the notebook).

Keep the class name and the ``@register`` line: the autograder and a3_conv_merge.yaml use them.
"""
from __future__ import annotations

from torch import Tensor, nn

from msit_lite.models import register


@register("merge", "student-conv")
class StudentConvMerge(nn.Module):
    """Merge the t scales of MSC with ONE plain convolution instead of SIM.

    MSNO builds it as ``StudentConvMerge(channels=C, branches=t)`` and calls it as
    ``merge(x, trace)`` on x of shape [B, C, H, W] (the t scale chunks side by side); the
    output has the same shape. Use one ``kernel_size`` x ``kernel_size`` conv C -> C with bias
    and zero padding ``kernel_size // 2``: ``C*C*k*k + C`` parameters (notebook section 2).
    ``branches`` is not needed by a plain conv (SIM uses it for its grouped conv).
    """

    def __init__(self, channels: int, branches: int, kernel_size: int = 1) -> None:
        super().__init__()
        self.receptive_radius = kernel_size // 2  # how far (pixels) an output looks
        raise NotImplementedError("A3: __init__ -- create the merge conv (notebook section 2)")

    def forward(self, x: Tensor, trace: object = None) -> Tensor:
        # `trace` is for the package's visualisations (msit_lite.models.base.Trace); you may ignore it.
        raise NotImplementedError("A3: forward -- apply the merge conv (notebook section 2)")
