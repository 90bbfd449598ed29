"""The lab's figures (optional: needs matplotlib, Agg backend, files only)."""

from __future__ import annotations

import os

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import numpy.typing as npt  # noqa: E402

from .network import Network  # noqa: E402
from .precision import FloatArray  # noqa: E402

__all__ = ["plot_run", "plot_boundary", "decisions"]

BoolArray = npt.NDArray[np.bool_]


def decisions(p: npt.ArrayLike) -> tuple[BoolArray, BoolArray, BoolArray]:
    """Masks ``(class 0, class 1, undecided)`` of predicted probabilities, as
    :func:`refnet.metrics.accuracy` counts them: ``p > 0.5`` is class 1, ``p < 0.5``
    class 0, and NaN or exactly 0.5 neither (``NaN > 0.5`` is false, which would
    otherwise paint a NaN prediction as class 0)."""
    q = np.asarray(p, dtype=np.float64).reshape(-1)
    one = q > 0.5
    zero = q < 0.5
    return zero, one, ~(zero | one)


def plot_run(x: npt.NDArray[np.float64], y: npt.NDArray[np.float64],
             p: FloatArray, loss: FloatArray,
             path: str | os.PathLike[str], title: str = "") -> None:
    """Ground truth beside prediction (points coloured by class) and the learning curve.

    NaN predictions (and exactly 0.5) are drawn as undecided (grey crosses,
    counted in the legend), never as class 0; non-finite losses are left out of the learning curve, which says
    from which epoch on they are missing.
    """
    fig, axes = plt.subplots(1, 3, figsize=(13, 4))
    truth = y.reshape(-1) > 0.5
    panels = ((axes[0], (~truth, truth, np.zeros_like(truth)), "Ground truth"),
              (axes[1], decisions(p), "Prediction (p > 0.5)"))
    for ax, (zero, one, undecided), name in panels:
        ax.scatter(x[zero, 0], x[zero, 1], c="tab:red", label="class 0", s=18)
        ax.scatter(x[one, 0], x[one, 1], c="tab:blue", label="class 1", s=18)
        if undecided.any():
            ax.scatter(x[undecided, 0], x[undecided, 1], c="tab:gray", marker="x", s=24,
                       label=f"undecided: p NaN or 0.5 ({int(undecided.sum())})")
        ax.set_title(name)
        ax.set_xlabel("x0 (input units)")
        ax.set_ylabel("x1 (input units)")
        ax.legend(loc="best", fontsize=8)
    curve = np.asarray(loss, dtype=np.float64).reshape(-1)
    epochs = np.arange(1, curve.size + 1)
    shown = np.isfinite(curve) & (curve > 0)
    if shown.any():
        axes[2].semilogy(epochs[shown], curve[shown], marker="o" if shown.sum() < 3 else "")
    bad = ~np.isfinite(curve)
    if bad.any():
        axes[2].text(0.02, 0.02, f"loss NaN or inf from epoch {int(epochs[bad][0])} "
                     f"({int(bad.sum())} epochs not drawn)", transform=axes[2].transAxes, fontsize=8)
    axes[2].set_xlabel("epoch")
    axes[2].set_ylabel("training loss (mean per point)")
    axes[2].set_title("Learning curve")
    fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def plot_boundary(net: Network, x: npt.NDArray[np.float64], y: npt.NDArray[np.float64],
                  path: str | os.PathLike[str], title: str = "") -> None:
    """The network's output probability over the data's range, its 0.5 contour, and the points.

    Points are coloured by their true class and marked where the network gets
    them wrong; NaN probabilities are left blank and said so.
    """
    pad = 0.1 * (np.ptp(x, axis=0) + 1e-12)
    lo, hi = x.min(axis=0) - pad, x.max(axis=0) + pad
    g0, g1 = np.meshgrid(np.linspace(lo[0], hi[0], 200), np.linspace(lo[1], hi[1], 200))
    grid = np.column_stack([g0.ravel(), g1.ravel()])
    with np.errstate(all="ignore"):
        p = np.asarray(net.predict(grid)[0, :, 0], dtype=np.float64).reshape(g0.shape)
        at_points = np.asarray(net.predict(x)[0, :, 0], dtype=np.float64)
    fig, ax = plt.subplots(figsize=(6.4, 5.2))
    mesh = ax.pcolormesh(g0, g1, np.ma.masked_invalid(p), cmap="RdBu", vmin=0.0, vmax=1.0, shading="auto")
    if np.isfinite(p).any() and np.nanmin(p) < 0.5 < np.nanmax(p):
        ax.contour(g0, g1, p, levels=[0.5], colors="k", linewidths=1.2)
    fig.colorbar(mesh, ax=ax, label="output probability p(class 1)")
    truth = y.reshape(-1) > 0.5
    zero, one, undecided = decisions(at_points)
    wrong = (one != truth) | undecided
    ax.scatter(x[~truth, 0], x[~truth, 1], c="tab:red", edgecolors="k", s=28, label="class 0")
    ax.scatter(x[truth, 0], x[truth, 1], c="tab:blue", edgecolors="k", s=28, label="class 1")
    if wrong.any():
        ax.scatter(x[wrong, 0], x[wrong, 1], facecolors="none", edgecolors="k", s=110, linewidths=1.5,
                   label=f"misclassified or undecided ({int(wrong.sum())})")
    if not np.isfinite(p).all():
        ax.text(0.02, 0.02, "blank: probability NaN", transform=ax.transAxes, fontsize=8)
    ax.set_xlabel("x0 (input units)")
    ax.set_ylabel("x1 (input units)")
    ax.set_title(title or "Decision boundary (black: p = 0.5)")
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.13), ncol=3, fontsize=8, frameon=False)
    fig.savefig(path, dpi=100, bbox_inches="tight")
    plt.close(fig)
