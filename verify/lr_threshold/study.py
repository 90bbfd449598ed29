"""E0-E5 on the lab's own run: the jobs, in phases, and the raw results.

Phase 1 (nothing known yet): E0's pinned and ``blas`` pair, E1's
multisection between the pair under ``blas``, the scan below the pair, E4's
pairs for every seed and log grids for the first seeds. Phase 2 (needs the
``blas`` boundary and E4's grids): every other arithmetic variant located
around the ``blas`` boundary (:func:`.runs.locate`: one probe ensemble at
``+- 4**k`` ulps, then multisection), the thread variants at the boundary,
E2's windows, E3's trace, E5's horizons, E4's first bisection; then E4's
further bisections.

:func:`run_study` returns the raw results (JSON-ready); :mod:`.verdicts`
derives every number the report states from them.
"""

from __future__ import annotations

import math
import time
from dataclasses import asdict, dataclass
from typing import Any, Final

import numpy as np

from ..common.console import Console
from .jobs import Job, execute
from .runs import BASE, PAIR, VARIANTS
from .ulp import from_ordinal, ordinal, ordinal_grid

__all__ = ["Plan", "FULL", "QUICK", "run_study", "BELOW", "SECTION_VARIANTS", "THREAD_VARIANTS",
           "e2_rates", "e4_grid"]

BELOW: Final = (0.0014, PAIR[0])
"""E1's scan below the pair."""

SECTION_VARIANTS: Final = tuple(v for v in ("portable", "no-dispatch", "stable-sigmoid", "float32", "longdouble")
                                if v in VARIANTS)
"""The arithmetic variants located around the blas boundary in E1."""
THREAD_VARIANTS: Final = ("threads-1", "threads-2")


@dataclass(frozen=True)
class Plan:
    """How much of each experiment to run."""

    epochs: int = 50_000
    members: int = 64
    """Rates per multisection step (one ensemble)."""
    blas_steps: int = 6
    variant_steps: int = 1
    """Multisection steps after a variant's probe."""
    variants: tuple[str, ...] = SECTION_VARIANTS
    threads: bool = True
    """Whether E1 reruns the pair and the boundary with 1 and 2 BLAS threads."""
    below: int = 64
    e2_windows: tuple[int, ...] = (3, 6, 9, 12, 15)
    """Relative window widths ``10**-k`` around the boundary."""
    e2_rates: int = 64
    e3_every: int = 10
    e3_hessian_every: int = 250
    e4_seeds: int = 256
    e4_boundary_seeds: int = 32
    """Seeds ``0 .. e4_boundary_seeds - 1`` get a per-seed boundary (log grid, then bisection)."""
    e4_grid: int = 5
    e4_bisect: int = 2
    e4_range: tuple[float, float] = (0.0005, 0.01)
    e5_horizons: tuple[int, ...] = (10_000, 20_000, 50_000, 100_000, 200_000, 500_000)
    chunk: int = 128
    quick: bool = False


FULL: Final = Plan()
QUICK: Final = Plan(epochs=10_000, members=6, blas_steps=1, variant_steps=1, variants=(),
                    threads=False, below=0, e2_windows=(9,), e2_rates=8, e3_every=20, e3_hessian_every=1000,
                    e4_seeds=4, e4_grid=0, e4_bisect=0, e5_horizons=(5_000, 10_000), quick=True)


def e2_rates(center: float, k: int, count: int) -> list[float]:
    """``count`` rates evenly spaced in ulps over ``center (1 -+ 10**-k / 2)``."""
    half = center * 10.0 ** -k / 2
    return [from_ordinal(n) for n in ordinal_grid(ordinal(center - half), ordinal(center + half), count)]


def e4_grid(plan: Plan) -> list[float]:
    """The log grid of E4 (float64 rates)."""
    if plan.e4_grid < 2:
        return []
    return [float(r) for r in np.geomspace(plan.e4_range[0], plan.e4_range[1], plan.e4_grid)]


def _chunks(runs: list[tuple[int, float]], size: int) -> list[list[tuple[int, float]]]:
    return [runs[i:i + size] for i in range(0, len(runs), size)]


def _runs_jobs(variant: str, epochs: int, runs: list[tuple[int, float]], size: int, **extra: Any) -> list[Job]:
    return [{"kind": "runs", "variant": variant, "epochs": epochs, "runs": [list(r) for r in c], **extra}
            for c in _chunks(runs, size)]


def _records(results: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [rec for r in results for rec in r["records"]]


def _section(variant: str, plan: Plan, lo: float, hi: float, steps: int) -> Job:
    return {"kind": "section", "variant": variant, "epochs": plan.epochs, "lo": lo, "hi": hi,
            "members": plan.members, "steps": steps}


def run_study(plan: Plan, *, workers: int, quiet: bool) -> dict[str, Any]:
    """Run every experiment of ``plan``; the raw results (see the module docstring)."""
    say = Console("lr_threshold", quiet=quiet, clock=True)
    started = time.monotonic()
    pair = [(0, PAIR[0]), (0, PAIR[1])]
    grid = e4_grid(plan)
    seeds = list(range(plan.e4_seeds))
    # ---------------------------------------------------------------- phase 1
    jobs: list[Job] = []
    names: list[str] = []

    def add(name: str, new: list[Job]) -> None:
        jobs.extend(new)
        names.extend([name] * len(new))

    add("e0-pinned-1", _runs_jobs("pinned", plan.epochs, pair, 2, curve=True))
    add("e0-pinned-2", _runs_jobs("pinned", plan.epochs, pair, 2, curve=True))
    add("e0-blas", _runs_jobs("blas", plan.epochs, pair, 2, curve=True))
    add("e1-blas", [_section("blas", plan, PAIR[0], PAIR[1], plan.blas_steps)])
    below = [float(r) for r in np.linspace(BELOW[0], BELOW[1], plan.below)] if plan.below else []
    add("e1-below", _runs_jobs("blas", plan.epochs, [(0, r) for r in below], plan.chunk))
    e4_runs = [(s, r) for s in seeds for r in (*PAIR, *(grid if s < plan.e4_boundary_seeds else ()))]
    add("e4-grid", _runs_jobs("blas", plan.epochs, e4_runs, plan.chunk))
    say(f"phase 1: {len(jobs)} jobs (E0, E1 blas multisection, E4 pairs and grids)")
    res = execute(jobs, workers=workers, label="lr_threshold phase 1", quiet=quiet)
    raw: dict[str, Any] = {"plan": asdict(plan), "grid": grid, "below_rates": below}
    by: dict[str, list[dict[str, Any]]] = {}
    for n, r in zip(names, res):
        by.setdefault(n, []).append(r)
    raw["E0"] = {k: _records(by[k]) for k in ("e0-pinned-1", "e0-pinned-2", "e0-blas")}
    raw["E0"]["process"] = {k: by[k][0]["process"] for k in ("e0-pinned-1", "e0-blas")}
    raw["E1"] = {"sections": {"blas": by["e1-blas"][0]["section"]}, "process": {"blas": by["e1-blas"][0]["process"]},
                 "below": _records(by.get("e1-below", []))}
    e4 = _records(by["e4-grid"])
    blas = raw["E1"]["sections"]["blas"]
    lo, hi = float(blas["lo"]), float(blas["hi"])
    center = hi
    # ---------------------------------------------------------------- phase 2
    jobs, names = [], []
    for v in plan.variants:
        add(f"locate-{v}", [{"kind": "locate", "variant": v, "epochs": plan.epochs, "center": center,
                             "members": plan.members, "steps": plan.variant_steps,
                             "max_power": 8 if VARIANTS[v].grid == "float32" else 16}])
    for v in THREAD_VARIANTS if plan.threads else ():
        add(f"threads-{v}", _runs_jobs(v, plan.epochs, pair, 2))
    windows = {k: e2_rates(center, k, plan.e2_rates) for k in plan.e2_windows}
    for k, rates in windows.items():
        add(f"e2-{k}", _runs_jobs("blas", plan.epochs, [(0, r) for r in rates], plan.chunk))
    add("e3", [{"kind": "trace", "variant": "blas", "epochs": plan.epochs, "lo": lo, "hi": hi,
                "every": plan.e3_every, "hessian_every": plan.e3_hessian_every}])
    e5_rates = sorted({PAIR[0], PAIR[1], lo, hi})
    add("e5", [{"kind": "horizon", "variant": "blas", "epochs": max(plan.e5_horizons), "rates": e5_rates,
                "horizons": list(plan.e5_horizons)}])
    brackets = _e4_brackets(e4, seeds, grid)
    add("e4-bisect", _bisect_jobs(brackets, plan))
    say(f"phase 2: {len(jobs)} jobs (E1 under {len(plan.variants)} other arithmetics and BLAS threads, E2 windows, "
        "E3 trace, E5 horizons, E4 bisection 1)")
    res = execute(jobs, workers=workers, label="lr_threshold phase 2", quiet=quiet)
    by = {}
    for n, r in zip(names, res):
        by.setdefault(n, []).append(r)
    for v in plan.variants:
        raw["E1"]["sections"][v] = by[f"locate-{v}"][0]["section"]
        raw["E1"]["process"][v] = by[f"locate-{v}"][0]["process"]
    tv = THREAD_VARIANTS if plan.threads else ()
    raw["E1"]["threads"] = {v: _records(by[f"threads-{v}"]) for v in tv}
    raw["E1"]["threads_process"] = {v: by[f"threads-{v}"][0]["process"] for v in tv}
    raw["E2"] = {"center": center, "windows": {str(k): _records(by[f"e2-{k}"]) for k in windows}}
    raw["E3"] = by["e3"][0]["trace"]
    h = [r["horizon"] for r in by["e5"]]
    raw["E5"] = {"rates": [r for x in h for r in x["rates"]], "horizons": h[0]["horizons"],
                 "outcomes": [o for x in h for o in x["outcomes"]], "losses": [v for x in h for v in x["losses"]]}
    bisections = [_records(by.get("e4-bisect", []))]
    for depth in range(1, plan.e4_bisect):
        brackets = _refine(brackets, bisections[-1])
        jobs = _bisect_jobs(brackets, plan)
        if not jobs:
            break
        say(f"E4 bisection {depth + 1} of {plan.e4_bisect}: {len(jobs)} jobs")
        bisections.append(_records(execute(jobs, workers=workers, label=f"lr_threshold E4 bisection {depth + 1}",
                                           quiet=quiet)))
    if plan.e4_bisect:
        brackets = _refine(brackets, bisections[-1])
    raw["E4"] = {"seeds": seeds, "records": e4, "brackets": {str(s): b for s, b in brackets.items()}}
    raw["seconds"] = time.monotonic() - started
    return raw


def _e4_brackets(records: list[dict[str, Any]], seeds: list[int], grid: list[float]) -> dict[int, list[float]]:
    """Per seed, the grid bracket ``[lo, hi]`` around its lowest diverging grid rate (lo not diverged)."""
    out: dict[int, list[float]] = {}
    if not grid:
        return out
    by = {(int(r["seed"]), float(r["lr"])): r["outcome"] for r in records}
    for s in seeds:
        if (s, grid[0]) not in by:  # a seed without a grid (beyond e4_boundary_seeds)
            continue
        labels = [by[(s, g)] for g in grid]
        if "diverged" not in labels:
            continue
        i = labels.index("diverged")
        if i == 0:
            continue
        out[s] = [grid[i - 1], grid[i]]
    return out


def _bisect_jobs(brackets: dict[int, list[float]], plan: Plan) -> list[Job]:
    runs = [(s, math.sqrt(lo * hi)) for s, (lo, hi) in sorted(brackets.items())]
    return _runs_jobs("blas", plan.epochs, runs, plan.chunk) if runs else []


def _refine(brackets: dict[int, list[float]], records: list[dict[str, Any]]) -> dict[int, list[float]]:
    out = dict(brackets)
    for r in records:
        s = int(r["seed"])
        lo, hi = out[s]
        out[s] = [lo, float(r["lr"])] if r["outcome"] == "diverged" else [float(r["lr"]), hi]
    return out
