"""``python -m verify.experiments``: every experiment of the lab, rerun with refnet, under two readings.

The lab trained a 2-4-4-1 sigmoid network with MSE on two data sets (100
uniform points split by the diagonal, and a 21-point XOR) and drew its
conclusions from one run each. This study reruns every experiment seeded,
with several seeds trained at once as the members of one network (member
``k`` is bitwise the network trained alone from seed ``k``; checked), and
reports each run, the spread across seeds, and where a conclusion of the
lab does not hold for every seed.

Settings (and why)
------------------
- Every verdict is judged under ``convention="lab-evidence"``: ``READINGS["lab-evidence"]`` of
  :mod:`refnet.conventions`, whatever it is when the study runs (the reading
  that ``python -m verify.lab_reading`` found to reproduce the most of the
  lab's observations). Its fields are read, never assumed, and written into
  the report.
- Every verdict is also judged under ``lab-sum`` (the summed-gradient reading
  with the stable sigmoid, the study's earlier arithmetic, bit for bit): the
  *sensitivity* section lists both verdicts and their numbers side by side and
  says which change and by how much. Nothing of the summed reading is dropped.
- Networks are built with the reading's sigmoid (``mlp(...,
  sigmoid=sigmoid_of(convention))``).
- Learning rates: the lab's stated rates, the same nominal values under both
  readings (a mean-gradient step is N times smaller than a summed one at the
  same rate: that difference is what the comparison measures). ``lr = 0.05``
  where the lab gives none: the lab's ``TLNN.backward(lr=0.05)`` forwards its
  ``lr`` to every layer, so the layers' own ``lr=0.1`` defaults never apply.
- Epochs: linear data 10000 (the lab's) in every mode; XOR 500000 (the
  lab's) with ``--full``, 20000 by default, 4000 with ``--quick``. Under a
  mean-gradient reading XOR at lr 0.05 needs tens of thousands of epochs, so
  only ``--full`` judges the XOR conclusions at the lab's horizon.
- Seeds 0..S-1 for the initial weights (S = 5 by default, 10 with
  ``--full``, 2 with ``--quick``); the linear data set is drawn once from
  seed 0 so that all runs see the same points.
- Convergence epoch: first epoch whose loss is below 1% of the first
  epoch's loss (the same rule for MSE and BCE).
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Final

import numpy as np
import numpy.typing as npt

from refnet.conventions import Convention, ConventionLike, resolve, sigmoid_of
from refnet.data import linear, xor_easy
from refnet.layers import ActivationName
from refnet.losses import LossName
from refnet.network import Network, mlp
from refnet.outcomes import first_below, judge
from refnet.train import History, prepare_data, train

from .common import style
from .common.report import JSON, Cell, Report, png_size, to_json

if TYPE_CHECKING:
    from matplotlib.axes import Axes

__all__ = ["main", "Sizes", "Spec", "Run", "Finding", "SIZES", "LAB_LR", "MAIN", "SENSITIVITY",
           "READINGS_COMPARED", "convergence_epoch", "describe", "step_factor"]

LAB_LR = 0.05
"""Learning rate where the lab states none (``TLNN.backward``'s default)."""

MAIN: Final[Convention] = "lab-evidence"
"""The reading every verdict is judged under (``READINGS["lab-evidence"]`` when the study runs)."""
SENSITIVITY: Final[Convention] = "lab-sum"
"""The summed reading, kept beside it as a sensitivity analysis."""
READINGS_COMPARED: Final[tuple[Convention, ...]] = (MAIN, SENSITIVITY)

LR_SWEEP = (1.0, 0.75, 0.5, 0.1, 0.05, 0.01)
HIDDEN_SWEEP = (2, 4, 6, 8, 16)
GRID = 101
"""Points per axis of the decision-boundary grid over the unit square."""
ABOUT = 2.0
""""About 100000 epochs" holds within this factor: 50000 to 200000."""
NEVER = 10**9
"""Stands for "did not converge" when convergence epochs are compared."""

Curve = npt.NDArray[np.float64]


def describe(convention: ConventionLike) -> str:
    """The arithmetic of a named convention in words, read from its fields."""
    r = resolve(convention)
    if r is None:
        return (f"`{convention}`: refnet's default, the gradient of the mean loss, every layer updated once "
                "after the backward pass, the stable sigmoid")
    grad = ("the gradient of the *mean* loss (divided by the batch size)" if r.gradient == "mean"
            else "the gradient of the *summed* loss")
    mse = "MSE derivative 2(y - t)" if r.mse_derivative == "2(y-t)" else "MSE derivative (y - t)"
    sig = "the lab's naive sigmoid 1 / (1 + exp(-x))" if r.sigmoid == "naive" else "the stable sigmoid"
    batch = "full batch" if r.batch_size is None else f"mini-batches of {r.batch_size}"
    log = "BCE reported in nats" if r.log_base == "e" else "BCE reported in bits (log2)"
    return (f"`{convention}` = `{r.label}`: {grad}, {mse}, {sig}, {batch}, {log}; each layer updated inside "
            "the backward pass, before the gradient is sent on")


def step_factor(convention: ConventionLike, n: int, loss: LossName) -> float:
    """How many default-convention steps one step of ``convention`` is at the same nominal lr, in
    exact arithmetic, on ``n`` points: ``n`` for a summed gradient, halved for the ``(y - t)`` MSE
    derivative; the update order is not counted."""
    r = resolve(convention)
    if r is None:
        return 1.0
    f = float(n if r.batch_size is None else min(n, r.batch_size)) if r.gradient == "sum" else 1.0
    if r.mse_derivative == "(y-t)" and loss == "mse":
        f /= 2.0
    return f


@dataclass(frozen=True)
class Sizes:
    """How much to run: seeds and epochs per data set."""

    mode: str
    seeds: int
    linear_epochs: int
    xor_epochs: int
    n_linear: int = 100


SIZES = {
    "quick": Sizes("quick", 2, 2000, 4000),
    "default": Sizes("default", 5, 10000, 20000),
    "full": Sizes("full", 10, 10000, 500000),
}


@dataclass(frozen=True)
class Spec:
    """One experimental setting (trained for every seed)."""

    data: str
    hidden: tuple[int, int] = (4, 4)
    activation: ActivationName = "sigmoid"
    loss: LossName = "mse"
    lr: float = LAB_LR
    convention: Convention = MAIN
    batch_size: int | None = None
    """Mini-batches (``None``: the convention's own batching, full batch for ``default``)."""

    def label(self) -> str:
        h = f"{self.hidden[0]}-{self.hidden[1]}"
        batch = "" if self.batch_size is None else f", batch {self.batch_size}"
        return (f"{self.data}, 2-{h}-1 {self.activation}/{self.loss.upper()}, lr {self.lr:g}, "
                f"{self.convention}{batch}")


@dataclass
class Run:
    """One trained member: a setting and a seed."""

    spec: Spec
    seed: int
    epochs: int
    loss: Curve
    accuracy: float
    seconds: float
    outcome: str
    dead_units: int
    grid: Curve
    """Predicted probability of class 1 on the ``GRID x GRID`` unit-square grid."""
    prediction: Curve
    """Predicted probability on the training points ``(N,)``."""

    @property
    def final_loss(self) -> float:
        return float(self.loss[-1])

    @property
    def converged_at(self) -> int | None:
        return convergence_epoch(self.loss)


def convergence_epoch(loss: Curve) -> int | None:
    """First epoch (1-based) whose loss is below 1% of the first epoch's; None if never.

    :func:`refnet.outcomes.first_below` with a threshold relative to the start.
    """
    if loss.size == 0 or not np.isfinite(loss[0]):
        return None
    at = int(first_below(loss, 0.01 * loss[0]))
    return at if at >= 0 else None


@dataclass(frozen=True)
class Finding:
    """One lab conclusion judged under one reading: for which seeds it holds, and the numbers."""

    key: str
    claim: str
    reading: str
    holds: tuple[bool, ...]
    measured: str

    @property
    def n(self) -> int:
        return sum(self.holds)

    @property
    def verdict(self) -> str:
        n, m = self.n, len(self.holds)
        return "holds for every seed" if n == m else ("holds for no seed" if n == 0 else
                                                     f"holds for {n} of {m} seeds only")

    def to_json(self) -> dict[str, JSON]:
        return {"key": self.key, "claim": self.claim, "reading": self.reading, "holds": self.n,
                "seeds": len(self.holds), "per_seed": to_json(list(self.holds)), "verdict": self.verdict,
                "measured": self.measured}


@dataclass
class Context:
    sizes: Sizes
    seeds: list[int]
    quiet: bool
    report: Report
    runs: list[Run] = field(default_factory=list)
    cache: dict[Spec, list[Run]] = field(default_factory=dict)
    checks: list[tuple[str, bool, str]] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)
    data: dict[str, tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]] = field(default_factory=dict)

    def log(self, msg: str) -> None:
        if not self.quiet:
            print(msg, file=sys.stderr, flush=True)

    def epochs(self, data: str) -> int:
        return self.sizes.linear_epochs if data == "linear" else self.sizes.xor_epochs


def _grid() -> npt.NDArray[np.float64]:
    g = np.linspace(0.0, 1.0, GRID)
    xx, yy = np.meshgrid(g, g)
    return np.column_stack([xx.ravel(), yy.ravel()])


def _net(spec: Spec, seed: int | list[int]) -> Network:
    """The lab's network for ``spec``, built with its convention's sigmoid formula."""
    return mlp(2, spec.hidden, 1, activation=spec.activation, loss=spec.loss, seed=seed,
               sigmoid=sigmoid_of(spec.convention))


def train_specs(ctx: Context, specs: Sequence[Spec]) -> list[list[Run]]:
    """Train every spec for every seed; return one list of runs (one per seed) per spec, in order.

    Specs that differ only in ``lr`` share one network (one member per seed and rate); a spec
    already trained in this study is reused, not retrained (training is deterministic).
    """
    groups: dict[Spec, list[Spec]] = {}
    for s in specs:
        if s not in ctx.cache and s not in groups.get(replace(s, lr=1.0), []):
            groups.setdefault(replace(s, lr=1.0), []).append(s)
    seeds = ctx.seeds
    for key, todo in groups.items():
        x, y = ctx.data[key.data]
        epochs = ctx.epochs(key.data)
        members = [seed for _ in todo for seed in seeds]
        lrs = np.repeat([s.lr for s in todo], len(seeds))
        net = _net(key, members)
        ctx.log(f"  training {len(members)} members x {epochs} epochs: {key.label().split(', lr')[0]}, "
                f"lr {', '.join(f'{s.lr:g}' for s in todo)}, {key.convention}")
        hist = train(net, x, y, lr=lrs, epochs=epochs, convention=key.convention, batch_size=key.batch_size,
                     quiet=ctx.quiet, label="  train")
        runs = _runs(net, hist, x, y, todo, seeds)
        for j, s in enumerate(todo):
            ctx.cache[s] = runs[j * len(seeds):(j + 1) * len(seeds)]
        ctx.runs += runs
    return [ctx.cache[s] for s in specs]


def _runs(net: Network, hist: History, x: npt.NDArray[np.float64], y: npt.NDArray[np.float64],
          specs: Sequence[Spec], seeds: Sequence[int]) -> list[Run]:
    xa, ya = prepare_data(net, x, y)
    readouts = judge(net, xa, ya, hist.loss)
    grid = np.asarray(net.predict(_grid()), dtype=np.float64)[..., 0]
    pred = np.asarray(net.predict(x), dtype=np.float64)[..., 0]
    loss = np.asarray(hist.loss, dtype=np.float64)
    per = hist.seconds / net.members
    runs = []
    for k in range(net.members):
        spec = specs[k // len(seeds)]
        runs.append(Run(spec, seeds[k % len(seeds)], hist.loss.shape[0], np.ascontiguousarray(loss[:, k]),
                        float(hist.accuracy[k]), per, readouts[k].outcome, readouts[k].dead_units, grid[k],
                        pred[k]))
    return runs


# ---------------------------------------------------------------- figures

def _plt() -> ModuleType:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _thin(n: int, limit: int = 600) -> npt.NDArray[np.intp]:
    """At most about ``limit`` epoch indices, evenly spaced on the log axis the curves use
    (always the first and last epoch)."""
    if n <= limit:
        return np.arange(n)
    return np.unique(np.geomspace(1, n, limit).round().astype(np.intp) - 1)


def _band(ax: Axes, runs: Sequence[Run], label: str, index: int = 0, of: int = 1, seeds_lines: bool = False) -> None:
    """Mean curve over seeds with a min/max band (log scale), optionally each seed thinly.

    Curve ``index`` of ``of`` on the axes gets its own colour, line style and marker (the shared
    style's cycle), its markers offset from the other curves', so that two curves lying exactly on
    top of each other both stay visible.
    """
    color = style.COLORS[index % len(style.COLORS)]
    curves = np.stack([r.loss for r in runs])
    idx = _thin(curves.shape[1])
    ep = idx + 1
    with np.errstate(all="ignore"):
        lo, hi, mean = curves.min(axis=0)[idx], curves.max(axis=0)[idx], curves.mean(axis=0)[idx]
    ax.fill_between(ep, lo, hi, color=color, alpha=0.15, linewidth=0)
    step = max(len(ep) // style.MARKERS_PER_CURVE, 1)
    ax.plot(ep, mean, color=color, linestyle=style.LINESTYLES[index % len(style.LINESTYLES)],
            marker=style.MARKERS[index % len(style.MARKERS)], markevery=(index * step // max(of, 1) % step, step),
            label=label)
    if seeds_lines:
        for c in curves:
            ax.plot(ep, c[idx], color=color, alpha=0.35, linewidth=0.6, marker="", linestyle="-")


def _curve_axes(ax: Axes, ylabel: str = "training loss (MSE, mean per point)") -> None:
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("epoch")
    ax.set_ylabel(ylabel)
    ax.grid(True, which="major", alpha=0.3)


def _scatter(ax: Axes, x: npt.NDArray[np.float64], labels: npt.NDArray[np.float64], title: str) -> None:
    one = labels > 0.5
    zero = labels < 0.5
    und = ~(one | zero)
    ax.scatter(x[zero, 0], x[zero, 1], c="tab:red", s=16, label="class 0")
    ax.scatter(x[one, 0], x[one, 1], c="tab:blue", s=16, label="class 1")
    if und.any():
        ax.scatter(x[und, 0], x[und, 1], c="grey", marker="x", s=20, label="undecided (p = 0.5 or NaN)")
    ax.set_xlim(-0.05, 1.05)
    ax.set_ylim(-0.05, 1.05)
    ax.set_aspect("equal")
    ax.set_xlabel("x0 (input units)")
    ax.set_ylabel("x1 (input units)")
    ax.set_title(title, fontsize=9)
    ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0), borderaxespad=0.0)


def fig_truth_prediction(ctx: Context, data: str, runs: Sequence[Run], name: str) -> None:
    plt = _plt()
    x, y = ctx.data[data]
    r = runs[0]
    fig, axes = plt.subplots(1, 3, figsize=(15, 4.4))
    _scatter(axes[0], x, y[:, 0], "Ground truth")
    with np.errstate(invalid="ignore"):
        cls = np.where(r.prediction > 0.5, 1.0, np.where(r.prediction < 0.5, 0.0, np.nan))
    _scatter(axes[1], x, cls, f"Prediction, seed {r.seed} (p > 0.5), accuracy {r.accuracy:.1f}%")
    _band(axes[2], runs, f"sigmoid/MSE: mean over {len(runs)} seeds, band min to max, each seed thin",
          seeds_lines=True)
    _curve_axes(axes[2])
    style.legend_below(axes[2], ncol=1, fontsize=8)
    axes[2].set_title("Learning curve", fontsize=9)
    fig.suptitle(r.spec.label())
    fig.tight_layout()
    ctx.report.figure(fig, name, f"{data} data: ground truth, prediction of seed {r.seed} and learning curves "
                      f"({r.spec.label()}, {r.epochs} epochs)")


def fig_boundaries(ctx: Context, rows: Sequence[tuple[str, Sequence[Run]]], name: str, caption: str) -> None:
    """Predicted probability of class 1 over the unit square: one row per setting, one column per seed."""
    plt = _plt()
    ncols = min(4, min(len(r) for _, r in rows))
    fig, axes = plt.subplots(len(rows), ncols, figsize=(3.2 * ncols + 1.2, 3.0 * len(rows)),
                             squeeze=False)
    image = None
    for i, (title, runs) in enumerate(rows):
        x, y = ctx.data[runs[0].spec.data]
        for j in range(ncols):
            r = runs[j]
            ax = axes[i][j]
            image = ax.imshow(r.grid.reshape(GRID, GRID), origin="lower", extent=(0, 1, 0, 1),
                              vmin=0.0, vmax=1.0, cmap="RdBu", interpolation="nearest")
            if np.all(np.isfinite(r.grid)) and r.grid.min() < 0.5 < r.grid.max():
                ax.contour(np.linspace(0, 1, GRID), np.linspace(0, 1, GRID), r.grid.reshape(GRID, GRID),
                           levels=[0.5], colors="k", linewidths=0.8)
            lab = y[:, 0] > 0.5
            ax.scatter(x[~lab, 0], x[~lab, 1], c="tab:red", marker="o", edgecolors="w", s=22, linewidths=0.9)
            ax.scatter(x[lab, 0], x[lab, 1], c="tab:blue", marker="s", edgecolors="w", s=20, linewidths=0.9)
            ax.set_title(f"{title}\nseed {r.seed}: {r.accuracy:.0f}%", fontsize=8)
            ax.set_xlabel("x0 (input units)", fontsize=7)
            ax.set_ylabel("x1 (input units)", fontsize=7)
            ax.tick_params(labelsize=6)
    fig.tight_layout(rect=(0, 0, 0.86, 1))
    cax = fig.add_axes((0.89, 0.15, 0.02, 0.7))
    fig.colorbar(image, cax=cax, label="predicted P(class 1)")
    ctx.report.figure(fig, name, caption)


def fig_curves(ctx: Context, groups: Sequence[tuple[str, Sequence[Run]]], name: str, caption: str,
               title: str, ylabel: str = "training loss (MSE, mean per point)", seeds_lines: bool = False,
               panels: Sequence[Sequence[int]] | None = None, panel_titles: Sequence[str] = (),
               panel_ylabels: Sequence[str] = ()) -> None:
    """Learning curves of several settings, on one plot (or one per panel), in the shared style.

    At most :data:`verify.common.style.MAX_WIDTH_PX` wide; the legend sits below the plots (one for
    the whole figure when every panel shows the same settings), never over the curves.
    """
    _plt()
    layout = list(panels) if panels is not None else [list(range(len(groups)))]
    n = len(layout)
    names = [[groups[i][0] for i in members] for members in layout]
    shared = n > 1 and all(m == names[0] for m in names)
    entries = len(names[0]) if shared else max(len(m) for m in names)
    ncol = 3 if shared or n == 1 else 2
    rows = -(-entries // ncol)
    seeds = max(len(r) for _, r in groups)
    with style.style():
        fig, axes = style.subplots(1, n, width=8.0 if n == 1 else 5.3 * n, height=4.2 + 0.28 * rows,
                                   squeeze=False)
        for p, members in enumerate(layout):
            ax = axes[0][p]
            for c, i in enumerate(members):
                label, runs = groups[i]
                _band(ax, runs, label, c, len(members), seeds_lines)
            _curve_axes(ax, panel_ylabels[p] if p < len(panel_ylabels) else ylabel)
            if p < len(panel_titles):
                ax.set_title(panel_titles[p], fontsize=10)
            if not shared:
                style.legend_below(ax, ncol=ncol, bbox_to_anchor=(0.5, -0.16))
        if shared:
            handles, labels = axes[0][0].get_legend_handles_labels()
            fig.legend(handles, labels, loc="outside lower center", ncol=ncol, frameon=False)
        fig.suptitle(f"{title} (mean over {seeds} seeds, band: min to max)")
        ctx.report.figure(fig, name, caption, dpi=style.DPI)


# ---------------------------------------------------------------- tables and findings

def _stats(runs: Sequence[Run]) -> list[Cell]:
    fl = np.array([r.final_loss for r in runs])
    acc = np.array([r.accuracy for r in runs])
    conv = [r.converged_at for r in runs]
    reached = [c for c in conv if c is not None]
    with np.errstate(all="ignore"):
        return [len(runs), float(np.mean(fl)), float(np.min(fl)), float(np.max(fl)),
                float(np.mean(acc)), float(np.min(acc)), float(np.max(acc)),
                sum(a == 100.0 for a in acc),
                f"{len(reached)}/{len(runs)}" + (f", median {int(np.median(reached))}" if reached else "")]


STAT_HEADERS = ["setting", "seeds", "final loss mean", "min", "max", "accuracy % mean", "min", "max",
                "seeds at 100%", "converged (loss < 1% of start): seeds, epoch"]


def summary_table(ctx: Context, groups: Sequence[tuple[str, Sequence[Run]]], caption: str) -> None:
    ctx.report.table(STAT_HEADERS, [[label, *_stats(runs)] for label, runs in groups], caption)


def finding(ctx: Context, convention: Convention, key: str, claim: str, holds: Sequence[bool],
            measured: str) -> None:
    """Record one lab conclusion under one reading and write it into the current section."""
    f = Finding(key, claim, convention, tuple(bool(h) for h in holds), measured)
    ctx.findings.append(f)
    if convention == MAIN:
        ctx.report.text(f"- **Lab:** {claim} **Here (`{convention}`):** {f.verdict}. {measured}")
    else:
        ctx.report.text(f"    - *Sensitivity, `{convention}`:* {f.verdict}. {measured}")


def check(ctx: Context, name: str, ok: bool, detail: str) -> None:
    ctx.checks.append((name, bool(ok), detail))
    ctx.log(f"  check {'ok  ' if ok else 'FAIL'} {name}: {detail}")


def _seedlist(runs: Sequence[Run], pred: Sequence[bool]) -> str:
    return ", ".join(str(r.seed) for r, p in zip(runs, pred) if p) or "none"


def _median_conv(runs: Sequence[Run]) -> str:
    """Median convergence epoch of the runs that converged, with how many did."""
    hits = [r.converged_at for r in runs if r.converged_at is not None]
    return f"median {int(np.median(hits))} ({len(hits)}/{len(runs)})" if hits else f"never (0/{len(runs)})"


def _conv(r: Run) -> str:
    c = r.converged_at
    return str(c) if c is not None else "never"


def _accs(runs: Sequence[Run]) -> str:
    return ", ".join(f"{r.accuracy:.0f}%" for r in runs)


def _span(values: Sequence[int | None]) -> str:
    hit = [v for v in values if v is not None]
    if not hit:
        return "never"
    lo, hi = min(hit), max(hit)
    text = f"{lo}" if lo == hi else f"{lo}-{hi}"
    return text + (f" ({len(hit)} of {len(values)} seeds)" if len(hit) < len(values) else "")


def _horizon(ctx: Context, data: str, needed: float) -> str:
    """A note when this mode's horizon is shorter than a claim needs."""
    e = ctx.epochs(data)
    return (f" (This mode trains {data} for {e} epochs; `--full` judges it at the lab's horizon.)"
            if e < needed else "")


# ---------------------------------------------------------------- experiment families

def _by_reading(res: Sequence[list[Run]], per: int) -> dict[Convention, list[list[Run]]]:
    """Split ``train_specs`` results made of ``per`` specs for each of ``READINGS_COMPARED``."""
    return {c: list(res[i * per:(i + 1) * per]) for i, c in enumerate(READINGS_COMPARED)}


def exp_baseline(ctx: Context) -> dict[Convention, dict[str, list[Run]]]:
    rep = ctx.report
    rep.section("1. Linear and XOR data, 2-4-4-1 sigmoid/MSE")
    res = _by_reading(train_specs(ctx, [Spec(d, convention=c) for c in READINGS_COMPARED
                                        for d in ("linear", "xor")]), 2)
    rep.text(f"The lab's network (2-4-4-1, sigmoid, MSE, no output bias), lr {LAB_LR}, on linear data "
             f"({ctx.sizes.linear_epochs} epochs) and XOR ({ctx.sizes.xor_epochs} epochs), seeds "
             f"{ctx.seeds[0]}..{ctx.seeds[-1]}, under `{MAIN}` (figures) and `{SENSITIVITY}`.")
    summary_table(ctx, [(f"{d}, {c}", res[c][i]) for c in READINGS_COMPARED for i, d in enumerate(("linear", "XOR"))],
                  "Spread over seeds:")
    lin, xor = res[MAIN]
    fig_truth_prediction(ctx, "linear", lin, "linear_truth_prediction.png")
    fig_truth_prediction(ctx, "xor", xor, "xor_truth_prediction.png")
    fig_boundaries(ctx, [("linear, sigmoid/MSE", lin), ("XOR, sigmoid/MSE", xor)], "boundaries_baseline.png",
                   f"Decision boundaries of the baseline networks (`{MAIN}`): predicted probability of class 1 "
                   "over the unit square (black line: p = 0.5), training points on top (circles class 0, "
                   "squares class 1), one column per seed")
    for c in READINGS_COMPARED:
        lin, xor = res[c]
        finding(ctx, c, "linear-100", "the network reaches 100% accuracy on linear data.",
                [r.accuracy == 100.0 for r in lin],
                f"Accuracy per seed: {_accs(lin)}; convergence epoch per seed: {', '.join(_conv(r) for r in lin)}.")
        finding(ctx, c, "xor-100", "the network reaches 100% accuracy on XOR.", [r.accuracy == 100.0 for r in xor],
                f"Accuracy per seed: {_accs(xor)}; convergence epoch per seed: {', '.join(_conv(r) for r in xor)}."
                + _horizon(ctx, "xor", 500000))
        finding(ctx, c, "xor-slower", "XOR needs more epochs than linear data for the loss to converge.",
                [(b.converged_at or NEVER) > (a.converged_at or NEVER) for a, b in zip(lin, xor)],
                "Convergence epoch per seed, linear / XOR: "
                + ", ".join(f"{_conv(a)} / {_conv(b)}" for a, b in zip(lin, xor)) + ".")
    lin, xor = res[SENSITIVITY]
    ok = all(r.accuracy == 100.0 for r in lin) and any(r.accuracy == 100.0 for r in xor)
    check(ctx, "baseline", ok, f"anchor: under `{SENSITIVITY}` linear data at 100% for every seed and XOR for "
          "at least one (the summed reading's known result)")
    return {c: {"linear": res[c][0], "xor": res[c][1]} for c in READINGS_COMPARED}


def _lr_findings(ctx: Context, c: Convention, runs: Sequence[list[Run]]) -> None:
    n = len(ctx.seeds)
    slow = [all(runs[-1][s].final_loss >= runs[i][s].final_loss for i in range(len(LR_SWEEP))
                if runs[i][s].accuracy == 100.0) for s in range(n)]
    finding(ctx, c, "lr-0.01-slowest", "lr 0.01 is too small: its loss converges slowest.", slow,
            "lr 0.01 has the highest final loss among the rates that reach 100% (or fails to reach it); "
            f"final loss at lr 0.01 per seed: {', '.join(f'{r.final_loss:.3g}' for r in runs[-1])}; accuracy "
            f"{_accs(runs[-1])}; convergence epoch {', '.join(_conv(r) for r in runs[-1])}.")
    trains = [all(runs[i][s].accuracy == 100.0 for i in range(len(LR_SWEEP) - 1)) for s in range(n)]
    failed = [r for i in range(len(LR_SWEEP) - 1) for r in runs[i] if r.accuracy < 100.0]
    finding(ctx, c, "lr-large-train", "only the smallest rate (0.01) is a problem; the larger rates train the "
            "network.", trains,
            "Seeds at 100% per rate: "
            + "; ".join(f"lr {lr:g}: {sum(r.accuracy == 100.0 for r in rs)}/{n}" for lr, rs in zip(LR_SWEEP, runs))
            + ". Runs of the larger rates below 100%: "
            + ((", ".join(f"lr {r.spec.lr:g} seed {r.seed} ({r.accuracy:.0f}%, final loss {r.final_loss:.3g}, "
                          f"{r.outcome})" for r in failed[:6])
                + (f" and {len(failed) - 6} more" if len(failed) > 6 else "")) if failed else "none") + ".")


def exp_learning_rates(ctx: Context) -> None:
    rep = ctx.report
    rep.section("2. Learning rates on linear data")
    convs: tuple[Convention, ...] = (*READINGS_COMPARED, "default")
    res = train_specs(ctx, [Spec("linear", lr=lr, convention=c) for c in convs for lr in LR_SWEEP])
    by = {c: res[i * len(LR_SWEEP):(i + 1) * len(LR_SWEEP)] for i, c in enumerate(convs)}
    n_points = ctx.data["linear"][0].shape[0]
    rep.text(f"lr in {', '.join(f'{v:g}' for v in LR_SWEEP)} on linear data ({n_points} points), "
             f"{ctx.sizes.linear_epochs} epochs, the same nominal rates under `{MAIN}`, `{SENSITIVITY}` and "
             f"refnet's default. In exact arithmetic one step of a reading is "
             + ", ".join(f"`{c}` {step_factor(c, n_points, 'mse'):g}" for c in READINGS_COMPARED)
             + " default-convention steps at the same rate.")
    summary_table(ctx, [(f"lr {lr:g}, {c}", r) for c in convs for lr, r in zip(LR_SWEEP, by[c])],
                  "Spread over seeds:")
    fig_curves(ctx, [(f"lr {lr:g}", r) for c in convs for lr, r in zip(LR_SWEEP, by[c])],
               "lr_curves.png", "Learning curves for every learning rate, one panel per convention "
               "(mean over seeds, band: min to max)", "Linear data: learning rates",
               panels=[list(range(6 * i, 6 * i + 6)) for i in range(len(convs))],
               panel_titles=[f"{c}: {resolve(c) or 'refnet default (mean gradient, update after backward)'}" for c in convs])
    for c in READINGS_COMPARED:
        _lr_findings(ctx, c, by[c])
    n = len(ctx.seeds)
    rep.text("Refnet's default convention at the same rates, for reference (not a reading of the lab): seeds at "
             "100% per rate " + "; ".join(f"lr {lr:g}: {sum(r.accuracy == 100.0 for r in rs)}/{n}"
                                          for lr, rs in zip(LR_SWEEP, by["default"]))
             + f"; final loss at lr 0.01: {', '.join(f'{r.final_loss:.3g}' for r in by['default'][-1])}.")
    check(ctx, "lr sweep", all(r.accuracy == 100.0 for r in by[SENSITIVITY][3]),
          f"anchor: lr 0.1 under `{SENSITIVITY}` reaches 100% for every seed")


def exp_hidden(ctx: Context) -> None:
    rep = ctx.report
    rep.section("3. Hidden units on linear data")
    res = _by_reading(train_specs(ctx, [Spec("linear", hidden=(h, h), convention=c) for c in READINGS_COMPARED
                                        for h in HIDDEN_SWEEP]), len(HIDDEN_SWEEP))
    rep.text(f"Both hidden layers with {', '.join(map(str, HIDDEN_SWEEP))} units, lr {LAB_LR}, "
             f"{ctx.sizes.linear_epochs} epochs, `{MAIN}` (figure) and `{SENSITIVITY}`.")
    summary_table(ctx, [(f"{h}-{h} hidden, {c}", r) for c in READINGS_COMPARED for h, r in zip(HIDDEN_SWEEP, res[c])],
                  "Spread over seeds:")
    fig_curves(ctx, [(f"{h}-{h} hidden", r) for h, r in zip(HIDDEN_SWEEP, res[MAIN])], "hidden_units.png",
               f"Learning curves for each hidden-layer width, `{MAIN}` (mean over seeds, band: min to max)",
               "Linear data: hidden units")
    n = len(ctx.seeds)
    for c in READINGS_COMPARED:
        conv = {h: [r.converged_at or NEVER for r in rs] for h, rs in zip(HIDDEN_SWEEP, res[c])}

        def show(v: int) -> str:
            return "never" if v == NEVER else str(v)

        finding(ctx, c, "hidden-6-8", "6 or 8 units converge faster than 4.",
                [min(conv[6][s], conv[8][s]) < conv[4][s] for s in range(n)],
                "Median convergence epoch: " + ", ".join(
                    f"{h} units {show(int(np.median(conv[h])))}" for h in HIDDEN_SWEEP)
                + "; per seed 4 / 6 / 8 units: "
                + ", ".join(f"{show(conv[4][s])} / {show(conv[6][s])} / {show(conv[8][s])}" for s in range(n)) + ".")
        finding(ctx, c, "hidden-more", "more units are not always better: 16 units converge slower than 6 or 8.",
                [conv[16][s] > min(conv[6][s], conv[8][s]) for s in range(n)],
                "Per seed, 16 units against the faster of 6 and 8: "
                + ", ".join(f"seed {ctx.seeds[s]}: {show(conv[16][s])} vs {show(min(conv[6][s], conv[8][s]))}"
                            for s in range(n)) + ".")


XOR_VARIANTS = ("bce", "relu", "relu_bce_0.01", "relu_bce_0.001")


def _xor_specs(c: Convention) -> list[Spec]:
    return [Spec("xor", loss="bce", convention=c), Spec("xor", activation="relu", convention=c),
            Spec("xor", activation="relu", loss="bce", lr=0.01, convention=c),
            Spec("xor", activation="relu", loss="bce", lr=0.001, convention=c)]


def exp_xor_variants(ctx: Context, base: dict[Convention, dict[str, list[Run]]]) -> dict[Convention, dict[str, list[Run]]]:
    rep = ctx.report
    res = _by_reading(train_specs(ctx, [s for c in READINGS_COMPARED for s in _xor_specs(c)]), 4)
    out = {c: dict(zip(XOR_VARIANTS, res[c])) for c in READINGS_COMPARED}
    e = ctx.sizes.xor_epochs
    base_xor = {c: base[c]["xor"] for c in READINGS_COMPARED}

    rep.section("4. MSE vs BCE on XOR")
    rep.text(f"Sigmoid network, lr {LAB_LR}, {e} epochs, `{MAIN}` (figure) and `{SENSITIVITY}`. The two losses "
             "have different scales, so each has its own panel.")
    summary_table(ctx, [(f"sigmoid/{loss}, {c}", r) for c in READINGS_COMPARED
                        for loss, r in (("MSE", base_xor[c]), ("BCE", out[c]["bce"]))], "Spread over seeds:")
    fig_curves(ctx, [("MSE", base_xor[MAIN]), ("BCE", out[MAIN]["bce"])], "mse_vs_bce.png",
               f"XOR learning curves with MSE (left) and BCE (right), `{MAIN}`, each seed thin, mean thick, "
               "band min-max", "XOR: MSE vs BCE", seeds_lines=True, panels=[[0], [1]], panel_titles=["MSE", "BCE"],
               panel_ylabels=["training loss (MSE, mean per point)", "training loss (BCE per point)"])
    for c in READINGS_COMPARED:
        cm = [r.converged_at for r in base_xor[c]]
        cb = [r.converged_at for r in out[c]["bce"]]
        finding(ctx, c, "mse-bce-same", "MSE and BCE both reach a stable loss at about the same epoch "
                "(within a factor 2).",
                [a is not None and b is not None and 0.5 <= a / b <= 2.0 for a, b in zip(cm, cb)],
                "Convergence epochs per seed, MSE / BCE: "
                + ", ".join(f"{a or 'never'} / {b or 'never'}" for a, b in zip(cm, cb))
                + f". Accuracy with BCE: {_accs(out[c]['bce'])}.")
        lo, hi = 100000 / ABOUT, 100000 * ABOUT
        finding(ctx, c, "mse-bce-100k", f"both stabilise at about epoch 100000 (within a factor {ABOUT:g}: "
                f"{lo:.0f} to {hi:.0f}).",
                [a is not None and b is not None and lo <= a <= hi and lo <= b <= hi for a, b in zip(cm, cb)],
                f"Convergence epochs: MSE {_span(cm)}, BCE {_span(cb)}." + _horizon(ctx, "xor", lo))

    rep.section("5. Sigmoid vs ReLU on XOR (MSE)")
    rep.text(f"Hidden activations sigmoid or ReLU, sigmoid output, MSE, lr {LAB_LR}, {e} epochs. A network whose "
             "ReLUs are all dead outputs sigmoid(0) = 0.5 everywhere (the output layer has no bias), which counts "
             "as undecided: 0% accuracy.")
    summary_table(ctx, [(f"{a}/MSE, {c}", r) for c in READINGS_COMPARED
                        for a, r in (("sigmoid", base_xor[c]), ("ReLU", out[c]["relu"]))], "Spread over seeds:")
    fig_curves(ctx, [("sigmoid", base_xor[MAIN]), ("ReLU", out[MAIN]["relu"])], "sigmoid_vs_relu.png",
               f"XOR learning curves with sigmoid and ReLU hidden layers (MSE), `{MAIN}`, each seed thin",
               "XOR: sigmoid vs ReLU", seeds_lines=True)
    for c in READINGS_COMPARED:
        relu, sig = out[c]["relu"], base_xor[c]
        faster = [rl.accuracy == 100.0 and (rl.converged_at or NEVER) < (sg.converged_at or NEVER)
                  for sg, rl in zip(sig, relu)]
        finding(ctx, c, "relu-faster", "ReLU makes the loss converge faster than sigmoid.", faster,
                f"ReLU accuracy per seed: {_accs(relu)}; dead hidden units: "
                f"{', '.join(str(r.dead_units) for r in relu)}; convergence epoch ReLU / sigmoid: "
                + ", ".join(f"{_conv(a)} / {_conv(b)}" for a, b in zip(relu, sig)) + ".")

    rep.section("6. ReLU + BCE at lr 0.01 vs 0.001 on XOR")
    rep.text(f"ReLU hidden layers, sigmoid output, BCE, {e} epochs, the lab's two rates under both readings.")
    summary_table(ctx, [(f"ReLU/BCE lr {lr}, {c}", out[c][f"relu_bce_{lr}"]) for c in READINGS_COMPARED
                        for lr in ("0.01", "0.001")], "Spread over seeds:")
    fig_curves(ctx, [("lr 0.01", out[MAIN]["relu_bce_0.01"]), ("lr 0.001", out[MAIN]["relu_bce_0.001"])],
               "relu_bce_lr.png", f"XOR learning curves, ReLU + BCE at lr 0.01 and 0.001, `{MAIN}`, each seed thin",
               "XOR: ReLU + BCE, lr 0.01 vs 0.001", ylabel="training loss (BCE per point)", seeds_lines=True)
    for c in READINGS_COMPARED:
        a01, a001 = out[c]["relu_bce_0.01"], out[c]["relu_bce_0.001"]
        both = [a.accuracy == 100.0 and b.accuracy == 100.0 for a, b in zip(a01, a001)]
        neither = [a.accuracy < 100.0 and b.accuracy < 100.0 for a, b in zip(a01, a001)]
        same = sum(both) + sum(neither)
        finding(ctx, c, "relu-bce-lr", "at lr 0.01 ReLU + BCE does not converge, at lr 0.001 it does.",
                [a.accuracy < 100.0 and b.accuracy == 100.0 for a, b in zip(a01, a001)],
                f"Accuracy per seed at lr 0.01: {_accs(a01)}; at lr 0.001: {_accs(a001)}; convergence epoch "
                f"lr 0.01 / 0.001: {', '.join(f'{_conv(a)} / {_conv(b)}' for a, b in zip(a01, a001))}. Seeds where "
                f"both reach 100%: {_seedlist(a01, both)}; where neither does: {_seedlist(a01, neither)}"
                + (f": for {same} of {len(a01)} seeds the outcome is the same at both rates, so the seed decides "
                   "it there, not the rate." if same else "."))

    rep.section("7. Decision boundaries on XOR")
    m = out[MAIN]
    fig_boundaries(ctx, [("sigmoid/MSE", base_xor[MAIN]), ("sigmoid/BCE", m["bce"]), ("ReLU/MSE", m["relu"]),
                         ("ReLU/BCE lr 0.01", m["relu_bce_0.01"]), ("ReLU/BCE lr 0.001", m["relu_bce_0.001"])],
                   "boundaries_xor.png",
                   f"Decision boundaries on XOR for every variant (`{MAIN}`): predicted probability of class 1 over "
                   "the unit square (black line: p = 0.5), one column per seed")
    return out


def _decades(a: Curve, b: Curve) -> float:
    """Largest gap between two loss curves in decades (|log10 a - log10 b|), over finite epochs."""
    with np.errstate(all="ignore"):
        d = np.abs(np.log10(a) - np.log10(b))
    d = d[np.isfinite(d)]
    return float(d.max()) if d.size else float("nan")


def exp_conventions(ctx: Context, base: dict[Convention, dict[str, list[Run]]],
                    variants: dict[Convention, dict[str, list[Run]]]) -> None:
    rep = ctx.report
    rep.section("8. The readings against refnet's default")
    settings: list[tuple[str, Spec, dict[Convention, list[Run]]]] = [
        ("linear sigmoid/MSE", Spec("linear"), {c: base[c]["linear"] for c in READINGS_COMPARED}),
        ("XOR sigmoid/MSE", Spec("xor"), {c: base[c]["xor"] for c in READINGS_COMPARED}),
        ("XOR ReLU/BCE lr 0.001", Spec("xor", activation="relu", loss="bce", lr=0.001),
         {c: variants[c]["relu_bce_0.001"] for c in READINGS_COMPARED}),
    ]
    def batching(c: Convention) -> int | None:
        r = resolve(c)
        return None if r is None else r.batch_size

    keys: list[list[tuple[float, int | None]]] = []
    specs: list[Spec] = []
    for _, s, _ in settings:
        n_points = ctx.data[s.data][0].shape[0]
        ks = sorted({(f, batching(c)) for c in READINGS_COMPARED
                     for f in {1.0, float(n_points), step_factor(c, n_points, s.loss)}},
                    key=lambda k: (k[1] or 0, k[0]))
        keys.append(ks)
        specs += [replace(s, convention="default", lr=s.lr * f, batch_size=b) for f, b in ks]
    res = iter(train_specs(ctx, specs))
    rep.text("Each setting is rerun under `convention=\"default\"` at the same nominal rate and at the rate times "
             "N (N = 100 linear points or 21 XOR points; and at any other multiple a reading's step needs), with "
             "the reading's batching. In exact arithmetic a reading whose step is f default steps (f = N for a "
             "summed gradient, 1 for a mean one) follows the default at lr x f except for its order of operations "
             "(each layer updated before the gradient is sent through it); that default run is marked *matched*. "
             "The gap is the largest |log10 loss_reading - log10 loss_default| over the epochs, in decades.")
    rows: list[list[Cell]] = []
    groups: list[tuple[str, Sequence[Run]]] = []
    panels: list[list[int]] = []
    titles: list[str] = []
    data: list[JSON] = []
    for (label, spec, lab_runs), ks in zip(settings, keys):
        n_points = ctx.data[spec.data][0].shape[0]
        runs_of = {k: next(res) for k in ks}
        for c in READINGS_COMPARED:
            matched = step_factor(c, n_points, spec.loss)
            for (f, b), other in runs_of.items():
                if b != batching(c):
                    continue
                name = ("same lr" if f == 1.0 else f"lr x {f:g}") + ("" if b is None else f", batch {b}")
                gaps = [_decades(a.loss, b.loss) for a, b in zip(lab_runs[c], other)]
                agree = sum(a.accuracy == b.accuracy for a, b in zip(lab_runs[c], other))
                ratio = [b.final_loss / a.final_loss if a.final_loss > 0 else float("inf")
                         for a, b in zip(lab_runs[c], other)]
                rows.append([label, c, f"{spec.lr:g}", name + (" (matched)" if f == matched else ""),
                             f"{other[0].spec.lr:g}", float(np.median(gaps)), float(np.min(gaps)),
                             float(np.max(gaps)), float(np.median(ratio)), f"{agree}/{len(other)}",
                             ", ".join(f"{r.accuracy:.0f}" for r in other),
                             f"{_median_conv(lab_runs[c])} / {_median_conv(other)}"])
                data.append({"setting": label, "reading": c, "comparison": name, "factor": f,
                             "matched": f == matched, "gap_decades": to_json(gaps),
                             "final_loss_ratio": to_json(ratio), "same_accuracy": agree})
        first = len(groups)
        groups += [(c, lab_runs[c]) for c in READINGS_COMPARED]
        groups += [("default, " + ("same lr" if f == 1.0 else f"lr x {f:g}") + ("" if b is None else f", batch {b}"), r)
                   for (f, b), r in runs_of.items()]
        panels.append(list(range(first, len(groups))))
        titles.append(label)
    rep.table(["setting", "reading", "lr", "default run", "default lr", "gap (decades) median", "min", "max",
               "final loss default/reading (median)", "same accuracy", "default accuracy per seed (%)",
               "convergence epoch reading / default"], rows,
              "How far the default-convention curves are from each reading's curves, per seed:")
    fig_curves(ctx, groups, "conventions.png", f"`{MAIN}` and `{SENSITIVITY}` against the default convention at the "
               "same lr and at lr x N (mean over seeds, band: min to max)", "Lab readings vs default",
               panels=panels, panel_titles=titles,
               panel_ylabels=["training loss (MSE, mean per point)", "training loss (MSE, mean per point)",
                              "training loss (BCE per point)"])
    ctx.report.data["conventions"] = data


def sensitivity(ctx: Context) -> list[dict[str, JSON]]:
    """Section 9: every conclusion's verdict under both readings, what changes and by how much."""
    rep = ctx.report
    rep.section(f"9. Sensitivity: the verdicts under `{MAIN}` and under `{SENSITIVITY}`")
    by = {(f.key, f.reading): f for f in ctx.findings}
    keys = list(dict.fromkeys(f.key for f in ctx.findings))
    rows: list[list[Cell]] = []
    out: list[dict[str, JSON]] = []
    for k in keys:
        a, b = by[(k, MAIN)], by[(k, SENSITIVITY)]
        flips = [s for s, (x, y) in zip(ctx.seeds, zip(a.holds, b.holds)) if x != y]
        change = ("unchanged" if a.verdict == b.verdict else
                  f"changes: {b.n}/{len(b.holds)} -> {a.n}/{len(a.holds)} seeds ({a.n - b.n:+d})")
        rows.append([a.claim, f"{a.n}/{len(a.holds)}", f"{b.n}/{len(b.holds)}", change,
                     ", ".join(map(str, flips)) or "none"])
        out.append({"key": k, "claim": a.claim, MAIN: a.to_json(), SENSITIVITY: b.to_json(),
                    "verdict_changed": a.verdict != b.verdict, "seeds_changed": to_json(flips),
                    "delta_holds": a.n - b.n})
    changed = sum(1 for o in out if o["verdict_changed"])
    rep.text(f"Each lab conclusion judged under `{MAIN}` ({describe(MAIN)}) and under `{SENSITIVITY}` "
             f"({describe(SENSITIVITY)}), at the same nominal learning rates. **{changed} of {len(out)} verdicts "
             f"change** between the two readings. *Change* gives the seeds for which the conclusion holds, "
             f"`{SENSITIVITY}` -> `{MAIN}`; *seeds that flip* those whose outcome differs.")
    rep.table(["lab conclusion", f"holds under {MAIN}", f"holds under {SENSITIVITY}", "change", "seeds that flip"],
              rows)
    rep.text("The numbers behind each verdict, both readings:")
    for k in keys:
        a, b = by[(k, MAIN)], by[(k, SENSITIVITY)]
        rep.text(f"- **{a.claim}**", f"    - `{MAIN}`: {a.verdict}. {a.measured}",
                 f"    - `{SENSITIVITY}`: {b.verdict}. {b.measured}")
    return out


def check_members(ctx: Context, runs: Sequence[Run]) -> None:
    """Member k of an ensemble run must equal the network trained alone from seed k, bit for bit."""
    r = runs[-1]
    x, y = ctx.data[r.spec.data]
    net = _net(r.spec, r.seed)
    hist = train(net, x, y, lr=r.spec.lr, epochs=r.epochs, convention=r.spec.convention,
                 batch_size=r.spec.batch_size)
    same = bool(np.array_equal(np.asarray(hist.loss[:, 0], dtype=np.float64), r.loss))
    check(ctx, f"members {r.spec.convention}", same, f"seed {r.seed} trained alone reproduces its ensemble "
          f"member's loss curve bit for bit over {r.epochs} epochs ({r.spec.label()})")


# ---------------------------------------------------------------- main

def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m verify.experiments",
                                description="Rerun every experiment of the lab with refnet, several seeds each, "
                                            f"under the `{MAIN}` reading with `{SENSITIVITY}` beside it.")
    size = p.add_mutually_exclusive_group()
    size.add_argument("--quick", action="store_true",
                      help="test size: 2 seeds, 2000 epochs on linear data, 4000 on XOR (seconds)")
    size.add_argument("--full", action="store_true",
                      help="the lab's sizes: 10 seeds, 10000 epochs on linear data, 500000 on XOR (minutes)")
    p.add_argument("--seeds", type=int, default=None,
                   help="number of seeds (0..S-1) per setting; default 5 (2 with --quick, 10 with --full)")
    p.add_argument("--report", default="report/experiments",
                   help="directory for report.md, report.json and the PNG figures (default report/experiments)")
    p.add_argument("--quiet", action="store_true", help="no progress on stderr")
    return p


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    sizes = SIZES["quick" if args.quick else "full" if args.full else "default"]
    if args.seeds is not None:
        if args.seeds < 1:
            print(f"error: --seeds: expected a positive integer, got {args.seeds}", file=sys.stderr)
            return 2
        sizes = replace(sizes, seeds=args.seeds)
    start = time.perf_counter()
    rep = Report("experiments", "The lab's experiments, rerun", Path(args.report))
    ctx = Context(sizes, list(range(sizes.seeds)), args.quiet, rep)
    ctx.data["linear"] = linear(sizes.n_linear, np.random.default_rng(0))
    ctx.data["xor"] = xor_easy()
    flag = " --full" if sizes.mode == "full" else " --quick" if sizes.mode == "quick" else ""
    rep.text(f"Mode **{sizes.mode}**: {sizes.seeds} seeds per setting, {sizes.linear_epochs} epochs on linear "
             f"data (the lab's 10000), {sizes.xor_epochs} on XOR (the lab's 500000). Rerun with "
             f"`python -m verify.experiments{flag} --seeds {sizes.seeds}`.",
             "Settings: 2-4-4-1 network, no bias in the output layer (as in the lab), weights drawn from a standard "
             "normal with the seed, float64. Every verdict is judged under the lab reading "
             f"{describe(MAIN)}, and again under the summed reading {describe(SENSITIVITY)} (section 9 compares "
             f"them). Networks are built with the reading's sigmoid. Where the lab states no learning rate, "
             f"lr = {LAB_LR}: the lab's `TLNN.backward(lr=0.05)` passes its own rate to every layer, so the layers' "
             "`lr=0.1` defaults never apply; the lab's stated rates are used as given, the same nominal values "
             "under both readings. The linear data set "
             f"({sizes.n_linear} points) is drawn once from seed 0; XOR is the lab's fixed 21 points.",
             "Convergence epoch: the first epoch whose loss is below 1% of the first epoch's. Run time per run "
             "is the wall time of the ensemble divided by its members (seeds train together).")
    rep.section(f"Lab conclusions checked across seeds (`{MAIN}`; `{SENSITIVITY}` in brackets)")
    findings_at = len(rep.lines)
    ctx.log(f"experiments ({sizes.mode}): {sizes.seeds} seeds, readings {', '.join(READINGS_COMPARED)}")
    base = exp_baseline(ctx)
    exp_learning_rates(ctx)
    exp_hidden(ctx)
    variants = exp_xor_variants(ctx, base)
    exp_conventions(ctx, base, variants)
    sens = sensitivity(ctx)
    for c in READINGS_COMPARED:
        check_members(ctx, base[c]["linear"])

    # The findings were written into their sections; gather them at the top too.
    other = {f.key: f for f in ctx.findings if f.reading == SENSITIVITY}
    summary = [f"- {f.claim} -> **{f.verdict}** ({other[f.key].verdict}"
               + ("" if other[f.key].verdict == f.verdict else ": changes") + ")"
               for f in ctx.findings if f.reading == MAIN]
    rep.lines[findings_at:findings_at] = summary + [""]

    rep.section("All runs")
    rows: list[list[Cell]] = []
    for r in ctx.runs:
        s = r.spec
        rows.append([s.data, f"{s.hidden[0]}-{s.hidden[1]}", s.activation, s.loss.upper(), s.lr, s.convention,
                     r.seed, r.epochs, r.final_loss, r.accuracy, r.outcome, _conv(r), r.seconds])
    rep.table(["data", "hidden", "activation", "loss", "lr", "convention", "seed", "epochs", "final loss",
               "accuracy %", "outcome", "converged at", "time (s)"], rows, "One row per run:")

    for name in rep.figures:
        try:
            png_size(rep.directory / name)
            good = True
        except ValueError:
            good = False
        if not good:
            check(ctx, "figures", False, f"{name} is not a valid PNG")
    seconds = time.perf_counter() - start
    rep.section("Checks")
    rep.table(["check", "passed", "detail"], [[n, ok, d] for n, ok, d in ctx.checks])
    ok = all(c[1] for c in ctx.checks)
    held = {c: sum(1 for f in ctx.findings if f.reading == c and f.n == len(f.holds)) for c in READINGS_COMPARED}
    n_claims = len(sens)
    changed = sum(1 for s in sens if s["verdict_changed"])
    summary_line = (f"{len(ctx.runs)} runs in {seconds:.0f} s ({sizes.mode}, {sizes.seeds} seeds); "
                    f"{held[MAIN]} of {n_claims} lab conclusions hold for every seed under {MAIN} "
                    f"({held[SENSITIVITY]} under {SENSITIVITY}; {changed} verdicts change); "
                    f"checks {'passed' if ok else 'FAILED'}")
    readings: dict[str, JSON] = {}
    for c in READINGS_COMPARED:
        reading = resolve(c)
        readings[c] = None if reading is None else reading.label
    rep.data.update({
        "mode": sizes.mode, "seeds": to_json(ctx.seeds), "linear_epochs": sizes.linear_epochs,
        "xor_epochs": sizes.xor_epochs, "lab_lr": LAB_LR, "seconds": seconds,
        "main_reading": MAIN, "sensitivity_reading": SENSITIVITY, "readings": readings,
        "findings": to_json([f.to_json() for f in ctx.findings if f.reading == MAIN]),
        "findings_sensitivity": to_json([f.to_json() for f in ctx.findings if f.reading == SENSITIVITY]),
        "sensitivity": to_json(sens),
        "checks": to_json([{"name": n, "passed": c, "detail": d} for n, c, d in ctx.checks]),
        "runs": to_json([{"data": r.spec.data, "hidden": list(r.spec.hidden), "activation": r.spec.activation, "batch_size": r.spec.batch_size,
                          "loss": r.spec.loss, "lr": r.spec.lr, "convention": r.spec.convention, "seed": r.seed,
                          "epochs": r.epochs, "final_loss": to_json(r.final_loss), "accuracy": r.accuracy,
                          "outcome": r.outcome, "converged_at": r.converged_at, "seconds": r.seconds}
                         for r in ctx.runs]),
    })
    rep.write(ok, summary_line)
    if not args.quiet:
        print(f"{summary_line}\nreport: {rep.directory / 'report.md'}", file=sys.stderr)
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
