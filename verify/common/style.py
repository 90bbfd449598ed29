"""One matplotlib style for every study's figures: legible at page width, curves kept visible.

A study calls :func:`apply` once before it draws (or wraps its drawing in ``with style():``),
builds figures with :func:`subplots` (never wider than :data:`MAX_WIDTH_PX` at the embedded
resolution) and places legends with :func:`legend_outside` or :func:`legend_below` when the
plot has no empty corner::

    from verify.common import style

    style.apply()
    fig, ax = style.subplots(width=8, height=4)
    for label, curve in curves.items():
        ax.plot(epochs, curve, label=label)     # colour, line style and marker differ per curve
    style.legend_outside(ax)
    rep.figure(fig, "curves.png", "Loss per epoch", dpi=style.DPI)

The cycle changes colour, line style and marker together, so two curves that lie exactly on
top of each other still show both (the dashed one over the solid one, the markers of each).
Markers are drawn on about :data:`MARKERS_PER_CURVE` points of a long curve, not on every one.
matplotlib is imported when a function is called, not when this module is.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure
    from matplotlib.legend import Legend

__all__ = [
    "DPI", "MAX_WIDTH_PX", "WIDTH", "HEIGHT", "COLORS", "LINESTYLES", "MARKERS", "MARKERS_PER_CURVE",
    "rc_params", "apply", "style", "subplots", "fit_width", "legend_outside", "legend_below",
    "spread_markers", "width_px", "legend_overlaps",
]

DPI = 100
"""Resolution figures are saved and embedded at (pixels per inch)."""
MAX_WIDTH_PX = 1600
"""Widest figure at :data:`DPI`: wider ones shrink their tick labels below legibility at page width."""
WIDTH, HEIGHT = 8.0, 4.5
"""Default figure size in inches (800 x 450 px at :data:`DPI`)."""

# Colour-blind safe (Okabe-Ito), then line styles and markers that differ at every step.
COLORS = ("#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#000000", "#F0E442")
LINESTYLES = ("-", "--", ":", "-.", (0, (5, 1)), (0, (3, 1, 1, 1, 1, 1)), (0, (1, 2)), (0, (8, 3)))
MARKERS = ("o", "s", "^", "D", "v", "x", "P", "*")
MARKERS_PER_CURVE = 12


def rc_params() -> dict[str, Any]:
    """The style as matplotlib rcParams (a new dict each call)."""
    from cycler import cycler

    return {
        "figure.figsize": (WIDTH, HEIGHT),
        "figure.dpi": DPI,
        "savefig.dpi": DPI,
        "figure.constrained_layout.use": True,
        "font.size": 11,
        "axes.titlesize": 12,
        "axes.labelsize": 11,
        "xtick.labelsize": 10,
        "ytick.labelsize": 10,
        "legend.fontsize": 9.5,
        "legend.framealpha": 0.85,
        "legend.loc": "best",
        "axes.grid": True,
        "grid.alpha": 0.3,
        "axes.spines.top": False,
        "axes.spines.right": False,
        "lines.linewidth": 1.6,
        "lines.markersize": 5,
        "image.cmap": "viridis",
        "axes.prop_cycle": (cycler(color=list(COLORS)) + cycler(linestyle=list(LINESTYLES))
                            + cycler(marker=list(MARKERS))),
    }


def apply() -> None:
    """Make the style the default for every figure drawn after this call."""
    import matplotlib

    params: Any = matplotlib.rcParams  # its stubs key it by a Literal of every name
    params.update(rc_params())


@contextlib.contextmanager
def style() -> Iterator[None]:
    """The style for the figures drawn inside the ``with`` block only."""
    import matplotlib

    context: Any = matplotlib.rc_context
    with context(rc_params()):
        yield


def width_px(fig: Figure, dpi: float = DPI) -> int:
    """The figure's width in pixels when saved at ``dpi``."""
    return round(float(fig.get_figwidth()) * dpi)


def fit_width(fig: Figure, dpi: float = DPI, max_px: int = MAX_WIDTH_PX) -> Figure:
    """Shrink ``fig`` (keeping its aspect ratio) so that it is at most ``max_px`` wide at ``dpi``."""
    w, h = float(fig.get_figwidth()), float(fig.get_figheight())
    if w * dpi > max_px:
        scale = max_px / (w * dpi)
        fig.set_size_inches(w * scale, h * scale)
    return fig


def subplots(nrows: int = 1, ncols: int = 1, *, width: float = WIDTH, height: float = HEIGHT,
             dpi: float = DPI, **kwargs: Any) -> tuple[Figure, Any]:
    """``plt.subplots`` in this style, its width capped at :data:`MAX_WIDTH_PX` at ``dpi``.

    Extra keyword arguments go to ``plt.subplots`` (``sharex``, ``squeeze``...).
    """
    import matplotlib.pyplot as plt

    width = min(width, MAX_WIDTH_PX / dpi)
    with style():
        fig, axes = plt.subplots(nrows, ncols, figsize=(width, height), dpi=dpi, **kwargs)
    return fig, axes


def legend_outside(ax: Axes, **kwargs: Any) -> Legend:
    """A legend to the right of the axes, outside the data, top-aligned."""
    opts: dict[str, Any] = {"loc": "upper left", "bbox_to_anchor": (1.01, 1.0), "borderaxespad": 0.0,
                            "frameon": False}
    opts.update(kwargs)
    return ax.legend(**opts)


def legend_below(ax: Axes, ncol: int = 3, **kwargs: Any) -> Legend:
    """A legend under the axes (below the x label), in ``ncol`` columns: for wide, short panels."""
    opts: dict[str, Any] = {"loc": "upper center", "bbox_to_anchor": (0.5, -0.18), "ncol": ncol,
                            "frameon": False}
    opts.update(kwargs)
    return ax.legend(**opts)


def spread_markers(ax: Axes, count: int = MARKERS_PER_CURVE) -> None:
    """Show each line's marker on about ``count`` evenly spaced points, offset per line.

    The offset keeps the markers of two identical curves from landing on the same points.
    """
    import numpy as np

    lines = ax.get_lines()
    for i, line in enumerate(lines):
        n = int(np.asarray(line.get_xdata()).size)
        if n > count:
            step = max(n // count, 1)
            line.set_markevery((i * step // max(len(lines), 1) % step, step))


def legend_overlaps(fig: Figure) -> int:
    """How many plotted data points lie under a legend drawn inside its axes (0: none hidden).

    Draws the figure once; a test can assert ``legend_overlaps(fig) == 0``.
    """
    import numpy as np

    fig.canvas.draw()
    hidden = 0
    for ax in fig.get_axes():
        legend = ax.get_legend()
        if legend is None:
            continue
        box = legend.get_window_extent()
        for line in ax.get_lines():
            xy = np.column_stack([np.asarray(line.get_xdata(), dtype=float),
                                  np.asarray(line.get_ydata(), dtype=float)])
            if not xy.size:
                continue
            pts = ax.transData.transform(xy)
            inside = ((pts[:, 0] >= box.x0) & (pts[:, 0] <= box.x1)
                      & (pts[:, 1] >= box.y0) & (pts[:, 1] <= box.y1))
            hidden += int(np.count_nonzero(inside))
    return hidden
