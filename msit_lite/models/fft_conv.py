"""Large convolutions by FFT: how :meth:`MSIT.deploy` speeds up the encoder on the CPU.

MSNO's multi-scale convolutions go up to 33×33 (16 branches). Computed directly on the CPU a
33×33 kernel with 16 channels is ~10× slower than a 19×19 one, while the cost of an FFT hardly
depends on the kernel size: from :data:`FFT_MIN_KERNEL` on, the FFT wins (half the encoder time of
the full model at 128×128). The result equals the direct convolution up to float rounding (~1e-6
relative), so inference uses it and training does not need to.
"""
from __future__ import annotations

import torch
from torch import Tensor, nn

#: Kernels at least this large are computed by FFT (measured on the CPU: direct 33×33 with 16
#: channels is ~10× slower than 19×19, the FFT cost hardly depends on k).
FFT_MIN_KERNEL = 21


def fft_eligible(conv: nn.Module, min_kernel: int = FFT_MIN_KERNEL) -> bool:
    """A plain ``nn.Conv2d``, stride 1, one group, odd square kernel ≥ ``min_kernel``, 'same' zero padding."""
    if type(conv) is not nn.Conv2d:
        return False
    k = conv.kernel_size
    return (conv.stride == (1, 1) and conv.dilation == (1, 1) and conv.groups == 1 and k[0] == k[1]
            and k[0] >= min_kernel and k[0] % 2 == 1 and conv.padding == (k[0] // 2, k[1] // 2)
            and conv.padding_mode == "zeros")


class FFTConv2d(nn.Module):
    """A stride-1, zero-padded ``nn.Conv2d`` computed as a product of 2-D real FFTs.

    conv2d is a cross-correlation: ``out[y] = Σ_p w[p] · x[y + p − pad]``, i.e. the linear
    convolution of ``x`` with the flipped kernel, cropped at ``pad``. An FFT size of
    ``(h + k − 1, w + k − 1)`` makes the circular convolution linear (no wrap-around), so the
    result equals the direct one up to float rounding (~1e-6 relative). The channel mixing is a
    per-frequency [out × in] product, done as ``in`` multiply-adds of [out, F] spectra.
    """

    def __init__(self, conv: nn.Conv2d) -> None:
        super().__init__()
        if not fft_eligible(conv, min_kernel=1):
            raise ValueError("FFTConv2d needs a stride-1, groups-1, 'same' zero-padded odd square conv")
        self.k = conv.kernel_size[0]
        self.weight = nn.Parameter(conv.weight.detach().clone(), requires_grad=False)
        self.bias = None if conv.bias is None else nn.Parameter(conv.bias.detach().clone(), requires_grad=False)

    def forward(self, x: Tensor) -> Tensor:
        k, pad = self.k, self.k // 2
        h, w = x.shape[-2:]
        size = (h + k - 1, w + k - 1)
        spec_x = torch.fft.rfft2(x.float(), s=size)  # [b, in, Fh, Fw]
        spec_w = torch.fft.rfft2(self.weight.flip(-1, -2).float(), s=size)  # [out, in, Fh, Fw]
        out = spec_x[:, None, 0] * spec_w[None, :, 0]
        for i in range(1, spec_x.shape[1]):
            out.addcmul_(spec_x[:, None, i], spec_w[None, :, i])
        y = torch.fft.irfft2(out, s=size)[..., pad:pad + h, pad:pad + w].to(x.dtype)
        if self.bias is not None:
            y = y + self.bias.view(1, -1, 1, 1)
        return y.contiguous()


def large_convs(model: nn.Module, min_kernel: int = FFT_MIN_KERNEL) -> list[tuple[nn.Module, str]]:
    """``(parent, attribute name)`` of every convolution of ``model`` that :class:`FFTConv2d` should compute."""
    return [(parent, name) for parent in model.modules() for name, conv in parent.named_children()
            if fft_eligible(conv, min_kernel)]


def use_fft(model: nn.Module, min_kernel: int = FFT_MIN_KERNEL) -> nn.Module:
    """Replace, in place, every large convolution of ``model`` by its :class:`FFTConv2d`; returns ``model``."""
    for parent, name in large_convs(model, min_kernel):
        setattr(parent, name, FFTConv2d(getattr(parent, name)))
    return model


__all__ = ["FFTConv2d", "FFT_MIN_KERNEL", "fft_eligible", "large_convs", "use_fft"]
