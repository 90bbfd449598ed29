"""E4: one seed's pair and its first converge-to-diverge boundary on a log grid, refined.

For a seed, one ensemble (members sharing the seed share its draws) trains the
lab's two rates and the rates of a log grid over ``[0.0005, 0.01]``. The
seed's *first boundary* is the lowest diverging grid rate and the grid rate
below it (not diverged: converged or stalled). Each refinement round trains
``members`` rates spread evenly in log over the bracket as one ensemble and
keeps the bracket around the lowest diverging rate, so ``r`` rounds shrink the
bracket's ratio to its ``(members + 1)**r``-th root (a round of 8 is worth
3.2 bisection steps, at one ensemble's cost).

Every seed lands in exactly one *grid category*: ``dead`` (dead from the
start: every second-layer ReLU zero on every point, so nothing ever trains),
``boundary`` (a bracket was found), ``diverged-at-lowest`` (the lowest grid
rate already diverges: the boundary lies below the grid) or
``no-divergence`` (no grid rate diverges: the boundary, if any, lies above it).
"""

from __future__ import annotations

import time
from typing import Any, Literal

import numpy as np

from .runs import PAIR, BASE, Variant, dead_at_start, run_records

__all__ = ["GridCategory", "log_grid", "seed_boundary"]

GridCategory = Literal["dead", "boundary", "diverged-at-lowest", "no-divergence"]


def log_grid(lo: float, hi: float, count: int) -> list[float]:
    """``count`` rates evenly spaced in log from ``lo`` to ``hi`` (ends included; none when ``count < 2``)."""
    if count < 2:
        return []
    return [float(r) for r in np.geomspace(lo, hi, count)]


def seed_boundary(variant: Variant, seed: int, grid: list[float], *, epochs: int, rounds: int,
                  members: int) -> dict[str, Any]:
    """The pair's records, the grid's outcomes, the category and the refined bracket of ``seed``
    (JSON-ready; ``network_epochs`` and ``seconds`` measure the work)."""
    cfg = variant.config(epochs=epochs)
    started = time.monotonic()
    rates = [*PAIR, *grid]
    recs = run_records(cfg, [(seed, r) for r in rates])
    work = len(rates) * epochs
    labels = [r.outcome for r in recs[2:]]
    dead = dead_at_start(BASE, seed)
    category: GridCategory
    bracket: list[float] | None = None
    bracket_ends: list[str] | None = None
    steps: list[dict[str, Any]] = []
    if dead:
        category = "dead"
    elif "diverged" not in labels:
        category = "no-divergence"
    elif labels[0] == "diverged":
        category = "diverged-at-lowest"
    else:
        category = "boundary"
        i = labels.index("diverged")
        lo, hi = grid[i - 1], grid[i]
        low_label = labels[i - 1]
        for _ in range(rounds):
            inner = [float(r) for r in np.geomspace(lo, hi, members + 2)[1:-1]]
            got = [r.outcome for r in run_records(cfg, [(seed, r) for r in inner])]
            work += len(inner) * epochs
            steps.append({"rates": inner, "outcomes": got})
            labs = [low_label, *got, "diverged"]
            ends = [lo, *inner, hi]
            j = labs.index("diverged")
            lo, hi, low_label = ends[j - 1], ends[j], labs[j - 1]
        bracket, bracket_ends = [lo, hi], [low_label, "diverged"]
    return {"seed": seed, "pair": [r.json() for r in recs[:2]], "grid": labels, "category": category,
            "dead": dead, "bracket": bracket, "bracket_ends": bracket_ends,
            "ratio": (bracket[1] / bracket[0]) if bracket else None, "rounds": steps,
            "network_epochs": work, "seconds": time.monotonic() - started}
