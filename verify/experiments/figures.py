"""One figure per report figure: the seeds' curves as run, the meant and matched runs, the lab's numbers marked.

Each panel shows the logged loss of every seed as run (thin grey lines), their median (blue),
seed 0 when the figure was seeded (black), the median of the run the lab meant when its rate
differs (orange, dashed), the median of a matched rerun (green, dotted), and the numbers read
from the report's page as red marks: the first logged loss, the end of the high phase, the
drop below the low line, the settling epoch and the final loss, and the band the page's curve
fills (shaded).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from ..common import style
from .study import Curves, RowResult, lines_of

if TYPE_CHECKING:
    from matplotlib.figure import Figure

__all__ = ["row_figure"]

_GREY, _MEDIAN, _MEANT, _MATCHED, _SEED0, _LAB = "#B0B0B0", "#0072B2", "#D55E00", "#009E73", "#000000", "#CC0000"


def _ylabel(c: Curves) -> str:
    return "loss (MSE)" if c.config.loss == "mse" else "loss (BCE, bits per point)"


def _median(c: Curves) -> np.ndarray[Any, np.dtype[np.float64]]:
    with np.errstate(invalid="ignore"):
        out: np.ndarray[Any, np.dtype[np.float64]] = np.nanmedian(np.where(np.isfinite(c.loss), c.loss, np.nan), axis=0) \
            if np.isfinite(c.loss).any(axis=0).all() else np.full(c.epochs.shape, np.nan)
    return out


def _panel(ax: Any, res: RowResult) -> None:
    c = res.as_run
    lines = lines_of(c.config)
    finite = np.where(np.isfinite(c.loss), c.loss, np.nan)
    for i in range(len(c.seeds)):
        ax.plot(c.epochs, finite[i], color=_GREY, lw=0.6, alpha=0.6, marker="", ls="-",
                label=f"{len(c.seeds)} seeds as run" if i == 0 else None)
    ax.plot(c.epochs, _median(c), color=_MEDIAN, lw=1.6, marker="", ls="-",
            label=f"median as run (lr {c.config.lr:.10g})")
    if res.row.seeded and 0 in c.seeds:
        ax.plot(c.epochs, finite[c.of_seed(0)], color=_SEED0, lw=1.2, marker="", ls="-", label="seed 0 (the lab's)")
    if res.row.mislabelled:
        ax.plot(res.meant.epochs, _median(res.meant), color=_MEANT, lw=1.6, ls="--", marker="",
                label=f"median at the labelled lr {res.meant.config.lr:.10g}")
    for _, what, m in res.matched:
        ax.plot(m.epochs, _median(m), color=_MATCHED, lw=1.6, ls=":", marker="", label=f"matched: {what}")
    page = res.page
    last = float(c.epochs[-1]) if c.epochs.size else 0.0
    if page.band is not None:
        ax.axhspan(*page.band, color=_LAB, alpha=0.08, label="band on the page")
    first = float(c.epochs[0]) if c.epochs.size else 0.0
    marks = [(first, page.level), (page.high_until, lines.high), (page.drop, lines.low),
             (page.settle, lines.settled), (page.x_range, page.final)]
    xs = [x for x, y in marks if x is not None and y is not None and x <= last * 1.02]
    ys = [y for x, y in marks if x is not None and y is not None and x <= last * 1.02]
    if xs:
        ax.plot(xs, ys, ls="none", marker="X", ms=9, color=_LAB, label=f"read from page {page.page}")
    ax.set_title(f"{res.row.title} (page {page.page})", fontsize=10)
    ax.set_xlabel("epoch (0-based)")
    ax.set_ylabel(_ylabel(c))


def row_figure(results: Sequence[RowResult]) -> Figure:
    """The panels of one report figure (its rows in order), two columns."""
    n = len(results)
    cols = 1 if n == 1 else 2
    rows = (n + cols - 1) // cols
    fig, axes = style.subplots(rows, cols, width=7.5 * cols, height=3.6 * rows, squeeze=False)
    for ax, res in zip(axes.flat, results):
        _panel(ax, res)
        style.legend_below(ax, ncol=2, fontsize=7)
    for ax in list(axes.flat)[n:]:
        ax.set_visible(False)
    return fig
