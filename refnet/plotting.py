"""The lab's figures (optional: needs matplotlib, Agg backend, files only)."""

from __future__ import annotations

import os

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import numpy.typing as npt  # noqa: E402

from .precision import FloatArray  # noqa: E402

__all__ = ["plot_run"]


def plot_run(x: npt.NDArray[np.float64], y: npt.NDArray[np.float64],
             p: FloatArray, loss: FloatArray,
             path: str | os.PathLike[str], title: str = "") -> None:
    """Ground truth beside prediction (points coloured by class) and the learning curve."""
    fig, axes = plt.subplots(1, 3, figsize=(13, 4))
    pred = np.asarray(p, dtype=np.float64).reshape(-1) > 0.5
    for ax, labels, name in ((axes[0], y.reshape(-1) > 0.5, "Ground truth"), (axes[1], pred, "Prediction (p > 0.5)")):
        ax.scatter(x[~labels, 0], x[~labels, 1], c="tab:red", label="class 0", s=18)
        ax.scatter(x[labels, 0], x[labels, 1], c="tab:blue", label="class 1", s=18)
        ax.set_title(name)
        ax.set_xlabel("x0 (input units)")
        ax.set_ylabel("x1 (input units)")
        ax.legend(loc="best", fontsize=8)
    curve = np.asarray(loss, dtype=np.float64)
    axes[2].semilogy(np.arange(1, curve.size + 1), curve)
    axes[2].set_xlabel("epoch")
    axes[2].set_ylabel("training loss (mean per point)")
    axes[2].set_title("Learning curve")
    fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
