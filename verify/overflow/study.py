"""``python -m verify.overflow``: the lab's no-activation overflow, reproduced and explained.

The lab removed the hidden sigmoids (Linear(2,6) -> Linear(6,6) -> Linear(6,1),
MSE, XOR, mini-batches of 20), saw ``overflow encountered in square`` and 0%
accuracy, and blamed the batch size. This study

1. reproduces the first try (no activation) and the second (output sigmoid
   kept) under the lab reading ``lab`` (``READINGS["lab-evidence"]`` when it runs: the
   main result), the summed reading ``lab-sum`` and refnet's ``default``, each
   network built with its convention's sigmoid, in float64 and float32, with the overflow guard in ``raise`` mode (first event, early
   warnings) and an independent trace that must agree with it; then replays
   the lab's loop with the guard off to show its symptom, every warning
   recorded;
2. measures epochs to the first non-finite value over learning rate x batch
   size x convention x dtype x hidden units, and the stability bound
   ``2 / lambda_max`` of the Hessian of the loss each convention's step
   descends, at initialisation;
3. shows the limit of a linear network with the output sigmoid at a stable
   learning rate, beside the lab's network with activations.

Exit status 0 only when the overflow is reproduced in every first-try run,
the guard caught it at the same place the trace saw it, and the second try
stayed finite; otherwise 1 with the reason.
"""

from __future__ import annotations

import platform
import time
from dataclasses import asdict, dataclass

import numpy as np

import refnet
from refnet.data import xor_easy
from refnet.network import mlp
from refnet.events import NumericalError
from refnet.guard import Guard
from refnet.outcomes import judge
from refnet.train import prepare_data, train
from refnet.precision import DTypeName
from refnet.conventions import Convention, resolve, sigmoid_of
from refnet.layers import ActivationName

from ..common.hessian import curvature_along, hessian, replicate
from ..common.console import Console
from .figures import Boundary
from .grid import (CONVENTIONS_STUDIED, FULL, LAB_BATCH, LAB_HIDDEN, LAB_LR, QUICK, GridSpec, Run, Sharpness,
                            boundaries, dtype_effect, hidden_effect, lab_linear, predictors, run_grid,
                            sharpness)
from .runs import (SharpnessPath, Symptom, Trace, affine_residual, best_linear_accuracy,
                            lab_symptom, presigmoid, sharpness_path)

__all__ = ["Config", "QUICK_CONFIG", "Study", "run_study", "verdict", "reproduce", "MAIN", "LAB_READINGS"]

MAIN: Convention = "lab-evidence"
"""The convention of the main result (``READINGS["lab-evidence"]``, whatever it is when the study runs)."""
LAB_READINGS: tuple[Convention, ...] = tuple(c for c in CONVENTIONS_STUDIED if resolve(c) is not None)
"""The readings of the lab studied: ``lab`` and, beside it, ``lab-sum``."""

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
    drift_lr: float = 0.002
    """Learning rate of the drift comparison (batch size 1, below the bound at initialisation)."""
    drift_every: int = 25
    drift_checkpoints: int = 12
    grid: GridSpec = FULL
    quick: bool = False


QUICK_CONFIG = Config(first_epochs=200, second_epochs=500, limit_epochs=300, sigmoid_epochs=2000,
                      limit_seeds=4, grid=QUICK, quick=True)


# -- 1. reproduction ------------------------------------------------------------------
def reproduce(cfg: Config, convention: Convention, dtype: DTypeName, output: ActivationName) -> dict[str, object]:
    """One lab run with the guard in raise mode and a trace beside it."""
    x, y = xor_easy()
    net = lab_linear(cfg.hidden, output=output, dtype=dtype, seed=cfg.seed, sigmoid=sigmoid_of(convention))
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
    steps_per_epoch = -(-len(x) // cfg.batch_size)
    return {
        "convention": convention, "dtype": dtype, "output": output, "epochs_limit": epochs,
        "event": event, "trace_first": asdict(seen) if seen is not None else None,
        "guard_agrees_with_trace": agrees, "early_warnings": early, "accuracy": accuracy,
        "final_loss": final_loss, "seconds": seconds, "steps_per_epoch": steps_per_epoch,
        "weight": trace.weight, "activation": trace.activation,
    }


def symptom(cfg: Config, dtype: DTypeName, epochs: int, convention: Convention = MAIN) -> Symptom:
    """The lab's first try with the guard off under a reading of the lab, warnings recorded."""
    x, y = xor_easy()
    net = lab_linear(cfg.hidden, dtype=dtype, seed=cfg.seed, sigmoid=sigmoid_of(convention))
    return lab_symptom(net, x, y, lr=cfg.lr, epochs=epochs, batch_size=cfg.batch_size, convention=convention)


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


# -- 3. the linear limit ----------------------------------------------------------------------
def _probabilities(net: refnet.Network, lo: float, hi: float, points: int) -> np.ndarray:
    g = np.linspace(lo, hi, points)
    gx, gy = np.meshgrid(g, g)
    p = net.predict(np.column_stack([gx.ravel(), gy.ravel()]))
    return np.asarray(p[0, :, 0], dtype=np.float64).reshape(points, points)


def second_try(cfg: Config, convention: Convention) -> tuple[dict[str, object], Boundary]:
    """The lab's second try (output sigmoid kept) under a reading: outcome and saturation."""
    x, y = xor_easy()
    second = lab_linear(cfg.hidden, output="sigmoid", seed=cfg.seed, sigmoid=sigmoid_of(convention))
    h2 = train(second, x, y, lr=cfg.lr, epochs=cfg.second_epochs, batch_size=cfg.batch_size,
               convention=convention, guard="raise")
    xa, ta = prepare_data(second, x, y)
    read = judge(second, xa, ta, h2.loss)[0]
    logits = presigmoid(second, x)
    p = 1.0 / (1.0 + np.exp(-np.clip(logits, -700.0, 700.0)))
    slope = p * (1.0 - p)  # the factor every gradient passes through at the output
    lo, hi, pts = -0.1, 1.1, 121
    panel = Boundary(f"lab's 2nd try ({convention}, lr {cfg.lr:g}, batch {cfg.batch_size}):\n"
                     f"{h2.accuracy[0]:.1f}% after {cfg.second_epochs} epochs",
                     _probabilities(second, lo, hi, pts), lo, hi)
    return {
        "convention": convention, "epochs": cfg.second_epochs,
        "accuracy": float(h2.accuracy[0]), "final_loss": float(h2.loss[-1, 0]),
        "saturated_outputs": read.saturated_outputs,
        "logit_min": float(np.min(logits)), "logit_max": float(np.max(logits)),
        "largest_sigmoid_slope": float(np.max(slope)),
        "affine_residual": affine_residual(second),
    }, panel


def linear_limit(cfg: Config) -> tuple[dict[str, object], list[Boundary]]:
    """The linear network with the output sigmoid at a stable setting (default convention,
    the lab's lr and batch size, guard in raise mode), the lab's second try under each
    reading of the lab, and the lab's network with sigmoid activations."""
    x, y = xor_easy()
    seeds = list(range(cfg.limit_seeds))
    net = lab_linear(cfg.hidden, output="sigmoid", seed=seeds)
    hist = train(net, x, y, lr=cfg.lr, epochs=cfg.limit_epochs, batch_size=cfg.batch_size,
                 convention="default", guard="raise")
    best = int(np.argmax(hist.accuracy))
    single = replicate(net, net.get_flat()[best:best + 1])
    tries = [second_try(cfg, c) for c in LAB_READINGS]
    lab_net = mlp(2, (4, 4), 1, seed=cfg.seed)
    h3 = train(lab_net, x, y, lr=1.0, epochs=cfg.sigmoid_epochs, convention="default", guard="raise")
    lo, hi, pts = -0.1, 1.1, 121
    panels = [p for _, p in tries] + [
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
        "second_try": {str(t["convention"]): t for t, _ in tries},
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
    drift: list[SharpnessPath]
    seconds: float = 0.0

    @property
    def dtype_effect(self) -> dict[str, float]:
        return dtype_effect(self.runs)

    @property
    def hidden_effect(self) -> dict[str, dict[str, float]]:
        return hidden_effect([s for s in self.sharpness if s.hidden in self.config.grid.hidden
                              and s.seed in self.config.grid.seeds])

    def first_try(self) -> list[dict[str, object]]:
        return [r for r in self.reproduction if r["output"] == "none"]

    def second_try(self) -> list[dict[str, object]]:
        return [r for r in self.reproduction if r["output"] == "sigmoid"]


def run_study(cfg: Config, quiet: bool = True) -> Study:
    """Run every part of the study with ``cfg``."""
    log = Console("overflow", quiet=quiet)
    t0 = time.perf_counter()
    x, y = xor_easy()
    env = {"python": platform.python_version(), "numpy": np.__version__,
           "refnet": refnet.__version__, "platform": platform.platform(),
           "machine": platform.machine()}
    repro: list[dict[str, object]] = []
    for output in ("none", "sigmoid"):
        for conv in CONVENTIONS_STUDIED:
            for dtype in ("float64", "float32"):
                log(f"reproducing output={output} {conv} {dtype}")
                repro.append(reproduce(cfg, conv, dtype, output))
    symptoms = [symptom(cfg, d, 5, c) for c in LAB_READINGS for d in ("float64", "float32")]
    log("Hessian validation and bounds")
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
    }
    for conv in CONVENTIONS_STUDIED:
        bound[f"{conv}: step_sharpness"] = lab_sharp.step[conv][cfg.batch_size]
        bound[f"{conv}: step_bound"] = lab_sharp.bound(conv, cfg.batch_size)
        bound[f"{conv}: lr_over_bound"] = cfg.lr / lab_sharp.bound(conv, cfg.batch_size)
    bound["batch1_step_bound"] = sharpness(x, y, cfg.hidden, cfg.seed, (1,)).bound("default", 1)
    cells = len(spec.conventions) * len(spec.dtypes) * len(spec.hidden) * len(spec.batch_sizes)
    done = [0]

    def tick(label: str) -> None:
        done[0] += 1
        log(f"grid {done[0]}/{cells}: {label}")

    runs = run_grid(spec, x, y, sharp, tick)
    log("linear limit")
    limit, panels = linear_limit(cfg)
    log("sharpness along training, batch size 1")
    drift = [sharpness_path(lab_linear(cfg.hidden, seed=cfg.seed), x, y, lr=cfg.drift_lr, batch_size=1,
                            convention=c, every=cfg.drift_every, checkpoints=cfg.drift_checkpoints)
             for c in CONVENTIONS_STUDIED]
    return Study(cfg, env, repro, symptoms, check, bound, list(sharp.values()), runs,
                 boundaries(runs), predictors(runs), limit, panels, drift, time.perf_counter() - t0)


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
