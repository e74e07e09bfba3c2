"""Seeing inside MSIT: feature maps, attributions, RIM remapping, attention and error maps.

Every picture in notebook 10 comes from a function here, each tested on tiny random models
(``tests/test_viz_*.py``). Modules:

==================  ==========================================================================
``feature_maps``    MSC branch outputs, their low/high-frequency energy, SIM vs a fitted 1×1 merge
                    (paper Fig. 7)
``lam``             Local Attribution Maps on an HR window of an arbitrary-scale model, the
                    Diffusion Index, captum's straight-line Integrated Gradients (Fig. 8)
``rim``             RIM's W, DWConv(W)·Linear(W), W', spectra and per-layer drift (Eq. 11)
``attention``       MSSA softmax weights over the window per head, and the positional bias alone
``error_maps``      mean error maps across scales (Fig. 1), zoomed comparisons (Figs. 5, 9),
                    stepwise incremental SR (Fig. 6)
``widgets``         an ipywidgets explorer (output, error map, LAM) with a static fallback
``diagram``         block diagrams of Figs. 2-4 with the real tensor shapes (notebooks 00, 04-06)
==================  ==========================================================================

Matplotlib, captum and ipywidgets are imported lazily, inside the functions that need them.
"""
from msit_lite.viz.attention import AttentionView, attention_at, positional_bias_field, show_attention
from msit_lite.viz.error_maps import (
    bicubic_upscaler,
    box_psnr,
    degrade,
    error_map,
    error_maps_across_scales,
    error_share_on_edges,
    model_upscaler,
    show_error_maps,
    show_stepwise,
    show_zoom,
    stepwise_sr,
)
from msit_lite.viz.feature_maps import (
    MscFeatures,
    feature_image,
    fit_linear_merge,
    frequency_energy,
    msc_features,
    radial_profile,
    show_msc,
)
from msit_lite.viz.lam import (
    LamResult,
    Window,
    WindowObjective,
    WindowSR,
    blur,
    blur_path,
    default_steps,
    diffusion_index,
    edge_strength,
    gini,
    heat_map,
    integrated_gradients,
    lam,
    path_integrated_gradients,
    show_captum,
    show_heat_zoom,
    show_lam,
    without_fem,
)
from msit_lite.viz.rim import (
    RimParts,
    all_rim_parts,
    kernel_spectrum,
    layer_drift,
    rim_from_stage1,
    rim_parts,
    show_rim_kernel,
)
from msit_lite.viz.widgets import Explorer, explore

__all__ = [
    "AttentionView", "Explorer", "LamResult", "MscFeatures", "RimParts", "Window", "WindowObjective", "WindowSR",
    "all_rim_parts", "attention_at", "bicubic_upscaler", "blur", "blur_path", "box_psnr", "default_steps", "degrade",
    "diffusion_index", "edge_strength", "error_map", "error_maps_across_scales", "error_share_on_edges", "explore",
    "feature_image", "fit_linear_merge", "frequency_energy", "gini", "heat_map", "integrated_gradients",
    "kernel_spectrum", "lam", "layer_drift", "model_upscaler", "msc_features", "path_integrated_gradients",
    "positional_bias_field", "radial_profile", "rim_from_stage1", "rim_parts", "show_attention", "show_captum",
    "show_error_maps", "show_heat_zoom", "show_lam", "show_msc", "show_rim_kernel", "show_stepwise", "show_zoom",
    "stepwise_sr",
    "without_fem",
]
