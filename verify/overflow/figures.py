"""Figures of the overflow study (matplotlib, Agg backend, imported lazily)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt
from refnet.precision import DTypeName

from ..common import style
from .grid import CONVENTIONS_STUDIED, Run
from .runs import SharpnessPath

if TYPE_CHECKING:
    from matplotlib.figure import Figure

__all__ = ["Curve", "Boundary", "magnitudes_figure", "outcome_map", "threshold_figure",
           "boundary_figure", "drift_figure"]


def _agg() -> None:
    """Select the file-only Agg backend; a clear error when matplotlib is missing."""
    try:
        import matplotlib
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise ImportError("the overflow figures need matplotlib: pip install 'refnet[plot]'") from exc
    matplotlib.use("Agg")


@dataclass(frozen=True)
class Curve:
    """One traced run: per step, log10 of the largest |weight| and |activation|."""

    label: str
    dtype: str
    steps_per_epoch: int
    weight: list[float]
    activation: list[float]
    overflow_step: int | None
    """Global step of the first non-finite value (the guard's event), if any."""


def _log10(values: Sequence[float]) -> npt.NDArray[np.float64]:
    arr = np.asarray(values, dtype=np.float64)
    out = np.full(arr.shape, np.nan)
    ok = np.isfinite(arr) & (arr > 0)
    out[ok] = np.log10(arr[ok])
    return out


@style.style()
def magnitudes_figure(curves: Sequence[Curve]) -> Figure:
    """log10 max |weight| and |activation| per step, overflow points marked."""
    _agg()
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(11, 4.8), sharey=True, layout="constrained")
    limits = {"float32": math.log10(float(np.finfo(np.float32).max)),
              "float64": math.log10(float(np.finfo(np.float64).max))}
    for ax, key, title in ((axes[0], "weight", "largest |weight or bias|"),
                           (axes[1], "activation", "largest |layer output|")):
        for i, c in enumerate(curves):
            y = _log10(getattr(c, key))
            x = np.arange(len(y)) / c.steps_per_epoch
            (line,) = ax.plot(x, y, ms=4, label=c.label, color=style.COLORS[i % len(style.COLORS)],
                              linestyle=style.LINESTYLES[i % len(style.LINESTYLES)],
                              marker=style.MARKERS[i % len(style.MARKERS)])
            if c.overflow_step is not None:
                xo = c.overflow_step / c.steps_per_epoch
                ax.axvline(xo, color=line.get_color(), ls=":", lw=1)
                ax.plot([xo], [limits[c.dtype]], marker="X", ms=10, color=line.get_color())
        for dtype, lim in limits.items():
            ax.axhline(lim, color="grey", ls="--", lw=0.8)
            ax.text(0.0, lim, f" {dtype} max", va="bottom", fontsize=8, color="grey")
            ax.axhline(lim / 2, color="grey", ls=":", lw=0.6)
        ax.set_xlabel("epoch (steps / steps per epoch)")
        ax.set_title(title)
        ax.grid(alpha=0.3)
    axes[0].set_ylabel("log10 of the magnitude")
    handles, labels = axes[0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="outside lower center", ncol=6, frameon=False)
    fig.suptitle("Lab's linear network: magnitudes until the first non-finite value (X, dotted)")
    return fig


@style.style()
def outcome_map(runs: Sequence[Run], hidden: int, dtype: DTypeName,
                bounds: dict[tuple[str, int], float]) -> Figure:
    """Fraction of seeds that diverged over lr x batch size, one panel per convention;
    ``bounds[(convention, batch)]`` (median 2/s) is drawn on top."""
    _agg()
    import matplotlib.pyplot as plt

    order = list(CONVENTIONS_STUDIED)
    convs = sorted({r.convention for r in runs}, key=lambda c: order.index(c) if c in order else len(order))
    lrs = sorted({r.lr for r in runs})
    sizes = sorted({r.batch_size for r in runs})
    width = min(5.0 * len(convs) + 1.0, style.MAX_WIDTH_PX / style.DPI)
    fig, axes = plt.subplots(1, len(convs), figsize=(width, 5.0), squeeze=False, layout="constrained")
    image = None
    for ax, conv in zip(axes[0], convs):
        frac = np.full((len(sizes), len(lrs)), np.nan)
        text: dict[tuple[int, int], str] = {}
        for i, b in enumerate(sizes):
            for j, lr in enumerate(lrs):
                cell = [r for r in runs if r.convention == conv and r.dtype == dtype
                        and r.hidden == hidden and r.batch_size == b and r.lr == lr]
                if not cell:
                    continue
                div = [r.first_nonfinite for r in cell if r.first_nonfinite is not None]
                frac[i, j] = len(div) / len(cell)
                if div:
                    text[(i, j)] = f"{int(np.median(div))}"
        image = ax.imshow(frac, origin="lower", aspect="auto", cmap="Reds", vmin=0, vmax=1,
                          extent=(-0.5, len(lrs) - 0.5, -0.5, len(sizes) - 0.5))
        for (i, j), t in text.items():
            ax.text(j, i, t, ha="center", va="center", fontsize=6.5,
                    color="white" if frac[i, j] > 0.6 else "black")
        # the bound, as a position on the log-lr axis
        logs = np.log10(lrs)
        xs = [float(np.interp(np.log10(bounds[(conv, b)]), logs, np.arange(len(lrs)),
                              left=-0.5, right=len(lrs) - 0.5)) for b in sizes]
        ax.plot(xs, np.arange(len(sizes)), "b-o", ms=4, label="2 / lambda_max (median over seeds)")
        ax.set_xlim(-0.5, len(lrs) - 0.5)
        ax.set_ylim(-0.5, len(sizes) - 0.5)
        ax.set_xticks(np.arange(len(lrs)))
        ax.set_xticklabels([f"{v:g}" for v in lrs], rotation=60, fontsize=7)
        ax.set_yticks(np.arange(len(sizes)))
        ax.set_yticklabels([str(b) for b in sizes])
        ax.set_xlabel("learning rate lr")
        ax.set_ylabel("batch size (points)")
        ax.set_title(f"{conv} convention, {dtype}, hidden {hidden}")
    handles, labels = axes[0][0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="outside lower center", frameon=False)
    if image is not None:
        fig.colorbar(image, ax=list(axes[0]), label="fraction of seeds with a non-finite value")
    fig.suptitle("Outcome map (numbers: median epoch of the first non-finite value)", fontsize=10)
    return fig


@style.style()
def threshold_figure(rows: Sequence[dict[str, object]], hidden: int, dtype: DTypeName) -> Figure:
    """Measured divergence threshold against the bound, per batch size and convention."""
    _agg()
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(11, 5.4), layout="constrained")
    colours = dict(zip(CONVENTIONS_STUDIED, style.COLORS))
    for conv, colour in colours.items():
        sel = [r for r in rows if r["convention"] == conv and r["dtype"] == dtype and r["hidden"] == hidden]
        sizes = sorted({int(str(r["batch_size"])) for r in sel})
        if not sizes:
            continue

        def med(key: str, b: int) -> float:
            vals = [float(str(r[key])) for r in sel if int(str(r["batch_size"])) == b and r[key] is not None]
            return float(np.median(vals)) if vals else float("nan")

        axes[0].plot(sizes, [med("lr_diverged", b) for b in sizes], "o-", color=colour,
                     label=f"{conv}: smallest lr that diverged")
        axes[0].plot(sizes, [med("bound", b) for b in sizes], "s--", color=colour, mfc="none",
                     label=f"{conv}: bound 2 / s")
        axes[1].plot(sizes, [med("ratio_diverged", b) for b in sizes], "o-", color=colour,
                     label=f"{conv}: lr_diverged / bound")
        axes[1].plot(sizes, [med("ratio_stable", b) for b in sizes], "v:", color=colour,
                     label=f"{conv}: lr_stable / bound")
    axes[0].set_yscale("log")
    axes[0].set_ylabel("learning rate (median over seeds)")
    axes[1].set_yscale("log")
    axes[1].axhline(1.0, color="grey", lw=0.8)
    ticks = [0.1, 0.2, 0.5, 1.0, 2.0, 5.0, 10.0]
    axes[1].set_yticks(ticks)
    axes[1].set_yticklabels([f"{t:g}" for t in ticks])
    axes[1].set_ylabel("learning rate / stability bound")
    from matplotlib.ticker import NullFormatter

    all_sizes = sorted({int(str(r["batch_size"])) for r in rows})
    for ax in axes:
        ax.set_xscale("log")
        ax.set_xticks(all_sizes)
        ax.set_xticklabels(["" if b - 1 in all_sizes and b > 10 else str(b) for b in all_sizes])
        ax.xaxis.set_minor_formatter(NullFormatter())
        ax.yaxis.set_minor_formatter(NullFormatter())
        ax.set_xlabel("batch size (points)")
        ax.grid(alpha=0.3, which="both")
        style.legend_below(ax, ncol=2, fontsize=8, bbox_to_anchor=(0.5, -0.2))
    fig.suptitle(f"Divergence threshold vs the Hessian bound ({dtype}, hidden {hidden})", fontsize=11)
    return fig


@dataclass(frozen=True)
class Boundary:
    """A trained network's output probability on a grid, for a decision-boundary panel."""

    title: str
    grid: npt.NDArray[np.float64]
    """``(points, points)`` probabilities (NaN allowed)."""
    lo: float
    hi: float


@style.style()
def boundary_figure(panels: Sequence[Boundary], x: npt.NDArray[np.float64],
                    y: npt.NDArray[np.float64]) -> Figure:
    """Decision regions (p > 0.5) and the 0.5 contour of each panel, with the data."""
    _agg()
    import matplotlib.pyplot as plt

    side = min(4.2, (style.MAX_WIDTH_PX / style.DPI) / max(len(panels), 1))
    fig, axes = plt.subplots(1, len(panels), figsize=(side * len(panels), side + 0.9), squeeze=False,
                             layout="constrained")
    lab = y.reshape(-1) > 0.5
    for ax, p in zip(axes[0], panels):
        ext = (p.lo, p.hi, p.lo, p.hi)
        ax.imshow(p.grid, origin="lower", extent=ext, cmap="coolwarm", vmin=0, vmax=1, alpha=0.55)
        if np.isfinite(p.grid).any() and np.nanmin(p.grid) < 0.5 < np.nanmax(p.grid):
            g = np.linspace(p.lo, p.hi, p.grid.shape[0])
            ax.contour(g, g, p.grid, levels=[0.5], colors="k", linewidths=1.2)
        ax.scatter(x[~lab, 0], x[~lab, 1], c="tab:blue", edgecolors="k", s=28, label="label 0")
        ax.scatter(x[lab, 0], x[lab, 1], c="tab:red", edgecolors="k", s=28, label="label 1")
        ax.set_title(p.title, fontsize=9)
        ax.set_xlabel("x1 (input units)")
        ax.set_ylabel("x2 (input units)")
    handles, labels = axes[0][0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="outside lower center", ncol=2, frameon=False)
    fig.suptitle("XOR decision regions: red p > 0.5, blue p < 0.5; black line p = 0.5", fontsize=11)
    return fig


@style.style()
def drift_figure(paths: Sequence[SharpnessPath]) -> Figure:
    """Loss and Hessian lambda_max along training, one line per convention."""
    _agg()
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(11, 5.0), layout="constrained")
    for p in paths:
        end = f", non-finite by epoch {p.nonfinite_epoch}" if p.nonfinite_epoch is not None else ""
        label = f"{p.convention} (lr {p.lr:g}, batch {p.batch_size}{end})"
        axes[0].semilogy(p.epochs, p.loss, ms=4, label=label)
        axes[1].plot(p.epochs, p.lambda_max, ms=4, label=label)
        if p.nonfinite_epoch is not None:
            for ax in axes:
                ax.axvline(p.nonfinite_epoch, color="grey", ls=":", lw=1)
    axes[0].set_ylabel("training loss (MSE, mean per point)")
    axes[1].set_ylabel("lambda_max of the full-batch loss Hessian")
    for ax in axes:
        ax.set_xlabel("epoch")
        ax.grid(alpha=0.3)
    style.spread_markers(axes[0])
    style.spread_markers(axes[1])
    handles, labels = axes[0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="outside lower center", ncol=1, frameon=False)
    fig.suptitle("Same lr and batch size 1: the lab's update order against gradient descent", fontsize=11)
    return fig
