"""The overflow study: the lab's first no-activation run, as its code ran it, seed by seed.

The lab's first try (``lab.EXPERIMENTS["no-activation"]``: XOR, Linear(2,6) ->
Linear(6,4) -> Linear(4,1) without any activation, MSE, batches of 5 drawn with
replacement, 4 updates per epoch, lr 0.01, 500,000 epochs, unseeded) printed
``overflow encountered in square`` and ``Accuracy = 0.0 %``; the report blamed a
batch size (20) too large. This study runs that program for seeds 0-29 with the
guard in record mode and a tracer (:mod:`verify.overflow.runs`), each run stopped
after the epoch that left a parameter non-finite, and measures:

1. the first non-finite event per seed (epoch, phase, layer, operation) and how
   often a matrix product goes non-finite before the square of the MSE;
2. the weight norms over the updates before it;
3. the stability bound: the largest eigenvalue of the Hessian of the mean loss
   at the start of every epoch against ``2 / lr``;
4. the same program at batch sizes 1, 5, 20 and 21;
5. the second try (``output-sigmoid-only``) for contrast;
6. why the lab's rule printed 0.0 %.

:func:`claims` turns the measurements into the lab's claims and their verdicts.
"""

from __future__ import annotations

import math
import platform
import time
from collections import Counter
from concurrent.futures import Executor
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

import refnet
from refnet import lab
from refnet.data import xor_easy
from refnet.sweep import default_workers, process_pool

from ..common.console import Console
from ..common.hessian import sharpness
from .runs import CATEGORIES, SeedRun, best_linear_accuracy, trace_many

__all__ = ["Config", "QUICK_CONFIG", "FIRST", "SECOND", "BOUND", "LAB_BATCH", "Study", "SecondTry", "BatchRow",
           "run_study", "verdict", "claims", "LAB_PAGE12"]

FIRST = lab.EXPERIMENTS["no-activation"]
"""The lab's first try, as its code ran it."""
SECOND = lab.EXPERIMENTS["output-sigmoid-only"]
"""The second try: the output sigmoid kept."""
BOUND = 2.0 / FIRST.lr
"""Gradient descent is linearly stable only where the loss's largest Hessian eigenvalue is below ``2 / lr``."""
LAB_BATCH = FIRST.batch_size
LAB_STATED_BATCH = 20
"""The batch size the report names."""

LAB_PAGE12: dict[str, float] = {"low": 0.13, "high": 0.90, "bulk_low": 0.35, "bulk_high": 0.70,
                                 "from_epoch": 20_000}
"""The second try's loss curve as read from the report's page 12 (0 to 500,000 epochs): after the
first ~20,000 epochs a dense band whose bulk lies between about 0.35 and 0.70, with spikes down to
about 0.13 and up to about 0.90."""


@dataclass(frozen=True)
class Config:
    """What the study runs (``--quick`` shrinks it)."""

    seeds: tuple[int, ...] = tuple(range(30))
    batch_sizes: tuple[int, ...] = (1, 5, 20, 21)
    sweep_updates: int = 20_000
    """Update limit of the runs at batch sizes other than the lab's (the lab's own: 500,000 epochs)."""
    second_epochs: int = 20_000
    """Epochs of the second try (the lab ran 500,000)."""
    second_seeds: tuple[int, ...] = tuple(range(30))
    workers: int = 0
    """Worker processes (0: this process)."""
    quick: bool = False


QUICK_CONFIG = Config(seeds=tuple(range(6)), sweep_updates=2_000, second_epochs=1_000,
                      second_seeds=tuple(range(4)), quick=True)


@dataclass(frozen=True)
class SecondTry:
    """One run of the second try."""

    seed: int
    accuracy: float
    logged: npt.NDArray[np.float64]
    params_finite: bool
    smallest_output: float
    largest_output: float
    sharpness_init: float

    @property
    def saturated(self) -> bool:
        """Every output within 1e-3 of 0 or of 1 (the sigmoid's slope below 1e-3)."""
        p = np.array([self.smallest_output, self.largest_output])
        return bool(np.all((p < 1e-3) | (p > 1 - 1e-3)))

    def band(self, from_epoch: float) -> tuple[float, float, float]:
        """5th percentile, median and 95th percentile of the logged loss from ``from_epoch`` on."""
        v = self.logged[self.logged[:, 0] >= from_epoch, 1]
        if not v.size:
            v = self.logged[self.logged.shape[0] // 2:, 1]
        if not v.size:
            return (math.nan, math.nan, math.nan)
        lo, mid, hi = np.percentile(v, [5, 50, 95])
        return float(lo), float(mid), float(hi)


@dataclass(frozen=True)
class BatchRow:
    """One batch size of :meth:`Study.batch_rows`."""

    batch_size: int
    iterations: int
    runs: int
    horizon: int
    diverged: int
    """Runs non-finite within ``horizon`` updates."""
    median_updates: float
    """Median updates before the first event, runs still finite counted as inf."""
    min_updates: float
    max_updates: float
    median_points: float
    """Median points drawn (updates x batch size) before it."""
    categories: dict[str, int]
    accuracy_zero: int
    """Runs whose final accuracy is 0.0 % (each run to its own limit)."""


@dataclass
class Study:
    """Everything the report needs."""

    config: Config
    environment: dict[str, str]
    main: list[SeedRun]
    by_batch: dict[int, list[SeedRun]]
    second: list[SecondTry]
    init: list[dict[str, float]]
    """Per seed: sharpness at initialisation and its lower bound from the first layer's block."""
    best_line: float
    seconds: dict[str, float] = field(default_factory=dict)

    # -- summaries ---------------------------------------------------------------------------
    def categories(self, runs: list[SeedRun] | None = None) -> dict[str, int]:
        """First events by kind of operation."""
        counted = Counter(r.event.category for r in (self.main if runs is None else runs) if r.event is not None)
        return {c: counted.get(c, 0) for c in CATEGORIES}

    def square_seeds(self) -> list[int]:
        """Seeds in which some square of the MSE overflowed from a finite value (the lab's warning)."""
        return [r.seed for r in self.main if r.square_steps]

    def crossings(self) -> list[tuple[int, int | None, int | None]]:
        """Per seed: (seed, first epoch starting above the bound, epoch of the first event)."""
        return [(r.seed, r.sharpness_crossing(BOUND), r.event.epoch if r.event else None) for r in self.main]

    def horizon(self) -> int:
        """The update count every batch size ran to (the smallest update limit)."""
        limits = [runs[0].epochs_limit * runs[0].iterations for runs in self.by_batch.values() if runs]
        return min(limits) if limits else 0

    def batch_rows(self) -> list[BatchRow]:
        """Per batch size: runs, how many went non-finite within :meth:`horizon` updates, and the
        updates and points drawn before it (runs still finite count as beyond the horizon)."""
        rows = []
        horizon = self.horizon()
        for b in sorted(self.by_batch):
            runs = self.by_batch[b]
            upd = np.array([r.updates_to_event if r.updates_to_event is not None and r.updates_to_event < horizon
                            else math.inf for r in runs], dtype=np.float64)
            hit = upd[np.isfinite(upd)]
            rows.append(BatchRow(
                b, runs[0].iterations if runs else 0, len(runs), horizon, int(hit.size),
                float(np.median(upd)) if upd.size else math.nan,
                float(hit.min()) if hit.size else math.nan, float(hit.max()) if hit.size else math.nan,
                float(np.median(upd * b)) if upd.size else math.nan, self.categories(runs),
                sum(1 for r in runs if r.accuracy == 0.0)))
        return rows

    def smaller_diverges_sooner(self) -> bool:
        """The smallest batch size goes non-finite at least as often and no later (median) than the largest."""
        rows = self.batch_rows()
        if len(rows) < 2:
            return False
        small, large = rows[0], rows[-1]
        return small.diverged >= large.diverged and small.median_updates <= large.median_updates


# -- the runs -----------------------------------------------------------------------------------
def _init_bound(seed: int) -> dict[str, float]:
    """Sharpness of the first and second try at initialisation, and the first layer's block bound.

    Notes
    -----
    With ``y = (x W1 + b1) W2 W3`` the loss is quadratic in ``(W1, b1)`` given the other
    weights: that block of the Hessian of ``mean (y - t)^2`` is ``2 S (x) v v^T`` with
    ``S = mean [x 1]^T [x 1]`` and ``v = W2 W3``, whose largest eigenvalue is
    ``2 lambda_max(S) |v|^2``. A block's largest eigenvalue never exceeds the whole
    matrix's, so this is a lower bound of the sharpness that needs no differences.
    """
    x, t = xor_easy()
    rs = np.random.RandomState(seed)
    lab.draw_data(FIRST, rs)
    params = lab.draw_params(FIRST, rs)
    first, second = FIRST.build(), SECOND.build()
    first.set_params(dict(params))
    second.set_params(dict(params))
    design = np.column_stack([x, np.ones(len(x))])
    s_max = float(np.linalg.eigvalsh(design.T @ design / len(x))[-1])
    v = params["linear_2.W"][0] @ params["output.W"][0]
    block = 2.0 * s_max * float(np.sum(v * v))
    norms = [float(np.linalg.norm(params[f"{n}.W"])) for n in ("linear_1", "linear_2", "output")]
    return {"seed": float(seed), "sharpness": sharpness(first, x, t), "block_bound": block,
            "second_sharpness": sharpness(second, x, t), "norm_product": float(np.prod(norms))}


def run_study(cfg: Config, quiet: bool = True) -> Study:
    """Run every part of the study with ``cfg`` (``cfg.workers`` processes, one pool for all)."""
    pool = process_pool(cfg.workers) if cfg.workers > 0 else None
    try:
        return _run(cfg, pool, quiet)
    finally:
        if pool is not None:
            pool.shutdown(wait=True, cancel_futures=True)


def _run(cfg: Config, pool: Executor | None, quiet: bool) -> Study:
    log = Console("overflow", quiet=quiet, clock=True)
    env = {"python": platform.python_version(), "numpy": np.__version__, "refnet": refnet.__version__,
           "platform": platform.platform(), "workers": str(cfg.workers)}
    seconds: dict[str, float] = {}
    t0 = time.perf_counter()
    log(f"first try, batch {LAB_BATCH}: {len(cfg.seeds)} seeds, guard on, stopped at the first non-finite "
        "parameter; sharpness every epoch")
    main = trace_many([(FIRST, s, True) for s in cfg.seeds], executor=pool,
                      done=lambda k: log(f"first try: {k}/{len(cfg.seeds)} seeds") if k % 10 == 0 else None)
    seconds["first try"] = time.perf_counter() - t0
    t1 = time.perf_counter()
    by_batch: dict[int, list[SeedRun]] = {LAB_BATCH: main} if LAB_BATCH in cfg.batch_sizes else {}
    jobs = []
    for b in cfg.batch_sizes:
        if b == LAB_BATCH:
            continue
        c = FIRST.but(batch_size=b)
        c = c.but(epochs=max(1, -(-cfg.sweep_updates // c.iterations)))
        jobs += [(c, s, False) for s in cfg.seeds]
    if jobs:
        log(f"batch sizes {', '.join(str(b) for b in cfg.batch_sizes)}: {len(jobs)} runs, "
            f"at most {cfg.sweep_updates:,} updates each")
        done = trace_many(jobs, executor=pool,
                          done=lambda k: log(f"batch sizes: {k}/{len(jobs)} runs") if k % 20 == 0 else None)
        for r in done:
            by_batch.setdefault(r.batch_size, []).append(r)
    seconds["batch sizes"] = time.perf_counter() - t1
    t2 = time.perf_counter()
    log(f"second try: {len(cfg.second_seeds)} seeds x {cfg.second_epochs:,} epochs")
    chunk = max(1, -(-len(cfg.second_seeds) // max(cfg.workers, 1)))
    results = lab.sweep(SECOND.but(epochs=cfg.second_epochs), [(s, SECOND.lr) for s in cfg.second_seeds],
                        workers=cfg.workers, executor=pool, chunk_size=chunk, quiet=quiet,
                        label="overflow: second try")
    init = [_init_bound(s) for s in sorted(set(cfg.seeds) | set(cfg.second_seeds))]
    by_seed = {int(d["seed"]): d for d in init}
    second = [SecondTry(int(r.seed or 0), r.accuracy, r.logged,
                        all(bool(np.isfinite(v).all()) for v in r.params.values()),
                        float(np.min(r.predictions)), float(np.max(r.predictions)),
                        by_seed[int(r.seed or 0)]["second_sharpness"]) for r in results]
    seconds["second try"] = time.perf_counter() - t2
    x, t = xor_easy()
    seconds["total"] = time.perf_counter() - t0
    return Study(cfg, env, main, by_batch, second, [by_seed[s] for s in cfg.seeds], best_linear_accuracy(x, t),
                 seconds)


# -- verdicts -------------------------------------------------------------------------------------
def verdict(study: Study) -> tuple[bool, str]:
    """Exit decision: every first-try run went non-finite with a guard event and printed 0.0 %, and
    every second-try run stayed finite."""
    problems = []
    for r in study.main:
        if r.event is None:
            problems.append(f"seed {r.seed}: no non-finite value within {r.epochs_limit:,} epochs")
        elif r.accuracy != 0.0:
            problems.append(f"seed {r.seed}: accuracy {r.accuracy:.1f}% after going non-finite")
    for s in study.second:
        if not s.params_finite:
            problems.append(f"second try seed {s.seed}: a parameter went non-finite")
    if problems:
        return False, "; ".join(problems)
    cats = study.categories()
    n = len(study.main)
    rows = study.batch_rows()
    sizes = ", ".join(f"{r.batch_size}: {r.diverged} of {r.runs}" for r in rows)
    return True, (f"the lab's first try went non-finite in all {n} seeds (a matrix product first in "
                  f"{cats['matrix product']}, the MSE's square in {cats['square of the MSE']}); non-finite within "
                  f"{study.horizon():,} updates by batch size {sizes}"
                  + ("; the smallest batch soonest" if study.smaller_diverges_sooner() else "")
                  + f"; the second try stayed finite in all {len(study.second)}")


def _pct(k: int, n: int) -> str:
    return f"{k} of {n}"


def claims(study: Study) -> list[dict[str, object]]:
    """The lab's claims about its no-activation runs, with what we measured and a verdict.

    A quick run never decides: its verdicts are ``undecided``.
    """
    full = not study.config.quick
    n = len(study.main)
    cats = study.categories()
    squares = study.square_seeds()
    rows = study.batch_rows()

    def decide(v: str) -> str:
        return v if full else "undecided"

    out: list[dict[str, object]] = []
    # 1. the cause named by the lab: a batch size too large
    horizon = study.horizon()
    parts = [f"batch {r.batch_size}: {r.diverged} of {r.runs} non-finite, median "
             f"{_num(r.median_updates)} updates" for r in rows]
    sooner = study.smaller_diverges_sooner()
    everywhere = bool(rows) and all(r.diverged >= 0.8 * r.runs for r in rows)
    out.append({
        "id": "overflow-batch-size",
        "claim": "The first no-activation run overflowed because its batch size (20) was too large.",
        "measured": (f"the run used batch {LAB_BATCH} (not {LAB_STATED_BATCH}); B enters the step only as 2/B "
                     f"(the gradient of the batch mean). Seeds {_seeds(study.config.seeds)}, within "
                     f"{_num(horizon)} updates: " + "; ".join(parts)
                     + (". The smallest batch goes non-finite soonest" if sooner else "")),
        "verdict": decide("does not hold" if everywhere and sooner else "undecided"),
        "evidence": "#batch-size",
        "full": full,
    })
    # 2. where it overflowed
    out.append({
        "id": "overflow-in-mse-square",
        "claim": "The overflow happened while computing the MSE (overflow encountered in square).",
        "measured": (f"first non-finite value: a matrix product in {_pct(cats['matrix product'], n)} seeds, the "
                     f"square of the MSE in {_pct(cats['square of the MSE'], n)}, another operation in "
                     f"{_pct(cats['other'], n)}; a square overflowed from a finite value at some step in "
                     f"{_pct(len(squares), n)} seeds (the only overflow NumPy before 2.3 reported: its np.dot "
                     "checked no floating-point flags). Cause: the sharpness passed 2/lr"),
        "verdict": decide("partly holds" if squares else "does not hold"),
        "evidence": "#where-it-overflows",
        "full": full,
    })
    # 3. the 0.0 % accuracy
    zero = sum(1 for r in study.main if r.accuracy == 0.0)
    nan_all = sum(1 for r in study.main if r.predictions_nan == r.points)
    params_nan = sum(1 for r in study.main if r.params_all_nan)
    out.append({
        "id": "overflow-accuracy-zero",
        "claim": "The first try printed Accuracy = 0.0 %.",
        "measured": (f"0.0 % in {_pct(zero, n)} seeds: all 21 predictions NaN in {_pct(nan_all, n)} (every "
                     f"parameter NaN in {_pct(params_nan, n)}, which no later update can undo), and the lab's "
                     "rule counts a NaN prediction as neither 0 nor 1"),
        "verdict": decide("holds" if zero == n and nan_all == n else "partly holds"),
        "evidence": "#the-printed-0-0",
        "full": full,
    })
    # 4. the second try
    accs = np.array([s.accuracy for s in study.second])
    sat = [s for s in study.second if s.saturated]
    m = len(study.second)
    out.append({
        "id": "overflow-second-try-learns-nothing",
        "claim": "With only the output sigmoid kept, the network learned nothing in 500,000 epochs.",
        "measured": (f"after {study.config.second_epochs:,} epochs (of the lab's 500,000), seeds "
                     f"{_seeds(study.config.second_seeds)}: accuracy median {_num(float(np.median(accs)))} % "
                     f"(best {_num(float(accs.max()))} %; the best straight line gets {_num(study.best_line)} %), "
                     f"all finite in {_pct(sum(s.params_finite for s in study.second), m)}; "
                     f"{_pct(len(sat), m)} end with a saturated output whose loss is the share of wrongly "
                     "labelled draws, the band of page 12"),
        "verdict": decide("holds" if accs.size and float(accs.max()) <= study.best_line + 1e-9 else "does not hold"),
        "evidence": "#second-try",
        "full": full,
    })
    return out


def _f(v: object) -> float:
    return float(v) if isinstance(v, (int, float)) else math.nan


def _num(v: object) -> str:
    from ..common.report import fmt_number

    return fmt_number(_f(v), 4, thousands=True)


def _seeds(seeds: tuple[int, ...]) -> str:
    s = sorted(seeds)
    return f"{s[0]}-{s[-1]}" if s == list(range(s[0], s[-1] + 1)) else ", ".join(map(str, s))


def workers_default() -> int:
    """Two processes on the reference machine (at most the cores this process may use)."""
    return min(2, default_workers())
