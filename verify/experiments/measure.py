"""Features of a logged loss curve, and where a page's number falls among the seeds' values.

The same rule reads a run and a page (:mod:`verify.experiments.pages`): three lines per loss,
"high" (near chance: 0.2 for MSE, whose chance level on 0/1 labels is 0.25; 0.8 bits for BCE,
chance 1 bit), "low" (0.05; 0.2 bits) and "settled" (0.01; 0.05 bits).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

import numpy as np
import numpy.typing as npt

__all__ = ["Lines", "LINES", "Features", "features", "Placement", "place", "as_number", "BCE_QUANTUM",
           "quantized"]

F64 = npt.NDArray[np.float64]


@dataclass(frozen=True)
class Lines:
    """The loss levels that define the features, in the loss's logged unit."""

    high: float
    low: float
    settled: float
    chance: float
    """The loss of a network that outputs 0.5 everywhere."""
    unit: str


LINES: Final[dict[str, Lines]] = {
    "mse": Lines(0.2, 0.05, 0.01, 0.25, ""),
    "bce": Lines(0.8, 0.2, 0.05, 1.0, " bits"),
}
"""By loss family (``bce-page14`` logs the same bits as ``bce``)."""

BCE_QUANTUM: Final = -np.log2(1e-7) / 21
"""Bits one wrongly saturated point adds to the lab's batch-mean BCE of 21 points (23.2535 / 21)."""


@dataclass(frozen=True)
class Features:
    """One curve's features (epochs 0-based; ``None``: the curve never does it)."""

    level: float
    high_until: float | None
    drop: float | None
    settle: float | None
    peak: float | None
    final: float
    nonfinite: float | None
    accuracy: float

    def value(self, feature: str) -> float | None:
        v: float | None = getattr(self, feature)
        return v


def features(epochs: F64, loss: F64, accuracy: float, lines: Lines) -> Features:
    """The features of one logged curve (``epochs`` and ``loss`` of equal length >= 1)."""
    if epochs.shape != loss.shape or epochs.ndim != 1 or epochs.size == 0:
        raise ValueError(f"loss: expected a non-empty 1-D curve as long as epochs, got {loss.shape} and {epochs.shape}")
    finite = np.isfinite(loss)
    bad = np.flatnonzero(~finite)
    nonfinite = float(epochs[bad[0]]) if bad.size else None
    with np.errstate(invalid="ignore"):
        high = np.flatnonzero(loss > lines.high)
        low = np.flatnonzero(loss < lines.low)
        above = np.flatnonzero(~(loss < lines.settled))  # NaN counts as not settled
    drop_i = int(low[0]) if low.size else None
    settle_i = None if above.size and above[-1] == loss.size - 1 else (int(above[-1]) + 1 if above.size else 0)
    after = loss[drop_i + 1:] if drop_i is not None else loss[:0]
    after = after[np.isfinite(after)]
    return Features(
        level=float(loss[0]),
        high_until=float(epochs[high[-1]]) if high.size else None,
        drop=float(epochs[drop_i]) if drop_i is not None else None,
        settle=float(epochs[settle_i]) if settle_i is not None else None,
        peak=float(after.max()) if after.size else None,
        final=float(loss[-1]),
        nonfinite=nonfinite,
        accuracy=float(accuracy),
    )


def as_number(feature: str, value: float | None) -> float:
    """A feature as an orderable number: a curve that never drops or settles is later than any
    epoch (+inf); one never above the high line left it before the first epoch (-1); a missing
    peak is 0."""
    if value is not None:
        return float(value)
    return -1.0 if feature == "high_until" else (0.0 if feature == "peak" else float("inf"))


@dataclass(frozen=True)
class Placement:
    """Where the lab's value falls among the seeds' values of the same feature."""

    lab: float
    percentile: float
    """Percent of seeds whose value is below the lab's, ties counted half."""
    lo: float
    hi: float
    inside: bool
    """The lab's value within [lo, hi], widened by the reading tolerance."""


def place(feature: str, lab_value: float, values: Sequence[float | None], tolerance: float) -> Placement:
    """The lab's number placed in the seeds' distribution (``values`` may hold ``None`` = never; a page
    that never shows it passes ``as_number(feature, None)``)."""
    if not values:
        raise ValueError("values: expected at least one seed's value")
    v = np.array([as_number(feature, x) for x in values], dtype=np.float64)
    if np.isinf(lab_value):  # the page's curve never does it: ties are the seeds that never do either
        below = float(np.count_nonzero(v < lab_value))
        ties = float(np.count_nonzero(v == lab_value))
    else:
        below = float(np.count_nonzero(v < lab_value - tolerance))
        ties = float(np.count_nonzero(np.abs(v - lab_value) <= tolerance))
    lo, hi = float(v.min()), float(v.max())
    return Placement(lab_value, 100.0 * (below + ties / 2) / v.size, lo, hi,
                     lo - tolerance <= lab_value <= hi + tolerance)


def quantized(loss: F64, quantum: float = BCE_QUANTUM, *, slack: float = 1e-3) -> bool:
    """Every value a whole multiple (at least 1) of ``quantum``, to ``slack`` quanta: the mark of a saturated
    BCE run. A correctly saturated point costs log2(1 + 1e-7) = 1.4e-7 bits and an output a hair short of
    saturation a little less than a quantum (at most 3.2e-4 quanta in the lab's pair, tests/test_lab.py), so
    1e-3 quanta tells a multiple from any converged or unsaturated value."""
    if loss.size == 0 or not np.all(np.isfinite(loss)):
        return False
    units = loss / quantum
    k = np.round(units)
    return bool(np.all(np.abs(units - k) < slack) and np.all(k >= 1))
