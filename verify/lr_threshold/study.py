"""E0-E5 on the lab's own run: the jobs, in phases, and the raw results.

The scans (E1's multisection of the pair and the scan below it, E2's windows,
E4's seeds, E5's horizons) run on :data:`.runs.SCAN`: the compiled twin when
numba is installed (the ``pinned`` bits, compiled), else the NumPy ``pinned``
configuration itself. Phase 1 (nothing known yet): E0's pinned and ``blas``
pair, E1's multisection between the pair and the scan below it, E4 (per seed:
the pair, the log grid, the refinement rounds; :mod:`.seeds`). Phase 2 (needs
the scan's boundary): its bracket's ends confirmed on NumPy's ``pinned``
configuration in a fresh process, every NumPy arithmetic variant located
around it (:func:`.runs.locate`), E2's windows, E3's trace (NumPy ``pinned``:
it looks inside every step), E5's horizons.

:func:`run_study` returns the raw results (JSON-ready); :mod:`.verdicts`
derives every number the report states from them.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass
from typing import Any, Final

import numpy as np

from ..common.console import Console
from .jobs import Job, execute
from .runs import PAIR, SCAN, VARIANTS
from .seeds import log_grid
from .ulp import from_ordinal, ordinal, ordinal_grid

__all__ = ["Plan", "FULL", "QUICK", "run_study", "BELOW", "SECTION_VARIANTS", "e2_rates", "scan_variant"]

BELOW: Final = (0.0014, PAIR[0])
"""E1's scan below the pair."""

SECTION_VARIANTS: Final = tuple(v for v in VARIANTS if v not in ("pinned", "twin"))
"""The NumPy arithmetic variants located around the scan's boundary in E1 (``blas``, ``portable``,
one per NumPy dispatch target disabled, no AVX-512, no dispatch, 1 and 2 BLAS threads, the stable
sigmoid, float32, long double)."""


@dataclass(frozen=True)
class Plan:
    """How much of each experiment to run."""

    epochs: int = 50_000
    members: int = 64
    """Rates per multisection step (one ensemble)."""
    scan: str = "auto"
    """The scans' variant: ``auto`` is :data:`.runs.SCAN` (the compiled twin when numba is installed, else
    NumPy ``pinned``); or a variant's name."""
    scan_steps: int = 6
    variant_steps: int = 4
    """Multisection steps after a variant's probe (it stops earlier at adjacent numbers)."""
    variants: tuple[str, ...] = SECTION_VARIANTS
    below: int = 64
    e2_windows: tuple[int, ...] = tuple(range(3, 16))
    """Relative window widths ``10**-k`` around the boundary."""
    e2_rates: int = 64
    e3_every: int = 10
    e3_hessian_every: int = 250
    e4_seeds: int = 256
    e4_grid: int = 6
    """Rates of E4's log grid (with the pair, one ensemble per seed)."""
    e4_rounds: int = 1
    """Refinement rounds of a seed's bracket (each one ensemble of ``e4_members`` rates)."""
    e4_members: int = 8
    e4_range: tuple[float, float] = (0.0005, 0.01)
    e4_chunk: int = 8
    """Seeds per E4 job."""
    e5_horizons: tuple[int, ...] = (10_000, 20_000, 50_000, 100_000, 200_000, 500_000)
    chunk: int = 64
    quick: bool = False


FULL: Final = Plan()
QUICK: Final = Plan(epochs=6_000, members=4, scan="blas", scan_steps=0, variant_steps=1, variants=(), below=0,
                    e2_windows=(9,), e2_rates=4, e3_every=20, e3_hessian_every=3_000, e4_seeds=1, e4_grid=0,
                    e4_rounds=0, e4_chunk=1, e5_horizons=(6_000,), quick=True)
"""Six thousand epochs (the lab's pair has split by epoch 5,000 and the lower rate is below 0.05 bits at
epoch 5,999), NumPy only (no compiling), the scans on ``blas`` (the fastest NumPy kernel), one
ensemble per experiment: a test of the machinery, too short to decide anything."""


def scan_variant(plan: Plan) -> str:
    """The variant ``plan``'s scans run on (:data:`.runs.SCAN` for ``auto``)."""
    return SCAN if plan.scan == "auto" else plan.scan


def trace_variant(scan: str) -> str:
    """E3's variant: NumPy (the trace looks inside every step), with the scan's bits: ``pinned`` for the twin."""
    return "pinned" if VARIANTS[scan].kernel == "compiled" else scan


def e2_rates(center: float, k: int, count: int) -> list[float]:
    """``count`` rates evenly spaced in ulps over ``center (1 -+ 10**-k / 2)``."""
    half = center * 10.0 ** -k / 2
    return [from_ordinal(n) for n in ordinal_grid(ordinal(center - half), ordinal(center + half), count)]


def _chunks(runs: list[Any], size: int) -> list[list[Any]]:
    return [runs[i:i + size] for i in range(0, len(runs), size)]


def _runs_jobs(variant: str, epochs: int, runs: list[tuple[int, float]], size: int, **extra: Any) -> list[Job]:
    return [{"kind": "runs", "variant": variant, "epochs": epochs, "runs": [list(r) for r in c], **extra}
            for c in _chunks(runs, size)]


def _records(results: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [rec for r in results for rec in r["records"]]


def _work(results: list[dict[str, Any]]) -> dict[str, float]:
    return {"network_epochs": float(sum(r.get("network_epochs", 0) for r in results)),
            "seconds": float(sum(r.get("seconds", 0.0) for r in results)), "jobs": len(results)}


def run_study(plan: Plan, *, workers: int, quiet: bool) -> dict[str, Any]:
    """Run every experiment of ``plan``; the raw results (see the module docstring)."""
    say = Console("lr_threshold", quiet=quiet, clock=True)
    started = time.monotonic()
    scan = scan_variant(plan)
    pair = [(0, PAIR[0]), (0, PAIR[1])]
    grid = log_grid(*plan.e4_range, plan.e4_grid)
    seeds = list(range(plan.e4_seeds))
    # ---------------------------------------------------------------- phase 1
    jobs: list[Job] = []
    names: list[str] = []

    def add(name: str, new: list[Job]) -> None:
        jobs.extend(new)
        names.extend([name] * len(new))

    def collect(res: list[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
        by: dict[str, list[dict[str, Any]]] = {}
        for n, r in zip(names, res):
            by.setdefault(n, []).append(r)
        return by

    add("e0-pinned-1", _runs_jobs("pinned", plan.epochs, pair, 2, curve=True))
    add("e0-pinned-2", _runs_jobs("pinned", plan.epochs, pair, 2, curve=True))
    add("e0-blas", _runs_jobs("blas", plan.epochs, pair, 2, curve=True))
    add("e1-scan", [{"kind": "section", "variant": scan, "epochs": plan.epochs, "lo": PAIR[0], "hi": PAIR[1],
                     "members": plan.members, "steps": plan.scan_steps}])
    below = [float(r) for r in np.linspace(BELOW[0], BELOW[1], plan.below)] if plan.below else []
    add("e1-below", _runs_jobs(scan, plan.epochs, [(0, r) for r in below], plan.chunk))
    add("e4", [{"kind": "seeds", "variant": scan, "epochs": plan.epochs, "seeds": c, "grid": grid,
                "rounds": plan.e4_rounds, "members": plan.e4_members} for c in _chunks(seeds, plan.e4_chunk)])
    say(f"phase 1 on {scan}: {len(jobs)} jobs (E0, E1's multisection of the pair, E4's {len(seeds)} seeds)")
    by = collect(execute(jobs, workers=workers, label="lr_threshold phase 1", quiet=quiet))
    raw: dict[str, Any] = {"plan": asdict(plan), "scan": scan, "trace_variant": trace_variant(scan),
                           "workers": workers, "grid": grid,
                           "below_rates": below}
    raw["E0"] = {k: _records(by[k]) for k in ("e0-pinned-1", "e0-pinned-2", "e0-blas")}
    raw["E0"]["process"] = {k: by[k][0]["process"] for k in ("e0-pinned-1", "e0-blas")}
    raw["E1"] = {"sections": {scan: by["e1-scan"][0]["section"]}, "process": {scan: by["e1-scan"][0]["process"]},
                 "below": _records(by.get("e1-below", []))}
    raw["E4"] = {"seeds": seeds, "per_seed": [s for r in by["e4"] for s in r["seeds"]]}
    work = {"e1-scan": _work(by["e1-scan"]), "e1-below": _work(by.get("e1-below", [])), "e4": _work(by["e4"])}
    sec = raw["E1"]["sections"][scan]
    lo, hi = float(sec["lo"]), float(sec["hi"])
    center = hi
    # ---------------------------------------------------------------- phase 2
    jobs, names = [], []
    if (lo, hi) != PAIR:  # else E0's pinned runs are the confirmation
        add("confirm", _runs_jobs("pinned", plan.epochs, [(0, lo), (0, hi)], 2))
    for v in plan.variants:
        add(f"locate-{v}", [{"kind": "locate", "variant": v, "epochs": plan.epochs, "center": center,
                             "members": plan.members, "steps": plan.variant_steps,
                             "max_power": 8 if VARIANTS[v].grid == "float32" else 16}])
    windows = {k: e2_rates(center, k, plan.e2_rates) for k in plan.e2_windows}
    for k, rates in windows.items():
        add(f"e2-{k}", _runs_jobs(scan, plan.epochs, [(0, r) for r in rates], plan.chunk))
    add("e3", [{"kind": "trace", "variant": trace_variant(scan), "epochs": plan.epochs, "lo": lo, "hi": hi,
                "every": plan.e3_every, "hessian_every": plan.e3_hessian_every}])
    e5_rates = sorted({PAIR[0], PAIR[1], lo, hi})
    add("e5", [{"kind": "horizon", "variant": scan, "epochs": max(plan.e5_horizons), "rates": e5_rates,
                "horizons": list(plan.e5_horizons)}])
    say(f"phase 2: {len(jobs)} jobs (the bracket confirmed on NumPy, E1 under {len(plan.variants)} NumPy "
        "arithmetics, E2 windows, E3 trace, E5 horizons)")
    by = collect(execute(jobs, workers=workers, label="lr_threshold phase 2", quiet=quiet))
    raw["E1"]["confirm"] = _records(by["confirm"]) if "confirm" in by else raw["E0"]["e0-pinned-1"]
    raw["E1"]["confirm_process"] = (by["confirm"][0]["process"] if "confirm" in by
                                     else raw["E0"]["process"]["e0-pinned-1"])
    for v in plan.variants:
        raw["E1"]["sections"][v] = by[f"locate-{v}"][0]["section"]
        raw["E1"]["process"][v] = by[f"locate-{v}"][0]["process"]
        work[f"locate-{v}"] = _work(by[f"locate-{v}"])
    raw["E2"] = {"center": center, "windows": {str(k): _records(by[f"e2-{k}"]) for k in windows}}
    work["e2"] = _work([r for k in windows for r in by[f"e2-{k}"]])
    raw["E3"] = by["e3"][0]["trace"]
    raw["E5"] = by["e5"][0]["horizon"]
    work["e5"] = _work(by["e5"])
    raw["work"] = work
    raw["seconds"] = time.monotonic() - started
    return raw
