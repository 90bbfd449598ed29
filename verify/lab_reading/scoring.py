"""Scoring readings against the lab's observations, and choosing one on evidence."""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, fields

import numpy as np

from refnet.conventions import READINGS, Reading

from .observations import EXPERIMENTS, OBSERVATIONS, Outcomes
from .runs import Job, reported, training_reading

__all__ = ["all_readings", "quick_readings", "Score", "score", "choose", "Choice", "FIELDS"]

FIELDS: tuple[str, ...] = tuple(f.name for f in fields(Reading))
_VALUES: dict[str, tuple[object, ...]] = {
    "gradient": ("mean", "sum"), "mse_derivative": ("2(y-t)", "(y-t)"), "log_base": ("e", "2"),
    "sigmoid": ("naive", "stable"), "batch_size": (None, 20),
}


def all_readings() -> list[Reading]:
    """Every combination of the five elided choices (32 readings)."""
    return [Reading(*combo) for combo in itertools.product(*(_VALUES[f] for f in FIELDS))]  # type: ignore[arg-type]


def quick_readings() -> list[Reading]:
    """The four readings a quick run compares: mean or summed gradient, full batch or 20."""
    base = READINGS["lab-evidence"]
    return [base.but(gradient=g, batch_size=b) for g in ("mean", "sum") for b in (None, 20)]


@dataclass(frozen=True)
class Score:
    """One reading's agreement with the lab: per observation, the fraction of (seed, init) pairs."""

    reading: Reading
    fractions: dict[str, float]

    @property
    def total(self) -> float:
        return float(sum(self.fractions.values()))


def score(readings: Sequence[Reading], outcomes: Mapping[Job, Outcomes]) -> list[Score]:
    """Each reading's :class:`Score`, from the shared runs (best first; ties keep input order)."""
    scores = []
    for r in readings:
        runs = {key: reported(outcomes[(key, training_reading(r, exp))], r, exp) for key, exp in EXPERIMENTS.items()}
        scores.append(Score(r, {o.key: float(np.mean(o.test(runs))) for o in OBSERVATIONS}))
    return sorted(scores, key=lambda s: -s.total)


@dataclass(frozen=True)
class Choice:
    """The reading chosen, how decisively, and what each of its choices is worth."""

    best: Score
    tied: tuple[Reading, ...]
    """Readings with the same total as the best (broken by the lab's shown code, see :func:`choose`)."""
    runner_up: Score | None
    """The best reading whose total is lower than the best's."""
    flips: dict[str, float]
    """Per field: the best's total minus that of the best with this field changed (None: not scored)."""


def choose(scores: Sequence[Score]) -> Choice:
    """The best-scoring reading; among equal totals, the one closest to the lab's shown code.

    The lab's code shows the naive sigmoid, so ties go to it first, then to the
    full batch (the lab names mini-batches in one experiment only), then to the
    derivative of the loss it computes (``2(y-t)``) and the natural logarithm.
    """
    top = max(s.total for s in scores)
    tied = [s for s in scores if abs(s.total - top) < 1e-12]

    def closeness(s: Score) -> tuple[bool, bool, bool, bool]:
        r = s.reading
        return (r.sigmoid != "naive", r.batch_size is not None, r.mse_derivative != "2(y-t)", r.log_base != "e")

    best = min(tied, key=closeness)
    lower = [s for s in scores if s.total < top - 1e-12]
    by_reading = {s.reading: s for s in scores}
    flips: dict[str, float] = {}
    for name in FIELDS:
        for value in _VALUES[name]:
            if value != getattr(best.reading, name):
                other = by_reading.get(best.reading.but(**{name: value}))
                if other is not None:
                    flips[name] = best.total - other.total
    runner_up = max(lower, key=lambda s: s.total) if lower else None
    return Choice(best, tuple(s.reading for s in tied), runner_up, flips)
