"""The block diagrams of notebooks 00, 04, 05 and 06 (msit_lite.viz.diagram)."""
from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import pytest  # noqa: E402

from msit_lite.viz.diagram import block_diagram  # noqa: E402


def test_block_diagram_draws_one_box_per_named_slot_and_the_arrows_asked_for() -> None:
    rows = [[("a", "[1,3]", "#eeeeee"), ("b", "[1,4]", "#eeeeee"), ("c", "[1,5]", "#eeeeee")],
            [(None, "", ""), ("d", "[2]", "#f9cb9c"), ("e", "[3]", "#f9cb9c")]]
    fig = block_diagram(rows, links=[((0, 0), (1, 1)), ((1, 2), (0, 2))], title="t", no_arrow={(1, 2)})
    ax = fig.axes[0]
    assert len(ax.patches) == 5                       # the empty slot draws nothing
    texts = [t.get_text() for t in ax.texts]
    assert {"a", "b", "c", "d", "e", "[1,3]", "[3]"} <= set(texts)
    # arrows: a->b, b->c in row 0 (2); none into the empty slot, d->e suppressed by no_arrow; 2 links
    assert sum(1 for c in ax.get_children() if type(c).__name__ == "Annotation") == 4
    assert ax.get_title() == "t"
    plt.close(fig)


def test_block_diagram_refuses_an_empty_diagram() -> None:
    with pytest.raises(ValueError, match="non-empty row"):
        block_diagram([])
    with pytest.raises(ValueError, match="non-empty row"):
        block_diagram([[("a", "", "w")], []])
