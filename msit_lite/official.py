"""Convert the authors' official checkpoints (MSIT ``amsit``, LIIF ``liif``) to msit_lite keys.

Official key → msit_lite key:

==================================  ========================================
``encoder.*`` (EDSR/RDN)            ``encoder.*`` (same names)
``encoder.sub_mean.*``, ``add_mean``  dropped (MeanShift constants, never applied)
``conv_ch.*``                       ``channel_proj.*``
``amsno.v|s|proj.*``                ``msno.v|s|proj.*``
``amsno.lem.mix_margin``            ``msno.fem.mix_margin`` (buffer; the stride, never trained)
``amsno.lem.mask``                  verified against the official pattern, then dropped (rebuilt)
``amsno.Ms_conv_{i}.*``             ``msno.msc.convs.{i-1}.*`` (RIM ``weight`` buffer included)
``amsno.sim0|bn|sim1.*``            ``msno.merge.expand|bn|reduce.*``
``multi_conv_qs.0.proj0|proj1|proj2``  ``attention.q_proj.proj_in|expand|reduce``
``multi_conv_qs.0.local_conv_{i}``  ``attention.q_proj.convs.{i-1}``
``multi_conv_qs.0.bn.*``            ``attention.q_proj.bn.*``
``conv_vs.0.*``                     ``attention.v_proj.*``
``pb_encoder.proj.*``               ``attention.pos_bias.proj.*``
``imnets.0.*`` / LIIF ``imnet.*``   ``decoder.*``
==================================  ========================================

Checkpoints may wrap the state dict LIIF-style (``{'model': {'name', 'args', 'sd'}}``) or as
``{'model': sd}`` / ``{'state_dict': sd}``; :func:`unwrap_state_dict` handles all three.
"""
from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Mapping

import torch
from torch import Tensor, nn

from msit_lite.checkpoint import load_state_dict_checked, read_weights
from msit_lite.errors import MsitError
from msit_lite.models.fem import official_mask

_MSIT_RULES: list[tuple[str, str]] = [
    (r"^conv_ch\.", "channel_proj."),
    (r"^amsno\.lem\.mix_margin$", "msno.fem.mix_margin"),
    (r"^amsno\.Ms_conv_(\d+)\.", "msno.msc.convs.{0}."),
    (r"^amsno\.sim0\.", "msno.merge.expand."),
    (r"^amsno\.bn\.", "msno.merge.bn."),
    (r"^amsno\.sim1\.", "msno.merge.reduce."),
    (r"^amsno\.(v|s|proj)\.", "msno.{0}."),
    (r"^multi_conv_qs\.0\.proj0\.", "attention.q_proj.proj_in."),
    (r"^multi_conv_qs\.0\.proj1\.", "attention.q_proj.expand."),
    (r"^multi_conv_qs\.0\.proj2\.", "attention.q_proj.reduce."),
    (r"^multi_conv_qs\.0\.bn\.", "attention.q_proj.bn."),
    (r"^multi_conv_qs\.0\.local_conv_(\d+)\.", "attention.q_proj.convs.{0}."),
    (r"^conv_vs\.0\.", "attention.v_proj."),
    (r"^pb_encoder\.proj\.", "attention.pos_bias.proj."),
    (r"^imnets\.0\.", "decoder."),
    (r"^imnet\.", "decoder."),
    (r"^encoder\.", "encoder."),
]
_DROPPED = re.compile(r"^encoder\.(sub_mean|add_mean)\.")


def unwrap_state_dict(obj: Any, source: str = "checkpoint") -> dict[str, Tensor]:
    """The flat ``{key: tensor}`` inside an official checkpoint object."""
    for _ in range(3):
        if isinstance(obj, Mapping) and obj and all(isinstance(v, Tensor) for v in obj.values()):
            return dict(obj)
        if isinstance(obj, Mapping):
            for key in ("sd", "model", "state_dict"):
                if key in obj and isinstance(obj[key], Mapping):
                    obj = obj[key]
                    break
            else:
                break
    raise MsitError(f"{source}: no state dict found (expected tensors, or {{'model': {{'sd': ...}}}} as LIIF saves)")


def _rename(key: str) -> str | None:
    if _DROPPED.match(key) or key == "amsno.lem.mask":
        return None
    for pattern, target in _MSIT_RULES:
        m = re.match(pattern, key)
        if m:
            groups = [str(int(g) - 1) if g.isdigit() else g for g in m.groups()]
            return target.format(*groups) + key[m.end() :]
    return key  # unknown keys pass through and are reported as unexpected


def convert_state_dict(official: Mapping[str, Tensor], model: nn.Module | None = None) -> dict[str, Tensor]:
    """Rename official keys; verify and drop the FEM mask, drop MeanShift constants.

    With ``model`` given, keys the model does not have because of a switched-off part (FEM) are
    dropped when the official network carries them anyway (``use_lem: false`` still builds LEM).
    """
    if "amsno.lem.mask" in official:
        mask = official["amsno.lem.mask"]
        expected = official_mask(mask.shape[0], 1)
        if mask.shape != expected.shape or not torch.equal(mask.float().cpu(), expected):
            raise MsitError("official FEM mask (amsno.lem.mask) differs from the official margin-1 pattern; not supported")
    out: dict[str, Tensor] = {}
    for key, value in official.items():
        new = _rename(key)
        if new is not None:
            out[new] = value
    if model is not None:
        own = model.state_dict()
        if "msno.fem.mix_margin" in out and "msno.fem.mix_margin" not in own:
            del out["msno.fem.mix_margin"]
    return out


def load_official(path: str | Path, model: nn.Module) -> nn.Module:
    """Load an official ``.pth``/``.safetensors`` file into ``model`` (strict; MsitError on mismatch)."""
    raw = read_weights(path)
    sd = unwrap_state_dict(raw, str(path))
    load_state_dict_checked(model, convert_state_dict(sd, model), f"official weights {path}")
    return model
