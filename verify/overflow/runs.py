"""Single runs for the overflow study: traced reproductions, the lab's symptom, the linear limit.

- :class:`Trace` is an observer that keeps, per training step, the largest
  ``|parameter|`` and ``|activation|`` and the first place a non-finite
  value appeared: an independent witness for the overflow guard.
- :func:`lab_symptom` replays the lab's loop with the guard off and records,
  with ``warnings.catch_warnings``, the warnings the lab's own expressions
  (``np.mean((y - t) ** 2)``, ``pred[pred > 0.5] = 1``) raise, so none escape.
- :func:`best_linear_accuracy` is the exact best accuracy any straight line
  reaches on a 2-D data set (an upper bound for a network without hidden
  activations, whatever it is trained with).
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from refnet.metrics import accuracy
from refnet.network import Network
from refnet.observe import Site
from refnet.optim import SGD
from refnet.precision import FloatArray
from refnet.train import prepare_data, step, train
from refnet.conventions import Convention, ConventionLike

from ..common.hessian import hessian

__all__ = ["Trace", "SiteEvent", "Symptom", "lab_symptom", "best_linear_accuracy",
           "affine_residual", "presigmoid", "SharpnessPath", "sharpness_path"]


def _absmax(array: FloatArray) -> float:
    """Largest |value|, ``inf`` when any value is not finite."""
    if array.size == 0:
        return 0.0
    with np.errstate(all="ignore"):
        finite = bool(np.all(np.isfinite(array)))
        return float(np.max(np.abs(array))) if finite else math.inf


@dataclass(frozen=True)
class SiteEvent:
    """Where a non-finite value first appeared, as seen by :class:`Trace`."""

    epoch: int
    step: int
    phase: str
    layer: str
    operation: str
    role: str
    input_absmax: float
    """Largest |value| among the operation's inputs (all finite at the first event)."""


@dataclass
class Trace:
    """Observer recording magnitudes per step and the first non-finite site (one member)."""

    params: dict[str, float] = field(default_factory=dict)
    epochs: list[int] = field(default_factory=list)
    weight: list[float] = field(default_factory=list)
    """Per step: largest |parameter| after the step's updates."""
    activation: list[float] = field(default_factory=list)
    """Per step: largest |layer output| in the step's forward pass."""
    first: SiteEvent | None = None
    _epoch: int = 0
    _step: int = 0

    @classmethod
    def of(cls, net: Network) -> Trace:
        return cls(params={k: _absmax(v) for k, v in net.named_params().items()})

    def at(self, epoch: int, step: int, batch: slice) -> None:
        self._epoch, self._step = epoch, step
        self.epochs.append(epoch)
        self.weight.append(max(self.params.values(), default=0.0))
        self.activation.append(0.0)

    def observe(self, site: Site, array: FloatArray, inputs: Sequence[FloatArray]) -> None:
        m = _absmax(array)
        if site.phase == "forward" and self.activation:
            self.activation[-1] = max(self.activation[-1], m)
        elif site.phase == "update":
            self.params[f"{site.layer_name}.{'W' if site.role == 'weight' else 'b'}"] = m
            if self.weight:
                self.weight[-1] = max(self.params.values())
        if self.first is None and math.isinf(m):
            self.first = SiteEvent(self._epoch, self._step, site.phase, site.layer_name,
                                   site.operation, site.role,
                                   max((_absmax(i) for i in inputs), default=0.0))


@dataclass
class Symptom:
    """What the lab saw, replayed with the guard off."""

    dtype: str
    epochs: int
    warnings: list[dict[str, object]]
    """Each recorded warning: epoch, step, the lab expression, category, message."""
    loss: list[float]
    """The lab's loss expression per step (as float64 values, NaN/inf kept)."""
    predictions_nan: int
    predictions: int
    accuracy: float
    thresholding_warnings: list[str]
    convention: str = "lab-evidence"
    """The convention the replay trained under."""


def lab_symptom(net: Network, x: npt.ArrayLike, y: npt.ArrayLike, *, lr: float, epochs: int,
                batch_size: int, convention: ConventionLike) -> Symptom:
    """Train ``net`` as :func:`refnet.train.train` does, evaluating the lab's loss line
    ``np.mean((y - t) ** 2)`` on every batch before its step, then the lab's thresholding
    of the predictions, with every floating-point warning recorded (none escapes)."""
    xa, ta = prepare_data(net, x, y)
    opt = SGD(lr)
    n = xa.shape[1]
    found: list[dict[str, object]] = []
    losses: list[float] = []
    count = 0
    for epoch in range(epochs):
        for start in range(0, n, batch_size):
            rows = slice(start, min(start + batch_size, n))
            with np.errstate(all="ignore"):
                out = net.forward(xa[:, rows])
            with warnings.catch_warnings(record=True) as caught, np.errstate(all="warn"):
                warnings.simplefilter("always")
                lab_loss = np.mean((out - ta[:, rows]) ** 2)
            for w in caught:
                found.append({"epoch": epoch, "step": count, "expression": "np.mean((y - t) ** 2)",
                              "category": w.category.__name__, "message": str(w.message)})
            losses.append(float(lab_loss))
            with np.errstate(all="ignore"):
                step(net, opt, xa[:, rows], ta[:, rows], convention)
            count += 1
    pred = np.array(net.predict(xa[0]), copy=True)
    nan = int(np.sum(np.isnan(pred)))
    acc = float(accuracy(pred, ta[0])[0])
    with warnings.catch_warnings(record=True) as caught, np.errstate(all="warn"):
        warnings.simplefilter("always")
        pred[pred > 0.5] = 1
        pred[pred < 0.5] = 0
    return Symptom(str(net.precision), epochs, found, losses, nan, int(pred.size), acc,
                   [str(w.message) for w in caught], str(convention))


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
    lab = np.asarray(y, dtype=np.float64).reshape(-1)
    if pts.ndim != 2 or pts.shape[1] != 2 or pts.shape[0] != lab.shape[0]:
        raise ValueError(f"x: expected shape (N, 2) matching y, got {pts.shape} and {lab.shape}")
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
        hits = ((p[None, :] > cuts[:, None]) == (lab[None, :] > 0.5)).mean(axis=1)
        best = max(best, float(hits.max()))
    return 100.0 * best


def presigmoid(net: Network, x: npt.ArrayLike) -> npt.NDArray[np.float64]:
    """The first member's output before a final Sigmoid layer (the logit), as float64 ``(N,)``."""
    with np.errstate(all="ignore"):
        h = net.as_input(x)
        for layer in net.layers:
            if type(layer).__name__ == "Sigmoid" and layer is net.layers[-1]:
                break
            h = layer.forward(h)
    return np.asarray(h[0, :, 0], dtype=np.float64)


def affine_residual(net: Network, lo: float = -0.5, hi: float = 1.5, points: int = 41) -> float:
    """How far the pre-sigmoid output of a network is from an affine function of its
    2-D input, relative to its range: ``max |f - fit| / (max f - min f)`` on a grid."""
    g = np.linspace(lo, hi, points)
    gx, gy = np.meshgrid(g, g)
    grid = np.column_stack([gx.ravel(), gy.ravel()])
    f = presigmoid(net, grid)
    design = np.column_stack([grid, np.ones(len(grid))])
    coef, *_ = np.linalg.lstsq(design, f, rcond=None)
    span = float(f.max() - f.min()) or 1.0
    return float(np.max(np.abs(design @ coef - f))) / span


@dataclass
class SharpnessPath:
    """Loss, largest |parameter| and Hessian lambda_max at checkpoints along one run."""

    convention: Convention
    lr: float
    batch_size: int
    epochs: list[int] = field(default_factory=list)
    loss: list[float] = field(default_factory=list)
    weight: list[float] = field(default_factory=list)
    lambda_max: list[float] = field(default_factory=list)
    nonfinite_epoch: int | None = None
    """First checkpoint interval end at which a parameter or loss was no longer finite."""


def sharpness_path(net: Network, x: npt.NDArray[np.float64], y: npt.NDArray[np.float64], *,
                   lr: float, batch_size: int, convention: Convention, every: int,
                   checkpoints: int) -> SharpnessPath:
    """Train ``net`` (one member) in chunks of ``every`` epochs, measuring the full-batch
    mean-loss Hessian's lambda_max (float64) after each chunk, until a value is non-finite."""
    path = SharpnessPath(convention, lr, batch_size)
    path.epochs.append(0)
    with np.errstate(all="ignore"):
        loss0 = net.loss.value(net.forward(net.as_input(x)), net.precision.asarray(y, name="y")[None])
    path.loss.append(float(loss0[0]))
    path.weight.append(_absmax(net.get_flat()))
    path.lambda_max.append(hessian(net, x, y).lambda_max)
    for k in range(1, checkpoints + 1):
        hist = train(net, x, y, lr=lr, epochs=every, batch_size=batch_size, convention=convention)
        flat = net.get_flat()
        if not (np.all(np.isfinite(hist.loss)) and np.all(np.isfinite(flat))):
            path.nonfinite_epoch = k * every
            break
        path.epochs.append(k * every)
        path.loss.append(float(hist.loss[-1, 0]))
        path.weight.append(_absmax(flat))
        path.lambda_max.append(hessian(net, x, y).lambda_max)
    return path
