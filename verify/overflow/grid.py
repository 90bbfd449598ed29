"""The lab's linear network over a grid of settings, and its stability bound.

Every grid cell trains ``len(lrs) * len(seeds)`` networks at once as the
members of one ensemble (member ``k`` is bitwise the network trained alone
with its seed and learning rate), records the first epoch whose loss is not
finite, and compares it with the gradient-descent stability bound computed
from the exact loss Hessian at initialisation (see :mod:`verify.common.hessian`).

Which Hessian bounds a step depends on the arithmetic convention, read from
its fields (:func:`step_scale`):

- ``default``, and any reading with a *mean* gradient (``lab`` when
  ``READINGS["lab-evidence"].gradient == "mean"``), descends the mean loss of each
  batch, so a step on batch ``b`` is stable only if
  ``lr * lambda_max(mean_{i in b} H_i) < 2``;
- a reading with a *summed* gradient (``lab-sum``) descends the summed loss,
  whose Hessian is ``sum_{i in b} H_i``, ``|b|`` times larger: the same ``lr``
  is a ``|b|`` times longer step;
- a reading with the ``(y - t)`` MSE derivative descends half of it.

The *step sharpness* ``s`` of a run is the largest of these over its
batches; ``lr * s / 2`` is the run's distance to the bound (1 = at it).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass

import numpy as np
import numpy.typing as npt

from refnet.network import Network, mlp
from refnet.observe import Observer
from refnet.train import batch_slices, train
from refnet.precision import DTypeName
from refnet.conventions import CONVENTIONS, Convention, ConventionLike, resolve, sigmoid_of
from refnet.layers import ActivationName, SigmoidFormula

from ..common.hessian import point_hessians, top_eigenvalue

__all__ = [
    "GridSpec", "FULL", "QUICK", "Run", "lab_linear", "first_nonfinite", "step_scale", "batch_factor",
    "Sharpness", "sharpness", "run_grid", "boundaries", "agreement", "predictors", "dtype_effect",
    "hidden_effect",
]

LAB_LR = 0.1
"""The lab's learning rate (its Linear.backward default)."""
LAB_BATCH = 20
LAB_HIDDEN = 6


def lab_linear(hidden: int = LAB_HIDDEN, *, output: ActivationName = "none", dtype: DTypeName = "float64",
               seed: int | Sequence[int] = 0, observer: Observer | None = None,
               sigmoid: SigmoidFormula = "stable") -> Network:
    """The lab's no-activation network: Linear(2,h) -> Linear(h,h) -> Linear(h,1), all biases,
    MSE, N(0, 1) initial weights; ``output="sigmoid"`` keeps the output sigmoid (second try),
    computed with ``sigmoid`` (a convention's formula: ``sigmoid_of(convention)``)."""
    return mlp(2, (hidden, hidden), 1, activation="none", output_activation=output, loss="mse",
               bias=[True, True, True], dtype=dtype, seed=seed, observer=observer, sigmoid=sigmoid)


def step_scale(convention: ConventionLike) -> tuple[bool, float]:
    """How a step of ``convention`` scales the batch-mean MSE it descends: ``(summed, factor)``.

    ``summed``: the gradient is of the batch *sum* (so ``|b|`` times the mean's); ``factor``:
    0.5 for the ``(y - t)`` MSE derivative, else 1. The default convention is ``(False, 1.0)``.
    """
    r = resolve(convention)
    if r is None:
        return False, 1.0
    return r.gradient == "sum", 0.5 if r.mse_derivative == "(y-t)" else 1.0


def batch_factor(convention: ConventionLike, batch_size: int) -> float:
    """The step of ``convention`` on a batch of ``batch_size``, in units of a mean-loss step."""
    summed, factor = step_scale(convention)
    return factor * (batch_size if summed else 1)


def first_nonfinite(loss: npt.NDArray[np.floating[npt.NBitBase]], net: Network) -> list[int | None]:
    """Per member, the first epoch (0-based) whose loss is NaN or inf; if every loss is
    finite but a final parameter is not, the number of epochs; otherwise ``None``."""
    finite = np.isfinite(loss)
    params_ok = np.all(np.isfinite(net.get_flat()), axis=1)
    out: list[int | None] = []
    for k in range(net.members):
        if not finite[:, k].all():
            out.append(int(np.argmin(finite[:, k])))
        elif not params_ok[k]:
            out.append(int(loss.shape[0]))
        else:
            out.append(None)
    return out


@dataclass(frozen=True)
class GridSpec:
    """The settings the table covers."""

    lrs: tuple[float, ...]
    batch_sizes: tuple[int, ...]
    conventions: tuple[Convention, ...]
    dtypes: tuple[DTypeName, ...]
    hidden: tuple[int, ...]
    seeds: tuple[int, ...]
    epochs: int


CONVENTIONS_STUDIED: tuple[Convention, ...] = tuple(c for c in ("lab-evidence", "lab-sum", "default") if c in CONVENTIONS)
"""``lab`` (the main result), ``lab-sum`` (the summed reading) and refnet's ``default``, in that order."""

FULL = GridSpec(
    lrs=tuple(float(f"{v:.3g}") for v in np.geomspace(1e-4, 1.0, 13)),
    batch_sizes=(1, 2, 5, 10, 20, 21), conventions=CONVENTIONS_STUDIED,
    dtypes=("float64", "float32"), hidden=(4, 6, 8), seeds=tuple(range(8)), epochs=1000,
)
QUICK = GridSpec(
    lrs=(1e-4, 1e-3, 1e-2, 1e-1), batch_sizes=(2, 20), conventions=CONVENTIONS_STUDIED,
    dtypes=("float64", "float32"), hidden=(6,), seeds=(0, 1, 2), epochs=100,
)


@dataclass(frozen=True)
class Sharpness:
    """Largest Hessian eigenvalues at initialisation for one (hidden, seed)."""

    hidden: int
    seed: int
    full: float
    """Of the mean loss over all points (full-batch gradient descent)."""
    step: dict[str, dict[int, float]]
    """``step[convention][batch_size]``: the largest eigenvalue, over the batches, of the Hessian of
    the loss each step descends."""

    def bound(self, convention: Convention, batch_size: int) -> float:
        """``2 / s``: the largest stable learning rate for that convention and batch size."""
        return 2.0 / self.step[convention][batch_size]


def sharpness(x: npt.NDArray[np.float64], y: npt.NDArray[np.float64], hidden: int, seed: int,
              batch_sizes: Sequence[int], output: ActivationName = "none",
              conventions: Sequence[Convention] = CONVENTIONS_STUDIED) -> Sharpness:
    """Hessian eigenvalues of the lab network at its float64 initialisation, per convention
    (the scale of each step's loss read from the convention, :func:`step_scale`)."""
    net = lab_linear(hidden, output=output, seed=seed)
    per_point = point_hessians(net, x, y)
    n = x.shape[0]
    step: dict[str, dict[int, float]] = {c: {} for c in conventions}
    for size in batch_sizes:
        best = dict.fromkeys(conventions, 0.0)
        for b in batch_slices(n, size):  # the batches train() forms
            total = per_point[b].sum(axis=0)
            cache: dict[tuple[bool, float], float] = {}
            for c in conventions:
                key = step_scale(c)
                if key not in cache:
                    summed, factor = key
                    matrix = total if summed else total / (b.stop - b.start)
                    cache[key] = top_eigenvalue(matrix if factor == 1.0 else factor * matrix)
                best[c] = max(best[c], cache[key])
        for c in conventions:
            step[c][size] = best[c]
    return Sharpness(hidden, seed, top_eigenvalue(per_point.mean(axis=0)), step)


@dataclass(frozen=True)
class Run:
    """One trained member of the grid."""

    convention: Convention
    dtype: DTypeName
    hidden: int
    batch_size: int
    lr: float
    seed: int
    first_nonfinite: int | None
    accuracy: float
    step_sharpness: float
    full_sharpness: float

    @property
    def diverged(self) -> bool:
        return self.first_nonfinite is not None

    @property
    def ratio(self) -> float:
        """``lr * s / 2``: above 1 the first step is beyond the stability bound."""
        return self.lr * self.step_sharpness / 2

    def to_dict(self) -> dict[str, object]:
        d = asdict(self)
        d["ratio"] = self.ratio
        return d


def run_grid(spec: GridSpec, x: npt.NDArray[np.float64], y: npt.NDArray[np.float64],
             sharp: dict[tuple[int, int], Sharpness],
             tick: Callable[[str], None] | None = None) -> list[Run]:
    """Train every cell of ``spec``; ``sharp[(hidden, seed)]`` gives the bounds."""
    runs: list[Run] = []
    seeds = list(spec.seeds) * len(spec.lrs)
    lrs = np.repeat(np.asarray(spec.lrs, dtype=np.float64), len(spec.seeds))
    for conv in spec.conventions:
        for dtype in spec.dtypes:
            for hidden in spec.hidden:
                for size in spec.batch_sizes:
                    if tick is not None:
                        tick(f"{conv} {dtype} hidden {hidden} batch {size}")
                    net = lab_linear(hidden, dtype=dtype, seed=seeds, sigmoid=sigmoid_of(conv))
                    hist = train(net, x, y, lr=lrs, epochs=spec.epochs, batch_size=size,
                                 convention=conv)
                    first = first_nonfinite(hist.loss, net)
                    for k, (seed, lr) in enumerate(zip(seeds, lrs)):
                        s = sharp[(hidden, seed)]
                        runs.append(Run(conv, dtype, hidden, size, float(lr), seed, first[k],
                                        float(hist.accuracy[k]), s.step[conv][size], s.full))
    return runs


def boundaries(runs: Sequence[Run]) -> list[dict[str, object]]:
    """Per (convention, dtype, hidden, batch size, seed): the smallest learning rate that
    diverged, the largest below it that did not, and both in units of the bound ``2 / s``."""
    groups: dict[tuple[str, str, int, int, int], list[Run]] = {}
    for r in runs:
        groups.setdefault((r.convention, r.dtype, r.hidden, r.batch_size, r.seed), []).append(r)
    out: list[dict[str, object]] = []
    for (conv, dtype, hidden, size, seed), rs in sorted(groups.items()):
        rs = sorted(rs, key=lambda r: r.lr)
        div = [r for r in rs if r.diverged]
        lo = div[0] if div else None
        ok = [r for r in rs if not r.diverged and (lo is None or r.lr < lo.lr)]
        hi = ok[-1] if ok else None
        bound = 2.0 / rs[0].step_sharpness
        out.append({
            "convention": conv, "dtype": dtype, "hidden": hidden, "batch_size": size, "seed": seed,
            "bound": bound, "bound_full": 2.0 / rs[0].full_sharpness,
            "lr_diverged": lo.lr if lo else None, "lr_stable": hi.lr if hi else None,
            "ratio_diverged": lo.lr / bound if lo else None,
            "ratio_stable": hi.lr / bound if hi else None,
            "monotone": all(r.diverged for r in rs if lo is not None and r.lr >= lo.lr),
        })
    return out


def agreement(runs: Sequence[Run], predictor: Callable[[Run], float], factor: float = 1.0) -> float:
    """Fraction of runs for which "diverges iff predictor(run) > factor" is right."""
    if not runs:
        return float("nan")
    hits = sum((predictor(r) > factor) == r.diverged for r in runs)
    return hits / len(runs)


def predictors(runs: Sequence[Run]) -> dict[str, dict[str, float]]:
    """How well each candidate explanation predicts divergence (fraction of runs right)."""
    cands = {
        "lr * lambda_full / 2 (batching ignored)": lambda r: r.lr * r.full_sharpness / 2,
        "lr_eff * lambda_full / 2, lr_eff = lr * B for a summed gradient": lambda r: (
            r.lr * batch_factor(r.convention, r.batch_size) * r.full_sharpness / 2),
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


def dtype_effect(runs: Sequence[Run]) -> dict[str, float]:
    """float32 against float64 for the same (convention, hidden, batch, lr, seed)."""
    by: dict[tuple[str, int, int, float, int], dict[str, Run]] = {}
    for r in runs:
        by.setdefault((r.convention, r.hidden, r.batch_size, r.lr, r.seed), {})[r.dtype] = r
    pairs = [(d["float32"], d["float64"]) for d in by.values() if "float32" in d and "float64" in d]
    diff = [b.first_nonfinite - a.first_nonfinite for a, b in pairs
            if a.first_nonfinite is not None and b.first_nonfinite is not None]
    return {
        "pairs": float(len(pairs)),
        "same_outcome": float(np.mean([a.diverged == b.diverged for a, b in pairs])) if pairs else float("nan"),
        "both_diverged": float(len(diff)),
        "float32_earlier": float(sum(d > 0 for d in diff)),
        "same_epoch": float(sum(d == 0 for d in diff)),
        "float64_earlier": float(sum(d < 0 for d in diff)),
        "max_epochs_float32_earlier": float(max(diff)) if diff else float("nan"),
    }


def hidden_effect(sharp: Sequence[Sharpness]) -> dict[str, dict[str, float]]:
    """Median over seeds of lambda_max (full batch) and of its bound, per hidden width."""
    out: dict[str, dict[str, float]] = {}
    for h in sorted({s.hidden for s in sharp}):
        lam = [s.full for s in sharp if s.hidden == h]
        out[str(h)] = {"lambda_max_median": float(np.median(lam)), "bound_median": float(np.median([2 / v for v in lam])),
                       "seeds": float(len(lam))}
    return out
