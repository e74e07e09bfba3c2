"""Block diagrams of the paper's figures (Figs. 2-4) with real tensor shapes, in plain matplotlib.

Why here and not in the notebooks: notebooks 00, 04, 05 and 06 each draw one diagram; one drawing
function keeps them alike and keeps the notebooks about the model rather than about boxes and arrows.
The shapes written into the boxes come from the callers (read from a ``Trace`` of the package's own
modules), so a diagram cannot drift from the code it describes.
"""
from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

Box = tuple[str | None, str, str]
"""``(name, shape text, face colour)``; a ``None`` name leaves an empty slot in the row."""
Slot = tuple[int, int]
"""``(row, index)`` of a box."""


def block_diagram(rows: Sequence[Sequence[Box]], links: Iterable[tuple[Slot, Slot]] = (), title: str = "",
                  box_w: float = 2.3, gap: float = 0.55, height: float = 1.9,
                  no_arrow: Iterable[Slot] = ()) -> Any:
    """Draw rows of boxes left to right, an arrow between neighbours in a row (not into the slots in
    ``no_arrow``, nor from or to an empty slot) and a blue arrow for each ``(from, to)`` in ``links``
    between rows. Returns the matplotlib figure (call ``plt.show()`` in a notebook)."""
    import matplotlib.pyplot as plt
    from matplotlib.patches import FancyBboxPatch

    if not rows or not all(rows):
        raise ValueError("block_diagram needs at least one non-empty row of boxes")
    skip = set(no_arrow)
    step = box_w + gap
    width = max(map(len, rows))
    fig, ax = plt.subplots(figsize=(step * width * 0.62, height * len(rows)))
    for r, row in enumerate(rows):
        y = -2.0 * r
        for i, (name, shape, colour) in enumerate(row):
            if name is None:
                continue
            x = i * step
            ax.add_patch(FancyBboxPatch((x, y - 0.6), box_w, 1.2, boxstyle="round,pad=0.04", fc=colour, ec="0.35"))
            ax.text(x + box_w / 2, y + 0.22, name, ha="center", va="center", fontsize=8.5, weight="bold")
            ax.text(x + box_w / 2, y - 0.25, shape, ha="center", va="center", fontsize=7.5, family="monospace")
            if i and row[i - 1][0] is not None and (r, i) not in skip:
                ax.annotate("", (x - 0.02, y), (x - gap + 0.02, y), arrowprops=dict(arrowstyle="->", lw=1.2))
    for (r0, i0), (r1, i1) in links:
        down = r1 > r0
        ax.annotate("", (i1 * step + box_w / 2, -2.0 * r1 + (0.62 if down else -0.62)),
                    (i0 * step + box_w / 2, -2.0 * r0 + (-0.62 if down else 0.62)),
                    arrowprops=dict(arrowstyle="->", lw=1.2, color="tab:blue"))
    ax.set_xlim(-0.2, step * width)
    ax.set_ylim(-2.0 * len(rows) + 1.1, 0.9)
    ax.set_title(title, fontsize=10)
    ax.axis("off")
    fig.tight_layout()
    return fig


__all__ = ["Box", "Slot", "block_diagram"]
