"""The runs of the overflow study: one lab run per (configuration, seed), watched and stopped.

Each run is :func:`refnet.lab.run` with the guard in ``record`` mode (its first
non-finite event), a :class:`Tracer` beside it (what the guard does not keep:
weight norms after every update, the squares of the MSE that overflowed from
finite values, the parameters at the start of every epoch) and ``stop="non-finite"``:
the run ends after the epoch that left a parameter NaN or infinite, since
``W - lr dW`` never makes a non-finite value finite again. A run that never goes
non-finite runs to ``config.epochs``.

:func:`trace_run` returns a :class:`SeedRun` of plain values (it crosses process
boundaries); :func:`trace_many` spreads runs over an executor (refnet's process pool).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from concurrent.futures import Executor
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from refnet import lab
from refnet.data import xor_easy
from refnet.events import NonFiniteEvent
from refnet.observe import Site
from refnet.precision import FloatArray

from ..common.hessian import sharpness

__all__ = ["Tracer", "SeedRun", "Event", "trace_run", "trace_many", "category", "sharpness_path", "best_linear_accuracy",
           "CATEGORIES", "LAYERS", "frobenius"]

LAYERS = ("linear_1", "linear_2", "output")
"""The three Linear layers of the lab's network, input to output."""

CATEGORIES = ("matrix product", "square of the MSE", "other")
"""How the study groups the operation that first went non-finite."""

F64 = npt.NDArray[np.float64]


def category(operation: str, role: str) -> str:
    """``matrix product`` (``x @ W (+ b)``, ``dy @ W^T``, ``x^T @ dy``), ``square of the MSE``
    (the loss terms ``(y - t)^2``), or ``other`` (sums, updates, the loss gradient)."""
    if "@" in operation:
        return "matrix product"
    if role == "loss terms":
        return "square of the MSE"
    return "other"


class Tracer:
    """An observer of one lab run (a :class:`refnet.observe.Observer`).

    Keeps, per training step: the Frobenius norm of each weight just after its
    update (``norms``: rows ``step, |W1|, |W2|, |W3|``), whether any square of the
    MSE's loss terms overflowed from a finite difference ``y - t`` (the lab's
    ``overflow encountered in square``: ``square_steps``) and the largest finite
    ``|y|``; with ``snapshots``, the parameters at the start of every epoch.
    """

    def __init__(self, initial: dict[str, F64], iterations: int, *, snapshots: bool = False) -> None:
        self.current: dict[str, FloatArray] = dict(initial)
        self.iterations = iterations
        self.snapshots = snapshots
        self.params_at_epoch: list[dict[str, F64]] = []
        self.norms: list[tuple[float, ...]] = []
        self.square_steps: list[int] = []
        self.largest_output: list[float] = []
        self.step = -1
        self._row: list[float] = []

    def at(self, epoch: int, step: int, batch: slice) -> None:
        self._flush()
        self.step = step
        if self.snapshots and step % self.iterations == 0:
            self.params_at_epoch.append({k: np.array(v, dtype=np.float64) for k, v in self.current.items()})
        self._row = [float(step), math.nan, math.nan, math.nan]

    def observe(self, site: Site, array: FloatArray, inputs: Sequence[FloatArray]) -> None:
        if site.phase == "update":
            self.current[f"{site.layer_name}.{'W' if site.role == 'weight' else 'b'}"] = array
            if site.role == "weight" and site.layer_name in LAYERS and self._row:
                self._row[1 + LAYERS.index(site.layer_name)] = frobenius(array)
        elif site.phase == "loss" and site.role == "loss terms":
            y, t = inputs[0], inputs[1]
            diff = y - t
            if bool(np.any(np.isfinite(diff) & np.isinf(array))):
                self.square_steps.append(self.step)
            finite = np.abs(y[np.isfinite(y)])
            self.largest_output.append(float(finite.max()) if finite.size else math.nan)

    def _flush(self) -> None:
        if self._row:
            self.norms.append(tuple(self._row))
            self._row = []

    def finish(self) -> None:
        """Keep the last step's row (call once the run has ended)."""
        self._flush()


def frobenius(array: FloatArray) -> float:
    """``sqrt(sum a^2)`` scaled by the largest magnitude, so that it is finite for every finite array
    (the plain sum of squares overflows once an entry passes 1.3e154); NaN or inf when ``array`` holds one."""
    a = np.asarray(array, dtype=np.float64).ravel()
    if not bool(np.isfinite(a).all()):
        return math.nan if bool(np.isnan(a).any()) else math.inf
    top = float(np.max(np.abs(a))) if a.size else 0.0
    if top == 0.0:
        return 0.0
    return top * float(np.sqrt(np.sum((a / top) ** 2)))


@dataclass(frozen=True)
class Event:
    """The guard's first non-finite event, as plain values."""

    epoch: int
    step: int
    iteration: int
    """The step's 0-based position within its epoch."""
    phase: str
    layer: str
    operation: str
    role: str
    origin: str
    nan: int
    pos_inf: int
    neg_inf: int
    message: str

    @property
    def category(self) -> str:
        return category(self.operation, self.role)

    @classmethod
    def of(cls, event: NonFiniteEvent, iterations: int) -> Event:
        epoch = event.epoch if event.epoch is not None else -1
        step = event.step if event.step is not None else -1
        return cls(epoch, step, step - epoch * iterations, event.phase, event.layer_name, event.operation,
                   event.role, event.origin, event.nan, event.pos_inf, event.neg_inf, event.message())


@dataclass(frozen=True)
class SeedRun:
    """One watched lab run (see the module docstring)."""

    seed: int
    batch_size: int
    iterations: int
    epochs_limit: int
    event: Event | None
    stopped_at: int | None
    """Epoch after which the run stopped (a parameter non-finite), ``None``: it ran every epoch."""
    accuracy: float
    predictions_nan: int
    predictions_inf: int
    points: int
    params_all_nan: bool
    params_finite: bool
    square_steps: tuple[int, ...]
    """Steps in which a square of the MSE overflowed from a finite ``y - t``."""
    logged: F64
    """``(k, 2)``: epoch, the lab's logged loss (every epoch)."""
    epochs_to_all_nan: int
    """Epochs run when accuracy and predictions were read: the stop, or on to every parameter NaN."""
    norms: F64 = field(default_factory=lambda: np.zeros((0, 4)))
    """``(steps, 4)``: step, then ``|W|`` of linear_1, linear_2, output after the step's update."""
    largest_output: F64 = field(default_factory=lambda: np.zeros(0))
    sharpness: F64 = field(default_factory=lambda: np.zeros((0, 2)))
    """``(k, 2)``: epoch, largest Hessian eigenvalue of the mean loss on all 21 points at its start."""

    @property
    def diverged(self) -> bool:
        return self.event is not None

    @property
    def updates_to_event(self) -> int | None:
        """Updates completed before the step of the first event."""
        return None if self.event is None else self.event.step

    def sharpness_crossing(self, bound: float) -> int | None:
        """The epoch that starts the last stretch of epochs whose starting sharpness exceeds ``bound``
        (``None``: no epoch starts above it). Epochs whose sharpness is not finite count as above."""
        if not self.sharpness.size:
            return None
        v = self.sharpness[:, 1]
        above = ~(v <= bound)  # NaN (non-finite parameters) counts as above
        if not above.any():
            return None
        k = int(np.flatnonzero(above)[-1])
        while k > 0 and above[k - 1]:
            k -= 1
        return int(self.sharpness[k, 0])


def sharpness_path(config: lab.Config, snapshots: Sequence[dict[str, F64]]) -> F64:
    """``(k, 2)``: epoch, largest eigenvalue of the Hessian of the mean loss over all 21 points
    at each snapshot (NaN once the parameters are non-finite)."""
    x, t = xor_easy()
    net = config.build()
    rows = []
    for epoch, params in enumerate(snapshots):
        value = math.nan
        if all(bool(np.isfinite(v).all()) for v in params.values()):
            net.set_params(dict(params))
            try:
                value = sharpness(net, x, t)
            except FloatingPointError:  # the perturbed copies overflowed: beyond any bound
                value = math.inf
        rows.append((float(epoch), value))
    return np.asarray(rows, dtype=np.float64).reshape(-1, 2)


def trace_run(config: lab.Config, seed: int, detail: bool = False) -> SeedRun:
    """One lab run of ``config`` at ``seed``: guard in record mode, stopped at the first non-finite
    parameter; ``detail`` adds weight norms, largest outputs and the sharpness per epoch."""
    cfg = config.but(log_every=1)
    rs = np.random.RandomState(seed)
    lab.draw_data(cfg, rs)
    tracer = Tracer(lab.draw_params(cfg, rs), cfg.iterations, snapshots=detail)
    result = lab.run(cfg, seed, guard="record", observer=tracer, stop="non-finite")
    tracer.finish()
    event = Event.of(result.events[0], cfg.iterations) if result.events else None
    end = result
    extra = 1
    # non-finite but not yet all NaN (a few inf left): run on, unwatched, to the epoch where every
    # parameter is NaN, which no later update can leave: the outcome of the lab's remaining epochs
    while (result.stopped_at is not None and not _all_nan(end)
           and result.stopped_at + 1 + extra <= cfg.epochs and extra <= 64):
        end = lab.run(cfg.but(epochs=result.stopped_at + 1 + extra), seed)
        extra *= 2
    values = list(end.params.values())
    pred = end.predictions
    arrays: dict[str, F64] = {}
    if detail:
        arrays = {"norms": np.asarray(tracer.norms, dtype=np.float64).reshape(-1, 4),
                 "largest_output": np.asarray(tracer.largest_output, dtype=np.float64),
                 "sharpness": sharpness_path(cfg, tracer.params_at_epoch)}
    return SeedRun(seed, cfg.batch_size, cfg.iterations, cfg.epochs, event, result.stopped_at, end.accuracy,
                   int(np.isnan(pred).sum()), int(np.isinf(pred).sum()), int(pred.size),
                   all(bool(np.isnan(v).all()) for v in values), all(bool(np.isfinite(v).all()) for v in values),
                   tuple(tracer.square_steps), result.logged, int(end.logged.shape[0]), **arrays)


def _all_nan(result: lab.Result) -> bool:
    return all(bool(np.isnan(v).all()) for v in result.params.values())


def _task(config: lab.Config, seed: int, detail: bool) -> SeedRun:
    return trace_run(config, seed, detail)


def trace_many(jobs: Sequence[tuple[lab.Config, int, bool]], *, executor: Executor | None = None,
               done: Callable[[int], None] | None = None) -> list[SeedRun]:
    """:func:`trace_run` of every ``(config, seed, detail)``, in order, on ``executor`` (``None``:
    in this process). ``done(k)`` is called as runs complete."""
    out: list[SeedRun | None] = [None] * len(jobs)
    if executor is None:
        for i, (cfg, seed, detail) in enumerate(jobs):
            out[i] = trace_run(cfg, seed, detail)
            if done is not None:
                done(i + 1)
    else:
        futures = [(i, executor.submit(_task, *job)) for i, job in enumerate(jobs)]
        for k, (i, fut) in enumerate(futures):
            out[i] = fut.result()
            if done is not None:
                done(k + 1)
    return [r for r in out if r is not None]


def best_linear_accuracy(x: npt.ArrayLike, y: npt.ArrayLike) -> float:
    """Best accuracy (%) of any classifier ``[u . x > c]`` on 2-D points, exactly.

    Notes
    -----
    The order of the projections ``u . x`` changes only at directions
    perpendicular to some difference ``x_i - x_j``; between two such critical
    angles every direction gives the same dichotomies. So one direction in
    each open interval of angles in [0, 2 pi) and every threshold between
    consecutive distinct projections covers all strict linear dichotomies.
    """
    pts = np.asarray(x, dtype=np.float64)
    labels = np.asarray(y, dtype=np.float64).reshape(-1)
    if pts.ndim != 2 or pts.shape[1] != 2 or pts.shape[0] != labels.shape[0]:
        raise ValueError(f"x: expected shape (N, 2) matching y, got {pts.shape} and {labels.shape}")
    d = (pts[:, None, :] - pts[None, :, :]).reshape(-1, 2)
    d = d[np.any(d != 0, axis=1)]
    crit = np.mod(np.arctan2(d[:, 1], d[:, 0]) + np.pi / 2, 2 * np.pi)
    crit = np.unique(np.concatenate([crit, np.mod(crit + np.pi, 2 * np.pi), [0.0]]))
    mids = (crit + np.append(crit[1:], crit[0] + 2 * np.pi)) / 2
    best = 0.0
    for a in mids:
        p = pts @ np.array([np.cos(a), np.sin(a)])
        v = np.unique(p)
        cuts = np.concatenate([[v[0] - 1.0], (v[:-1] + v[1:]) / 2, [v[-1] + 1.0]])
        hits = ((p[None, :] > cuts[:, None]) == (labels[None, :] > 0.5)).mean(axis=1)
        best = max(best, float(hits.max()))
    return 100.0 * best
