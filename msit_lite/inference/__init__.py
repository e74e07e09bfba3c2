"""Inference: upscale an image by any factor, on any size of image, with bounded memory.

    from msit_lite.inference import load_model, upscale
    model = load_model("lite-msit")                 # a shipped checkpoint, or a checkpoint folder
    big = upscale(model, image, scale=3.5)          # uint8 H×W×3 in, uint8 out

Modules: :mod:`~msit_lite.inference.sizes` (scales and output sizes, checked before any work),
:mod:`~msit_lite.inference.tiling` (exact tiled encoding of large images) and
:mod:`~msit_lite.inference.runner` (the one runner every entry point below calls: encode, the
model's grid query, the image). How a model is queried on a whole grid is the model's own
business (:meth:`~msit_lite.models.base.ImplicitSRModel.query_grid`).
"""
from msit_lite.inference.runner import (
    Route,
    Upscaler,
    load_model,
    load_upscaler,
    model_upscaler,
    predict,
    route,
    run,
    upscale,
)
from msit_lite.inference.sizes import (
    DEFAULT_MAX_OUTPUT_PIXELS,
    MAX_SCALE,
    parse_factor,
    parse_scale,
    parse_size,
    resolve_output_size,
)
from msit_lite.inference.tiling import (
    Tile,
    auto_tile,
    encode,
    encode_tiled,
    plan_tiles,
    probe_receptive_radius,
    receptive_radius,
)
from msit_lite.models.runtime import DEFAULT_MEMORY_BUDGET_MB

__all__ = [
    "DEFAULT_MAX_OUTPUT_PIXELS", "DEFAULT_MEMORY_BUDGET_MB", "MAX_SCALE", "Route", "Tile", "Upscaler", "auto_tile",
    "encode", "encode_tiled", "load_model", "load_upscaler", "model_upscaler", "parse_factor", "parse_scale", "parse_size",
    "plan_tiles", "predict", "probe_receptive_radius", "receptive_radius", "resolve_output_size", "route", "run",
    "upscale",
]
