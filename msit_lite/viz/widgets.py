r"""An interactive explorer: pick an image, a model, a scale (continuous) and a region; see the
SR output, its error map against the ground truth and the LAM of the region.

Everything is computed by the functions of this package: the image is degraded by the chosen
factor (:func:`~msit_lite.viz.error_maps.degrade`), super-resolved back to its own size
(:func:`~msit_lite.inference.upscale`), compared with the original
(:func:`~msit_lite.viz.error_maps.error_map`) and the chosen HR window is explained with
:func:`~msit_lite.viz.lam.lam`. Results are cached per setting, so moving back to a setting is
instant.

Two ways to use it:

* :meth:`Explorer.figure` -- a static matplotlib figure for one setting (works everywhere:
  GitHub, nbviewer, a PDF export);
* :meth:`Explorer.widget` / :func:`explore` -- ipywidgets controls that redraw the same figure in an
  output area whenever a control changes. :func:`explore` draws the starting setting as a static
  figure below the controls, so the notebook shows it where widgets are not rendered (GitHub, a
  headless run); the widget's plain-text form is one fixed line (stable under nbval).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from torch import nn

from msit_lite.errors import MsitError
from msit_lite.inference import upscale
from msit_lite.viz.error_maps import degrade, error_map
from msit_lite.viz.lam import LamResult, Window, lam, show_lam

#: The plain-text form of the explorer widget (what a renderer without widgets shows).
WIDGET_TEXT = "msit_lite explorer (interactive controls need a live Jupyter kernel with ipywidgets)"


@dataclass
class ExplorerView:
    """Everything one setting shows."""

    image: str
    model: str
    scale: float
    lr: np.ndarray  # the degraded input
    sr: np.ndarray  # the model's output at the HR size
    hr: np.ndarray  # ground truth
    error: np.ndarray  # error_map(sr, hr)
    lam: LamResult

    @property
    def psnr(self) -> float:
        mse = float(((self.sr.astype(np.float64) - self.hr.astype(np.float64)) ** 2).mean())
        return 10 * np.log10(255.0**2 / mse) if mse > 0 else float("inf")


class Explorer:
    """Output, error map and LAM of ``models`` on ``images`` (HR uint8 ``H×W×3``) at any scale."""

    def __init__(self, models: dict[str, nn.Module], images: dict[str, np.ndarray], *, window: int = 16,
                 steps: int | None = None, scale_range: tuple[float, float] = (1.5, 4.0)) -> None:
        if not models or not images:
            raise MsitError("the explorer needs at least one model and one image")
        for name, img in images.items():
            if not isinstance(img, np.ndarray) or img.ndim != 3 or img.shape[2] != 3 or img.dtype != np.uint8:
                raise MsitError(f"image {name!r}: expected an H×W×3 uint8 array")
            if min(img.shape[:2]) < window + 2:
                raise MsitError(f"image {name!r} ({img.shape[0]}x{img.shape[1]}) is smaller than the window")
        self.models, self.images = dict(models), dict(images)
        self.window, self.steps, self.scale_range = int(window), steps, scale_range
        self._cache: dict[tuple[Any, ...], ExplorerView] = {}

    def window_at(self, hr_size: tuple[int, int], cy: float, cx: float) -> Window:
        """The HR window centred at the relative position ``(cy, cx)`` ∈ [0, 1]², kept inside the image."""
        n = self.window
        top = int(round(cy * (hr_size[0] - 1) - n / 2))
        left = int(round(cx * (hr_size[1] - 1) - n / 2))
        return Window(min(max(top, 0), hr_size[0] - n - 1), min(max(left, 0), hr_size[1] - n - 1), n)

    def view(self, image: str, model: str, scale: float, cy: float = 0.5, cx: float = 0.5) -> ExplorerView:
        """Compute (or fetch from the cache) one setting."""
        if image not in self.images:
            raise MsitError(f"unknown image {image!r}; choose one of {sorted(self.images)}")
        if model not in self.models:
            raise MsitError(f"unknown model {model!r}; choose one of {sorted(self.models)}")
        scale = round(float(scale), 2)
        key = (image, model, scale, round(float(cy), 3), round(float(cx), 3))
        if key not in self._cache:
            hr, net = self.images[image], self.models[model]
            lr = degrade(hr, scale)
            sr = upscale(net, lr, size=hr.shape[:2])
            win = self.window_at(hr.shape[:2], cy, cx)
            result = lam(net, lr, win, hr_size=hr.shape[:2], steps=self.steps)
            self._cache[key] = ExplorerView(image, model, scale, lr, sr, hr, error_map(sr, hr), result)
        return self._cache[key]

    def figure(self, image: str, model: str, scale: float, cy: float = 0.5, cx: float = 0.5):
        """A 1×4 figure: SR output with the window, window zoom (SR | HR), error map, LAM on the input."""
        import matplotlib.pyplot as plt
        from matplotlib.patches import Rectangle

        v = self.view(image, model, scale, cy, cx)
        w = v.lam.window
        fig, axes = plt.subplots(1, 4, figsize=(12, 3.2))
        axes[0].imshow(v.sr)
        axes[0].add_patch(Rectangle((w.left - 0.5, w.top - 0.5), w.size, w.size, fill=False, edgecolor="red"))
        axes[0].set_title(f"{model} ×{v.scale:g}: {v.psnr:.2f} dB", fontsize=9)
        pair = np.concatenate([v.sr[w.top:w.top + w.size, w.left:w.left + w.size],
                               np.full((w.size, 1, 3), 255, np.uint8),
                               v.hr[w.top:w.top + w.size, w.left:w.left + w.size]], axis=1)
        axes[1].imshow(pair, interpolation="nearest")
        axes[1].set_title("window: SR | ground truth", fontsize=9)
        axes[2].imshow(v.error, cmap="inferno", vmin=0, vmax=max(float(np.percentile(v.error, 99.5)), 1e-6))
        axes[2].add_patch(Rectangle((w.left - 0.5, w.top - 0.5), w.size, w.size, fill=False, edgecolor="cyan"))
        axes[2].set_title(f"|SR − HR|, mean {v.error.mean() * 255:.2f}/255", fontsize=9)
        show_lam(v.lam, v.lr, ax=axes[3], title=f"LAM on the ×{v.scale:g} input, DI {v.lam.diffusion_index:.1f}")
        for ax in axes:
            ax.set_axis_off()
        fig.tight_layout()
        return fig

    def widget(self, image: str | None = None, model: str | None = None, scale: float = 3.0,
               cy: float = 0.5, cx: float = 0.5):
        """ipywidgets controls + an output area that redraws :meth:`figure` (requires ipywidgets)."""
        import ipywidgets as W
        import matplotlib.pyplot as plt

        lo, hi = self.scale_range
        controls = {
            "image": W.Dropdown(options=list(self.images), value=image or next(iter(self.images)), description="image"),
            "model": W.Dropdown(options=list(self.models), value=model or next(iter(self.models)), description="model"),
            "scale": W.FloatSlider(value=scale, min=lo, max=hi, step=0.05, description="scale",
                                   continuous_update=False, readout_format=".2f"),
            "cy": W.FloatSlider(value=cy, min=0.0, max=1.0, step=0.02, description="region y", continuous_update=False),
            "cx": W.FloatSlider(value=cx, min=0.0, max=1.0, step=0.02, description="region x", continuous_update=False),
        }

        out = W.Output()

        def redraw(_change: Any = None) -> None:
            from IPython.display import clear_output

            with out:
                clear_output(wait=True)
                self.figure(**{name: c.value for name, c in controls.items()})
                plt.show()

        # Nothing is drawn until a control changes: a figure rendered while the cell runs would land in
        # the widget (live Jupyter) or in the cell output (headless runners), which differ; the static
        # figure that explore() draws below the controls shows the starting setting instead.
        for c in controls.values():
            c.observe(redraw, names="value")
        ui = W.VBox([W.HBox([controls["image"], controls["model"], controls["scale"]]),
                     W.HBox([controls["cy"], controls["cx"]]), out])
        return _QuietWidget(ui, controls, redraw)


class _QuietWidget:
    """Displays a widget with a fixed plain-text form (no trait dump), so notebook text stays stable."""

    def __init__(self, widget: Any, controls: dict[str, Any] | None = None, redraw: Any = None) -> None:
        self.widget, self.controls, self.redraw = widget, controls or {}, redraw

    def _repr_mimebundle_(self, include: Any = None, exclude: Any = None) -> dict[str, Any]:
        bundle = self.widget._repr_mimebundle_(include=include, exclude=exclude) or {}
        data = dict(bundle[0] if isinstance(bundle, tuple) else bundle)
        data["text/plain"] = WIDGET_TEXT
        return data


def widgets_available() -> bool:
    try:
        import ipywidgets  # noqa: F401
    except ImportError:
        return False
    return True


def explore(explorer: Explorer, image: str | None = None, model: str | None = None, scale: float = 3.0,
            cy: float = 0.5, cx: float = 0.5, static: bool = True) -> Any:
    """Show the widget (when ipywidgets is installed) and, with ``static``, the default setting's figure.

    Returns the widget wrapper (or ``None`` without ipywidgets); prints nothing.
    """
    import matplotlib.pyplot as plt
    from IPython.display import display

    image = image or next(iter(explorer.images))
    model = model or next(iter(explorer.models))
    ui = None
    if widgets_available():
        ui = explorer.widget(image, model, scale, cy, cx)
        display(ui)
    if static or ui is None:
        explorer.figure(image, model, scale, cy, cx)
        plt.show()
    return ui


__all__ = ["Explorer", "ExplorerView", "WIDGET_TEXT", "explore", "widgets_available"]
