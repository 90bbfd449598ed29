"""How a training run ended: converged, diverged or stalled, with readouts.

A run is judged per member from its loss history and final parameters, by
criteria stated in :class:`Criteria` (so a study can print them):

- ``converged``: final loss below ``loss_threshold`` and 100% accuracy;
- ``diverged``: a non-finite loss or parameter, or a loss that rose above
  ``blowup_factor`` times the initial loss;
- ``stalled``: anything else (a plateau, dead ReLU units, saturated outputs).
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from typing import Literal

import numpy as np
import numpy.typing as npt

from .layers import Linear
from .metrics import accuracy
from .network import Network
from .precision import FloatArray

__all__ = ["Outcome", "Criteria", "Readout", "judge", "dead_units", "LossSummary", "LossTracker",
           "summarize", "judge_summary", "first_below"]

Outcome = Literal["converged", "diverged", "stalled"]


@dataclass(frozen=True)
class Criteria:
    """Thresholds that decide an outcome (see the module docstring)."""

    loss_threshold: float = 0.01
    blowup_factor: float = 10.0
    window: int = 100
    """Epochs averaged at each end for the plateau ratio (last over first)."""


@dataclass(frozen=True)
class Readout:
    """One member's outcome and the numbers behind it."""

    outcome: Outcome
    final_loss: float
    accuracy: float
    steps_to_threshold: int | None
    """First epoch (1-based count of completed epochs) with loss below the threshold."""
    decided_epoch: int
    """Epoch at which the outcome became final (the run length for ``stalled``)."""
    dead_units: int
    """Hidden units whose pre-activation is <= 0 on every training point."""
    saturated_outputs: int
    """Training points whose output probability rounds to exactly 0 or 1."""
    plateau_ratio: float
    """Mean of the last ``window`` losses over the mean of the first ``window``."""

    def to_json(self) -> str:
        return json.dumps(asdict(self), sort_keys=True)


def dead_units(net: Network, x: FloatArray) -> npt.NDArray[np.int64]:
    """Per member, hidden units (all Linear layers but the last) that never fire on ``x``."""
    count = np.zeros(net.members, dtype=np.int64)
    last = net.linears[-1]
    with np.errstate(all="ignore"):
        h = x
        for layer in net.layers:
            h = layer.forward(h)
            if isinstance(layer, Linear) and layer is not last:
                count += np.sum(np.all(~(h > 0), axis=-2), axis=-1)
    return count


@dataclass(frozen=True)
class LossSummary:
    """What :func:`judge` needs from a loss history, per member (all ``(K,)``).

    Built from a whole history by :func:`summarize`, or epoch block by epoch
    block by :class:`LossTracker` (same bits), so a long run need not keep
    its whole history.
    """

    epochs: int
    final: npt.NDArray[np.float64]
    first_below: npt.NDArray[np.int64]
    """0-based epoch of the first finite loss below the threshold, -1 if none."""
    first_blown: npt.NDArray[np.int64]
    """0-based epoch of the first non-finite loss or blow-up, -1 if none."""
    first_mean: npt.NDArray[np.float64]
    last_mean: npt.NDArray[np.float64]


def first_below(loss: npt.ArrayLike, threshold: float | npt.ArrayLike, *,
                settled: bool = False) -> npt.NDArray[np.int64]:
    """The one "converged at" rule: epochs completed when the loss first went below ``threshold``.

    ``loss`` is a history with epochs on axis 0: ``(epochs,)`` or
    ``(epochs, K)``; ``threshold`` broadcasts against one epoch's losses
    (a number, or one per member). A loss counts as below when it is finite
    and strictly less than the threshold (NaN and inf never converge). With
    ``settled``, the epoch from which the loss stays below to the last epoch
    instead of the first crossing. Returns the 1-based epoch count per member
    (shape ``loss.shape[1:]``), ``-1`` where there is none.
    """
    hist = np.asarray(loss, dtype=np.float64)
    if hist.ndim == 0:
        raise ValueError("loss: expected a history with epochs on axis 0, got a scalar")
    with np.errstate(invalid="ignore"):
        below = np.isfinite(hist) & (hist < np.asarray(threshold, dtype=np.float64))
    if not hist.shape[0]:
        return np.full(hist.shape[1:], -1, dtype=np.int64)
    if settled:
        above = ~below[::-1]
        last_above = hist.shape[0] - 1 - np.argmax(above, axis=0)  # 0-based; meaningless where none is above
        out = np.where(above.any(axis=0), last_above + 2, 1)
        return np.asarray(np.where(below[-1], out, -1), dtype=np.int64)
    return np.asarray(np.where(below.any(axis=0), np.argmax(below, axis=0) + 1, -1), dtype=np.int64)


def _window(criteria: Criteria, epochs: int) -> int:
    return max(1, min(criteria.window, epochs))


def _first(mask: npt.NDArray[np.bool_]) -> int:
    hits = np.flatnonzero(mask)
    return int(hits[0]) if hits.size else -1


def summarize(loss: FloatArray, criteria: Criteria = Criteria()) -> LossSummary:
    """:class:`LossSummary` of an ``(epochs, K)`` loss history."""
    hist = np.asarray(loss, dtype=np.float64)
    epochs, k_count = hist.shape
    w = _window(criteria, epochs)
    nan = np.full(k_count, np.nan)
    final, first_mean, last_mean = nan.copy(), nan.copy(), nan.copy()
    below = np.full(k_count, -1, dtype=np.int64)
    blown = np.full(k_count, -1, dtype=np.int64)
    for k in range(k_count):
        h = hist[:, k]
        if not epochs:
            continue
        finite = np.isfinite(h)
        final[k] = h[-1]
        at = int(first_below(h, criteria.loss_threshold))
        below[k] = at - 1 if at > 0 else -1
        with np.errstate(all="ignore"):
            blown[k] = _first(~finite | (h > criteria.blowup_factor * h[0]))
        first_mean[k] = np.mean(h[:w])
        last_mean[k] = np.mean(h[-w:])
    return LossSummary(epochs, final, below, blown, first_mean, last_mean)


class LossTracker:
    """Builds the :class:`LossSummary` of a run fed in blocks of epochs.

    Keeps only the first and last ``window`` epochs, so memory does not grow
    with the run length; :meth:`summary` equals :func:`summarize` of the
    concatenated blocks bit for bit. ``epochs`` is the planned total (it sets
    the window for runs shorter than ``criteria.window``).
    """

    def __init__(self, members: int, epochs: int, criteria: Criteria = Criteria()) -> None:
        self.members = members
        self.criteria = criteria
        self.w = _window(criteria, epochs)
        self.seen = 0
        self._h0 = np.full(members, np.nan)
        self._head = np.empty((0, members))
        self._tail = np.empty((0, members))
        self._below = np.full(members, -1, dtype=np.int64)
        self._blown = np.full(members, -1, dtype=np.int64)

    def update(self, block: FloatArray) -> None:
        """Add ``(epochs, K)`` more losses (in any float precision)."""
        h = np.asarray(block, dtype=np.float64)
        if h.ndim != 2 or h.shape[1] != self.members:
            raise ValueError(f"block: expected shape (epochs, {self.members}), got {h.shape}")
        if not h.shape[0]:
            return
        if not self.seen:
            self._h0 = h[0].copy()
        finite = np.isfinite(h)
        crit = self.criteria
        with np.errstate(all="ignore"):
            blown = ~finite | (h > crit.blowup_factor * self._h0)
        below = finite & (h < crit.loss_threshold)
        for mask, found in ((below, self._below), (blown, self._blown)):
            todo = (found < 0) & mask.any(axis=0)
            found[todo] = self.seen + np.argmax(mask[:, todo], axis=0)
        if self._head.shape[0] < self.w:
            self._head = np.concatenate([self._head, h[: self.w - self._head.shape[0]]])
        self._tail = np.concatenate([self._tail, h[-self.w :]])[-self.w :]
        self.seen += h.shape[0]

    def summary(self) -> LossSummary:
        """The summary of everything fed so far."""
        k_count = self.members
        nan = np.full(k_count, np.nan)
        if not self.seen:
            return LossSummary(0, nan, np.full(k_count, -1, dtype=np.int64),
                               np.full(k_count, -1, dtype=np.int64), nan.copy(), nan.copy())
        w = _window(self.criteria, self.seen)
        first = np.array([np.mean(np.ascontiguousarray(self._head[:w, k])) for k in range(k_count)])
        last = np.array([np.mean(np.ascontiguousarray(self._tail[-w:, k])) for k in range(k_count)])
        return LossSummary(self.seen, self._tail[-1].copy(), self._below.copy(), self._blown.copy(),
                           first, last)


def judge(net: Network, x: FloatArray, t: FloatArray, loss: FloatArray,
          criteria: Criteria = Criteria()) -> list[Readout]:
    """Readouts for every member of ``net`` after training on ``(x, t)``.

    ``x``, ``t`` are prepared arrays (see :func:`refnet.train.prepare_data`),
    ``loss`` the ``(epochs, K)`` history.
    """
    return judge_summary(net, x, t, summarize(loss, criteria), criteria)


def judge_summary(net: Network, x: FloatArray, t: FloatArray, summary: LossSummary,
                  criteria: Criteria = Criteria()) -> list[Readout]:
    """:func:`judge` from a :class:`LossSummary` instead of the whole history."""
    with np.errstate(all="ignore"):
        p = net.loss.link(net.forward(x))
    acc = accuracy(p, t[0] if t.shape[0] == 1 else t)
    dead = dead_units(net, x)
    saturated = np.sum((p == 0) | (p == 1), axis=(-2, -1))
    params_finite = np.all(np.isfinite(net.get_flat()), axis=1)
    epochs = summary.epochs
    readouts: list[Readout] = []
    for k in range(net.members):
        final = float(summary.final[k])
        steps = int(summary.first_below[k]) + 1 if summary.first_below[k] >= 0 else None
        first = float(summary.first_mean[k])
        with np.errstate(all="ignore"):
            ratio = float(summary.last_mean[k] / first) if epochs and first != 0 else float("nan")
        blown = int(summary.first_blown[k])
        outcome: Outcome
        if blown >= 0 or not params_finite[k]:
            outcome, decided = "diverged", blown + 1 if blown >= 0 else epochs
        elif epochs and final < criteria.loss_threshold and acc[k] == 100.0:
            outcome, decided = "converged", steps if steps is not None else epochs
        else:
            outcome, decided = "stalled", epochs
        readouts.append(Readout(outcome, final, float(acc[k]), steps, decided,
                                int(dead[k]), int(saturated[k]), ratio))
    return readouts
