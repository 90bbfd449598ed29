"""Figures of the learning-rate threshold study (matplotlib, Agg, files only)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from ..common import style

if TYPE_CHECKING:
    from matplotlib.figure import Figure

__all__ = ["outcome_strips", "pair_losses", "separation_growth", "sharpness_plot", "CLASS_CODE"]

CLASS_CODE = {"converged": 0, "stalled": 1, "diverged": 2}
_COLORS = ["#2a9d55", "#e9a23b", "#c0392b"]


def _plt() -> Any:
    try:
        import matplotlib
    except ImportError as exc:  # pragma: no cover - optional dependency
        raise ImportError("matplotlib is needed for figures: pip install 'refnet[plot]'") from exc
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def outcome_strips(windows: Sequence[dict[str, Any]]) -> Figure:
    """One strip per zoom window: colour = outcome class, shade = log10 final loss."""
    plt = _plt()
    from matplotlib.colors import ListedColormap

    n = max(len(w["labels"]) for w in windows)
    codes = np.full((len(windows), n), np.nan)
    loss = np.full((len(windows), n), np.nan)
    for i, w in enumerate(windows):
        codes[i, :len(w["labels"])] = [CLASS_CODE[x] for x in w["labels"]]
        with np.errstate(divide="ignore"):
            loss[i, :len(w["final_loss"])] = np.log10(np.asarray(w["final_loss"], dtype=np.float64))
    fig, axes = plt.subplots(1, 2, figsize=(13, 0.45 * len(windows) + 1.8), sharey=True)
    axes[0].imshow(codes, aspect="auto", interpolation="nearest", cmap=ListedColormap(_COLORS), vmin=-0.5, vmax=2.5)
    im = axes[1].imshow(loss, aspect="auto", interpolation="nearest", cmap="viridis")
    fig.colorbar(im, ax=axes[1], label="log10 final loss (BCE, mean per point)")
    labels = [f"{w['window']} ({w['changes']} changes)" for w in windows]
    axes[0].set_yticks(range(len(windows)), labels)
    axes[0].set_ylabel("window (relative width)")
    for ax in axes:
        ax.set_xlabel("position in window (index of the rate, evenly spaced in ulps)")
    axes[0].set_title("outcome: green converged, orange stalled, red diverged")
    axes[1].set_title("readout: final loss")
    fig.tight_layout()
    out: Figure = fig
    return out


@style.style()
def pair_losses(curves: Sequence[tuple[str, Sequence[tuple[int, float]]]], threshold: float = 0.01) -> Figure:
    """Loss per epoch of the E0 pair: log-log overall, and the last quarter with the threshold.

    Each rate has its own colour, line style and offset markers: the two curves often lie on
    top of each other, and both must stay visible.
    """
    plt = _plt()
    fig, axes = plt.subplots(1, 2, figsize=(12, 5.0), layout="constrained")
    last = max(p[0] for _, pts in curves for p in pts)
    for i, (label, pts) in enumerate(curves):
        e = np.array([p[0] for p in pts], dtype=np.float64)
        v = np.array([p[1] for p in pts], dtype=np.float64)
        look = {"color": style.COLORS[i % len(style.COLORS)], "linestyle": style.LINESTYLES[i % len(style.LINESTYLES)],
                "marker": style.MARKERS[i % len(style.MARKERS)], "ms": 5}
        axes[0].loglog(e, v, label=label, **look)
        tail = e >= 0.75 * last
        axes[1].semilogy(e[tail], v[tail], label=label, **look)
    for ax in axes:
        style.spread_markers(ax)
    axes[1].axhline(threshold, color="k", ls="--", marker="", label=f"loss threshold {threshold}")
    axes[0].set_title("E0: loss curves of the pair")
    axes[1].set_title("last quarter of the run")
    for ax in axes:
        ax.set_xlabel("epoch")
        ax.set_ylabel("training loss (BCE, mean per point)")
        ax.grid(True, which="both", alpha=0.3)
    handles, labels = axes[1].get_legend_handles_labels()
    fig.legend(handles, labels, loc="outside lower center", ncol=3, frameon=False)
    out: Figure = fig
    return out


def separation_growth(seps: Sequence[dict[str, Any]], horizon: int) -> Figure:
    """E5: distance between trajectories, log scale."""
    plt = _plt()
    fig, ax = plt.subplots(figsize=(8, 4.5))
    for s in seps:
        d = np.asarray(s["distance"], dtype=np.float64)
        e = np.asarray(s["epochs"], dtype=np.float64)
        ok = d > 0
        ax.semilogy(e[ok], d[ok], label=f"{s['label']} (lambda={s['fit']['exponent']:.2e}/epoch)")
    ax.axvline(horizon, color="k", ls=":", label=f"E0 epoch count ({horizon})")
    ax.set_xlabel("epoch")
    ax.set_ylabel("parameter distance ||theta - theta_base||_2")
    ax.set_title("E5: separation of trajectories")
    ax.legend(fontsize=8)
    ax.grid(True, which="both", alpha=0.3)
    fig.tight_layout()
    out: Figure = fig
    return out


def sharpness_plot(traces: Sequence[dict[str, Any]], kink_asymmetry: float = 1e-6) -> Figure:
    """E6: top eigenvalue of the summed-loss Hessian against 2 / lr; kink samples marked apart."""
    plt = _plt()
    fig, ax = plt.subplots(figsize=(8, 4.5))
    for t in traces:
        e = np.asarray(t["epochs"], dtype=np.float64)
        top = np.maximum(np.asarray(t["top"], dtype=np.float64), 1e-12)
        kink = np.asarray(t["asymmetry"], dtype=np.float64) > kink_asymmetry
        line = ax.semilogy(e[~kink], top[~kink], label=f"lambda_max, lr={t['lr']!r}")[0]
        if kink.any():
            ax.semilogy(e[kink], top[kink], "x", color=line.get_color(),
                        label=f"lr={t['lr']!r}: step crossed a ReLU kink (not a curvature)")
    thr = traces[0]["threshold"]
    ax.axhline(thr, color="k", ls="--", label=f"2 / lr = {thr:.1f}")
    ax.set_xlabel("epoch")
    ax.set_ylabel("top Hessian eigenvalue of the summed loss")
    ax.set_title("E6: sharpness vs 2/lr")
    ax.legend(fontsize=8)
    ax.grid(True, which="both", alpha=0.3)
    fig.tight_layout()
    out: Figure = fig
    return out
