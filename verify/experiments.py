"""``python -m verify.experiments``: every experiment of the lab, rerun with refnet.

The lab trained a 2-4-4-1 sigmoid network with MSE on two data sets (100
uniform points split by the diagonal, and a 21-point XOR) and drew its
conclusions from one run each. This study reruns every experiment seeded,
with several seeds trained at once as the members of one network (member
``k`` is bitwise the network trained alone from seed ``k``; checked), and
reports each run, the spread across seeds, and where a conclusion of the
lab does not hold for every seed.

Settings (and why)
------------------
- Convention ``lab`` (summed-loss gradients, each layer updated inside the
  backward pass): the lab's arithmetic. ``lr = 0.05`` where the lab gives
  none: the lab's ``TLNN.backward(lr=0.05)`` forwards its ``lr`` to every
  layer, so the layers' own ``lr=0.1`` defaults never apply.
- Epochs: linear data 10000 (the lab's) in every mode; XOR 500000 (the
  lab's) with ``--full``, 20000 by default (every sigmoid run has converged
  by then, see the report), 4000 with ``--quick``.
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
from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt

from refnet.data import linear, xor_easy
from refnet.network import Network, mlp
from refnet.outcomes import first_below, judge
from refnet.train import History, prepare_data, train
from refnet.conventions import Convention
from refnet.layers import ActivationName
from refnet.losses import LossName

from .common.report import JSON, Cell, Report, png_size, to_json

if TYPE_CHECKING:
    from matplotlib.axes import Axes

__all__ = ["main", "Sizes", "Spec", "Run", "SIZES", "LAB_LR", "convergence_epoch"]

LAB_LR = 0.05
"""Learning rate where the lab states none (``TLNN.backward``'s default)."""

LR_SWEEP = (1.0, 0.75, 0.5, 0.1, 0.05, 0.01)
HIDDEN_SWEEP = (2, 4, 6, 8, 16)
GRID = 101
"""Points per axis of the decision-boundary grid over the unit square."""

Curve = npt.NDArray[np.float64]


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
    convention: Convention = "lab-sum"

    def label(self) -> str:
        h = f"{self.hidden[0]}-{self.hidden[1]}"
        return f"{self.data}, 2-{h}-1 {self.activation}/{self.loss.upper()}, lr {self.lr:g}, {self.convention}"


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


@dataclass
class Context:
    sizes: Sizes
    seeds: list[int]
    quiet: bool
    report: Report
    runs: list[Run] = field(default_factory=list)
    cache: dict[Spec, list[Run]] = field(default_factory=dict)
    checks: list[tuple[str, bool, str]] = field(default_factory=list)
    findings: list[dict[str, JSON]] = field(default_factory=list)
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
        net = mlp(2, key.hidden, 1, activation=key.activation, loss=key.loss, seed=members)
        ctx.log(f"  training {len(members)} members x {epochs} epochs: {key.label().split(', lr')[0]}, "
                f"lr {', '.join(f'{s.lr:g}' for s in todo)}, {key.convention}")
        hist = train(net, x, y, lr=lrs, epochs=epochs, convention=key.convention,
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
        runs.append(Run(spec, seeds[k % len(seeds)], hist.loss.shape[0], loss[:, k], float(hist.accuracy[k]),
                        per, readouts[k].outcome, readouts[k].dead_units, grid[k], pred[k]))
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


def _band(ax: Axes, runs: Sequence[Run], label: str, color: str, seeds_lines: bool = False) -> None:
    """Mean curve over seeds with a min/max band (log scale), optionally each seed thinly."""
    curves = np.stack([r.loss for r in runs])
    idx = _thin(curves.shape[1])
    ep = idx + 1
    with np.errstate(all="ignore"):
        lo, hi, mean = curves.min(axis=0)[idx], curves.max(axis=0)[idx], curves.mean(axis=0)[idx]
    ax.fill_between(ep, lo, hi, color=color, alpha=0.2, linewidth=0)
    ax.plot(ep, mean, color=color, label=f"{label} (mean, min-max over {len(runs)} seeds)")
    if seeds_lines:
        for c in curves:
            ax.plot(ep, c[idx], color=color, alpha=0.35, linewidth=0.6)


def _curve_axes(ax: Axes, ylabel: str = "training loss (MSE, mean per point)") -> None:
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("epoch")
    ax.set_ylabel(ylabel)
    ax.grid(True, which="major", alpha=0.3)
    ax.legend(fontsize=7, loc="lower left")


COLORS = ("tab:blue", "tab:orange", "tab:green", "tab:red", "tab:purple", "tab:brown", "tab:pink")


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
    _band(axes[2], runs, "sigmoid/MSE", COLORS[0], seeds_lines=True)
    _curve_axes(axes[2])
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
    """Learning curves of several settings, on one plot (or one per panel)."""
    plt = _plt()
    layout = list(panels) if panels is not None else [list(range(len(groups)))]
    fig, axes = plt.subplots(1, len(layout), figsize=(7.5 * len(layout), 4.8), squeeze=False)
    for p, members in enumerate(layout):
        ax = axes[0][p]
        for c, i in enumerate(members):
            label, runs = groups[i]
            _band(ax, runs, label, COLORS[c % len(COLORS)], seeds_lines)
        _curve_axes(ax, panel_ylabels[p] if p < len(panel_ylabels) else ylabel)
        if p < len(panel_titles):
            ax.set_title(panel_titles[p], fontsize=9)
    fig.suptitle(title)
    fig.tight_layout()
    ctx.report.figure(fig, name, caption)


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


def finding(ctx: Context, claim: str, holds: Sequence[bool], measured: str) -> None:
    """Record one lab conclusion and the seeds for which it holds."""
    n = sum(holds)
    verdict = "holds for every seed" if n == len(holds) else ("holds for no seed" if n == 0 else
                                                              f"holds for {n} of {len(holds)} seeds only")
    ctx.findings.append({"claim": claim, "holds": n, "seeds": len(holds), "verdict": verdict,
                         "measured": measured})
    ctx.report.text(f"- **Lab:** {claim} **Here:** {verdict}. {measured}")


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


# ---------------------------------------------------------------- experiment families

def exp_baseline(ctx: Context) -> dict[str, list[Run]]:
    rep = ctx.report
    rep.section("1. Linear and XOR data, 2-4-4-1 sigmoid/MSE")
    lin, xor = train_specs(ctx, [Spec("linear"), Spec("xor")])
    rep.text(f"The lab's network (2-4-4-1, sigmoid, MSE, no output bias) with its arithmetic "
             f"(`convention=\"lab\"`, lr {LAB_LR}) on linear data ({ctx.sizes.linear_epochs} epochs) "
             f"and XOR ({ctx.sizes.xor_epochs} epochs), seeds {ctx.seeds[0]}..{ctx.seeds[-1]}.")
    summary_table(ctx, [("linear", lin), ("XOR", xor)], "Spread over seeds:")
    fig_truth_prediction(ctx, "linear", lin, "linear_truth_prediction.png")
    fig_truth_prediction(ctx, "xor", xor, "xor_truth_prediction.png")
    fig_boundaries(ctx, [("linear, sigmoid/MSE", lin), ("XOR, sigmoid/MSE", xor)], "boundaries_baseline.png",
                   "Decision boundaries of the baseline networks: predicted probability of class 1 over the "
                   "unit square (black line: p = 0.5), training points on top (circles class 0, squares "
                   "class 1), one column per seed")
    finding(ctx, "the network reaches 100% accuracy on linear data.", [r.accuracy == 100.0 for r in lin],
            f"Accuracy per seed: {', '.join(f'{r.accuracy:.0f}%' for r in lin)}; "
            f"convergence epoch per seed: {', '.join(_conv(r) for r in lin)}.")
    finding(ctx, "the network reaches 100% accuracy on XOR.", [r.accuracy == 100.0 for r in xor],
            f"Accuracy per seed: {', '.join(f'{r.accuracy:.0f}%' for r in xor)}; "
            f"convergence epoch per seed: {', '.join(_conv(r) for r in xor)}.")
    finding(ctx, "XOR needs more epochs than linear data for the loss to converge.",
            [(b.converged_at or 10**9) > (a.converged_at or 10**9) for a, b in zip(lin, xor)],
            "Compared per seed by the convergence epoch (loss below 1% of its first value).")
    ok = all(r.accuracy == 100.0 for r in lin) and any(r.accuracy == 100.0 for r in xor)
    check(ctx, "baseline", ok, "linear: 100% for every seed; XOR: 100% for at least one seed")
    return {"linear": lin, "xor": xor}


def exp_learning_rates(ctx: Context) -> None:
    rep = ctx.report
    rep.section("2. Learning rates on linear data")
    specs = [Spec("linear", lr=lr, convention=c) for c in ("lab-sum", "default") for lr in LR_SWEEP]
    res = train_specs(ctx, specs)
    lab, default = res[:len(LR_SWEEP)], res[len(LR_SWEEP):]
    rep.text(f"lr in {', '.join(f'{v:g}' for v in LR_SWEEP)} on linear data, {ctx.sizes.linear_epochs} epochs, "
             "under the lab's arithmetic (summed gradients, so each step is N = 100 times the mean-gradient "
             "step) and under refnet's default (mean gradients, one update after the backward pass).")
    summary_table(ctx, [(f"lr {lr:g}, lab", r) for lr, r in zip(LR_SWEEP, lab)]
                  + [(f"lr {lr:g}, default", r) for lr, r in zip(LR_SWEEP, default)], "Spread over seeds:")
    fig_curves(ctx, [(f"lr {lr:g}", r) for lr, r in zip(LR_SWEEP, lab)]
               + [(f"lr {lr:g}", r) for lr, r in zip(LR_SWEEP, default)],
               "lr_curves.png", "Learning curves for every learning rate on one plot per convention "
               "(mean over seeds, band: min to max)", "Linear data: learning rates",
               panels=[list(range(6)), list(range(6, 12))],
               panel_titles=["lab convention (summed gradients)", "default convention (mean gradients)"])
    n = len(ctx.seeds)
    slow = [all(lab[-1][s].final_loss >= lab[i][s].final_loss for i in range(len(LR_SWEEP))
                if lab[i][s].accuracy == 100.0) for s in range(n)]
    finding(ctx, "lr 0.01 is too small: its loss converges slowest (lab convention).", slow,
            "lr 0.01 has the highest final loss among the rates that reach 100%; "
            f"convergence epoch of lr 0.01 per seed: {', '.join(_conv(r) for r in lab[-1])}.")
    trains = [all(lab[i][s].accuracy == 100.0 for i in range(len(LR_SWEEP) - 1)) for s in range(n)]
    stalled = [r for i in range(len(LR_SWEEP) - 1) for r in lab[i] if r.accuracy < 100.0]
    finding(ctx, "only the smallest rate (0.01) is a problem; the larger rates train the network.", trains,
            "Under the lab's summed gradients these runs stall: "
            + (", ".join(f"lr {r.spec.lr:g} seed {r.seed} ({r.accuracy:.0f}%, final loss {r.final_loss:.2f})"
                         for r in stalled[:6]) + (f" and {len(stalled) - 6} more" if len(stalled) > 6 else "")
               if stalled else "none")
            + ". A final MSE of 0.48 or 0.52 is the share of the other class: the output is saturated at one "
            "class everywhere. Under the default (mean) convention, seeds at 100% per rate: "
            + "; ".join(f"lr {lr:g}: {sum(r.accuracy == 100.0 for r in rs)}/{n}" for lr, rs in zip(LR_SWEEP, default))
            + f" after {ctx.sizes.linear_epochs} epochs.")
    slow_d = [all(default[-1][s].final_loss >= default[i][s].final_loss for i in range(len(LR_SWEEP)))
              for s in range(n)]
    finding(ctx, "lr 0.01 is too small (default convention).", slow_d,
            f"Final loss at lr 0.01: {', '.join(f'{r.final_loss:.3g}' for r in default[-1])}; "
            f"accuracy: {', '.join(f'{r.accuracy:.0f}%' for r in default[-1])}.")
    check(ctx, "lr sweep", all(r.accuracy == 100.0 for r in lab[3]),
          "lr 0.1 (lab convention) reaches 100% for every seed")


def exp_hidden(ctx: Context) -> None:
    rep = ctx.report
    rep.section("3. Hidden units on linear data")
    specs = [Spec("linear", hidden=(h, h)) for h in HIDDEN_SWEEP]
    res = train_specs(ctx, specs)
    rep.text(f"Both hidden layers with {', '.join(map(str, HIDDEN_SWEEP))} units, lab convention, "
             f"lr {LAB_LR}, {ctx.sizes.linear_epochs} epochs.")
    groups = [(f"{h}-{h} hidden", r) for h, r in zip(HIDDEN_SWEEP, res)]
    summary_table(ctx, groups, "Spread over seeds:")
    fig_curves(ctx, groups, "hidden_units.png", "Learning curves for each hidden-layer width "
               "(mean over seeds, band: min to max)", "Linear data: hidden units")
    n = len(ctx.seeds)
    conv = {h: [r.converged_at or 10**9 for r in rs] for h, rs in zip(HIDDEN_SWEEP, res)}
    faster = [min(conv[6][s], conv[8][s]) < conv[4][s] for s in range(n)]
    finding(ctx, "6 or 8 units converge faster than 4.", faster,
            "Median convergence epoch: " + ", ".join(
                f"{h} units {int(np.median(conv[h]))}" for h in HIDDEN_SWEEP) + ".")
    not_better = [conv[16][s] > min(conv[6][s], conv[8][s]) for s in range(n)]
    finding(ctx, "more units are not always better: 16 units converge slower than 6 or 8.", not_better,
            "Per seed, 16 units against the faster of 6 and 8: "
            + ", ".join(f"seed {ctx.seeds[s]}: {conv[16][s]} vs {min(conv[6][s], conv[8][s])}" for s in range(n))
            + ".")


def exp_xor_variants(ctx: Context, base: Sequence[Run]) -> dict[str, list[Run]]:
    rep = ctx.report
    bce, relu, rb01, rb001 = train_specs(ctx, [
        Spec("xor", loss="bce"), Spec("xor", activation="relu"),
        Spec("xor", activation="relu", loss="bce", lr=0.01), Spec("xor", activation="relu", loss="bce", lr=0.001)])
    e = ctx.sizes.xor_epochs

    rep.section("4. MSE vs BCE on XOR")
    rep.text(f"Sigmoid network, lab convention, lr {LAB_LR}, {e} epochs. The two losses have different "
             "scales, so each has its own panel.")
    summary_table(ctx, [("sigmoid/MSE", base), ("sigmoid/BCE", bce)], "Spread over seeds:")
    fig_curves(ctx, [("MSE", base), ("BCE", bce)], "mse_vs_bce.png",
               "XOR learning curves with MSE (left) and BCE (right), each seed thin, mean thick, band min-max",
               "XOR: MSE vs BCE", seeds_lines=True, panels=[[0], [1]], panel_titles=["MSE", "BCE"],
               panel_ylabels=["training loss (MSE, mean per point)", "training loss (BCE, nats per point)"])
    cm = [r.converged_at for r in base]
    cb = [r.converged_at for r in bce]
    finding(ctx, "MSE and BCE both reach a stable loss at about the same epoch (the lab saw about 100000).",
            [a is not None and b is not None and 0.5 <= a / b <= 2.0 for a, b in zip(cm, cb)],
            "Convergence epochs per seed, MSE / BCE: "
            + ", ".join(f"{a or 'never'} / {b or 'never'}" for a, b in zip(cm, cb))
            + f". Accuracy with BCE: {', '.join(f'{r.accuracy:.0f}%' for r in bce)}. "
            "Here both converge within a few thousand epochs, not 100000.")

    rep.section("5. Sigmoid vs ReLU on XOR (MSE)")
    rep.text(f"Hidden activations sigmoid or ReLU, sigmoid output, MSE, lab convention, lr {LAB_LR}, {e} epochs. "
             "A network whose ReLUs are all dead outputs sigmoid(0) = 0.5 everywhere (the output layer has no "
             "bias), which counts as undecided: 0% accuracy.")
    summary_table(ctx, [("sigmoid/MSE", base), ("ReLU/MSE", relu)], "Spread over seeds:")
    fig_curves(ctx, [("sigmoid", base), ("ReLU", relu)], "sigmoid_vs_relu.png",
               "XOR learning curves with sigmoid and ReLU hidden layers (MSE), each seed thin",
               "XOR: sigmoid vs ReLU", seeds_lines=True)
    faster = [rl.accuracy == 100.0 and (rl.converged_at or 10**9) < (sg.converged_at or 10**9)
              for sg, rl in zip(base, relu)]
    finding(ctx, "ReLU makes the loss converge faster than sigmoid.", faster,
            f"ReLU accuracy per seed: {', '.join(f'{r.accuracy:.0f}%' for r in relu)}; dead hidden units: "
            f"{', '.join(str(r.dead_units) for r in relu)}; convergence epoch ReLU / sigmoid: "
            + ", ".join(f"{_conv(a)} / {_conv(b)}" for a, b in zip(relu, base)) + ".")

    rep.section("6. ReLU + BCE at lr 0.01 vs 0.001 on XOR")
    rep.text(f"ReLU hidden layers, sigmoid output, BCE, lab convention, {e} epochs.")
    summary_table(ctx, [("ReLU/BCE lr 0.01", rb01), ("ReLU/BCE lr 0.001", rb001)], "Spread over seeds:")
    fig_curves(ctx, [("lr 0.01", rb01), ("lr 0.001", rb001)], "relu_bce_lr.png",
               "XOR learning curves, ReLU + BCE at lr 0.01 and 0.001, each seed thin",
               "XOR: ReLU + BCE, lr 0.01 vs 0.001", ylabel="training loss (BCE, nats per point)", seeds_lines=True)
    finding(ctx, "at lr 0.01 ReLU + BCE does not converge, at lr 0.001 it does.",
            [a.accuracy < 100.0 and b.accuracy == 100.0 for a, b in zip(rb01, rb001)],
            f"Accuracy per seed at lr 0.01: {', '.join(f'{r.accuracy:.0f}%' for r in rb01)}; at lr 0.001: "
            f"{', '.join(f'{r.accuracy:.0f}%' for r in rb001)}. Seeds where both converge: "
            f"{_seedlist(rb01, [a.accuracy == 100.0 and b.accuracy == 100.0 for a, b in zip(rb01, rb001)])}; "
            f"where neither does: "
            f"{_seedlist(rb01, [a.accuracy < 100.0 and b.accuracy < 100.0 for a, b in zip(rb01, rb001)])}. "
            "What decides is mostly the seed (dead ReLUs at initialisation), not the rate.")

    rep.section("7. Decision boundaries on XOR")
    fig_boundaries(ctx, [("sigmoid/MSE", base), ("sigmoid/BCE", bce), ("ReLU/MSE", relu),
                         ("ReLU/BCE lr 0.01", rb01), ("ReLU/BCE lr 0.001", rb001)], "boundaries_xor.png",
                   "Decision boundaries on XOR for every variant: predicted probability of class 1 over the "
                   "unit square (black line: p = 0.5), one column per seed")
    return {"bce": bce, "relu": relu, "relu_bce_0.01": rb01, "relu_bce_0.001": rb001}


def _decades(a: Curve, b: Curve) -> float:
    """Largest gap between two loss curves in decades (|log10 a - log10 b|), over finite epochs."""
    with np.errstate(all="ignore"):
        d = np.abs(np.log10(a) - np.log10(b))
    d = d[np.isfinite(d)]
    return float(d.max()) if d.size else float("nan")


def exp_conventions(ctx: Context, base: dict[str, list[Run]], variants: dict[str, list[Run]]) -> None:
    rep = ctx.report
    rep.section("8. The lab's arithmetic vs refnet's default")
    pairs: list[tuple[str, Spec, list[Run]]] = [
        ("linear sigmoid/MSE", Spec("linear"), base["linear"]),
        ("XOR sigmoid/MSE", Spec("xor"), base["xor"]),
        ("XOR ReLU/BCE lr 0.001", Spec("xor", activation="relu", loss="bce", lr=0.001), variants["relu_bce_0.001"]),
    ]
    specs: list[Spec] = []
    for _, s, _ in pairs:
        n_points = ctx.data[s.data][0].shape[0]
        specs += [replace(s, convention="default"), replace(s, convention="default", lr=s.lr * n_points)]
    res = train_specs(ctx, specs)
    rep.text("Each setting is rerun with `convention=\"default\"` twice: at the same nominal lr (each step is "
             "then N times smaller, N = 100 linear points or 21 XOR points) and at lr x N, the same step size, "
             "where the only difference left is the lab's order of operations (each layer updated before the "
             "gradient is sent through it). The gap is the largest |log10 loss_lab - log10 loss_default| over "
             "the epochs, in decades.")
    rows: list[list[Cell]] = []
    groups: list[tuple[str, Sequence[Run]]] = []
    panels: list[list[int]] = []
    titles: list[str] = []
    data: list[JSON] = []
    for j, (label, spec, lab_runs) in enumerate(pairs):
        same, scaled = res[2 * j], res[2 * j + 1]
        n_points = ctx.data[spec.data][0].shape[0]
        for name, other in (("same lr", same), (f"lr x {n_points}", scaled)):
            gaps = [_decades(a.loss, b.loss) for a, b in zip(lab_runs, other)]
            agree = sum(a.accuracy == b.accuracy for a, b in zip(lab_runs, other))
            ratio = [b.final_loss / a.final_loss if a.final_loss > 0 else float("inf")
                     for a, b in zip(lab_runs, other)]
            rows.append([label, f"{spec.lr:g}", name, f"{other[0].spec.lr:g}", float(np.median(gaps)),
                         float(np.min(gaps)), float(np.max(gaps)), float(np.median(ratio)),
                         f"{agree}/{len(lab_runs)}",
                         ", ".join(f"{r.accuracy:.0f}" for r in other),
                         f"{_median_conv(lab_runs)} / {_median_conv(other)}"])
            data.append({"setting": label, "comparison": name, "gap_decades": to_json(gaps), "final_loss_ratio": to_json(ratio)})
        base_i = len(groups)
        groups += [("lab", lab_runs), ("default, same lr", same), (f"default, lr x {n_points}", scaled)]
        panels.append([base_i, base_i + 1, base_i + 2])
        titles.append(label)
    rep.table(["setting", "lab lr", "default run", "default lr", "gap (decades) median", "min", "max",
               "final loss default/lab (median)", "same accuracy", "default accuracy per seed (%)",
               "convergence epoch lab / default"], rows,
              "How far the default-convention curves are from the lab-convention curves, per seed:")
    fig_curves(ctx, groups, "conventions.png", "Lab convention against the default convention at the same lr "
               "and at lr x N (mean over seeds, band: min to max)", "Lab arithmetic vs default",
               panels=panels, panel_titles=titles,
               panel_ylabels=["training loss (MSE, mean per point)", "training loss (MSE, mean per point)",
                              "training loss (BCE, nats per point)"])
    ctx.report.data["conventions"] = data


def check_members(ctx: Context, runs: Sequence[Run]) -> None:
    """Member k of an ensemble run must equal the network trained alone from seed k, bit for bit."""
    r = runs[-1]
    x, y = ctx.data[r.spec.data]
    net = mlp(2, r.spec.hidden, 1, activation=r.spec.activation, loss=r.spec.loss, seed=r.seed)
    hist = train(net, x, y, lr=r.spec.lr, epochs=r.epochs, convention=r.spec.convention)
    same = bool(np.array_equal(np.asarray(hist.loss[:, 0], dtype=np.float64), r.loss))
    check(ctx, "members", same, f"seed {r.seed} trained alone reproduces its ensemble member's loss curve "
          f"bit for bit over {r.epochs} epochs ({r.spec.label()})")


# ---------------------------------------------------------------- main

def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m verify.experiments",
                                description="Rerun every experiment of the lab with refnet, several seeds each.")
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
    rep.text(f"Mode **{sizes.mode}**: {sizes.seeds} seeds per setting, {sizes.linear_epochs} epochs on linear "
             f"data (the lab's 10000), {sizes.xor_epochs} on XOR (the lab's 500000). Rerun with "
             f"`python -m verify.experiments{' --full' if sizes.mode == 'full' else ' --quick' if sizes.mode == 'quick' else ''}"
             f" --seeds {sizes.seeds}`.",
             "Settings: 2-4-4-1 network, no bias in the output layer (as in the lab), weights drawn from a standard "
             "normal with the seed, full-batch gradient descent, float64. The lab's arithmetic "
             "(`convention=\"lab\"`: gradients of the summed loss, each layer updated inside the backward pass). "
             f"Where the lab states no learning rate, lr = {LAB_LR}: the lab's `TLNN.backward(lr=0.05)` passes its "
             "own rate to every layer, so the layers' `lr=0.1` defaults never apply. The linear data set "
             f"({sizes.n_linear} points) is drawn once from seed 0; XOR is the lab's fixed 21 points.",
             "Convergence epoch: the first epoch whose loss is below 1% of the first epoch's. Run time per run "
             "is the wall time of the ensemble divided by its members (seeds train together).")
    rep.section("Lab conclusions checked across seeds")
    findings_at = len(rep.lines)
    ctx.log(f"experiments ({sizes.mode}): {sizes.seeds} seeds")
    base = exp_baseline(ctx)
    exp_learning_rates(ctx)
    exp_hidden(ctx)
    variants = exp_xor_variants(ctx, base["xor"])
    exp_conventions(ctx, base, variants)
    check_members(ctx, base["linear"])

    # The findings were written into their sections; gather them at the top too.
    summary = [f"- {f['claim']} -> **{f['verdict']}**" for f in ctx.findings]
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
    held = sum(1 for f in ctx.findings if f["holds"] == f["seeds"])
    summary_line = (f"{len(ctx.runs)} runs in {seconds:.0f} s ({sizes.mode}, {sizes.seeds} seeds); "
                    f"{held} of {len(ctx.findings)} lab conclusions hold for every seed; "
                    f"checks {'passed' if ok else 'FAILED'}")
    rep.data.update({
        "mode": sizes.mode, "seeds": to_json(ctx.seeds), "linear_epochs": sizes.linear_epochs,
        "xor_epochs": sizes.xor_epochs, "lab_lr": LAB_LR, "seconds": seconds,
        "findings": to_json(ctx.findings),
        "checks": to_json([{"name": n, "passed": c, "detail": d} for n, c, d in ctx.checks]),
        "runs": to_json([{"data": r.spec.data, "hidden": list(r.spec.hidden), "activation": r.spec.activation,
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
