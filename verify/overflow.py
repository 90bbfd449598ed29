"""``python -m verify.overflow``: the lab's no-activation overflow, reproduced and explained.

The lab removed the hidden sigmoids (Linear(2,6) -> Linear(6,6) -> Linear(6,1),
MSE, XOR, mini-batches of 20), saw ``overflow encountered in square`` and 0%
accuracy, and blamed the batch size. This study

1. reproduces the first try (no activation) and the second (output sigmoid
   kept) under the lab's convention and refnet's default, in float64 and
   float32, with the overflow guard in ``raise`` mode (first event, early
   warnings) and an independent trace that must agree with it; then replays
   the lab's loop with the guard off to show its symptom, every warning
   recorded;
2. measures epochs to the first non-finite value over learning rate x batch
   size x convention x dtype x hidden units, and the stability bound
   ``2 / lambda_max`` of the loss Hessian at initialisation;
3. shows the limit of a linear network with the output sigmoid at a stable
   learning rate, beside the lab's network with activations.

Exit status 0 only when the overflow is reproduced in every first-try run,
the guard caught it at the same place the trace saw it, and the second try
stayed finite; otherwise 1 with the reason.
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

import refnet
from refnet.data import xor_easy
from refnet.network import mlp
from refnet.numerics import Guard, NumericalError
from refnet.outcomes import judge
from refnet.train import CONVENTIONS, Convention, prepare_data, train

from .hessian import curvature_along, hessian, replicate
from .overflow_figures import Boundary, Curve
from .report import Cell
from .overflow_grid import (FULL, LAB_BATCH, LAB_HIDDEN, LAB_LR, QUICK, GridSpec, Run, Sharpness,
                            agreement, boundaries, lab_linear, run_grid, sharpness)
from .overflow_runs import Symptom, Trace, affine_residual, best_linear_accuracy, lab_symptom

__all__ = ["Config", "main", "run_study"]

EARLY_LEVELS = (0.25, 0.5)
"""Early-warning levels: ``|a| >= max ** 0.25`` and ``max ** 0.5`` (squaring would overflow)."""


@dataclass(frozen=True)
class Config:
    """What the study runs (``--quick`` shrinks it)."""

    seed: int = 0
    lr: float = LAB_LR
    batch_size: int = LAB_BATCH
    hidden: int = LAB_HIDDEN
    first_epochs: int = 1000
    """Upper limit for a first-try run (the guard stops it at the first event)."""
    second_epochs: int = 10000
    """Second try (output sigmoid); the lab ran 500,000."""
    limit_epochs: int = 2000
    """Linear network with the output sigmoid at a stable setting."""
    sigmoid_epochs: int = 20000
    """The lab's network with sigmoid activations (full batch, lr 1)."""
    limit_seeds: int = 8
    grid: GridSpec = FULL
    quick: bool = False


QUICK_CONFIG = Config(first_epochs=200, second_epochs=500, limit_epochs=300, sigmoid_epochs=2000,
                      limit_seeds=4,
                      grid=QUICK, quick=True)


def _log(quiet: bool, message: str) -> None:
    if not quiet:
        sys.stderr.write(message + "\n")
        sys.stderr.flush()


# -- 1. reproduction ------------------------------------------------------------------
def reproduce(cfg: Config, convention: Convention, dtype: str, output: str) -> dict[str, object]:
    """One lab run with the guard in raise mode and a trace beside it."""
    x, y = xor_easy()
    net = lab_linear(cfg.hidden, output=output, dtype=dtype, seed=cfg.seed)
    trace = Trace.of(net)
    if output == "none":  # the trace costs Python time per array: only where the overflow is
        net.observer = trace
    guard = Guard(None, "raise", levels=EARLY_LEVELS)
    epochs = cfg.first_epochs if output == "none" else cfg.second_epochs
    event: dict[str, object] | None = None
    accuracy: float | None = None
    final_loss: float | None = None
    start = time.perf_counter()
    try:
        hist = train(net, x, y, lr=cfg.lr, epochs=epochs, batch_size=cfg.batch_size,
                     convention=convention, guard=guard)
        accuracy = float(hist.accuracy[0])
        final_loss = float(hist.loss[-1, 0])
    except NumericalError as err:
        event = err.event.to_dict()
        event["message"] = err.event.message()
    seconds = time.perf_counter() - start
    seen = trace.first
    agrees = event is not None and seen is not None and all(
        event[k] == v for k, v in (("epoch", seen.epoch), ("step", seen.step), ("phase", seen.phase),
                                   ("layer_name", seen.layer), ("operation", seen.operation),
                                   ("role", seen.role)))
    early = [{"level": e.level, "threshold": e.threshold, "epoch": e.epoch, "step": e.step,
              "phase": e.phase, "layer": e.layer_name, "role": e.role, "largest": e.largest}
             for e in guard.early]
    steps_per_epoch = -(-21 // cfg.batch_size)
    return {
        "convention": convention, "dtype": dtype, "output": output, "epochs_limit": epochs,
        "event": event, "trace_first": asdict(seen) if seen is not None else None,
        "guard_agrees_with_trace": agrees, "early_warnings": early, "accuracy": accuracy,
        "final_loss": final_loss, "seconds": seconds, "steps_per_epoch": steps_per_epoch,
        "weight": trace.weight, "activation": trace.activation,
    }


def symptom(cfg: Config, dtype: str, epochs: int) -> Symptom:
    """The lab's first try with the guard off (lab convention), warnings recorded."""
    x, y = xor_easy()
    net = lab_linear(cfg.hidden, dtype=dtype, seed=cfg.seed)
    return lab_symptom(net, x, y, lr=cfg.lr, epochs=epochs, batch_size=cfg.batch_size, convention="lab")


# -- 2. the bound and the grid ----------------------------------------------------------
def validate_hessian(cfg: Config) -> dict[str, object]:
    """The Hessian code against known answers."""
    x, y = xor_easy()
    single = mlp(2, (), 1, activation="none", output_activation="none", bias=[True], seed=cfg.seed)
    exact = 2.0 * np.column_stack([x, np.ones(len(x))]).T @ np.column_stack([x, np.ones(len(x))]) / len(x)
    h1 = hessian(single, x, y)
    net = lab_linear(cfg.hidden, seed=cfg.seed)
    h64 = hessian(net, x, y)
    hld = hessian(net, x, y, dtype="longdouble")
    along = curvature_along(net, x, y, h64.top_vector)
    return {
        "linear_layer_max_abs_error": float(np.max(np.abs(h1.matrix - exact))),
        "linear_layer_lambda_max": h1.lambda_max,
        "linear_layer_lambda_max_exact": float(np.linalg.eigvalsh(exact)[-1]),
        "lab_lambda_max_float64": h64.lambda_max,
        "lab_lambda_max_longdouble": hld.lambda_max,
        "float64_vs_longdouble_relative": abs(h64.lambda_max - hld.lambda_max) / hld.lambda_max,
        "lab_lambda_min": h64.lambda_min,
        "second_difference_along_top_vector": along,
        "asymmetry": h64.asymmetry,
        "parameters": net.n_params,
    }


def predictors(runs: Sequence[Run]) -> dict[str, dict[str, float]]:
    """How well each candidate explanation predicts divergence (fraction of runs right)."""
    cands = {
        "lr * lambda_full / 2 (batching ignored)": lambda r: r.lr * r.full_sharpness / 2,
        "lr_eff * lambda_full / 2, lr_eff = lr * B under lab": lambda r: (
            r.lr * (r.batch_size if r.convention == "lab" else 1) * r.full_sharpness / 2),
        "lr * s / 2 (exact per-batch step Hessian)": lambda r: r.ratio,
        "batch size alone (B >= 20)": lambda r: 2.0 if r.batch_size >= 20 else 0.0,
    }
    factors = [float(f) for f in np.geomspace(0.25, 64, 17)]
    out: dict[str, dict[str, float]] = {}
    for name, f in cands.items():
        at_one = agreement(runs, f, 1.0)
        scores = [(agreement(runs, f, c), c) for c in factors]
        best, c = max(scores)
        out[name] = {"agreement_at_1": at_one, "best_agreement": best, "best_factor": c}
    return out


def threshold_summary(rows: Sequence[dict[str, object]]) -> list[list[object]]:
    """Median over seeds of the threshold rows, per (convention, dtype, hidden, batch)."""
    keys = sorted({(str(r["convention"]), str(r["dtype"]), int(str(r["hidden"])), int(str(r["batch_size"])))
                   for r in rows}, key=lambda k: (k[0] != "lab", k[1], k[2], k[3]))
    out: list[list[object]] = []
    for conv, dtype, hidden, b in keys:
        sel = [r for r in rows if (r["convention"], r["dtype"], r["hidden"], r["batch_size"]) == (conv, dtype, hidden, b)]

        def med(key: str) -> float | None:
            vals = [float(str(r[key])) for r in sel if r[key] is not None]
            return float(np.median(vals)) if vals else None

        div = sum(r["lr_diverged"] is not None for r in sel)
        out.append([conv, dtype, hidden, b, med("bound"), med("lr_stable"), med("lr_diverged"),
                    med("ratio_stable"), med("ratio_diverged"), f"{div}/{len(sel)}"])
    return out


def cell_table(runs: Sequence[Run], spec: GridSpec) -> tuple[list[str], list[list[object]]]:
    """Rows (convention, dtype, hidden, batch), columns lr: median first non-finite epoch
    and the number of seeds that diverged, or "none" within the epoch budget."""
    headers = ["convention", "dtype", "hidden", "batch"] + [f"lr {v:g}" for v in spec.lrs]
    index: dict[tuple[str, str, int, int, float], list[Run]] = {}
    for r in runs:
        index.setdefault((r.convention, r.dtype, r.hidden, r.batch_size, r.lr), []).append(r)
    rows: list[list[object]] = []
    for conv in spec.conventions:
        for dtype in spec.dtypes:
            for hidden in spec.hidden:
                for b in spec.batch_sizes:
                    row: list[object] = [conv, dtype, hidden, b]
                    for lr in spec.lrs:
                        cell = index.get((conv, dtype, hidden, b, lr), [])
                        div = [r.first_nonfinite for r in cell if r.first_nonfinite is not None]
                        row.append("none" if not div else
                                   f"{int(np.median(div))} ({len(div)}/{len(cell)})")
                    rows.append(row)
    return headers, rows


# -- 3. the linear limit ----------------------------------------------------------------------
def _probabilities(net: refnet.Network, lo: float, hi: float, points: int) -> np.ndarray:
    g = np.linspace(lo, hi, points)
    gx, gy = np.meshgrid(g, g)
    p = net.predict(np.column_stack([gx.ravel(), gy.ravel()]))
    return np.asarray(p[0, :, 0], dtype=np.float64).reshape(points, points)


def linear_limit(cfg: Config) -> tuple[dict[str, object], list[Boundary]]:
    """The linear network with the output sigmoid at a stable setting (default convention,
    the lab's lr and batch size, guard in raise mode), the lab's second try, and the lab's
    network with sigmoid activations."""
    x, y = xor_easy()
    seeds = list(range(cfg.limit_seeds))
    net = lab_linear(cfg.hidden, output="sigmoid", seed=seeds)
    hist = train(net, x, y, lr=cfg.lr, epochs=cfg.limit_epochs, batch_size=cfg.batch_size,
                 convention="default", guard="raise")
    best = int(np.argmax(hist.accuracy))
    single = replicate(net, net.get_flat()[best:best + 1])
    second = lab_linear(cfg.hidden, output="sigmoid", seed=cfg.seed)
    h2 = train(second, x, y, lr=cfg.lr, epochs=cfg.second_epochs, batch_size=cfg.batch_size,
               convention="lab", guard="raise")
    xa, ta = prepare_data(second, x, y)
    read = judge(second, xa, ta, h2.loss)[0]
    lab_net = mlp(2, (4, 4), 1, seed=cfg.seed)
    h3 = train(lab_net, x, y, lr=1.0, epochs=cfg.sigmoid_epochs, convention="default", guard="raise")
    lo, hi, pts = -0.1, 1.1, 121
    panels = [
        Boundary(f"lab's 2nd try (lab conv., lr {cfg.lr:g}, batch {cfg.batch_size}):\n"
                 f"{h2.accuracy[0]:.1f}% after {cfg.second_epochs} epochs",
                 _probabilities(second, lo, hi, pts), lo, hi),
        Boundary(f"linear + output sigmoid, default conv.,\nbest of {len(seeds)} seeds: "
                 f"{hist.accuracy[best]:.1f}% after {cfg.limit_epochs} epochs",
                 _probabilities(single, lo, hi, pts), lo, hi),
        Boundary(f"lab's 2-4-4-1 sigmoid network (lr 1, full batch):\n{h3.accuracy[0]:.1f}% after "
                 f"{cfg.sigmoid_epochs} epochs", _probabilities(lab_net, lo, hi, pts), lo, hi),
    ]
    result: dict[str, object] = {
        "best_linear_accuracy_exact": best_linear_accuracy(x, y),
        "linear_seeds": seeds, "linear_lr": cfg.lr, "linear_batch_size": cfg.batch_size,
        "linear_epochs": cfg.limit_epochs,
        "linear_accuracy": hist.accuracy.tolist(), "linear_best_seed": seeds[best],
        "linear_final_loss": [float(v) for v in hist.loss[-1]],
        "linear_affine_residual": affine_residual(single),
        "second_try_epochs": cfg.second_epochs,
        "second_try_accuracy": float(h2.accuracy[0]), "second_try_final_loss": float(h2.loss[-1, 0]),
        "second_try_saturated_outputs": read.saturated_outputs,
        "second_try_affine_residual": affine_residual(second),
        "sigmoid_net_epochs": cfg.sigmoid_epochs,
        "sigmoid_net_accuracy": float(h3.accuracy[0]),
        "sigmoid_net_final_loss": float(h3.loss[-1, 0]),
    }
    return result, panels


# -- the study ------------------------------------------------------------------------------
@dataclass
class Study:
    """Everything the report needs."""

    config: Config
    environment: dict[str, str]
    reproduction: list[dict[str, object]]
    symptom: list[Symptom]
    hessian_validation: dict[str, object]
    bound: dict[str, object]
    sharpness: list[Sharpness]
    runs: list[Run]
    thresholds: list[dict[str, object]]
    predictors: dict[str, dict[str, float]]
    limit: dict[str, object]
    panels: list[Boundary]
    seconds: float = 0.0

    def first_try(self) -> list[dict[str, object]]:
        return [r for r in self.reproduction if r["output"] == "none"]

    def second_try(self) -> list[dict[str, object]]:
        return [r for r in self.reproduction if r["output"] == "sigmoid"]


def run_study(cfg: Config, quiet: bool = True) -> Study:
    """Run every part of the study with ``cfg``."""
    t0 = time.perf_counter()
    x, y = xor_easy()
    env = {"python": platform.python_version(), "numpy": np.__version__,
           "refnet": refnet.__version__, "platform": platform.platform(),
           "machine": platform.machine()}
    repro: list[dict[str, object]] = []
    for output in ("none", "sigmoid"):
        for conv in CONVENTIONS:
            for dtype in ("float64", "float32"):
                _log(quiet, f"overflow: reproducing output={output} {conv} {dtype}")
                repro.append(reproduce(cfg, conv, dtype, output))
    symptoms = [symptom(cfg, d, 5) for d in ("float64", "float32")]
    _log(quiet, "overflow: Hessian validation and bounds")
    check = validate_hessian(cfg)
    spec = cfg.grid
    sharp: dict[tuple[int, int], Sharpness] = {}
    for h in spec.hidden:
        for s in spec.seeds:
            sharp[(h, s)] = sharpness(x, y, h, s, spec.batch_sizes)
    if (cfg.hidden, cfg.seed) not in sharp or cfg.batch_size not in spec.batch_sizes:
        sharp[(cfg.hidden, cfg.seed)] = sharpness(
            x, y, cfg.hidden, cfg.seed, sorted(set(spec.batch_sizes) | {cfg.batch_size}))
    lab_sharp = sharp[(cfg.hidden, cfg.seed)]
    bound: dict[str, object] = {
        "seed": cfg.seed, "hidden": cfg.hidden, "batch_size": cfg.batch_size, "lr": cfg.lr,
        "lambda_max_full_batch_mean": lab_sharp.full,
        "bound_full_batch": 2.0 / lab_sharp.full,
        "lab_step_sharpness": lab_sharp.step["lab"][cfg.batch_size],
        "default_step_sharpness": lab_sharp.step["default"][cfg.batch_size],
        "lab_step_bound": lab_sharp.bound("lab", cfg.batch_size),
        "default_step_bound": lab_sharp.bound("default", cfg.batch_size),
        "lab_lr_over_lab_bound": cfg.lr / lab_sharp.bound("lab", cfg.batch_size),
        "lab_lr_over_default_bound": cfg.lr / lab_sharp.bound("default", cfg.batch_size),
    }
    cells = len(spec.conventions) * len(spec.dtypes) * len(spec.hidden) * len(spec.batch_sizes)
    done = [0]

    def tick(label: str) -> None:
        done[0] += 1
        _log(quiet, f"overflow: grid {done[0]}/{cells}: {label}")

    runs = run_grid(spec, x, y, sharp, tick)
    _log(quiet, "overflow: linear limit")
    limit, panels = linear_limit(cfg)
    return Study(cfg, env, repro, symptoms, check, bound, list(sharp.values()), runs,
                 boundaries(runs), predictors(runs), limit, panels, time.perf_counter() - t0)


def verdict(study: Study) -> tuple[bool, str]:
    """Exit decision: reproduced, caught where the trace saw it, second try finite."""
    problems = []
    for r in study.first_try():
        tag = f"first try {r['convention']} {r['dtype']}"
        if r["event"] is None:
            problems.append(f"{tag}: no non-finite value within {r['epochs_limit']} epochs")
        elif not r["guard_agrees_with_trace"]:
            problems.append(f"{tag}: guard event {r['event']} differs from the trace's {r['trace_first']}")
    for r in study.second_try():
        if r["event"] is not None:
            problems.append(f"second try {r['convention']} {r['dtype']}: non-finite value {r['event']}")
    for s in study.symptom:
        if s.accuracy != 0.0 or s.predictions_nan != s.predictions:
            problems.append(f"symptom {s.dtype}: accuracy {s.accuracy}%, "
                            f"{s.predictions_nan}/{s.predictions} NaN predictions")
    if problems:
        return False, "; ".join(problems)
    return True, (f"overflow reproduced in all {len(study.first_try())} first-try runs and caught by "
                  "the guard where the independent trace first saw it; the second try stayed finite")


# -- report -------------------------------------------------------------------------------
def _cell(v: object) -> Cell:
    """A table cell from any value (containers as text)."""
    if v is None or isinstance(v, (str, int, float, bool)):
        return v
    return str(v)


def _row(*values: object) -> list[Cell]:
    return [_cell(v) for v in values]


def _floats(v: object) -> list[float]:
    return [float(str(i)) for i in v] if isinstance(v, list) else []


def _fmt(v: object, digits: int = 3) -> str:
    if isinstance(v, float):
        return f"{v:.{digits}g}"
    return str(v)


def first_crossings(run: dict[str, object]) -> list[list[object]]:
    """First early-warning crossing per level and kind (weights: update; activations: forward)."""
    rows: list[list[object]] = []
    early = run["early_warnings"]
    if not isinstance(early, list):
        return rows
    seen: set[tuple[float, str]] = set()
    for e in early:
        kind = "weight" if e["phase"] == "update" else "activation"
        key = (float(e["level"]), kind)
        if key in seen:
            continue
        seen.add(key)
        rows.append([run["convention"], run["dtype"], kind, f"max**{e['level']:g}", e["threshold"],
                     e["epoch"], e["step"], f"{e['layer']} {e['role']}", e["largest"]])
    return rows


def findings(study: Study) -> list[str]:
    """The verdict on the lab's explanation, each sentence carrying its number."""
    b = study.bound
    rows = threshold_summary(study.thresholds)
    cfg = study.config

    def row(conv: str, dtype: str, hidden: int, size: int) -> list[object] | None:
        for r in rows:
            if r[:4] == [conv, dtype, hidden, size]:
                return r
        return None

    out = [
        f"At initialisation (seed {b['seed']}, hidden {b['hidden']}) the largest Hessian eigenvalue of the "
        f"full-batch mean loss is {_fmt(b['lambda_max_full_batch_mean'], 4)}, so plain gradient descent is "
        f"stable only for lr < {_fmt(b['bound_full_batch'])}.",
        f"Under the lab convention a step on a batch of {b['batch_size']} descends the summed loss, whose "
        f"Hessian has largest eigenvalue {_fmt(b['lab_step_sharpness'], 4)}: the bound is "
        f"{_fmt(b['lab_step_bound'])} and the lab's lr = {_fmt(cfg.lr)} is {_fmt(b['lab_lr_over_lab_bound'])} "
        f"times it (default convention: {_fmt(b['lab_lr_over_default_bound'])} times its bound "
        f"{_fmt(b['default_step_bound'])}).",
    ]
    spec = cfg.grid
    h = cfg.hidden if cfg.hidden in spec.hidden else spec.hidden[0]
    d = "float64" if "float64" in spec.dtypes else spec.dtypes[0]
    sizes = sorted(spec.batch_sizes)
    lab = [row("lab", d, h, s) for s in sizes]
    dflt = [row("default", d, h, s) for s in sizes]
    if all(r is not None for r in lab + dflt) and len(sizes) > 1:
        def thr(r: list[object] | None) -> str:
            return "none" if r is None or r[6] is None else _fmt(r[6])
        out.append(
            f"Measured over {len(spec.seeds)} seeds (hidden {h}, {d}, {spec.epochs} epochs), the median smallest "
            f"diverging lr under the lab convention falls from {thr(lab[0])} at batch size {sizes[0]} to "
            f"{thr(lab[-1])} at {sizes[-1]}, while under the default (mean) convention it stays between "
            f"{_fmt(min(float(str(r[6])) for r in dflt if r is not None and r[6] is not None))} and "
            f"{_fmt(max(float(str(r[6])) for r in dflt if r is not None and r[6] is not None))}: "
            "batch size matters through the summed gradient, which scales the step.")
        lab_lr_div = [r for r in study.runs if r.convention == "lab" and r.lr >= cfg.lr]
        if lab_lr_div:
            frac = sum(r.diverged for r in lab_lr_div) / len(lab_lr_div)
            out.append(
                f"At lr >= {_fmt(cfg.lr)} {100 * frac:.0f}% of the {len(lab_lr_div)} lab-convention runs reached a "
                "non-finite value, at every batch size in the grid down to "
                f"{sizes[0]}: a smaller batch alone would not have saved the lab's run.")
    p = study.predictors
    names = list(p)
    out.append(
        "Share of the grid's runs whose divergence each rule predicts (factor 1): " + "; ".join(
            f"{n}: {100 * p[n]['agreement_at_1']:.1f}%" for n in names) + ".")
    firsts = study.first_try()
    where = ", ".join(
        f"{r['convention']}/{r['dtype']}: epoch {ev['epoch']} step {ev['step']} {ev['phase']} "
        f"{ev['layer_name']} {ev['operation']}"
        for r in firsts if isinstance(ev := r["event"], dict))
    out.append(f"The first non-finite values (guard, raise mode) were: {where}; the squared error is where "
               "the growth became visible, not its cause.")
    lim = study.limit
    out.append(
        f"With the output sigmoid kept (default convention, lr {_fmt(cfg.lr)}, batch {cfg.batch_size}), "
        f"the linear network reaches at best "
        f"{_fmt(max(_floats(lim['linear_accuracy'])), 4)}% (the exact optimum of any straight line on these 21 "
        f"points is {_fmt(lim['best_linear_accuracy_exact'], 4)}%), its pre-sigmoid output deviates from an "
        f"affine function by {_fmt(lim['linear_affine_residual'], 2)} of its range, and the lab's network "
        f"with sigmoid activations reaches {_fmt(lim['sigmoid_net_accuracy'], 4)}%.")
    return out


def write_report(study: Study, directory: Path, ok: bool, summary: str) -> Path:
    """``report.md``, ``report.json`` and the figures in ``directory``."""
    from .overflow_figures import boundary_figure, magnitudes_figure, outcome_map, threshold_figure
    from .report import Report, to_json

    cfg = study.config
    spec = cfg.grid
    rep = Report("overflow", "The lab's no-activation overflow: reproduced and explained", directory)
    rep.section("Setup")
    rep.text(
        f"Lab network without hidden activations: Linear(2,{cfg.hidden}) -> Linear({cfg.hidden},{cfg.hidden}) "
        f"-> Linear({cfg.hidden},1), all biases, N(0,1) initial weights (seed {cfg.seed}), MSE, the 21-point "
        f"XOR set, mini-batches of {cfg.batch_size} (so {cfg.batch_size} + 1 points), lr {cfg.lr:g} (the lab "
        "Linear.backward default). First try: no activation at all; second try: output sigmoid kept. "
        f"Both under the lab convention (summed loss, layers updated inside backward) and the default "
        f"(mean loss), in float64 and float32. Run time {study.seconds:.1f} s"
        f"{' (--quick)' if cfg.quick else ''}.",
        "Environment: " + ", ".join(f"{k} {v}" for k, v in study.environment.items()) + ".")
    rep.section("First try: the first non-finite value (guard in raise mode)")
    ev_rows: list[list[Cell]] = []
    for r in study.first_try():
        ev = r["event"]
        if isinstance(ev, dict):
            ev_rows.append(_row(r["convention"], r["dtype"], ev["epoch"], ev["step"], ev["phase"],
                                ev["layer_name"], ev["operation"], ev["role"],
                                f"{ev['nan']}/{ev['pos_inf']}/{ev['neg_inf']}", ev["first_index"],
                                ev["headroom"], ev["origin"], r["guard_agrees_with_trace"]))
        else:
            ev_rows.append(_row(r["convention"], r["dtype"], *(["none"] * 10), False))
    rep.table(["convention", "dtype", "epoch", "step", "phase", "layer", "operation", "role",
               "NaN/+inf/-inf", "first index", "headroom", "origin", "trace agrees"], ev_rows)
    cross = [_row(*row) for r in study.first_try() for row in first_crossings(r)]
    rep.text("Early-warning crossings (first time a weight or a layer output reached the level; "
             "`max**0.5` means its square overflows):")
    rep.table(["convention", "dtype", "kind", "level", "threshold", "epoch", "step", "where", "largest"],
              cross)
    curves = [Curve(f"{r['convention']} {r['dtype']}", str(r["dtype"]), int(str(r["steps_per_epoch"])),
                    _floats(r["weight"]), _floats(r["activation"]),
                    int(str(r["event"]["step"])) if isinstance(r["event"], dict) else None)
              for r in study.first_try()]
    rep.figure(magnitudes_figure(curves), "magnitudes.png",
               "log10 of the largest |weight| and |layer output| per step until the guard stopped the run")
    rep.section("The lab's symptom, guard off")
    for s in study.symptom:
        msgs = sorted({str(w["message"]) for w in s.warnings})
        rep.text(f"- {s.dtype}: {len(s.warnings)} warnings from the lab's loss line "
                 f"`np.mean((y - t) ** 2)` over {s.epochs} epochs ({'; '.join(msgs) or 'none'}); "
                 f"{s.predictions_nan}/{s.predictions} predictions NaN, accuracy {s.accuracy:.1f}%; "
                 f"the lab's thresholding `pred[pred > 0.5] = 1` raised "
                 f"{len(s.thresholding_warnings)} warnings under NumPy {np.__version__}.")
    rep.section("Second try: output sigmoid kept")
    rep.table(["convention", "dtype", "epochs", "non-finite", "accuracy (%)", "final loss"],
              [_row(r["convention"], r["dtype"], r["epochs_limit"], "none" if r["event"] is None else "yes",
                    r["accuracy"], r["final_loss"]) for r in study.second_try()])
    rep.section("The stability bound at initialisation")
    v = study.hessian_validation
    rep.text(
        f"Hessian by central differences of backpropagated gradients ({v['parameters']} parameters). "
        f"Check on a single linear layer with MSE, where H = 2 X^T X / N exactly: largest entry error "
        f"{_fmt(v['linear_layer_max_abs_error'], 2)}. Lab network: lambda_max {_fmt(v['lab_lambda_max_float64'], 8)} "
        f"in float64 vs {_fmt(v['lab_lambda_max_longdouble'], 8)} in longdouble (relative difference "
        f"{_fmt(v['float64_vs_longdouble_relative'], 2)}); the second difference of the loss along the top "
        f"eigenvector gives {_fmt(v['second_difference_along_top_vector'], 8)}; lambda_min "
        f"{_fmt(v['lab_lambda_min'], 4)} (the loss is not convex).")
    rep.table(["quantity", "value"], [_row(k, val) for k, val in study.bound.items()])
    rep.section("Epochs to the first non-finite value")
    rep.text(f"Grid: lr {', '.join(f'{v:g}' for v in spec.lrs)}; batch sizes {list(spec.batch_sizes)}; "
             f"hidden {list(spec.hidden)}; seeds {list(spec.seeds)}; {spec.epochs} epochs. Cell: median "
             "epoch (0-based) of the first non-finite loss or parameter over the seeds that diverged "
             "(count/seeds), or none.")
    headers, cells = cell_table(study.runs, spec)
    rep.table(headers, [_row(*c) for c in cells])
    rep.text("Threshold per setting (medians over seeds): s is the step sharpness, the largest "
             "Hessian eigenvalue of the loss a step descends (sum under lab, mean under default), "
             "bound = 2 / s.")
    rep.table(["convention", "dtype", "hidden", "batch", "bound 2/s", "largest stable lr",
               "smallest diverging lr", "stable lr / bound", "diverging lr / bound", "seeds diverged"],
              [_row(*r) for r in threshold_summary(study.thresholds)])
    rep.table(["rule: diverges iff value > factor", "right at factor 1", "best", "best factor"],
              [[n, d["agreement_at_1"], d["best_agreement"], d["best_factor"]]
               for n, d in study.predictors.items()])
    h = cfg.hidden if cfg.hidden in spec.hidden else spec.hidden[0]
    dt = "float64" if "float64" in spec.dtypes else spec.dtypes[0]
    bounds: dict[tuple[str, int], float] = {}
    for conv in spec.conventions:
        for size in spec.batch_sizes:
            vals = [2.0 / s.step[conv][size] for s in study.sharpness if s.hidden == h and size in s.step[conv]]
            bounds[(conv, size)] = float(np.median(vals))
    rep.figure(outcome_map(study.runs, h, dt, bounds), "outcome_map.png",
               f"Share of seeds reaching a non-finite value over lr x batch size (hidden {h}, {dt})")
    rep.figure(threshold_figure(study.thresholds, h, dt), "threshold.png",
               "Smallest diverging lr and the Hessian bound against batch size")
    rep.section("The limit of a linear network")
    lim = study.limit
    rep.table(["quantity", "value"], [_row(k, val if not isinstance(val, list) else json.dumps(to_json(val)))
                                      for k, val in lim.items()])
    x, y = xor_easy()
    rep.figure(boundary_figure(study.panels, x, y), "decision_boundaries.png",
               "Decision regions: the linear network's boundary is a straight line")
    rep.section("Verdict on the lab's explanation")
    rep.text(*(f"- {s}" for s in findings(study)))
    first = next((r["event"] for r in study.first_try() if r["event"] is not None), None)
    rep.data.update({
        "config": to_json({**asdict(cfg), "grid": asdict(spec)}),
        "environment": to_json(study.environment),
        "first_event": to_json(first),
        "reproduction": to_json(study.reproduction),
        "symptom": to_json([asdict(s) for s in study.symptom]),
        "hessian_validation": to_json(study.hessian_validation),
        "bound": to_json(study.bound),
        "thresholds": to_json(study.thresholds),
        "predictors": to_json(study.predictors),
        "linear_limit": to_json(study.limit),
        "table": {"headers": to_json(headers), "rows": to_json(cells)},
        "runs": {"columns": to_json(list(Run.__dataclass_fields__) + ["ratio"]),
                 "rows": to_json([list(r.to_dict().values()) for r in study.runs])},
        "findings": to_json(findings(study)),
        "seconds": study.seconds,
    })
    return rep.write(ok, summary)


def console(study: Study, ok: bool, summary: str) -> str:
    """The summary printed on stdout."""
    lines = [f"overflow: {'PASS' if ok else 'FAIL'}: {summary}"]
    for r in study.first_try():
        ev = r["event"]
        what = (f"epoch {ev['epoch']} step {ev['step']} {ev['phase']} {ev['layer_name']} {ev['operation']} "
                f"-> {ev['role']}" if isinstance(ev, dict) else "no event")
        lines.append(f"  first try {r['convention']:7s} {r['dtype']}: {what}")
    for r in study.second_try():
        lines.append(f"  second try {r['convention']:7s} {r['dtype']}: "
                     f"{'finite' if r['event'] is None else 'NON-FINITE'}, accuracy {r['accuracy']}%")
    lines += [f"  - {s}" for s in findings(study)]
    lines.append(f"  run time {study.seconds:.1f} s")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m verify.overflow",
        description="Reproduce the lab's no-activation overflow, catch it with the guard, and "
                    "test the explanations against the Hessian stability bound.")
    parser.add_argument("--report", metavar="DIR", type=Path,
                        help="write DIR/report.md, DIR/report.json and PNG figures")
    parser.add_argument("--quick", action="store_true",
                        help="reduced grid and shorter runs (under 30 s, for tests)")
    parser.add_argument("--quiet", action="store_true", help="no progress lines on stderr")
    parser.add_argument("--seed", type=int, default=0,
                        help="seed of the reproduced network (default 0)")
    parser.add_argument("--lr", type=float, default=LAB_LR,
                        help=f"learning rate of the reproduction (default {LAB_LR}, the lab's)")
    args = parser.parse_args(argv)
    if args.seed < 0:
        parser.error("--seed: expected an integer >= 0")
    if not np.isfinite(args.lr) or args.lr <= 0:
        parser.error("--lr: expected a finite value > 0")
    base = QUICK_CONFIG if args.quick else Config()
    cfg = Config(**{**{k: getattr(base, k) for k in Config.__dataclass_fields__},
                    "seed": args.seed, "lr": args.lr})
    study = run_study(cfg, quiet=args.quiet)
    ok, summary = verdict(study)
    print(console(study, ok, summary))
    if args.report is not None:
        path = write_report(study, args.report, ok, summary)
        _log(args.quiet, f"overflow: report written to {path}")
    if not ok:
        print(f"overflow: exit 1: {summary}", file=sys.stderr)
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
