"""Run every configuration of :mod:`verify.experiments.plan` and measure each row against its page.

:func:`execute` trains all runs through :func:`refnet.lab.sweep`, every sweep sharing one process
pool so that both cores stay busy (the costliest configurations are queued first);
:func:`analyse` turns the logged curves into one :class:`RowResult` per figure of the report.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from concurrent.futures import Future, ThreadPoolExecutor, as_completed
from dataclasses import dataclass
from typing import Final, Literal

import numpy as np
import numpy.typing as npt

from refnet import lab
from refnet.kernels import KernelName
from refnet.progress import Progress
from refnet.sweep import process_pool

from .measure import LINES, Features, Lines, Placement, as_number, features, place, quantized
from .pages import FEATURES, PAGES, PageRead
from .plan import MATCHED, ROWS, Mode, Row, Sizes, Variant, configs, runs_of

__all__ = ["Curves", "Study", "FeatureRow", "RowResult", "Outcome", "execute", "analyse", "outcome",
           "lines_of", "Kernel", "kernel_of", "compiled_available"]

F64 = npt.NDArray[np.float64]
Outcome = Literal["learned", "stuck", "above chance", "non-finite"]


def lines_of(config: lab.Config) -> Lines:
    """The feature lines of a configuration's loss (BCE in bits)."""
    return LINES["mse" if config.loss == "mse" else "bce"]


@dataclass(frozen=True)
class Curves:
    """The logged curves of one configuration and rate, one row per seed."""

    config: lab.Config
    seeds: tuple[int, ...]
    epochs: F64
    loss: F64
    """``(seeds, logged points)``, the lab's units."""
    accuracy: F64

    def features(self) -> list[Features]:
        lines = lines_of(self.config)
        return [features(self.epochs, self.loss[i], float(self.accuracy[i]), lines) for i in range(len(self.seeds))]

    def outcomes(self) -> list[Outcome]:
        return [outcome(f, lines_of(self.config)) for f in self.features()]

    def of_seed(self, seed: int) -> int:
        return self.seeds.index(seed)


def outcome(f: Features, lines: Lines) -> Outcome:
    """``learned``: the final loss is below the low line; ``non-finite``: the loss became NaN or inf;
    ``above chance``: it ended above 1.5 times the chance loss; ``stuck``: neither."""
    if f.nonfinite is not None:
        return "non-finite"
    if f.final < lines.low:
        return "learned"
    return "above chance" if f.final > 1.5 * lines.chance else "stuck"


@dataclass(frozen=True)
class Study:
    """Everything the runs produced."""

    mode: Mode
    sizes: Sizes
    curves: dict[tuple[str, Variant], Curves]
    seconds: float
    workers: int
    runs: int
    steps: int
    """Training steps summed over every run (epochs x updates per epoch)."""
    kernels: dict[str, int]
    """Runs by the kernel that trained them (``blas``, ``compiled``): see :func:`kernel_of`."""


def _cost(config: lab.Config, members: int) -> float:
    """Relative wall time of one ensemble: steps, and a little per member."""
    return config.epochs * config.iterations * (1.0 + members / 60.0)


Kernel = Literal["auto", "compiled", "blas"]
"""``blas``: every run on NumPy's BLAS, as the lab ran; ``compiled``: the seed distributions on
:mod:`refnet.compiled` (numba); ``auto``: ``compiled`` when numba can be imported."""


CHAOTIC_LR: Final = 10.0
"""Figures run at this rate (pages 10-11) stay on ``blas``: see :func:`kernel_of`."""


def kernel_of(config: lab.Config, sizes: Sizes, kernel: Kernel) -> KernelName:
    """The kernel a grouped configuration runs on. Whatever ``kernel`` says, two kinds stay on
    ``blas``, where the last bit decides a run: a seeded figure's (its seed 0 is compared with the
    page, and the lab ran BLAS; near a threshold, as in the pair of pages 17-18, one ulp of the rate
    changes the run), and a figure run at lr 10 (pages 10-11: chaotic runs; at the quick size two of
    seeds 0-3 of the 10-10 hidden-units panel end with another outcome label under the ``portable``
    arithmetic, tests/test_compiled.py). Every other configuration is a distribution over unseeded
    runs whose outcome labels the compiled kernel leaves as BLAS gives them (the same test)."""
    if kernel == "blas" or (kernel == "auto" and not compiled_available()):
        return "blas"
    stays = any(config == sizes.cap(row.name, row.config).but(lr=config.lr)
                for row in ROWS if row.seeded or row.config.lr >= CHAOTIC_LR)
    return "blas" if stays else "compiled"


def compiled_available() -> bool:
    """Whether numba can be imported (``pip install refnet[fast]``)."""
    from refnet import compiled

    return compiled.available()


def execute(mode: Mode, sizes: Sizes, *, workers: int, quiet: bool, kernel: Kernel = "blas") -> Study:
    """Train every run of ``sizes``; ``workers=0`` runs in this process. Configurations that
    :func:`kernel_of` puts on ``compiled`` run in this process (numba spreads an ensemble's members
    over the cores), beside the pool's."""
    start = time.perf_counter()
    groups = runs_of(sizes)
    seeds = list(range(sizes.seeds))
    order = sorted(groups, key=lambda c: -_cost(c, len(groups[c]) * len(seeds)))
    kern = {c: kernel_of(c, sizes, kernel) for c in order}
    total = sum(_cost(c, len(groups[c]) * len(seeds)) for c in order)
    progress = Progress(max(int(total), 1), "experiments", quiet=quiet, unit="work units")
    progress.update(0)
    done: dict[lab.Config, list[lab.Result]] = {}
    runs = {c: [(s, r) for s in seeds for r in groups[c]] for c in order}
    here = [c for c in order if workers == 0 or kern[c] == "compiled"]
    pooled = [c for c in order if c not in here]
    finished = 0.0
    pool = process_pool(workers) if pooled else None
    try:
        with ThreadPoolExecutor(max_workers=max(len(pooled), 1)) as threads:
            futures: dict[Future[list[lab.Result]], lab.Config] = {}
            for c in pooled:  # the costliest first: the pool queues chunks in this order
                futures[threads.submit(lab.sweep, c, runs[c], executor=pool, chunk_size=64)] = c
                time.sleep(0.01)
            for c in here:
                done[c] = lab.sweep(c.but(kernel=kern[c]), runs[c], workers=0, chunk_size=64)
                finished += _cost(c, len(runs[c]))
                progress.update(int(finished))
            for fut in as_completed(futures):
                c = futures[fut]
                done[c] = fut.result()
                finished += _cost(c, len(runs[c]))
                progress.update(int(finished))
    finally:
        if pool is not None:
            pool.shutdown(wait=True, cancel_futures=True)
    progress.update(max(int(total), 1))
    by_run: dict[tuple[lab.Config, float], list[lab.Result]] = {}
    for c, results in done.items():
        for res in results:
            by_run.setdefault((c, res.lr), []).append(res)
    curves: dict[tuple[str, Variant], Curves] = {}
    for key, cfg in configs(sizes).items():
        group = next(c for c in groups if c == cfg.but(lr=c.lr))
        results = by_run[(group, cfg.lr)]
        curves[key] = Curves(cfg, tuple(int(r.seed or 0) for r in results), results[0].logged[:, 0].copy(),
                             np.stack([r.logged[:, 1] for r in results]),
                             np.array([r.accuracy for r in results], dtype=np.float64))
    n_runs = sum(len(r) for r in runs.values())
    steps = sum(c.epochs * c.iterations * len(runs[c]) for c in order)
    kernels: dict[str, int] = {}
    for c in order:
        kernels[kern[c]] = kernels.get(kern[c], 0) + len(runs[c])
    return Study(mode, sizes, curves, time.perf_counter() - start, workers, n_runs, steps, kernels)


@dataclass(frozen=True)
class FeatureRow:
    """One feature of one figure: the page's number, the seeds' spread, and seed 0 for seeded figures."""

    feature: str
    page: float | None
    page_never: bool
    tolerance: float
    values: tuple[float | None, ...]
    """One per seed (``None``: never)."""
    placement: Placement | None
    seed0: float | None
    seed0_matches: bool | None
    """Seeded figures: seed 0's value equals the page's within the reading tolerance."""

    @property
    def compared(self) -> bool:
        return self.page is not None or self.page_never


@dataclass(frozen=True)
class RowResult:
    """One figure of the report: the page, the runs as run, as meant and matched."""

    row: Row
    page: PageRead
    as_run: Curves
    meant: Curves
    matched: tuple[tuple[str, str, Curves], ...]
    features: tuple[FeatureRow, ...]
    quantized_after: bool | None
    """Seeded BCE figures that blow up: seed 0's logged values from epoch 10,000 on are multiples
    of 23.2535 / 21 bits (``None`` when not applicable)."""

    def required(self, full: bool) -> list[FeatureRow]:
        """The checks seed 0 must pass: :meth:`checks` less the page's known differences."""
        return [f for f in self.checks(full) if f.feature not in self.page.differs]

    def checks(self, full: bool) -> list[FeatureRow]:
        """Seeded figures: the features of seed 0 compared with the page. A reduced run compares only
        those its epochs reach (the first level, and epochs of the page before the run's end)."""
        last = float(self.as_run.epochs[-1]) if self.as_run.epochs.size else 0.0
        out = []
        for f in self.features:
            if f.seed0_matches is None:
                continue
            if full or f.feature == "level" or (f.feature in ("high_until", "drop") and f.page is not None
                                                and f.page <= last - f.tolerance):
                out.append(f)
        return out

    @property
    def inside(self) -> tuple[int, int]:
        """Unseeded figures: (page numbers inside the seeds' range, page numbers placed)."""
        rows = [f for f in self.features if f.placement is not None]
        return sum(f.placement.inside for f in rows if f.placement is not None), len(rows)


def _page_value(page: PageRead, feature: str) -> tuple[float | None, bool]:
    never = feature in page.never
    return (None if never else page.value(feature)), never


def analyse(study: Study) -> list[RowResult]:
    """One :class:`RowResult` per row of the plan."""
    out: list[RowResult] = []
    for row in ROWS:
        page = PAGES[row.name.replace("-snippet", "")]
        as_run = study.curves[(row.name, "as run")]
        feats = as_run.features()
        last = float(as_run.epochs[-1]) if as_run.epochs.size else 0.0
        frows: list[FeatureRow] = []
        for name in FEATURES:
            value, never = _page_value(page, name)
            tol = page.tolerance(name)
            values = tuple(f.value(name) for f in feats)
            reached = value is None or name not in ("high_until", "drop", "settle") or value <= last + tol
            placed = value if value is not None else (as_number(name, None) if never else None)
            placement = place(name, placed, values, tol) if placed is not None and reached and not row.seeded else None
            seed0 = seed0_ok = None
            if row.seeded and 0 in as_run.seeds:
                seed0 = values[as_run.of_seed(0)]
                if never:
                    seed0_ok = seed0 is None
                elif value is not None:
                    seed0_ok = seed0 is not None and abs(seed0 - value) <= tol
            frows.append(FeatureRow(name, value, never, tol, values, placement, seed0, seed0_ok))
        quant: bool | None = None
        if row.seeded and row.config.loss != "mse" and page.final is not None and page.final > 1.5:
            i = as_run.of_seed(0)
            late = as_run.loss[i][as_run.epochs >= 10_000]
            quant = quantized(late) if late.size else None
        matched = tuple((k, MATCHED[k][1], study.curves[(k, "matched")]) for k in row.matched)
        out.append(RowResult(row, page, as_run, study.curves[(row.name, "meant")], matched, tuple(frows), quant))
    return out


def median_of(values: Sequence[float | None], feature: str) -> float:
    """The seeds' median of a feature, "never" ordered as in :func:`verify.experiments.measure.as_number`."""
    from .measure import as_number

    return float(np.median([as_number(feature, v) for v in values]))
