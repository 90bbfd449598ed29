"""Trajectory separation (E5) and sharpness (E6) for the learning-rate study.

E5 trains trajectories side by side from one seed and records the Euclidean
distance between their parameter vectors every ``sample_every`` epochs:
the base run at ``lr``, the run at ``lr`` + 1 ulp, the run at ``lr + 1e-9``
(the lab's pair), the run whose most sensitive weight (largest initial gradient) starts 1 ulp
higher, and the
same run in ``np.longdouble``. A finite-time Lyapunov exponent is the slope
of ``log distance`` per epoch, fitted by least squares over the growth phase
(from the first nonzero distance until it first exceeds ``saturation``).

E6 measures the Hessian of the BCE loss whose gradient the reading descends
(:func:`descended_scale`: the mean loss for ``gradient="mean"``, the summed
loss, ``N`` times the mean-loss Hessian of :func:`verify.common.hessian.hessian`,
for ``gradient="sum"``; central differences of backpropagated gradients)
along a run; gradient descent on a quadratic is stable only while its
largest eigenvalue stays below ``2 / lr``. Every network here is built with
the reading's sigmoid (:func:`verify.lr_threshold.runs.lab_network`).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from refnet.conventions import ConventionLike, resolve
from refnet.data import xor_easy
from refnet.layers import Linear
from refnet.network import Network
from refnet.optim import SGD
from refnet.train import prepare_data, step, train
from refnet.precision import DTypeName
from refnet.init import InitName

from ..common.hessian import hessian
from .runs import CONVENTION, lab_network, sha256
from .ulp import add_ulps

__all__ = ["descended_scale", "Mechanism", "mechanism", "activation_pattern", "Separation", "separations", "most_sensitive_parameter", "KINK_ASYMMETRY", "lyapunov_fit", "LyapunovFit", "Sharpness", "sharpness_trace"]


@dataclass(frozen=True)
class LyapunovFit:
    """``log d(t) = a + lam * t`` fitted over ``[start, stop]`` epochs."""

    exponent: float
    """``lam`` per epoch (NaN if fewer than three points)."""
    start: int
    stop: int
    points: int
    r_squared: float
    doubling_epochs: float
    """``log 2 / lam`` (inf when ``lam <= 0``)."""


@dataclass
class Separation:
    """Distances from the base trajectory, sampled every ``sample_every`` epochs."""

    label: str
    epochs: list[int]
    distance: list[float]
    fit: LyapunovFit
    first_nonzero: int | None
    reaches_01: int | None
    """First sampled epoch with distance >= 0.1 (None if never)."""
    reaches_1: int | None


def lyapunov_fit(epochs: Sequence[int], distance: Sequence[float], saturation: float = 0.1) -> LyapunovFit:
    """Fit the growth phase of ``log distance`` (see the module docstring)."""
    e = np.asarray(epochs, dtype=np.float64)
    d = np.asarray(distance, dtype=np.float64)
    nz = np.flatnonzero((d > 0) & np.isfinite(d))
    nan = float("nan")
    if nz.size < 3:
        return LyapunovFit(nan, 0, 0, int(nz.size), nan, float("inf"))
    i0 = int(nz[0])
    big = np.flatnonzero(~np.isfinite(d) | (d >= saturation))
    big = big[big > i0]
    i1 = int(big[0]) if big.size else len(d) - 1
    sel = np.arange(i0, i1 + 1)
    sel = sel[(d[sel] > 0) & np.isfinite(d[sel])]
    if sel.size < 3:
        return LyapunovFit(nan, int(e[i0]), int(e[i1]), int(sel.size), nan, float("inf"))
    t, y = e[sel], np.log(d[sel])
    slope, icpt = np.polyfit(t, y, 1)
    pred = icpt + slope * t
    ss_res = float(np.sum((y - pred) ** 2))
    ss_tot = float(np.sum((y - y.mean()) ** 2))
    r2 = 1.0 - ss_res / ss_tot if ss_tot > 0 else nan
    lam = float(slope)
    return LyapunovFit(lam, int(t[0]), int(t[-1]), int(sel.size), r2,
                       math.log(2) / lam if lam > 0 else float("inf"))


def _first(epochs: Sequence[int], distance: Sequence[float], level: float) -> int | None:
    for e, d in zip(epochs, distance):
        if not math.isfinite(d) or d >= level:
            return int(e)
    return None


def descended_scale(convention: ConventionLike, points: int) -> tuple[float, str]:
    """Factor from the mean loss to the loss the reading's gradient descends, and its name."""
    r = resolve(convention)
    if r is not None and r.gradient == "sum":
        return float(points), "summed"
    return 1.0, "mean"


def most_sensitive_parameter(seed: int, init: InitName, convention: ConventionLike = CONVENTION) -> int:
    """Flat index of the parameter with the largest gradient at initialisation.

    A weight of a dead ReLU unit has a zero gradient forever, and a 1-ulp
    nudge to it never grows; the weight the loss is most sensitive to is
    the informative one to perturb.
    """
    net = lab_network([seed], init, convention=convention)
    x, y = xor_easy()
    xa, ya = prepare_data(net, x, y)
    with np.errstate(all="ignore"):
        _, grads = net.gradients(xa, ya)
    flat = np.concatenate([grads[i][p].reshape(-1) for i, layer in enumerate(net.layers) for p in layer.params])
    return int(np.argmax(np.abs(flat)))


def separations(seed: int, lr: float, partner_lr: float, *, init: InitName = "normal", epochs: int,
                sample_every: int, longdouble: bool = True,
                convention: ConventionLike = CONVENTION) -> list[Separation]:
    """E5: distances between the base run and its perturbed twins (see the module docstring)."""
    j = most_sensitive_parameter(seed, init, convention)
    names = [f"{name}[{i}]" for name, v in lab_network([seed], init, convention=convention).named_params().items()
             for i in range(int(np.prod(v.shape[1:])))]
    labels = ["lr + 1 ulp", f"lr -> {partner_lr!r}", f"weight {names[j]} + 1 ulp"]
    rates = [lr, add_ulps(lr, 1), partner_lr, lr]
    net = lab_network([seed] * len(rates), init, convention=convention)
    flat = net.get_flat().copy()
    flat[3, j] = add_ulps(float(flat[3, j]), 1, "float64")  # the last twin starts 1 ulp away in weight j
    net.set_flat(flat)
    nets: list[tuple[Network, npt.NDArray[np.float64]]] = [(net, np.array(rates, dtype=np.float64))]
    if longdouble:
        ld = lab_network([seed], init, dtype="longdouble", convention=convention)
        nets.append((ld, np.array([lr], dtype=np.float64)))
        labels.append("float64 vs longdouble")
    x, y = xor_easy()
    samples: list[int] = []
    dists: list[list[float]] = [[] for _ in labels]
    done = 0
    while done < epochs:
        n = min(sample_every, epochs - done)
        for network, rates_k in nets:
            train(network, x, y, lr=rates_k, epochs=n, convention=convention)
        done += n
        samples.append(done)
        base = net.get_flat()
        with np.errstate(all="ignore"):
            for j in range(3):
                dists[j].append(float(np.linalg.norm(base[j + 1] - base[0])))
            if longdouble:
                ld_flat = nets[1][0].get_flat()[0]
                diff = ld_flat - base[0].astype(np.longdouble)
                dists[3].append(float(np.sqrt(np.sum(diff * diff))))
    out = []
    for j, label in enumerate(labels):
        fit = lyapunov_fit(samples, dists[j])
        nz = [e for e, d in zip(samples, dists[j]) if d > 0]
        out.append(Separation(label, list(samples), dists[j], fit, nz[0] if nz else None,
                              _first(samples, dists[j], 0.1), _first(samples, dists[j], 1.0)))
    return out


KINK_ASYMMETRY = 1e-6
"""Relative asymmetry above which a Hessian sample is flagged (smooth samples here are near 1e-11)."""


@dataclass
class Sharpness:
    """Top Hessian eigenvalue along a training run, against ``2 / lr``."""

    lr: float
    epochs: list[int]
    top: list[float]
    bottom: list[float]
    loss: list[float]
    asymmetry: list[float]
    threshold: float
    """``2 / lr``."""
    first_above: int | None
    """First sampled epoch with ``top > 2 / lr``."""
    max_ratio: float
    """Largest ``top / (2 / lr)`` seen over the smooth samples."""
    kink_samples: int = 0
    """Samples whose raw difference quotient was asymmetric beyond ``KINK_ASYMMETRY``: the
    finite-difference step crossed a ReLU kink, so their eigenvalues are not curvatures."""
    smooth_max: float = float("nan")
    """Largest top eigenvalue over the smooth samples."""
    loss_kind: str = "summed"
    """Which loss's Hessian: ``mean`` or ``summed`` (the one the reading's gradient descends)."""


def sharpness_trace(seed: int, lr: float, *, init: InitName = "normal", epochs: int, every: int,
                    dtype: DTypeName = "float64", convention: ConventionLike = CONVENTION) -> Sharpness:
    """E6: train one run and measure the Hessian spectrum every ``every`` epochs (and at 0)."""
    net = lab_network([seed], init, convention=convention)
    x, y = xor_easy()
    xa, ya = prepare_data(net, x, y)
    scale, kind = descended_scale(convention, int(xa.shape[1]))
    rec_e: list[int] = []
    top: list[float] = []
    bottom: list[float] = []
    loss: list[float] = []
    asym: list[float] = []
    done = 0
    while True:
        with np.errstate(all="ignore"):
            hs = hessian(net, x, y, dtype=dtype)
            lval, _ = net.gradients(xa, ya)
        eig = hs.eigenvalues * scale  # the summed loss is N times the mean loss
        a = hs.asymmetry
        rec_e.append(done)
        top.append(float(eig[-1]))
        bottom.append(float(eig[0]))
        loss.append(float(lval[0]))
        asym.append(a)
        if done >= epochs:
            break
        n = min(every, epochs - done)
        train(net, x, y, lr=np.array([lr]), epochs=n, convention=convention)
        done += n
    thr = 2.0 / lr
    smooth = [a <= KINK_ASYMMETRY and math.isfinite(t) for a, t in zip(asym, top)]
    above = [e for e, t, ok in zip(rec_e, top, smooth) if ok and t > thr]
    smax = max((t for t, ok in zip(top, smooth) if ok), default=float("nan"))
    return Sharpness(lr, rec_e, top, bottom, loss, asym, thr, above[0] if above else None, smax / thr,
                     sum(not ok for ok in smooth), smax, kind)


def activation_pattern(net: Network, x: npt.NDArray[np.floating[Any]]) -> npt.NDArray[np.bool_]:
    """``(K, layers, N, units)``: which hidden pre-activations are > 0 on each training point."""
    masks = []
    h = x
    last = net.linears[-1]
    with np.errstate(all="ignore"):
        for layer in net.layers:
            h = layer.forward(h)
            if isinstance(layer, Linear) and layer is not last:
                masks.append(h > 0)
    return np.stack(np.broadcast_arrays(*masks), axis=1)


@dataclass
class Mechanism:
    """What separates two runs whose labels differ: the first step whose ReLU pattern differs."""

    rates: tuple[float, float]
    epochs: int
    first_pattern_epoch: int | None
    """0-based epoch whose forward pass first sees a different ReLU on/off pattern."""
    pattern_sites: list[tuple[int, int, int]]
    """``(hidden layer, training point, unit)`` where the patterns differ at that epoch."""
    distance_before: float
    """Parameter distance at the start of that epoch."""
    distance_after_100: float
    """Parameter distance 100 epochs later."""
    pattern_differs_epochs: int
    """Epochs (of ``epochs``) on which the two patterns differ."""
    final_distance: float
    final_loss: tuple[float, float]
    weights_sha256: tuple[str, str]


def mechanism(seed: int, init: InitName, lo: float, hi: float, epochs: int,
              convention: ConventionLike = CONVENTION) -> Mechanism:
    """Train ``lo`` and ``hi`` side by side, step by step, comparing ReLU patterns each epoch.

    Uses :func:`refnet.train.step` directly (the loop :func:`refnet.train.train`
    runs) for a full-batch reading, one-epoch :func:`refnet.train.train` calls
    for a mini-batch one, so the final weights hash equal the runs' of the scans.
    """
    reading = resolve(convention)
    batched = reading is not None and reading.batch_size is not None
    net = lab_network([seed, seed], init, convention=convention)
    x, y = xor_easy()
    xa, ya = prepare_data(net, x, y)
    opt = SGD(np.array([lo, hi]))
    first: int | None = None
    sites: list[tuple[int, int, int]] = []
    before = float("nan")
    after = float("nan")
    differs = 0
    loss = np.zeros(2)
    with np.errstate(all="ignore"):
        for e in range(epochs):
            pat = activation_pattern(net, xa)
            if not np.array_equal(pat[0], pat[1]):
                differs += 1
                if first is None:
                    first = e
                    flat = net.get_flat()
                    before = float(np.linalg.norm(flat[1] - flat[0]))
                    sites = [(int(i[0]), int(i[1]), int(i[2])) for i in np.argwhere(pat[0] != pat[1])[:8]]
            if first is not None and e == first + 100:
                flat = net.get_flat()
                after = float(np.linalg.norm(flat[1] - flat[0]))
            if batched:
                loss = np.asarray(train(net, x, y, lr=np.array([lo, hi]), epochs=1,
                                        convention=convention).loss[-1], dtype=np.float64)
            else:
                loss = np.asarray(step(net, opt, xa, ya, convention), dtype=np.float64)
    flat = net.get_flat()
    return Mechanism((lo, hi), epochs, first, sites, before, after, differs,
                     float(np.linalg.norm(flat[1] - flat[0])), (float(loss[0]), float(loss[1])),
                     (sha256(flat[0]), sha256(flat[1])))
