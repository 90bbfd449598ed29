"""E3: what happens along seed 0's trajectory just below and just above the boundary.

Both rates train as one two-member ensemble (:func:`refnet.lab.run_many`, bit
for bit each run alone); a trace sees the network every ``every`` epochs and
records, per run: the loss on all 21 points (mean, bits), the output's
saturation (the smallest ``min(y, 1 - y)`` against ``delta = 1e-7``; points
whose ``y`` is exactly 0 or 1, where ``y (1 - y) = 0`` and the point's
gradient vanishes; those saturated the wrong way), the largest output logit,
the dead ReLU units (zero on every point) and the distance between the two
runs' parameters. Every ``hessian_every`` epochs it adds the largest
eigenvalue of the Hessian of the loss the next step descends: the lab's BCE
**summed** over the batch of 21 drawn for that step (in nats; the sum of the
points' Hessians, :func:`verify.common.hessian.point_hessians`), against
``2 / lr``, the largest rate at which gradient descent on that quadratic is
stable.

**The event** (:func:`trace_pair`'s ``event``): before every step it recomputes
both runs' hidden pre-activations on the 21 points with the run's own kernel
(the same products, in the same order, as the training's forward pass, so the
same bits) and compares the ReLU masks (``x <= 0``) of the two runs on the
points the step's batch draws. While they agree, both runs follow the same
formula and differ by rounding only; the first step where a unit is open in
one run and shut in the other is a kink of the mask rule: one run's gradient
passes that unit and the other's does not. It records that step, the unit,
the point and both pre-activations, and the parameter distance just before and
after it.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from refnet import lab
from refnet.kernels import kernel
from refnet.network import Network

from ..common.hessian import point_hessians
from .runs import run_records

__all__ = ["trace_pair", "growth_rate", "horizon_outcomes", "DELTA"]

DELTA = 1e-7
"""The lab's BCE ``delta``."""


def _forward(p: dict[str, np.ndarray], m: int, x: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Hidden activations, output logit and output of member ``m`` (the lab's mask ReLU, naive sigmoid)."""
    h1 = x @ p["linear_1.W"][m].astype(np.float64) + p["linear_1.b"][m, 0].astype(np.float64)
    h1 = np.where(h1 <= 0, 0.0, h1)
    h2 = h1 @ p["linear_2.W"][m].astype(np.float64) + p["linear_2.b"][m, 0].astype(np.float64)
    h2 = np.where(h2 <= 0, 0.0, h2)
    z = h2 @ p["output.W"][m].astype(np.float64)
    with np.errstate(over="ignore"):
        y = 1.0 / (1.0 + np.exp(-z))
    return h1, h2, z[:, 0], y[:, 0]


def trace_pair(config: lab.Config, lo: float, hi: float, *, every: int, hessian_every: int,
               seed: int = 0) -> dict[str, Any]:
    """The trace of ``lo`` and ``hi`` (see the module docstring), as JSON-ready lists."""
    rs = np.random.RandomState(seed)
    x, t = lab.draw_data(config, rs)
    lab.draw_params(config, rs)
    batches = lab.draw_batches(config, rs, config.epochs)[:, 0, :]
    tt = t[:, 0]
    rows: list[dict[str, Any]] = []
    hess: list[dict[str, Any]] = []
    kern = kernel(config.kernel)
    event: dict[str, Any] = {}
    xs = np.stack([x, x]).astype(np.dtype(config.dtype))

    def masks(p: dict[str, np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
        """Both runs' pre-activations of the two hidden layers on the 21 points, bit for bit the training's."""
        a1 = kern.matmul(xs, p["linear_1.W"]) + p["linear_1.b"]
        h1 = np.where(a1 <= 0, a1.dtype.type(0), a1)
        a2 = kern.matmul(h1, p["linear_2.W"]) + p["linear_2.b"]
        return a1, a2

    def kink(done: int, net: Network) -> None:
        if "epoch" in event and event.get("after") is not None:
            return
        flat = net.get_flat().astype(np.float64)
        gap = float(np.linalg.norm(flat[0] - flat[1]))
        if "epoch" in event:  # the step after the event: how far apart it set the runs
            event["after"] = gap
            return
        if done >= config.epochs:
            return
        drawn = np.unique(batches[done])
        for layer, a in enumerate(masks(net.named_params()), 1):
            shut = a[:, drawn] <= 0
            diff = np.argwhere(shut[0] != shut[1])
            if diff.size:
                near = [min(abs(float(a[0, drawn[i], u])), abs(float(a[1, drawn[i], u]))) for i, u in diff]
                i, unit = (int(v) for v in diff[int(np.argmin(near))])
                point = int(drawn[i])
                event.update({"epoch": done, "layer": layer, "unit": unit, "point": point,
                              "x": [float(v) for v in x[point]],
                              "lo_value": float(a[0, point, unit]), "hi_value": float(a[1, point, unit]),
                              "units_differing": int(diff.shape[0]), "before": gap, "after": None,
                              "draws": int(np.sum(batches[done] == point))})
                return

    def look(done: int, net: Network) -> None:
        p = net.named_params()
        flat = net.get_flat().astype(np.float64)
        row: dict[str, Any] = {"epoch": done, "distance": float(np.linalg.norm(flat[0] - flat[1]))}
        for m, key in ((0, "lo"), (1, "hi")):
            h1, h2, z, y = _forward(p, m, x)
            with np.errstate(divide="ignore", invalid="ignore"):
                loss = -(tt * np.log2(y + DELTA) + (1 - tt) * np.log2(1 - y + DELTA))
            margin = np.minimum(y, 1 - y)
            row[key] = {"loss": float(np.mean(loss)), "margin": float(np.min(margin)),
                        "below_delta": int(np.sum(margin < DELTA)),
                        "saturated": int(np.sum(y * (1 - y) == 0)),
                        "wrong_saturated": int(np.sum(((1 - y < DELTA) & (tt == 0)) | ((y < DELTA) & (tt == 1)))),
                        "exact_wrong": int(np.sum(((y == 1.0) & (tt == 0)) | ((y == 0.0) & (tt == 1)))),
                        "max_logit": float(np.max(np.abs(z))),
                        "dead": int(np.sum(np.all(h1 == 0, axis=0)) + np.sum(np.all(h2 == 0, axis=0)))}
        rows.append(row)
        if done % hessian_every == 0 and done < config.epochs:
            entry: dict[str, Any] = {"epoch": done}
            for m, key in ((0, "lo"), (1, "hi")):
                try:
                    with np.errstate(all="ignore"):
                        ph = point_hessians(net, x, t, member=m)
                    batch = ph[batches[done]].sum(axis=0)
                    entry[key] = float(np.linalg.eigvalsh(batch)[-1])
                    entry[key + "_all"] = float(np.linalg.eigvalsh(ph.sum(axis=0))[-1])
                except (FloatingPointError, np.linalg.LinAlgError, ValueError):
                    entry[key] = entry[key + "_all"] = float("nan")
            hess.append(entry)

    def both(done: int, net: Network) -> None:
        kink(done, net)
        if done % every == 0:
            look(done, net)

    res = lab.run_many(config, [seed, seed], [lo, hi], trace=both, trace_every=1)
    return {"lo": lo, "hi": hi, "every": every, "hessian_every": hessian_every, "rows": rows, "hessian": hess,
            "event": event or None, "kernel": config.kernel,
            "final": [{"loss": r.final_loss, "accuracy": r.accuracy} for r in res]}


def growth_rate(epochs: list[int], distance: list[float], lo: float = 1e-12, hi: float = 1e-3) -> dict[str, float]:
    """Least-squares slope of ``ln(distance)`` over the epochs where ``lo < distance < hi``:
    the separation's exponential growth rate per epoch and its e-folding time."""
    e = np.asarray(epochs, dtype=np.float64)
    d = np.asarray(distance, dtype=np.float64)
    keep = (d > lo) & (d < hi)
    if int(np.sum(keep)) < 3:
        return {"rate": math.nan, "efold_epochs": math.nan, "from": math.nan, "to": math.nan, "points": 0}
    slope, _ = np.polyfit(e[keep], np.log(d[keep]), 1)
    return {"rate": float(slope), "efold_epochs": float(1 / slope) if slope > 0 else math.inf,
            "from": float(e[keep][0]), "to": float(e[keep][-1]), "points": int(np.sum(keep))}


def horizon_outcomes(config: lab.Config, rates: list[float], horizons: list[int], seed: int = 0) -> dict[str, Any]:
    """The outcome (the study's rule, :func:`.runs.outcome`) and final logged loss of each rate after
    each number of epochs in ``horizons``: one ensemble of ``rates`` per horizon, each trained from the
    start (the same draws, so a shorter run is the start of a longer one)."""
    outcomes: list[list[str]] = [[] for _ in rates]
    losses: list[list[float]] = [[] for _ in rates]
    for h in horizons:
        for m, rec in enumerate(run_records(config.but(epochs=h), [(seed, r) for r in rates])):
            outcomes[m].append(rec.outcome)
            losses[m].append(rec.final_loss)
    return {"rates": rates, "horizons": horizons, "outcomes": outcomes, "losses": losses}
