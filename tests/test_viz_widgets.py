"""The interactive explorer (msit_lite.viz.widgets): views, caching, static figure, widget text."""
from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402

from msit_lite.errors import MsitError  # noqa: E402
from msit_lite.models import make  # noqa: E402
from msit_lite.viz import widgets  # noqa: E402
from msit_lite.viz.widgets import WIDGET_TEXT, Explorer, explore  # noqa: E402


def tiny_liif():
    torch.manual_seed(0)
    return make({"name": "liif", "args": {"encoder": {"name": "edsr-baseline", "args": {"n_resblocks": 1, "n_feats": 8}},
                                          "decoder": {"name": "mlp", "args": {"hidden_list": [8]}}}}, "model").eval()


def explorer() -> Explorer:
    torch.set_num_threads(1)
    img = np.random.default_rng(0).integers(0, 256, (40, 44, 3), dtype=np.uint8)
    return Explorer({"liif": tiny_liif()}, {"noise": img}, window=8, steps=2)


def test_view_shapes_and_cache():
    ex = explorer()
    v = ex.view("noise", "liif", 2.5, 0.5, 0.5)
    assert v.lr.shape == (16, 18, 3) and v.sr.shape == v.hr.shape == (40, 44, 3)
    assert v.error.shape == (40, 44)
    assert v.lam.hr_size == (40, 44) and v.lam.heat.shape == (16, 18)
    assert ex.view("noise", "liif", 2.5, 0.5, 0.5) is v  # cached
    assert np.isfinite(v.psnr)


def test_window_stays_inside():
    ex = explorer()
    for cy, cx in [(0, 0), (1, 1), (0.5, 0.2)]:
        w = ex.window_at((40, 44), cy, cx)
        w.check((40, 44))


def test_bad_choices_raise():
    ex = explorer()
    with pytest.raises(MsitError):
        ex.view("cat", "liif", 2.0)
    with pytest.raises(MsitError):
        ex.view("noise", "msit", 2.0)
    with pytest.raises(MsitError):
        Explorer({}, {"x": np.zeros((20, 20, 3), np.uint8)})
    with pytest.raises(MsitError):
        Explorer({"liif": tiny_liif()}, {"x": np.zeros((20, 20), np.uint8)})


def test_figure_and_widget_text(monkeypatch):
    pytest.importorskip("ipywidgets")
    ex = explorer()
    fig = ex.figure("noise", "liif", 2.0)
    assert len(fig.axes) == 4 and "liif ×2" in fig.axes[0].get_title()
    shown = []
    monkeypatch.setattr("IPython.display.display", lambda obj: shown.append(obj))
    ui = explore(ex, scale=2.0)
    assert shown and shown[0] is ui
    bundle = ui._repr_mimebundle_()
    assert bundle["text/plain"] == WIDGET_TEXT
    assert "application/vnd.jupyter.widget-view+json" in bundle
    before = len(ex._cache)
    ui.controls["scale"].value = 2.5  # a control change recomputes (a new cache entry) and redraws
    assert len(ex._cache) == before + 1


def test_explore_without_ipywidgets_draws_static(monkeypatch):
    monkeypatch.setattr(widgets, "widgets_available", lambda: False)
    assert explore(explorer(), scale=2.0) is None
